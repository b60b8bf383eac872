"""The downstream tasks by name (``--task``): adding a task is a module plus one line here."""

from __future__ import annotations

from ssltk.errors import UserError
from ssltk.tasks.asr import AsrTask, CodeSwitchTask
from ssltk.tasks.base import DownstreamTask
from ssltk.tasks.classification import ClassificationTask
from ssltk.tasks.frame_regression import FrameClassificationTask, FrameRegressionTask

TASKS: dict[str, DownstreamTask] = {task.name: task for task in (
    ClassificationTask(),
    AsrTask(),
    CodeSwitchTask(),
    FrameRegressionTask(),
    FrameClassificationTask(),
)}


def get_task(name: str) -> DownstreamTask:
    if name not in TASKS:
        raise UserError(f"unknown task '{name}' (expected one of {', '.join(TASKS)})")
    return TASKS[name]
