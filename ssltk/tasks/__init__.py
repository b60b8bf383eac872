"""Downstream tasks on (frozen or fine-tuned) upstreams, SUPERB style.

* ``cls``: utterance classification (categories, speaker ID, intents), see
  `ssltk.tasks.classification`;
* ``asr``: CTC recognition of characters, BPE pieces, words or phones (also
  code-switching ASR with a bilingual token list), see `ssltk.tasks.asr`.

`ssltk.tasks.experiment` trains a task into an experiment directory and decodes
data with it (``python -m ssltk.bin.train`` / ``ssltk.bin.infer``); example
configurations are in ``ssltk/tasks/conf/``.
"""

from pathlib import Path

from ssltk.tasks.config import (AsrConfig, AsrTaskConfig, ClsConfig, ClsTaskConfig, DataConfig,
                                FrontendConfig, SCHEMAS)

CONF_DIR = Path(__file__).with_name("conf")
TASKS = tuple(SCHEMAS)

__all__ = [
    "AsrConfig", "AsrTaskConfig", "CONF_DIR", "ClsConfig", "ClsTaskConfig", "DataConfig",
    "FrontendConfig", "SCHEMAS", "TASKS",
]
