"""The one trainer of ssltk: epochs of updates, validation, checkpoints, logs.

Outputs in ``exp_dir`` (written by rank 0 only):

``checkpoint.pt``            everything needed to resume (rewritten atomically every epoch)
``<N>epoch.pth``             model weights of the ``keep_nbest`` best epochs
``valid.<metric>.best.pth``  model weights of the best epoch (``/`` in the metric name -> ``.``)
``valid.<metric>.ave_<K>best.pth``  mean of the kept snapshots (``average_nbest``)
``train.log``                per-epoch summaries and interval lines
``results.json``             best epoch and value, stop reason, history of epoch summaries
``tensorboard/``             scalars, indexed by the global update step
``config.yaml``              the configuration in use
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from ssltk.device import peak_memory_mb, reset_peak_memory, select_device
from ssltk.errors import UserError
from ssltk.train import distributed as D
from ssltk.train.checkpoint import (average_state_dicts, load_state, rng_state, save_atomic,
                                    seed_everything, set_rng_state)
from ssltk.train.config import TrainerConfig, config_to_dict, save_config
from ssltk.train.expdir import diff_keys
from ssltk.train.optim import build_optimizer, lr_factor
from ssltk.data.datadir import write_json
from ssltk.train.reporting import FILE_ONLY, Meter, attach_handlers, epoch_line, fmt, progress_bar
from ssltk.train.model import default_validation_metrics, default_validation_step


class TrainingDiverged(UserError):
    """Too many consecutive updates with a non-finite loss or gradient."""


SINGLE_GROUP = "model"


class Trainer:
    """Train ``model`` on ``train_batches``, validating on ``valid_batches``.

    ``model`` follows the contract in `ssltk.train.model`.  The batch
    iterables are iterated once per epoch (lists, DataLoaders,
    `EpochBatchSampler`); when they (or their ``batch_sampler`` / ``sampler``)
    have ``set_epoch``, it is called before each epoch.  Tensors in a batch
    (also inside dicts, lists and tuples) are moved to the device.
    ``config`` is a `TrainerConfig` or any config object with a ``trainer``
    field (saved whole as ``exp_dir/config.yaml``).  ``valid_batches`` may be
    None when ``best_metric`` is a ``train/`` statistic.

    Seed before building the model (`seed_everything`) for reproducible
    initial weights; `fit` seeds again (``trainer.seed``) before training.
    Under torchrun (``WORLD_SIZE > 1``) the trainer joins the process group
    unless the caller already did, and leaves a group it joined when `fit`
    returns.
    """

    def __init__(self, model: nn.Module, train_batches: Iterable, valid_batches: Iterable | None,
                 config: Any, exp_dir: str | Path):
        cfg = config if isinstance(config, TrainerConfig) else getattr(config, "trainer", None)
        if not isinstance(cfg, TrainerConfig):
            raise TypeError("config must be a TrainerConfig or have a `trainer: TrainerConfig` field")
        self.cfg = cfg
        self.full_config = config
        self.exp_dir = Path(exp_dir)
        self.train_batches = train_batches
        self.valid_batches = valid_batches
        if valid_batches is None and cfg.best_metric.startswith("valid/"):
            raise UserError(f"trainer.best_metric is '{cfg.best_metric}' but no validation data was "
                            "given; pass validation batches or choose a 'train/' statistic")

        self.device = select_device(cfg.device, "trainer.device")
        self.dist, self._owns_group = D.init_distributed(self.device.type == "cuda")
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.log = logging.getLogger("ssltk.train")
        self._notes: list[str] = []  # logged once the log file is open
        self.model = model.to(self.device)

        # Parameter groups, one optimiser each.
        groups = model.param_groups() if callable(getattr(model, "param_groups", None)) else None
        self.grouped = groups is not None
        if groups is None:
            groups = {SINGLE_GROUP: [p for p in model.parameters() if p.requires_grad]}
        self.group_params = {name: list(params) for name, params in groups.items()}
        _check_groups(self.group_params)
        for name in cfg.group_optim:
            if name not in self.group_params:
                raise UserError(f"trainer.group_optim: unknown parameter group '{name}' "
                                f"(the model has: {', '.join(self.group_params)})")
        self.group_optim = {name: cfg.group_optim.get(name, cfg.optim) for name in self.group_params}
        self.optimizers = {name: build_optimizer(self.group_optim[name], params)
                           for name, params in self.group_params.items()}
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for params in self.group_params.values() for p in params)
        self.parameter_counts = {"parameters": total, "trainable_parameters": trainable}
        self._notes.append(f"model: {total:,} parameters, {trainable:,} trainable "
                           f"({100.0 * trainable / max(total, 1):.2f}%)")

        # Mixed precision: CUDA only.
        self.amp_dtype = None
        if cfg.amp and self.device.type == "cuda":
            self.amp_dtype = torch.float16 if cfg.amp_dtype == "float16" else torch.bfloat16
        elif cfg.amp:
            self._notes.append(f"note: trainer.amp is ignored on {self.device} (mixed precision needs CUDA)")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

        self.net = model
        if self.dist.enabled:
            self.net = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=self.grouped or cfg.find_unused_parameters)

        # Training state (all of it goes into the checkpoint).
        self.epoch = 0  # completed epochs
        self.step = 0  # attempted updates
        self.history: list[dict] = []  # one summary per epoch
        self.best: dict | None = None  # {"value", "epoch", "step"}
        self.nbest: list[list] = []  # [[value, epoch], ...] best first
        self.bad_streak = 0
        self.bad_total = 0
        self.stop_reason: str | None = None
        self._dropped: list[int] = []  # epochs whose snapshots fell out of the n-best
        self.writer = None

    # ------------------------------------------------------------ public

    @property
    def checkpoint_path(self) -> Path:
        return self.exp_dir / "checkpoint.pt"

    @property
    def best_path(self) -> Path:
        return self.exp_dir / f"{self.cfg.best_metric.replace('/', '.')}.best.pth"

    def fit(self) -> dict:
        """Train until ``max_epochs`` / ``max_steps`` / early stopping; return `results`.

        With an existing ``exp_dir/checkpoint.pt`` (and ``trainer.resume``) the
        run continues from it; a finished run returns at once.
        """
        try:
            self._open_outputs()
            if not self._resume():
                seed_everything(self.cfg.seed)
                self._check_metric_name()
            self.total_steps = self._total_steps()
            while not self._finished():
                self._run_epoch(self.epoch + 1)
            results = self.results()
            if self.dist.is_main:
                self._write_average()
                write_json(self.exp_dir / "results.json", results)
                self.log.info("finished (%s): best %s = %s at epoch %s", self.stop_reason,
                              self.cfg.best_metric, fmt(results["best_value"]), results["best_epoch"])
            D.barrier()  # every rank done with the group before any tears it down
            return results
        finally:
            if self.writer is not None:
                self.writer.close()
                self.writer = None
            for handler in list(self.log.handlers):
                handler.close()
                self.log.removeHandler(handler)
            if self._owns_group:
                # free DDP's reducer (it holds the group) while the peers are still there:
                # a gloo group torn down after a peer exited can wait forever for its threads
                self.net = self.model
                torch.distributed.destroy_process_group()
                self._owns_group = False

    def results(self) -> dict:
        """Summary of the run so far (the content of ``results.json``)."""
        best = self.best or {}
        return {
            "best_metric": self.cfg.best_metric,
            "best_mode": self.cfg.best_mode,
            "best_value": best.get("value"),
            "best_epoch": best.get("epoch"),
            "best_step": best.get("step"),
            "best_checkpoint": self.best_path.name if self.best else None,
            **self.parameter_counts,
            "nbest": [{"epoch": e, "value": v, "checkpoint": f"{e}epoch.pth"} for v, e in self.nbest],
            "epochs": self.epoch,
            "steps": self.step,
            "bad_steps": self.bad_total,
            "stop_reason": self.stop_reason,
            "finished": self.stop_reason is not None,
            "history": self.history,
        }

    # ------------------------------------------------------------ epochs

    def _finished(self) -> bool:
        cfg = self.cfg
        if self.epoch >= cfg.max_epochs:
            self.stop_reason = "max_epochs"
        elif cfg.max_steps is not None and self.step >= cfg.max_steps:
            self.stop_reason = "max_steps"
        elif cfg.patience is not None and self.best is not None:
            since = sum(1 for h in self.history if h["epoch"] > self.best["epoch"] and cfg.best_metric in h)
            if since >= cfg.patience:
                self.stop_reason = "patience"
        return self.stop_reason is not None

    def _run_epoch(self, epoch: int) -> None:
        start = time.time()
        for batches in (self.train_batches, self.valid_batches):
            setter = _epoch_setter(batches)
            if setter is not None:
                setter.set_epoch(epoch)
        reset_peak_memory(self.device)
        steps_before = self.step
        summary = {"epoch": epoch, **self._train_epoch(epoch)}
        train_seconds = time.time() - start
        summary["cost/steps_per_sec"] = round((self.step - steps_before) / max(train_seconds, 1e-9), 3)
        summary["cost/peak_memory_mb"] = round(peak_memory_mb(self.device), 1)
        last = epoch >= self.cfg.max_epochs or (self.cfg.max_steps is not None
                                               and self.step >= self.cfg.max_steps)
        if self.valid_batches is not None and (epoch % self.cfg.valid_interval == 0 or last):
            summary.update(self._validate())
        summary["step"] = self.step
        summary["time"] = round(time.time() - start, 3)
        summary.update(self._lrs())
        self.history.append(summary)
        self.epoch = epoch
        improved = self._update_best(summary)
        if self.dist.is_main:
            self._save(summary, improved)
            for key, value in summary.items():
                if key.startswith("valid/"):
                    self.writer.add_scalar(key, value, self.step)
            self.writer.flush()
            self.log.info("%s", epoch_line(summary, self.cfg.max_epochs, improved))
        D.barrier()

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.cfg
        self.net.train()
        epoch_meter, self.interval_meter = Meter(), Meter()
        total = len(self.train_batches) if hasattr(self.train_batches, "__len__") else None
        if self.dist.enabled and total is not None:
            counts = D.gather_objects(total)
            if len(set(counts)) > 1:
                raise RuntimeError(f"ranks have different numbers of training batches {counts}; "
                                   "shard them with EpochBatchSampler(pad=True)")
        bar = progress_bar(total, f"epoch {epoch}/{cfg.max_epochs}", self.dist.is_main)
        window: list = []
        group = SINGLE_GROUP
        seen = 0
        for batch, is_last in _with_last(self.train_batches):
            if not window:
                if cfg.max_steps is not None and self.step >= cfg.max_steps:
                    break
                names = list(self.group_params)
                group = names[self.step % len(names)]
                if callable(getattr(self.model, "set_step", None)):
                    self.model.set_step(self.step)
            seen += 1
            closes = is_last or len(window) + 1 == cfg.accum_grad
            sync = contextlib.nullcontext() if closes or not self.dist.enabled else self.net.no_sync()
            with sync:
                with self._autocast():
                    out = self.net(_to_device(batch, self.device), group=group) if self.grouped \
                        else self.net(_to_device(batch, self.device))
                loss, stats = _check_output(out)
                self.scaler.scale(loss / cfg.accum_grad).backward()
            window.append((loss.detach(), {k: _detach(v) for k, v in stats.items()}))
            if closes:
                self._update(group, window, epoch, epoch_meter)
                window = []
                if bar is not None and self._last_loss is not None:
                    bar.set_postfix_str(f"loss={float(self._last_loss):.4g}", refresh=False)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        if seen == 0 and not (cfg.max_steps is not None and self.step >= cfg.max_steps):
            raise UserError(f"epoch {epoch}: the training batches are empty (a generator can be "
                            "iterated only once: pass a list, a DataLoader or an EpochBatchSampler)")
        sums, counts = epoch_meter.totals()
        sums = D.sum_over_ranks(sums)
        counts = D.sum_over_ranks(counts)
        return {f"train/{k}": sums[k] / counts[k] for k in sums if counts.get(k)}

    # ------------------------------------------------------------ one update

    def _update(self, group: str, window: list, epoch: int, epoch_meter: Meter) -> None:
        cfg = self.cfg
        optimizer = self.optimizers[group]
        params = [p for p in self.group_params[group] if p.grad is not None]
        base_lr = self.group_optim[group].lr
        lr = base_lr * lr_factor(cfg.scheduler, self.step, self.total_steps)
        for pg in optimizer.param_groups:
            pg["lr"] = lr
        self.scaler.unscale_(optimizer)
        grads = [p.grad for p in params]
        norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=self.device)
        losses = torch.stack([loss.float() for loss, _ in window])
        flags = torch.stack([(~torch.isfinite(losses)).any(), ~torch.isfinite(norm)]).float()
        loss_bad, grad_bad = (bool(v) for v in D.all_reduce_max(flags).tolist())
        if loss_bad or grad_bad:
            if self.scaler.is_enabled():
                self.scaler.update()  # lowers the loss scale after an overflow
            if grad_bad and not loss_bad and self.scaler.is_enabled():
                # An fp16 overflow: expected while the scaler finds its scale, not an error.
                self.log.info("epoch %d step %d: fp16 gradient overflow; update skipped, loss scale "
                              "now %g", epoch, self.step, self.scaler.get_scale(), extra=FILE_ONLY)
            else:
                self._bad_update(epoch, "loss" if loss_bad else "gradient", losses)
        else:
            if cfg.grad_clip:
                torch.nn.utils.clip_grads_with_norm_(params, cfg.grad_clip, norm)
            if self.scaler.is_enabled():
                self.scaler.step(optimizer)
                self.scaler.update()
            else:
                optimizer.step()
            self.bad_streak = 0
            loss_key = f"{group}_loss" if self.grouped else "loss"
            for meter in (epoch_meter, self.interval_meter):
                for loss, stats in window:
                    meter.add(loss_key, loss)
                    for key, value in stats.items():
                        meter.add(key, value)
                meter.add("grad_norm" if not self.grouped else f"{group}_grad_norm", norm)
            self._last_loss = window[-1][0]
        self.model.zero_grad(set_to_none=True)
        self.step += 1
        if self.step % cfg.log_interval == 0:
            self._log_interval(epoch)

    def _bad_update(self, epoch: int, what: str, losses: torch.Tensor) -> None:
        self.bad_streak += 1
        self.bad_total += 1
        self.log.warning("epoch %d step %d: non-finite %s (losses %s); update skipped "
                         "(%d in a row, %d in total)", epoch, self.step, what,
                         [fmt(v) for v in losses.tolist()], self.bad_streak, self.bad_total)
        if self.bad_streak >= self.cfg.max_bad_steps:
            message = (f"training stopped at epoch {epoch}, step {self.step}: {self.bad_streak} "
                       f"consecutive updates had a non-finite loss or gradient "
                       f"(trainer.max_bad_steps = {self.cfg.max_bad_steps}). ")
            if self.epoch:
                message += f"The checkpoint of epoch {self.epoch} ({self.checkpoint_path}) is intact. "
            message += "Lower trainer.optim.lr, set trainer.grad_clip, or check the data."
            self.log.error("%s", message)
            raise TrainingDiverged(message)

    def _log_interval(self, epoch: int) -> None:
        means = self.interval_meter.means()
        self.interval_meter = Meter()
        if not self.dist.is_main:
            return
        for key, value in means.items():
            self.writer.add_scalar(f"train/{key}", value, self.step)
        for key, value in self._lrs().items():
            self.writer.add_scalar(key, value, self.step)
        text = " ".join(f"{k}={fmt(v)}" for k, v in means.items())
        self.log.info("epoch %d step %d: %s", epoch, self.step, text, extra=FILE_ONLY)

    def _lrs(self) -> dict[str, float]:
        lrs = {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}
        return {"lr": lrs[SINGLE_GROUP]} if not self.grouped else {f"lr/{k}": v for k, v in lrs.items()}

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------ validation

    def _validation_fns(self):
        model = self.model
        step = getattr(model, "validation_step", None) or (lambda b: default_validation_step(model, b))
        metrics = getattr(model, "validation_metrics", None) or default_validation_metrics
        return step, metrics

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        step_fn, metrics_fn = self._validation_fns()
        self.model.eval()
        totals: dict[str, Any] = {}
        try:
            for batch in self.valid_batches:
                with self._autocast():
                    counts = step_fn(_to_device(batch, self.device))
                for key, value in counts.items():
                    value = value.detach().double() if torch.is_tensor(value) else float(value)
                    totals[key] = totals.get(key, 0.0) + value
        finally:
            self.model.train()
        totals = D.sum_over_ranks({k: float(v) for k, v in totals.items()})
        return {f"valid/{k}": float(v) for k, v in metrics_fn(totals).items()}

    @torch.no_grad()
    def _check_metric_name(self) -> None:
        """Before training: fail fast when validation does not produce ``best_metric``."""
        if not self.cfg.best_metric.startswith("valid/"):
            return
        step_fn, metrics_fn = self._validation_fns()
        names = None
        batch = next(iter(self.valid_batches), None)
        if batch is not None:
            self.model.eval()
            try:
                counts = step_fn(_to_device(batch, self.device))
                totals = {k: float(v) for k, v in counts.items()}
                try:
                    names = sorted(f"valid/{k}" for k in metrics_fn(totals))
                except Exception:  # noqa: BLE001 - one batch may not be enough to compute them
                    names = None
            finally:
                self.model.train()
        known = sorted({n for part in D.gather_objects(names) if part for n in part})
        if known and self.cfg.best_metric not in known:
            raise UserError(_unknown_metric(self.cfg.best_metric, known))

    # ------------------------------------------------------------ best / checkpoints

    def _update_best(self, summary: dict) -> bool:
        cfg = self.cfg
        if cfg.best_metric not in summary:
            available = [k for k in summary if k.startswith(("train/", "valid/"))]
            if cfg.best_metric.startswith("train/") or any(k.startswith("valid/") for k in summary):
                raise UserError(_unknown_metric(cfg.best_metric, available))
            return False
        value = summary[cfg.best_metric]
        if math.isnan(value):
            self.log.warning("epoch %d: %s is NaN; not a candidate for the best checkpoint",
                             summary["epoch"], cfg.best_metric)
            return False
        better = (lambda a, b: a > b) if cfg.best_mode == "max" else (lambda a, b: a < b)
        improved = self.best is None or better(value, self.best["value"])
        if improved:
            self.best = {"value": value, "epoch": summary["epoch"], "step": self.step}
        self.nbest.append([value, summary["epoch"]])
        self.nbest.sort(key=lambda ve: (-ve[0] if cfg.best_mode == "max" else ve[0], ve[1]))
        self._dropped = [e for _, e in self.nbest[cfg.keep_nbest:]]
        self.nbest = self.nbest[:cfg.keep_nbest]
        return improved

    def _save(self, summary: dict, improved: bool) -> None:
        epoch = summary["epoch"]
        weights = {k: v.detach().cpu() if torch.is_tensor(v) else v
                   for k, v in self.model.state_dict().items()}
        if any(e == epoch for _, e in self.nbest):
            save_atomic(weights, self.exp_dir / f"{epoch}epoch.pth")
        for e in self._dropped:
            (self.exp_dir / f"{e}epoch.pth").unlink(missing_ok=True)
        self._dropped = []
        if improved:
            save_atomic(weights, self.best_path)
        save_atomic({
            "version": 1,
            "model": weights,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "best": self.best,
            "nbest": self.nbest,
            "history": self.history,
            "bad_streak": self.bad_streak,
            "bad_total": self.bad_total,
            "rng": rng_state(),
            "config": config_to_dict(self.cfg),
        }, self.checkpoint_path)
        write_json(self.exp_dir / "results.json", self.results())

    def _resume(self) -> bool:
        path = self.checkpoint_path
        if not (self.cfg.resume and path.exists()):
            return False
        ckpt = load_state(path)
        try:
            self.model.load_state_dict(ckpt["model"])
        except RuntimeError as e:
            raise UserError(f"{path} does not fit the model ({e}); use a new exp_dir or remove "
                            "the checkpoint") from None
        if set(ckpt["optimizers"]) != set(self.optimizers):
            raise UserError(f"{path} has optimisers {sorted(ckpt['optimizers'])}, the model "
                            f"has parameter groups {sorted(self.optimizers)}")
        for name, opt in self.optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][name])
        if ckpt["scaler"]:
            self.scaler.load_state_dict(ckpt["scaler"])
        for key in ("epoch", "step", "best", "nbest", "history", "bad_streak", "bad_total"):
            setattr(self, key, ckpt[key])
        set_rng_state(ckpt["rng"])
        changed = diff_keys(ckpt.get("config", {}), config_to_dict(self.cfg))
        self.log.info("resumed from %s: epoch %d, step %d%s", path, self.epoch, self.step,
                      f" (config changed: {', '.join(changed)})" if changed else "")
        return True

    def _write_average(self) -> None:
        if not (self.cfg.average_nbest and self.nbest):
            return
        paths = [self.exp_dir / f"{e}epoch.pth" for _, e in self.nbest]
        stem = self.cfg.best_metric.replace("/", ".")
        save_atomic(average_state_dicts(paths), self.exp_dir / f"{stem}.ave_{len(paths)}best.pth")

    # ------------------------------------------------------------ set-up

    def _open_outputs(self) -> None:
        self._last_loss = None
        attach_handlers(self.log, self.exp_dir if self.dist.is_main else None)
        if not self.dist.is_main:
            return
        from torch.utils.tensorboard import SummaryWriter

        for stale in self.exp_dir.glob(".*.tmp"):  # left by a run killed while saving
            stale.unlink(missing_ok=True)
        for note in self._notes:
            self.log.info("%s", note)
        sampler = _epoch_setter(self.train_batches)
        if self.dist.enabled and getattr(sampler, "world_size", getattr(sampler, "num_replicas", 1)) == 1:
            self.log.warning("warning: DDP with training batches that are not sharded by rank: every "
                             "rank sees the same batches (use EpochBatchSampler)")
        whole = self.full_config is not self.cfg and dataclasses.is_dataclass(self.full_config)
        config = self.full_config if whole else {"trainer": self.cfg}
        save_config(config, self.exp_dir / "config.yaml")
        self.writer = SummaryWriter(str(self.exp_dir / "tensorboard"))

    def _total_steps(self) -> int | None:
        cfg = self.cfg
        if cfg.max_steps is not None:
            return cfg.max_steps
        if hasattr(self.train_batches, "__len__"):
            return cfg.max_epochs * math.ceil(len(self.train_batches) / cfg.accum_grad)
        if cfg.scheduler.name in ("warmup_linear_decay", "warmup_cosine"):
            raise UserError(f"trainer.scheduler {cfg.scheduler.name} needs trainer.max_steps when "
                            "the training batches have no length")
        return None


# ---------------------------------------------------------------- helpers

def _check_groups(groups: dict[str, list]) -> None:
    seen: dict[int, str] = {}
    for name, params in groups.items():
        if not params:
            raise ValueError(f"parameter group '{name}' has no parameters")
        for p in params:
            if id(p) in seen:
                raise ValueError(f"a parameter is in both group '{seen[id(p)]}' and '{name}'")
            seen[id(p)] = name


def _check_output(out) -> tuple[torch.Tensor, dict]:
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
        raise TypeError("model.forward(batch) must return (loss, stats: dict)")
    loss = out[0]
    if not (torch.is_tensor(loss) and loss.dim() == 0):
        raise TypeError(f"model.forward(batch) must return a scalar loss tensor, got {loss!r:.80}")
    return out


def _detach(value):
    return value.detach().float() if torch.is_tensor(value) else float(value)


def _to_device(batch, device: torch.device):
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=device.type == "cuda")
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _with_last(iterable):
    """``(item, is_last)`` pairs."""
    it = iter(iterable)
    try:
        prev = next(it)
    except StopIteration:
        return
    for item in it:
        yield prev, False
        prev = item
    yield prev, True


def _epoch_setter(batches):
    for obj in (batches, getattr(batches, "batch_sampler", None), getattr(batches, "sampler", None)):
        if obj is not None and callable(getattr(obj, "set_epoch", None)):
            return obj
    return None


def _unknown_metric(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"trainer.best_metric: '{name}' is not computed{hint} (available: {', '.join(known)})"
