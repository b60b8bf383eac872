"""One experiment directory, the same for every training entry point.

Beside the trainer's files (``checkpoint.pt``, ``valid.<metric>.best.pth``, ``<N>epoch.pth``,
``results.json``, ``config.yaml``, ``train.log``; see `ssltk.train.trainer`) an experiment
holds ``exp.yaml``: what the run trains (its kind, e.g. ``downstream`` or ``pretrain``; the
config sections that define the model; facts of its data such as labels or a teacher's
weight fingerprint).  `ExpDir` is the one place that

- tells whether a run resumes (``checkpoint.pt`` exists and ``trainer.resume``);
- checks a resumed run against its ``exp.yaml`` (a difference is a `UserError` naming every
  changed key, except those the caller lists as free to change) and writes the file (rank 0);
- finds weights (``best``, ``last``, ``ave``, an epoch number or a path) and reads the model
  state out of weight files and trainer checkpoints alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import torch
import yaml

from ssltk.data.datadir import write_text_atomic
from ssltk.errors import UserError
from ssltk.train.checkpoint import load_state
from ssltk.train.config import config_to_dict
from ssltk.train.distributed import dist_info

META_FILE = "exp.yaml"
CHECKPOINT = "checkpoint.pt"


class ExpDir:
    """An experiment directory at ``path`` (created when its meta file is written)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def meta_path(self) -> Path:
        return self.path / META_FILE

    def resuming(self, trainer_cfg) -> bool:
        """True when training will continue from ``checkpoint.pt``."""
        return bool(trainer_cfg.resume) and (self.path / CHECKPOINT).is_file()

    # ------------------------------------------------------------ exp.yaml

    def start(self, meta: dict[str, Any], resuming: bool, free: Iterable[str] = ()) -> None:
        """Check ``meta`` against the file of the run being resumed, then write it (rank 0).

        ``free``: dotted keys that may change between runs (e.g. a teacher's path, when its
        weight fingerprint is recorded too).  Any other difference is refused.
        """
        meta = _plain(meta)
        if resuming and self.meta_path.is_file():
            old = self.read_meta()
            changed = [k for k in diff_keys(old, meta) if not _is_free(k, free)]
            if changed:
                shown = "; ".join(f"{k}: {_short(_get(old, k))} then, {_short(_get(meta, k))} now"
                                  for k in changed[:5])
                raise UserError(f"{self.path} holds a run with another {', '.join(changed)} ({shown}; "
                                f"see {self.meta_path}): use a new experiment directory, or remove "
                                "the old one")
        if dist_info().is_main:
            self.path.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.meta_path, yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))

    def read_meta(self, kind: str | None = None) -> dict[str, Any]:
        """``exp.yaml``; with ``kind``, an error unless the run is of that kind."""
        if not self.meta_path.is_file():
            raise UserError(f"{self.path}: not a trained experiment ({META_FILE} missing)")
        meta = yaml.safe_load(self.meta_path.read_text(encoding="utf-8")) or {}
        if kind is not None and meta.get("kind") != kind:
            raise UserError(f"{self.path} holds a {meta.get('kind')} run, not a {kind} run "
                            f"({self.meta_path})")
        return meta

    # ------------------------------------------------------------ weights

    def has_best(self) -> bool:
        """Whether a validation has chosen a best checkpoint yet."""
        results = self.path / "results.json"
        return results.is_file() and bool(json.loads(results.read_text()).get("best_checkpoint"))

    def weights_path(self, which: str = "best") -> Path:
        """``best`` | ``last`` | ``ave`` | an epoch number | a file name in the experiment | a path."""
        if which == "best":
            if not self.has_best():
                raise UserError(f"{self.path}: no best checkpoint yet (no finished validation "
                                f"in {self.path / 'results.json'})")
            return self.path / json.loads((self.path / "results.json").read_text())["best_checkpoint"]
        if which == "last":
            return self.path / CHECKPOINT
        if which == "ave":
            found = sorted(self.path.glob("*.ave_*best.pth"))
            if not found:
                raise UserError(f"{self.path}: no averaged checkpoint (set trainer.average_nbest: true)")
            return found[0]
        if which.isdigit():
            return self.path / f"{which}epoch.pth"
        inside = self.path / which  # a file name in the experiment, else a path
        return inside if inside.exists() else Path(which)

    def model_state(self, which: str = "best") -> dict[str, torch.Tensor]:
        """The model's state dict from a weights file or a trainer checkpoint."""
        path = self.weights_path(which)
        if not path.is_file():
            raise UserError(f"checkpoint {path} not found")
        state = load_state(path)
        return state["model"] if "model" in state and "optimizers" in state else state

    def load_model(self, model: torch.nn.Module, which: str = "best", strict: bool = True,
                   optional: tuple[str, ...] = ()) -> torch.nn.Module:
        """Load weights into ``model``; keys under the ``optional`` prefixes may be missing or
        unexpected (parts rebuilt from elsewhere, such as a frozen encoder)."""
        state = {k: v for k, v in self.model_state(which).items() if not k.startswith(optional)}
        result = model.load_state_dict(state, strict=strict and not optional)
        bad = [k for k in (*result.missing_keys, *result.unexpected_keys) if not k.startswith(optional)]
        if bad:
            raise UserError(f"{self.weights_path(which)} does not fit the model: {', '.join(bad[:5])}")
        return model


def config_sections(cfg: Any, *names: str) -> dict[str, Any]:
    """The named sections of a config as plain data, for ``exp.yaml``."""
    return {name: config_to_dict(getattr(cfg, name)) for name in names}


def diff_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts (lists compared as lists)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = []
        for key in sorted(set(old) | set(new), key=str):
            keys += diff_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        return keys
    if isinstance(old, (list, tuple)) and isinstance(new, (list, tuple)):
        same = list(old) == list(new)
    else:
        same = old == new
    return [] if same else [prefix.rstrip(".")]


def _is_free(key: str, free: Iterable[str]) -> bool:
    return any(key == f or key.startswith(f + ".") for f in free)


def _get(data: Any, key: str) -> Any:
    for part in key.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _plain(value: Any) -> Any:
    """Tuples as lists, so that a value compares equal to itself read back from YAML."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
