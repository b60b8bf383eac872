"""CLIP loss, frozen text encoder, target files, and the synthetic scene CLIP."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssltk.errors import UserError
from ssltk.uasr.clip import (TextEncoder, clip_loss, info_nce, load_text_encoder, read_targets,
                             save_text_encoder, write_targets)

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB = ["<SIL>", "a", "b", "c"]


def test_info_nce_hand_computed():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    t = 0.5
    # similarities / t: [[2, 1.2], [0, 1.6]]
    row = (-2 + math.log(math.exp(2) + math.exp(1.2))
           - 1.6 + math.log(math.exp(0) + math.exp(1.6))) / 2
    col = (-2 + math.log(math.exp(2) + math.exp(0))
           - 1.6 + math.log(math.exp(1.2) + math.exp(1.6))) / 2
    assert info_nce(a, b, t).item() == pytest.approx((row + col) / 2, abs=1e-6)
    assert info_nce(a[:1], b[:1], t).item() == pytest.approx(0.0, abs=1e-7)  # no negatives


def test_clip_loss_is_straight_through_and_ignores_padding():
    torch.manual_seed(0)
    encoder = TextEncoder(VOCAB, dim=8, out_dim=6).eval().requires_grad_(False)
    logits = torch.randn(3, 5, 4, requires_grad=True)
    lens = torch.tensor([5, 3, 4])
    targets = torch.randn(3, 6)
    loss = clip_loss(logits, lens, targets, encoder, temperature=0.07)
    # forward value: the loss of the hard one-hot sequences
    ids = logits.argmax(-1)
    expected = info_nce(encoder(ids, lens), F.normalize(targets, dim=-1), 0.07)
    assert loss.item() == pytest.approx(expected.item(), abs=1e-5)
    loss.backward()
    assert logits.grad[0].abs().sum() > 0
    assert logits.grad[1, 3:].abs().sum() == 0  # padded frames get nothing
    assert all(p.grad is None for p in encoder.parameters())  # frozen
    padded = torch.cat([logits.detach(), 100 * torch.randn(3, 4, 4)], dim=1)
    again = clip_loss(padded, lens, targets, encoder, temperature=0.07)
    assert again.item() == pytest.approx(loss.item(), abs=1e-5)


def test_text_encoder_round_trip_and_vocab_check(tmp_path):
    encoder = TextEncoder(VOCAB, dim=8, out_dim=6)
    save_text_encoder(encoder, tmp_path / "enc.pt")
    loaded = load_text_encoder(tmp_path / "enc.pt", vocab=VOCAB)
    ids, lens = torch.tensor([[1, 2, 3, 0]]), torch.tensor([3])
    assert torch.allclose(loaded(ids, lens), encoder(ids, lens))
    assert not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(UserError, match=r"only in the generator: \['d'\]"):
        load_text_encoder(tmp_path / "enc.pt", vocab=VOCAB[:3] + ["d"])
    with pytest.raises(UserError, match="another order"):
        load_text_encoder(tmp_path / "enc.pt", vocab=VOCAB[::-1])


@pytest.mark.parametrize("suffix", [".scp", ".npz"])
def test_target_files_round_trip(tmp_path, suffix):
    table = {"u1": np.array([1.0, 2.0], np.float32), "u2": np.array([3.0, 4.0], np.float32)}
    write_targets(tmp_path / f"t{suffix}", table)
    got = read_targets(tmp_path / f"t{suffix}")
    assert got.keys() == table.keys()
    assert all(np.array_equal(got[k], table[k]) for k in table)


def test_npy_targets_need_their_utterance_list(tmp_path):
    np.save(tmp_path / "t.npy", np.eye(2, dtype=np.float32))
    with pytest.raises(UserError, match="t.utts"):
        read_targets(tmp_path / "t.npy")
    (tmp_path / "t.utts").write_text("a\nb\n")
    assert read_targets(tmp_path / "t.npy")["b"].tolist() == [0.0, 1.0]
    (tmp_path / "t.utts").write_text("a\n")
    with pytest.raises(UserError, match="for 1 utterances"):
        read_targets(tmp_path / "t.npy")
    with pytest.raises(UserError, match="no such CLIP target file"):
        read_targets(tmp_path / "none.scp")


def test_scene_clip_learns_to_retrieve_scenes():
    from ssltk.uasr.scenes import recall, scene_ids, train_clip

    # 12 scenes, each described by a distinct phone sequence (3 noisy variants)
    rng = np.random.default_rng(0)
    scenes = [f"s{i % 4:02d}_v{i % 3:02d}_o{i % 6:02d}_p{i:02d}" for i in range(12)]
    texts, pairs = [], []
    for i, s in enumerate(scenes):
        for _ in range(3):
            texts.append([0] + [1 + (i + k) % 3 for k in range(i % 5 + 2)] + [0] * int(rng.integers(2)))
            pairs.append(scene_ids(s))
    text_enc, scene_enc, loss = train_clip(texts, pairs, VOCAB, steps=150, batch_size=12, dim=16)
    scores = recall(text_enc, scene_enc, texts, pairs)
    assert scores["candidates"] == 12 and scores["r@5"] > 0.8
