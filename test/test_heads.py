"""Attention-head pruning and skip-ahead (ssltk.compress.heads): a pruned upstream equals
the original with those heads masked, identity heads compute what they should, and both are
normal checkpoints whose parameters and MACs follow their shapes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_upstream_common import batched_vs_single, padded_batch

import ssltk.hub as hub
from ssltk.compress.heads import diagonality, head_importance, least_important, prune_heads, skip_ahead
from ssltk.upstream.checkpoint import save_ssltk
from ssltk.upstream.transformer import SelfAttention

TOL = 1e-4
FAMILIES = ["hubert_debug", "wavlm_debug", "wav2vec2_stable_debug"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _diff(a, b, lens):
    return max(float((x[i, :n] - y[i, :n]).abs().max()) for x, y in zip(a, b) for i, n in enumerate(lens.tolist()))


@pytest.mark.parametrize("name", FAMILIES)
def test_a_pruned_upstream_equals_the_original_with_those_heads_masked(name):
    upstream = hub.load(name)
    pruned = prune_heads(upstream, {0: [1], 1: [0, 1]})  # layer 1 loses every head
    wavs, lens, _ = padded_batch([8000, 5000])
    with torch.no_grad():
        masked, out_lens = upstream(wavs, lens, head_masks=[torch.tensor([1.0, 0.0]), torch.zeros(2)])
        ours, pruned_lens = pruned(wavs, lens)
    assert torch.equal(out_lens, pruned_lens)
    assert _diff(masked, ours, out_lens) < TOL
    assert batched_vs_single(pruned, [4000, 2500, 3300]) < TOL
    # parameters and MACs shrink by exactly the removed rows and columns
    dim, hd = upstream.hidden_size, upstream.hidden_size // upstream.config.num_heads
    removed_heads = 3
    params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert params(upstream) - params(pruned) == removed_heads * hd * (4 * dim + 3)
    frames = int(upstream.num_frames(torch.tensor([16000]))[0])
    assert upstream.macs(16000) - pruned.macs(16000) == removed_heads * hd * (4 * frames * dim + 2 * frames * frames)


def test_identity_heads_output_their_value_vectors():
    attention = SelfAttention(8, 2, 0.0, False, identity=[1]).eval()
    x = torch.randn(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    q, k, v = (proj(x).view(2, 5, 2, 4).transpose(1, 2) for proj in
               (attention.q_proj, attention.k_proj, attention.v_proj))
    head0 = F.scaled_dot_product_attention(q[:, :1], k[:, :1], v[:, :1], attn_mask=mask[:, None, None, :])
    expected = attention.out_proj(torch.cat([head0, v[:, 1:]], 1).transpose(1, 2).reshape(2, 5, 8))
    torch.testing.assert_close(attention(x, mask), expected)
    probs = attention.probabilities(x, mask)
    assert torch.equal(probs[:, 1], torch.eye(5).expand(2, -1, -1))  # the identity head's map


@pytest.mark.parametrize("name", FAMILIES)
def test_skip_ahead_replaces_diagonal_heads_and_is_a_normal_checkpoint(name, tmp_path):
    upstream = hub.load(name)
    wavs, lens, _ = padded_batch([8000, 5000])
    scores = diagonality(upstream, wavs, lens)
    assert all(((s >= 0) & (s <= 1)).all() for s in scores)
    threshold = float(scores[0].max())  # the most diagonal head of layer 0 (and any as diagonal)
    fast, chosen = skip_ahead(upstream, wavs, lens, threshold)
    assert chosen and all(float(scores[i][h]) >= threshold for i, heads in chosen.items() for h in heads)
    assert fast.config.identity_heads == chosen
    again = diagonality(fast, wavs, lens)
    assert all(float(again[i][h]) == pytest.approx(1.0) for i, heads in chosen.items() for h in heads)
    assert fast.macs(16000) < upstream.macs(16000)
    assert batched_vs_single(fast, [4000, 2500, 3300]) < TOL
    save_ssltk(prune_heads(fast, {1: [1]}), tmp_path / "small.pt")
    loaded = hub.load(str(tmp_path / "small.pt"))
    assert loaded.config.kept_heads == {1: [0]}
    with torch.no_grad():
        assert _diff(loaded(wavs, lens)[0], prune_heads(fast, {1: [1]})(wavs, lens)[0], lens.new_tensor(
            loaded.num_frames(lens).tolist())) < TOL


def test_least_important_heads_have_the_smallest_weight_norms():
    upstream = hub.load("hubert_debug")
    scores = head_importance(upstream)
    drop = least_important(upstream, 2)
    dropped = sorted(float(scores[i][h]) for i, heads in drop.items() for h in heads)
    kept = [float(scores[i][h]) for i in range(2) for h in range(2) if h not in drop.get(i, [])]
    assert len(dropped) == 2 and max(dropped) <= min(kept)


def test_bad_head_configs_are_named():
    from ssltk.errors import UserError

    with pytest.raises(UserError, match="kept_heads"):
        hub.load("hubert_debug", kept_heads={0: [2]})
    with pytest.raises(UserError, match="identity_heads.*pruned heads"):
        hub.load("hubert_debug", kept_heads={0: [0]}, identity_heads={0: [1]})


def test_compress_upstream_cli_writes_loadable_smaller_checkpoints(tmp_path, capsys):
    from ssltk.bin.compress_upstream import main
    from ssltk.compress.pruning import count_nonzero

    source = hub.load("hubert_debug")
    for method, extra in (("heads", ["--heads", "2"]), ("ffn", ["--fraction", "0.5"]),
                          ("weights", ["--sparsity", "0.5"]), ("subsample", ["--layer", "0"]),
                          ("skip_ahead", ["--threshold", "0.0"])):
        dest = tmp_path / f"{method}.pt"
        assert main(["hubert_debug", str(dest), "--method", method, *extra]) == 0
        assert "non-zero parameters" in capsys.readouterr().out
        result = hub.load(str(dest))
        smaller = count_nonzero(result) < count_nonzero(source)
        cheaper = result.macs(16000) < source.macs(16000)
        assert smaller if method == "weights" else cheaper, method
