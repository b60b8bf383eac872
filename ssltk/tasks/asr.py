"""CTC speech / phone recognition."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from ssltk.data.datadir import DataDir, read_table
from ssltk.errors import UserError
from ssltk.metrics.edit_distance import UNITS, count_errors
from ssltk.metrics.scoring import read_scored_tables, score_asr, score_codeswitch, score_header
from ssltk.tasks.base import DownstreamTask, RunContext, copy_tokens, tokenizer_of
from ssltk.tasks.config import AsrTaskConfig
from ssltk.tasks.ctc_decode import decode, greedy_decode
from ssltk.tasks.frontend import Frontend
from ssltk.tasks.heads import CTCHead, stack_count
from ssltk.tasks.targets import encode_texts
from ssltk.text import Tokenizer
from ssltk.train import TrainableModel


class CTCModel(TrainableModel):
    """Frontend -> `CTCHead`; CTC loss summed over an utterance, averaged over the batch.

    Utterances with fewer frames than their transcript needs give an infinite
    loss, which is zeroed (``zero_infinity``): they do not train the model.
    Validation decodes greedily: ``loss`` (per utterance), ``ter`` (token error
    rate: characters with <space>, pieces, words or phones), ``wer`` (words of the
    detokenized text; for phones each phone is a word) and, for phones, ``per``.
    """

    def __init__(self, frontend: Frontend, tokenizer: Tokenizer, cfg, frame_rate: float | None = None):
        super().__init__()
        self.frontend = frontend
        self.tokenizer = tokenizer
        self.head = CTCHead(frontend.output_size, len(tokenizer.token_list), cfg.head, cfg.proj_dim,
                            cfg.hidden_size, cfg.num_layers, cfg.dropout, stack_count(cfg, frame_rate))

    def log_probs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``([B, T, V] log-probabilities in float32, frame counts [B])``."""
        logits, lens = self.head(*self.frontend(batch))
        return logits.float().log_softmax(-1), lens

    def _loss(self, log_probs, lens, batch, reduction: str) -> torch.Tensor:
        return F.ctc_loss(log_probs.transpose(0, 1), batch["targets"], lens, batch["target_lens"],
                          blank=self.tokenizer.token_list.blank_id, reduction=reduction,
                          zero_infinity=True)

    def forward(self, batch: dict):
        log_probs, lens = self.log_probs(batch)
        loss = self._loss(log_probs, lens, batch, "sum") / len(lens)
        return loss, {}

    def validation_step(self, batch: dict) -> dict:
        log_probs, lens = self.log_probs(batch)
        hyps = greedy_decode(log_probs, lens)
        token_err, word_err = None, None
        for hyp, ref, n in zip(hyps, batch["targets"].tolist(), batch["target_lens"].tolist()):
            ref = ref[:n]
            c = count_errors([str(i) for i in ref], [str(i) for i in hyp])
            token_err = c if token_err is None else token_err + c
            ref_words = self.tokenizer.decode(ref).split()
            w = count_errors(ref_words, self.tokenizer.decode(hyp).split())
            word_err = w if word_err is None else word_err + w
        return {"loss_sum": self._loss(log_probs, lens, batch, "sum"), "count": len(lens),
                "token_errors": token_err.errors, "tokens": token_err.ref_len,
                "word_errors": word_err.errors, "words": word_err.ref_len}

    def validation_metrics(self, totals: dict) -> dict:
        out = {"loss": totals["loss_sum"] / totals["count"],
               "ter": totals["token_errors"] / max(totals["tokens"], 1),
               "wer": totals["word_errors"] / max(totals["words"], 1)}
        if self.tokenizer.type == "phone":
            out["per"] = out["ter"]
        return out

    @torch.no_grad()
    def decode_batch(self, batch: dict, beam: int = 1, **kwargs) -> list[list[int]]:
        """Token ids per utterance (``beam`` 1: best path; more: prefix beam search)."""
        log_probs, lens = self.log_probs(batch)
        return decode(log_probs, lens, beam, **kwargs)

    def predict(self, batch: dict, beam: int = 1, **kwargs) -> list[str]:
        """Transcripts of a batch."""
        return [self.tokenizer.decode(ids) for ids in self.decode_batch(batch, beam, **kwargs)]


class AsrTask(DownstreamTask):
    """``asr``: CTC over the token list's transcripts; scored by error rates (WER, CER, PER)."""

    name = "asr"
    schema = AsrTaskConfig
    section = "asr"

    def setup(self, cfg, train: DataDir, run: RunContext) -> dict:
        copy_tokens(cfg.asr, run, f"task {self.name}")
        return {}

    def targets(self, cfg, ddir: DataDir, run: RunContext, meta: dict) -> dict:
        return encode_texts(ddir, run.kind, run.tokenizer, cfg.asr.allow_unk)

    def build_model(self, frontend, cfg, meta: dict, exp, run=None) -> CTCModel:
        return CTCModel(frontend, tokenizer_of(exp, run), cfg.asr, meta.get("frame_rate"))

    def default_beam(self, cfg) -> int:
        return cfg.asr.beam_size

    def decode(self, model: CTCModel, batch: dict, beam: int) -> dict[str, list]:
        ids = model.decode_batch(batch, beam)
        return {"hyp": [model.tokenizer.decode(i) for i in ids],
                "hyp.token": [" ".join(model.tokenizer.token_list.decode(i)) for i in ids]}

    def score_inputs(self, cfg, meta, exp, data: Path, decode: Path):
        tokenizer = tokenizer_of(exp, None)
        units = "phone" if tokenizer.type == "phone" else "word,char"
        return data / tokenizer.table, decode / "hyp", {"units": units}

    def score(self, ref: Path, hyp: Path, options: dict) -> tuple[str, dict]:
        units = [u.strip() for u in str(options.get("units") or "word,char").split(",") if u.strip()]
        bad = [u for u in units if u not in UNITS]
        if bad or not units:
            raise UserError(f"--units: unknown unit(s) {bad} (choose from {', '.join(UNITS)})")
        refs, hyps = read_scored_tables(ref, hyp)
        return score_asr(refs, hyps, units, score_header(self.name, ref, hyp))


class CodeSwitchTask(AsrTask):
    """``cs``: CTC ASR with a bilingual token list; scored by the mixed error rate and the
    WER of each language (word-level language tags, ``text.lang``)."""

    name = "cs"

    def score_inputs(self, cfg, meta, exp, data: Path, decode: Path):
        tokenizer = tokenizer_of(exp, None)
        return data / tokenizer.table, decode / "hyp", {"lang_tags": data / (tokenizer.lang_table or "text.lang")}

    def score(self, ref: Path, hyp: Path, options: dict) -> tuple[str, dict]:
        tags_path = options.get("lang_tags")
        if not tags_path:
            raise UserError("--task cs needs --lang-tags (the text.lang table)")
        refs, hyps = read_scored_tables(ref, hyp)
        tags = read_table(tags_path)
        missing = [u for u in refs if u not in tags]
        if missing:
            raise UserError(f"utterance '{missing[0]}' of {ref} is missing from {tags_path}")
        return score_codeswitch(refs, hyps, tags, score_header(self.name, ref, hyp))
