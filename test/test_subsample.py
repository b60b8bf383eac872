"""Sequence compression between encoder layers (ssltk.compress.subsample): exact lengths,
padding invariance, and the pooled values."""

from __future__ import annotations

import pytest
import torch
from test_upstream_common import batched_vs_single, padded_batch

import ssltk.hub as hub
from ssltk.compress.subsample import CodeSegmentSubsample, FixedSubsample

TOL = 1e-4


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_fixed_subsampling_averages_windows_of_valid_frames():
    x = torch.arange(14, dtype=torch.float32).view(2, 7, 1)
    y, lens = FixedSubsample(3)(x, torch.tensor([7, 4]))
    assert lens.tolist() == [3, 2]
    assert y[0, :, 0].tolist() == [1.0, 4.0, 6.0]  # (0+1+2)/3, (3+4+5)/3, 6
    assert y[1, :2, 0].tolist() == [8.0, 10.0]  # (7+8+9)/3, 10 (frames 11-13 are padding)
    assert y[1, 2, 0] == 0.0


def test_code_segments_pool_runs_of_equal_codes():
    centroids = torch.tensor([[0.0], [10.0]])
    x = torch.tensor([[0.1, 0.3, 9.0, 11.0, 0.2, 99.0]]).unsqueeze(-1)  # codes 0 0 1 1 0 | padding
    y, lens = CodeSegmentSubsample(centroids)(x, torch.tensor([5]))
    assert lens.tolist() == [3]
    torch.testing.assert_close(y[0, :, 0], torch.tensor([0.2, 10.0, 0.2]))


@pytest.mark.parametrize("factor", [2, 3, 5])
def test_fixed_subsampling_in_the_encoder_keeps_lengths_exact_and_batches_consistent(factor):
    upstream = hub.load("hubert_debug")
    upstream.encoder.between_layers[0] = FixedSubsample(factor)
    wavs, lens, _ = padded_batch([16000, 9000])
    with torch.no_grad():
        hidden, out_lens = upstream(wavs, lens)
    frames = upstream.feature_extractor.output_lengths(lens)
    assert out_lens.tolist() == [-(-int(n) // factor) for n in frames]
    assert torch.equal(upstream.num_frames(lens), out_lens)
    assert hidden[0].shape[1] == int(frames.max()) and hidden[1].shape[1] == int(out_lens.max())
    assert batched_vs_single(upstream, [4000, 2500, 3300]) < TOL


def test_code_segments_in_the_encoder_follow_the_upstreams_own_codes():
    upstream = hub.load("wavlm_debug")
    wavs, lens, _ = padded_batch([8000, 5000])
    with torch.no_grad():
        layer1 = upstream(wavs, lens)[0][1]
    centroids = layer1[0, :40:5].clone()  # 8 "k-means" codes taken from the layer's own frames
    upstream.encoder.between_layers[0] = CodeSegmentSubsample(centroids)
    with torch.no_grad():
        hidden, out_lens = upstream(wavs, lens)
    assert (out_lens < upstream.feature_extractor.output_lengths(lens)).all() and (out_lens > 0).all()
    assert batched_vs_single(upstream, [4000, 2500, 3300]) < TOL
    # saved with the model: a fresh module gets the centroids from the state dict
    restored = CodeSegmentSubsample(torch.zeros_like(centroids))
    restored.load_state_dict(upstream.encoder.between_layers[0].state_dict())
    assert torch.equal(restored.centroids, centroids)


def test_a_compressed_upstream_is_a_normal_checkpoint(tmp_path):
    from ssltk.upstream.checkpoint import save_ssltk

    upstream = hub.load("wavlm_debug", subsample={0: "fixed:2", 1: "codes:6"})
    assert upstream.downsample_rate == 2 * hub.load("wavlm_debug").downsample_rate
    with torch.no_grad():
        upstream.encoder.between_layers[1].centroids.normal_()
    save_ssltk(upstream, tmp_path / "compressed.pt")
    loaded = hub.load(str(tmp_path / "compressed.pt"))
    assert loaded.config.subsample == {0: "fixed:2", 1: "codes:6"}
    wavs, lens, _ = padded_batch([8000, 5000])
    with torch.no_grad():
        (a, a_lens), (b, b_lens) = upstream.eval()(wavs, lens), loaded.eval()(wavs, lens)
    assert torch.equal(a_lens, b_lens) and all(torch.equal(x, y) for x, y in zip(a, b))
    with pytest.raises(Exception, match="variable frame rate"):
        loaded.num_frames(lens)


def test_fixed_subsampling_lengths_and_macs_follow_the_shapes():
    plain = hub.load("hubert_debug")
    upstream = hub.load("hubert_debug", subsample={0: "fixed:3"})
    wavs, lens, _ = padded_batch([16000, 9000])
    with torch.no_grad():
        _, out_lens = upstream(wavs, lens)
    assert torch.equal(upstream.num_frames(lens), out_lens)
    # MACs: layer 0 at the frontend's frame count, layer 1 at a third of it (rounded up)
    frames = int(plain.num_frames(torch.tensor([16000]))[0])
    layer = plain.encoder.layers[0]
    expected = plain.macs(16000) - layer.macs(frames) + layer.macs(-(-frames // 3))
    assert upstream.macs(16000) == expected


def test_bad_subsample_specs_are_named():
    from ssltk.errors import UserError

    with pytest.raises(UserError, match="subsample 'avg:2'"):
        hub.load("hubert_debug", subsample={0: "avg:2"})
    with pytest.raises(UserError, match="subsample after layer 5"):
        hub.load("hubert_debug", subsample={5: "fixed:2"})
