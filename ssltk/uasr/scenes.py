"""A small CLIP for the synthetic unpaired corpus: scenes stand in for images.

Every sentence of the ``unpaired`` corpus describes a scene (its slots: subject, verb,
object, setting; ``ssltk.data.synth.unpaired.scene_table``).  `SceneEncoder` plays
CLIP's image tower (slot embeddings summed, an MLP, L2-normalised), `TextEncoder`
(``ssltk.uasr.clip``) its text tower over phones.  Both are trained with the symmetric
InfoNCE loss on the TEXT-ONLY side only (phone sequences with ``<SIL>`` inserted as in
the GAN's real text, paired with their scenes), then frozen.  A speech utterance's CLIP
target is the scene encoder's embedding of its scene (``utt2scene``): its "image", never
an encoding of its transcript.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssltk.uasr.clip import TextEncoder, info_nce

SLOTS = ("s", "v", "o", "p")


def scene_ids(scene: str) -> list[int]:
    """Slot indices of a scene id; intransitive verbs follow the transitive ones (offset
    100) and a missing object is index 99."""
    parts = {p[0]: int(p[1:]) for p in scene.split("_")}
    verb = parts["v"] if "v" in parts else 100 + parts["i"]
    return [parts["s"], verb, parts.get("o", 99), parts["p"]]


class SceneEncoder(nn.Module):
    def __init__(self, dim: int = 64, out_dim: int = 64, slot_size: int = 128):
        super().__init__()
        self.config = {"dim": dim, "out_dim": out_dim, "slot_size": slot_size}
        self.slots = nn.ModuleList(nn.Embedding(slot_size, dim) for _ in SLOTS)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, out_dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids [B, 4]`` -> ``[B, E]``."""
        x = sum(emb(ids[:, i]) for i, emb in enumerate(self.slots))
        return F.normalize(self.mlp(x), dim=-1)


def pad(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([len(s) for s in seqs])
    out = torch.zeros(len(seqs), int(lens.max()), dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out, lens


def train_clip(texts: list[list[int]], scenes: list[list[int]], vocab: list[str], *,
               steps: int = 300, batch_size: int = 128, dim: int = 64, lr: float = 3e-3,
               temperature: float = 0.07, seed: int = 0, log=None):
    """Train (TextEncoder, SceneEncoder) on matched pairs; returns them in eval mode and
    the final training loss.  Batches never hold two texts of one scene (they would be
    false negatives)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    text_enc, scene_enc = TextEncoder(vocab, dim, dim), SceneEncoder(dim, dim)
    params = list(text_enc.parameters()) + list(scene_enc.parameters())
    opt = torch.optim.Adam(params, lr=lr)
    keys = [tuple(s) for s in scenes]
    loss = torch.zeros(())
    for step in range(steps):
        picked, seen = [], set()
        for i in rng.permutation(len(texts)):
            if keys[i] not in seen:
                seen.add(keys[i])
                picked.append(int(i))
            if len(picked) == batch_size:
                break
        ids, lens = pad([texts[i] for i in picked])
        loss = info_nce(text_enc(ids, lens), scene_enc(torch.tensor([scenes[i] for i in picked])),
                        temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log and (step + 1) % 100 == 0:
            log(f"clip step {step + 1}: loss {loss.item():.3f}")
    return text_enc.eval(), scene_enc.eval(), loss.item()


@torch.no_grad()
def recall(text_enc: TextEncoder, scene_enc: SceneEncoder, texts: list[list[int]],
           scenes: list[list[int]], ks=(1, 5)) -> dict[str, float]:
    """Text -> scene retrieval among the distinct scenes of the set: recall@k."""
    distinct = sorted({tuple(s) for s in scenes})
    index = {s: i for i, s in enumerate(distinct)}
    ids, lens = pad(texts)
    sims = text_enc(ids, lens) @ scene_enc(torch.tensor(distinct)).t()
    rank = (sims > sims[torch.arange(len(texts)), [index[tuple(s)] for s in scenes]][:, None]).sum(1)
    return {f"r@{k}": round(float((rank < k).float().mean()), 4) for k in ks} | {
        "candidates": len(distinct), "queries": len(texts)}
