"""Utterance classification (speaker ID, keyword, category, SLURP-style intent)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ssltk.data.datadir import DataDir, sort_key
from ssltk.data.loader import lookup
from ssltk.errors import UserError
from ssltk.metrics.accuracy import split_intent
from ssltk.metrics.scoring import read_scored_tables, score_classification, score_header
from ssltk.tasks.base import DownstreamTask, RunContext, copy_tokens, tokenizer_of
from ssltk.tasks.config import ClsTaskConfig
from ssltk.tasks.frontend import Frontend
from ssltk.tasks.heads import UtteranceHead, stack_count
from ssltk.tasks.targets import encode_labels, encode_texts
from ssltk.text import Tokenizer
from ssltk.train import TrainableModel


class ClassificationModel(TrainableModel):
    """Frontend -> `UtteranceHead`; cross-entropy over ``labels`` (the class names).

    With ``cfg.ctc_weight > 0`` (multi-task), a linear CTC layer on the head's
    encoder frames also learns the transcript (``tokenizer``; batches then hold
    ``targets``), and the loss interpolates the two; predictions use the classifier only.
    Logged: ``train/acc`` (and ``train/ctc``); validation: ``loss`` (per utterance,
    cross-entropy), ``acc``, and with ``intent`` also ``scenario_acc`` / ``action_acc``
    (see `split_intent`).
    """

    def __init__(self, frontend: Frontend, labels: list[str], cfg, tokenizer: Tokenizer | None = None,
                 frame_rate: float | None = None):
        super().__init__()
        self.frontend = frontend
        self.labels = list(labels)
        self.intent = cfg.intent
        self.head = UtteranceHead(frontend.output_size, len(labels), cfg.proj_dim, cfg.pooling,
                                  cfg.dropout, cfg.encoder_layers, cfg.encoder_size,
                                  stack_count(cfg, frame_rate))
        self.ctc_weight = cfg.ctc_weight
        self.ctc = None
        if self.ctc_weight > 0:
            if tokenizer is None:
                raise ValueError("cls.ctc_weight > 0 needs a tokenizer")
            self.blank = tokenizer.token_list.blank_id
            self.ctc = nn.Linear(self.head.frame_size, len(tokenizer.token_list))
        if self.intent:
            parts = [split_intent(label) for label in self.labels]
            for name, k in (("scenario_of", 0), ("action_of", 1)):
                names = sorted({p[k] for p in parts})
                ids = torch.tensor([names.index(p[k]) for p in parts], dtype=torch.long)
                self.register_buffer(name, ids, persistent=False)

    def logits(self, batch: dict) -> torch.Tensor:
        return self.head(*self.frontend(batch))

    def forward(self, batch: dict):
        frames, lens = self.head.encode(*self.frontend(batch))
        logits = self.head.classify(frames, lens)
        labels = batch["labels"]
        loss = F.cross_entropy(logits.float(), labels)
        stats = {"acc": (logits.argmax(-1) == labels).float().mean()}
        if self.ctc is not None:
            log_probs = self.ctc(frames).float().log_softmax(-1).transpose(0, 1)
            ctc = F.ctc_loss(log_probs, batch["targets"], lens, batch["target_lens"],
                             blank=self.blank, reduction="mean", zero_infinity=True)
            stats["ctc"] = ctc.detach()
            loss = (1 - self.ctc_weight) * loss + self.ctc_weight * ctc
        return loss, stats

    def validation_step(self, batch: dict) -> dict:
        logits = self.logits(batch)
        labels = batch["labels"]
        pred = logits.argmax(-1)
        out = {"loss_sum": F.cross_entropy(logits.float(), labels, reduction="sum"),
               "correct": (pred == labels).sum(), "count": len(labels)}
        if self.intent:
            out["scenario_correct"] = (self.scenario_of[pred] == self.scenario_of[labels]).sum()
            out["action_correct"] = (self.action_of[pred] == self.action_of[labels]).sum()
        return out

    def validation_metrics(self, totals: dict) -> dict:
        n = totals["count"]
        out = {"loss": totals["loss_sum"] / n, "acc": totals["correct"] / n}
        if self.intent:
            out["scenario_acc"] = totals["scenario_correct"] / n
            out["action_acc"] = totals["action_correct"] / n
        return out

    @torch.no_grad()
    def predict(self, batch: dict, **_) -> list[str]:
        return [self.labels[i] for i in self.logits(batch).argmax(-1).tolist()]


class ClassificationTask(DownstreamTask):
    """``cls``: one label per utterance from ``cls.label_table``; scored by accuracy."""

    name = "cls"
    schema = ClsTaskConfig
    section = "cls"

    def setup(self, cfg, train: DataDir, run: RunContext) -> dict:
        table = cfg.cls.label_table
        labels = sorted(set(lookup(train, run.kind, table).values()), key=sort_key)
        if len(labels) < 2:
            raise UserError(f"{train.path / table}: classification needs at least 2 labels, "
                            f"found {labels}")
        if cfg.cls.ctc_weight > 0:
            copy_tokens(cfg.cls, run, "cls.ctc_weight > 0")
        return {"labels": labels}

    def targets(self, cfg, ddir: DataDir, run: RunContext, meta: dict) -> dict:
        table = cfg.cls.label_table
        labels = encode_labels(lookup(ddir, run.kind, table), meta["labels"], ddir.path / table)
        if cfg.cls.ctc_weight == 0:
            return labels
        texts = encode_texts(ddir, run.kind, run.tokenizer, False)
        return {utt: (label, texts[utt]) for utt, label in labels.items()}

    def build_model(self, frontend, cfg, meta: dict, exp, run=None) -> ClassificationModel:
        tokenizer = tokenizer_of(exp, run) if cfg.cls.ctc_weight > 0 else None
        return ClassificationModel(frontend, meta["labels"], cfg.cls, tokenizer, meta.get("frame_rate"))

    def decode(self, model: ClassificationModel, batch: dict, beam: int) -> dict[str, list]:
        return {"predictions": model.predict(batch)}

    def score_inputs(self, cfg, meta, exp, data: Path, decode: Path):
        return data / cfg.cls.label_table, decode / "predictions", {"intent": cfg.cls.intent}

    def score(self, ref: Path, hyp: Path, options: dict) -> tuple[str, dict]:
        refs, hyps = read_scored_tables(ref, hyp)
        return score_classification(refs, hyps, bool(options.get("intent")), score_header("cls", ref, hyp))
