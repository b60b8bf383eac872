"""A small CLIP for the synthetic unpaired corpus: scenes stand in for images.

Every sentence of the ``unpaired`` corpus describes a scene (its slots: subject, verb,
object, setting; ``ssltk.corpora.synth.unpaired.scene_table``).  `SceneEncoder` plays
CLIP's image tower (slot embeddings summed, an MLP, L2-normalised), `TextEncoder`
(``ssltk.uasr.clip``) its text tower over phones.  Both are trained with the symmetric
InfoNCE loss on the TEXT-ONLY side only (phone sequences with ``<SIL>`` inserted as in
the GAN's real text, paired with their scenes), then frozen.  A speech utterance's CLIP
target is the scene encoder's embedding of its scene (``utt2scene``): its "image", never
an encoding of its transcript.  `clip_targets` does all of it for a corpus
(``ssltk.bin.clip_targets``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ssltk.data.datadir import read_table, write_json
from ssltk.errors import UserError
from ssltk.uasr.clip import TextEncoder, info_nce, save_text_encoder, write_targets
from ssltk.uasr.text import insert_silences, read_phone_inventory, read_phone_lines, read_phone_table

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


def clip_targets(corpus: str | Path, phones: str | Path, data_dirs: list[str | Path], out: str | Path,
                 *, steps: int = 300, dim: int = 64, sil_prob: float = 0.5, seed: int = 0,
                 log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Train the scene CLIP on ``corpus/text_only`` (``text.phn`` + ``text.scene``; 10% held
    out) with phone vocabulary ``phones`` and write ``out/text_encoder.pt``,
    ``out/scene_encoder.pt``, ``out/<set>/targets.scp`` of each data dir (scene embedding
    of its ``utt2scene``) and ``out/clip_info.json`` (the returned summary: loss,
    held-out recall, and each set's reference-phone recall, for evaluation only)."""
    corpus, out = Path(corpus), Path(out)
    vocab = read_phone_inventory(phones)
    index = {p: i for i, p in enumerate(vocab)}
    scene_file = corpus / "text_only" / "text.scene"
    if not scene_file.is_file():
        raise UserError(f"{scene_file}: no such file (a corpus made by ssltk.bin.synth_corpus "
                        "--kind unpaired has it; regenerate an older one)")
    words = read_phone_lines(corpus / "text_only" / "text.phn")
    scenes = scene_file.read_text(encoding="utf-8").split()
    if len(words) != len(scenes):
        raise UserError(f"{scene_file}: {len(scenes)} scenes for {len(words)} sentences")
    rng = np.random.default_rng(seed)
    texts, pairs = [], []
    for w, sc in zip(words, scenes):
        seq = insert_silences(w, sil_prob, rng)
        if all(p in index for p in seq):  # sentences with pruned phones are left out
            texts.append([index[p] for p in seq])
            pairs.append(scene_ids(sc))
    order = rng.permutation(len(texts))
    held = sorted(order[:max(1, len(texts) // 10)].tolist())
    train = sorted(set(range(len(texts))) - set(held))
    text_enc, scene_enc, loss = train_clip([texts[i] for i in train], [pairs[i] for i in train],
                                           vocab, steps=steps, dim=dim, seed=seed, log=log)
    info = {"train_pairs": len(train), "loss": round(loss, 4), "steps": steps,
            "heldout_text": recall(text_enc, scene_enc, [texts[i] for i in held],
                                   [pairs[i] for i in held])}
    save_text_encoder(text_enc, out / "text_encoder.pt")
    torch.save({"config": scene_enc.config, "state_dict": scene_enc.state_dict()},
               out / "scene_encoder.pt")
    for ddir in map(Path, data_dirs):
        utt2scene = read_table(ddir / "utt2scene")
        with torch.no_grad():
            emb = scene_enc(torch.tensor([scene_ids(s) for s in utt2scene.values()])).numpy()
        write_targets(out / ddir.name / "targets.scp", dict(zip(utt2scene, emb)))
        if (ddir / "text.phn").is_file():  # evaluation only: what a perfect generator gets
            refs = read_phone_table(ddir / "text.phn")
            utts = [u for u in utt2scene if u in refs]
            info[f"{ddir.name}_reference_phones"] = recall(
                text_enc, scene_enc, [[index[p] for p in refs[u] if p in index] for u in utts],
                [scene_ids(utt2scene[u]) for u in utts])
    write_json(out / "clip_info.json", info)
    return info
