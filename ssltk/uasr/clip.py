"""CLIP loss for the UASR generator (the JSALT 2022 addition to wav2vec-U 2.0).

In generator updates: the generator's phone posteriors -> a straight-through one-hot
(forward: the best phone; backward: the softmax's gradient) -> token embeddings from the
frozen codebook of a frozen text encoder -> an utterance embedding -> a symmetric InfoNCE
loss (temperature 0.07) against a frozen target embedding per utterance: the embedding of
the paired image, or of another caption of the same scene -- never of the utterance's own
transcript.

A text encoder is any module with ``vocab`` (the generator's output inventory, in
order), ``embedding`` (an ``nn.Embedding`` over it: the codebook) and
``encode_embeddings(emb [B, T, D], lens) -> [B, E]`` (L2-normalised).  `TextEncoder` is a
small one (phone embeddings, a BiGRU, masked mean pooling, a projection) that
``ssltk.uasr.scenes`` trains on the text-only side of the synthetic corpus.

Real CLIP: write each utterance's image embedding (CLIP's image tower) with
`write_targets`; for the text side wrap CLIP's text tower so that ``embedding`` is its
token-embedding table restricted to the generator's vocabulary and ``encode_embeddings``
runs the rest of the tower.  The generator's vocabulary is then CLIP's BPE tokens (or a
reduced set), not phones, as in the JSALT experiments on SpokenCOCO.

Targets are files: kaldiio ``.scp``/``.ark`` vectors, ``.npz`` keyed by utterance, or a
2-D ``.npy`` with a sidecar ``<stem>.utts`` listing the utterance of each row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssltk.errors import UserError
from ssltk.upstream.base import valid_mask


class TextEncoder(nn.Module):
    """Phone sequence -> L2-normalised embedding: embeddings, BiGRU, masked mean, linear."""

    def __init__(self, vocab: list[str], dim: int = 64, out_dim: int = 64):
        super().__init__()
        self.vocab = list(vocab)
        self.config = {"dim": dim, "out_dim": out_dim}
        self.embedding = nn.Embedding(len(vocab), dim)
        self.rnn = nn.GRU(dim, dim, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * dim, out_dim)

    def encode_embeddings(self, emb: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        lens = lens.clamp(min=1)
        packed = nn.utils.rnn.pack_padded_sequence(emb, lens.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=emb.size(1))
        mask = valid_mask(lens, emb.size(1)).unsqueeze(-1).to(out.dtype)
        pooled = (out * mask).sum(1) / mask.sum(1)
        return F.normalize(self.proj(pooled), dim=-1)

    def forward(self, ids: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return self.encode_embeddings(self.embedding(ids), lens)


def save_text_encoder(encoder: TextEncoder, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"vocab": encoder.vocab, "config": encoder.config,
                "state_dict": encoder.state_dict()}, tmp)
    tmp.replace(path)


def load_text_encoder(path: str | Path, vocab: list[str] | None = None) -> TextEncoder:
    """A frozen encoder; with ``vocab``, it must be the encoder's (row i = phone i)."""
    if not Path(path).is_file():
        raise UserError(f"{path}: no such text encoder (made by ssltk.bin.clip_targets)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    encoder = TextEncoder(state["vocab"], **state["config"])
    encoder.load_state_dict(state["state_dict"])
    if vocab is not None and list(vocab) != encoder.vocab:
        missing = sorted(set(vocab) - set(encoder.vocab))
        extra = sorted(set(encoder.vocab) - set(vocab))
        raise UserError(f"{path}: the encoder's vocabulary differs from the generator's "
                        f"(only in the generator: {missing}; only in the encoder: {extra}; "
                        "or another order): train the encoder on this phones.txt")
    encoder.eval().requires_grad_(False)
    return encoder


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Symmetric InfoNCE of matched rows of ``a`` and ``b`` ([B, E], L2-normalised): the
    mean of the a->b and b->a cross-entropies over the cosine similarities / temperature.
    One row has no negatives: the loss is 0."""
    logits = a @ b.t() / temperature
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def clip_loss(logits: torch.Tensor, lens: torch.Tensor, targets: torch.Tensor, encoder,
              temperature: float = 0.07) -> torch.Tensor:
    """CLIP loss of generator logits ``[B, T, V]`` against target embeddings ``[B, E]``."""
    probs = logits.float().softmax(dim=-1)
    hard = F.one_hot(probs.argmax(dim=-1), probs.size(-1)).to(probs.dtype)
    onehot = hard - probs.detach() + probs  # straight-through
    onehot = onehot * valid_mask(lens, logits.size(1)).unsqueeze(-1)
    emb = onehot @ encoder.embedding.weight
    utt = encoder.encode_embeddings(emb, lens)
    return info_nce(utt, F.normalize(targets.float(), dim=-1), temperature)


def read_targets(path: str | Path) -> dict[str, np.ndarray]:
    """Utterance -> target vector from ``.scp``/``.ark`` (kaldiio), ``.npz`` or ``.npy``."""
    import kaldiio

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such CLIP target file")
    if path.suffix in (".scp", ".ark"):
        reader = kaldiio.load_scp(str(path)) if path.suffix == ".scp" else kaldiio.load_ark(str(path))
        table = {u: np.asarray(v, dtype=np.float32) for u, v in
                 (reader.items() if path.suffix == ".scp" else reader)}
    elif path.suffix == ".npz":
        with np.load(path) as data:
            table = {u: data[u].astype(np.float32) for u in data.files}
    elif path.suffix == ".npy":
        side = path.with_suffix(".utts")
        if not side.is_file():
            raise UserError(f"{path}: a .npy target file needs {side} (one utterance per row)")
        matrix = np.load(path)
        utts = side.read_text(encoding="utf-8").split()
        if matrix.ndim != 2 or len(utts) != len(matrix):
            raise UserError(f"{path}: {matrix.shape} array for {len(utts)} utterances in {side}")
        table = dict(zip(utts, matrix.astype(np.float32)))
    else:
        raise UserError(f"{path}: CLIP targets must be .scp, .ark, .npz or .npy")
    dims = {v.shape for v in table.values()}
    if len(dims) > 1 or any(len(d) != 1 for d in dims):
        raise UserError(f"{path}: targets must be vectors of one size, found shapes {sorted(dims)}")
    return table


def write_targets(path: str | Path, table: dict[str, np.ndarray]) -> None:
    """Write targets as ``.scp`` (with its ``.ark``) or ``.npz``."""
    import kaldiio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".scp":
        with kaldiio.WriteHelper(f"ark,scp:{path.with_suffix('.ark')},{path}") as writer:
            for utt in sorted(table, key=str.encode):
                writer(utt, np.asarray(table[utt], dtype=np.float32))
    elif path.suffix == ".npz":
        np.savez(path, **{u: np.asarray(v, dtype=np.float32) for u, v in table.items()})
    else:
        raise UserError(f"{path}: write CLIP targets as .scp or .npz")
