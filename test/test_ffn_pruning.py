"""FC pruning (ssltk.compress.ffn): the smaller upstream equals the original with the removed
units zeroed, saves as a normal checkpoint, and its parameters and MACs follow its shapes."""

from __future__ import annotations

import copy

import pytest
import torch
from test_upstream_common import batched_vs_single, padded_batch

import ssltk.hub as hub
from ssltk.compress.ffn import prune_ffn, unit_importance
from ssltk.upstream.checkpoint import save_ssltk


@pytest.mark.parametrize("name", ["hubert_debug", "wav2vec2_stable_debug"])
def test_pruned_units_are_the_weakest_and_the_rest_computes_as_before(name, tmp_path):
    upstream = hub.load(name)
    small = prune_ffn(upstream, 0.5)
    ffn = upstream.config.ffn_size
    assert small.config.ffn_sizes == {0: ffn - ffn // 2, 1: ffn - ffn // 2}
    # the reference: the original with the dropped units' weights zeroed (gelu(0) = 0)
    zeroed = copy.deepcopy(upstream)
    for layer, scores in zip(zeroed.encoder.layers, unit_importance(upstream)):
        dropped = scores.argsort()[: ffn // 2]
        with torch.no_grad():
            layer.ffn.fc1.weight[dropped] = 0
            layer.ffn.fc1.bias[dropped] = 0
            layer.ffn.fc2.weight[:, dropped] = 0
    wavs, lens, _ = padded_batch([8000, 5000])
    with torch.no_grad():
        expected, out_lens = zeroed(wavs, lens)
        got, _ = small(wavs, lens)
    for a, b in zip(expected, got):
        for i, n in enumerate(out_lens.tolist()):
            torch.testing.assert_close(b[i, :n], a[i, :n], atol=1e-5, rtol=1e-5)
    assert batched_vs_single(small, [4000, 2500]) < 1e-4
    dim, layers = upstream.hidden_size, upstream.num_layers
    params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert params(upstream) - params(small) == layers * (ffn // 2) * (2 * dim + 1)
    frames = int(upstream.num_frames(torch.tensor([16000]))[0])
    assert upstream.macs(16000) - small.macs(16000) == layers * 2 * frames * dim * (ffn // 2)
    save_ssltk(small, tmp_path / "small.pt")
    assert hub.load(str(tmp_path / "small.pt")).config.ffn_sizes == small.config.ffn_sizes


def test_bad_fractions_and_sizes_are_refused():
    from ssltk.errors import UserError

    with pytest.raises(ValueError, match="fraction"):
        prune_ffn(hub.load("hubert_debug"), 1.0)
    with pytest.raises(UserError, match="ffn_sizes"):
        hub.load("hubert_debug", ffn_sizes={0: 10**6})
