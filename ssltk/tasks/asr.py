"""CTC speech / phone recognition."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ssltk.metrics.edit_distance import count_errors
from ssltk.tasks.ctc_decode import decode, greedy_decode
from ssltk.tasks.frontend import Frontend
from ssltk.tasks.heads import CTCHead
from ssltk.text import Tokenizer
from ssltk.train import TaskModel


class CTCModel(TaskModel):
    """Frontend -> `CTCHead`; CTC loss summed over an utterance, averaged over the batch.

    Utterances with fewer frames than their transcript needs give an infinite
    loss, which is zeroed (``zero_infinity``): they do not train the model.
    Validation decodes greedily: ``loss`` (per utterance), ``ter`` (token error
    rate: characters with <space>, pieces, words or phones), ``wer`` (words of the
    detokenized text; for phones each phone is a word) and, for phones, ``per``.
    """

    def __init__(self, frontend: Frontend, tokenizer: Tokenizer, cfg):
        super().__init__()
        self.frontend = frontend
        self.tokenizer = tokenizer
        self.head = CTCHead(frontend.output_size, len(tokenizer.token_list), cfg.head, cfg.proj_dim,
                            cfg.hidden_size, cfg.num_layers, cfg.dropout, cfg.stack_frames)

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
