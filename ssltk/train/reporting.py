"""Logging for the trainer: train.log, console, progress bar, running means, JSON."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

FILE_ONLY = {"console": False}  # `extra` of log records kept out of stderr


class Meter:
    """Per-key sums and counts of scalars (tensors stay on their device until read)."""

    def __init__(self):
        self.sums: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def add(self, key: str, value) -> None:
        self.sums[key] = self.sums.get(key, 0.0) + value
        self.counts[key] = self.counts.get(key, 0) + 1

    def totals(self) -> tuple[dict[str, float], dict[str, float]]:
        return {k: float(v) for k, v in self.sums.items()}, {k: float(c) for k, c in self.counts.items()}

    def means(self) -> dict[str, float]:
        return {k: float(v) / self.counts[k] for k, v in self.sums.items()}


class _LineWriter:
    """File-like wrapper turning tqdm's carriage-return refreshes into log lines."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(total, desc: str, enabled: bool):
    """A tqdm bar on stderr; when stderr is not a terminal, a plain line every minute."""
    if not enabled:
        return None
    tty = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, unit="batch",
                file=sys.stderr if tty else _LineWriter(sys.stderr), mininterval=0.2 if tty else 60)


class _ConsoleFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "console", True)


def attach_handlers(log: logging.Logger, exp_dir: Path | None) -> None:
    """Send ``log`` to ``exp_dir/train.log`` (everything) and stderr (but `FILE_ONLY` records);
    nowhere when ``exp_dir`` is None (DDP ranks other than 0)."""
    log.propagate = False
    log.setLevel(logging.INFO)
    for handler in list(log.handlers):
        log.removeHandler(handler)
    if exp_dir is None:
        log.addHandler(logging.NullHandler())
        return
    exp_dir.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(exp_dir / "train.log", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(file_handler)
    console = logging.StreamHandler(sys.stderr)
    console.addFilter(_ConsoleFilter())
    console.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(console)


def fmt(value) -> str:
    """A number for a log line: 4 significant digits, exponent for tiny values."""
    if isinstance(value, float):
        readable = value == 0 or (math.isfinite(value) and abs(value) >= 1e-3)
        return f"{value:.4g}" if readable else f"{value:.3e}"
    return str(value)


def epoch_line(summary: dict, max_epochs: int, improved: bool) -> str:
    """``epoch 3/10 | step 150 | 12.3s | train: loss=... | valid: acc=... | cost: ... | lr=...``"""
    parts = [f"epoch {summary['epoch']}/{max_epochs}", f"step {summary['step']}", f"{summary['time']:.1f}s"]
    for prefix in ("train/", "valid/", "cost/"):
        items = [f"{k[len(prefix):]}={fmt(v)}" for k, v in summary.items() if k.startswith(prefix)]
        if items:
            parts.append(f"{prefix[:-1]}: " + " ".join(items))
    parts.append(" ".join(f"{k}={fmt(v)}" for k, v in summary.items() if k.startswith("lr")))
    return " | ".join(parts) + (" [best]" if improved else "")

