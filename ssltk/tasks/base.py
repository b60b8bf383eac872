"""The downstream-task contract: what `ssltk.tasks.experiment` asks of a task.

A task is a `DownstreamTask` subclass in its own module plus one line in
`ssltk.tasks.registry`.  Training, inference, scoring and the recipe stages only
talk to this interface:

``schema``                     config dataclass: ``trainer``, ``frontend``, ``data`` and
                               the task's own section, named ``section``
``setup(cfg, train, run)``     facts learned from the training set for ``exp.yaml``
                               (class labels, target statistics); copies a token list
``targets(cfg, ddir, run, meta)``  ``{utt: target}`` for the loader's ``collate``
``build_model(frontend, cfg, meta, exp, run)``  the model (`ssltk.train.model` contract;
                               ``run`` is None when loading a trained experiment)
``decode(model, batch, beam)`` ``{output name: [value per utterance of the batch]}``
``write_outputs(out, outputs, meta)``  files of ``ssltk.bin.infer`` (default: text tables)
``score_inputs(cfg, meta, data, decode)``  the reference, hypothesis and options that
                               ``score`` needs for a decoded data dir
``score(ref, hyp, options)``   ``(report text, numbers)``; ``numbers["metrics"]`` feeds
                               RESULTS.md
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ssltk.data.datadir import DataDir, write_table
from ssltk.errors import UserError
from ssltk.text import load_token_dir
from ssltk.train.distributed import dist_info
from ssltk.train.expdir import ExpDir

TOKENS_DIR = "tokens"


@dataclass
class RunContext:
    """What a task needs to know about the run being set up."""

    exp: ExpDir
    resuming: bool
    kind: str  # input: "audio" (wav.scp) or "feats" (a dump's feats.scp)
    frame_rate: float  # frames per second of the frontend's output
    tokens: str | None = None  # --tokens: a token directory overriding the config's
    tokenizer: Any = None  # set by `copy_tokens`


class DownstreamTask:
    """Base class; see the module docstring for the contract."""

    name: str  # the registry name (``--task``)
    schema: type
    section: str

    def setup(self, cfg: Any, train: DataDir, run: RunContext) -> dict[str, Any]:
        return {}

    def targets(self, cfg: Any, ddir: DataDir, run: RunContext, meta: dict) -> dict[str, Any]:
        raise NotImplementedError

    def build_model(self, frontend: nn.Module, cfg: Any, meta: dict, exp: ExpDir,
                    run: RunContext | None = None) -> nn.Module:
        raise NotImplementedError

    def default_beam(self, cfg: Any) -> int:
        return 1

    def decode(self, model: nn.Module, batch: dict, beam: int) -> dict[str, list]:
        raise NotImplementedError

    def write_outputs(self, out: Path, outputs: dict[str, dict[str, Any]], meta: dict) -> None:
        for name, table in outputs.items():
            write_table(out / name, table)

    def score_inputs(self, cfg: Any, meta: dict, exp: ExpDir, data: Path, decode: Path
                     ) -> tuple[Path, Path, dict[str, Any]]:
        raise NotImplementedError

    def score(self, ref: Path, hyp: Path, options: dict[str, Any]) -> tuple[str, dict]:
        raise NotImplementedError


def copy_tokens(section: Any, run: RunContext, who: str) -> None:
    """Copy the token directory of ``section.tokens`` (``run.tokens`` overrides) into the
    experiment; a resumed run must use the same token list."""
    if run.tokens is not None:
        section.tokens = str(run.tokens)
    if not section.tokens:
        raise UserError(f"{who} needs a token directory: pass --tokens DIR (made by "
                        "python -m ssltk.bin.tokens) or set tokens in the config")
    src, dst = Path(section.tokens), run.exp / TOKENS_DIR
    run.tokenizer = load_token_dir(src)  # a clear error for a bad directory, before copying
    if run.resuming and (dst / "tokens.txt").is_file():
        if (dst / "tokens.txt").read_bytes() != (src / "tokens.txt").read_bytes():
            raise UserError(f"{src / 'tokens.txt'} differs from the token list this experiment was "
                            f"trained with ({dst / 'tokens.txt'}); use a new --exp")
        return
    if dist_info().is_main and src.resolve() != dst.resolve():
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)


def tokenizer_of(exp: ExpDir, run: RunContext | None):
    """The tokenizer of the run being set up, or of a trained experiment (its copy)."""
    return run.tokenizer if run is not None else load_token_dir(exp / TOKENS_DIR)
