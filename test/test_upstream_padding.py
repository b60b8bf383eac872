"""Padding invariance and exact frame counts for every upstream family."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
from test_upstream_common import batched_vs_single, padded_batch

import ssltk.hub as hub
from ssltk.upstream.feature_encoders import conv_output_lengths

TOL = 1e-4


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
FAMILIES = [
    "wav2vec2_debug",  # group-norm extractor, post-LN
    "wav2vec2_stable_debug",  # layer-norm extractor, pre-LN, waveform normalisation
    "hubert_debug",
    "wavlm_debug",
    "wavlm_stable_debug",
    "distilhubert_debug",
    "melhubert_debug",
    "fbank",
    "mfcc",
]


@pytest.mark.parametrize("name", FAMILIES)
def test_batched_equals_one_by_one(name):
    upstream = hub.load(name)
    diff = batched_vs_single(upstream, [6400, 2000, 4801, 3333, 6400])
    print(f"{name}: batched vs single max abs diff {diff:.2e}")
    assert diff < TOL


def test_mfcc_with_deltas_is_padding_invariant():
    upstream = hub.load("mfcc", deltas=True)
    assert upstream.hidden_size == 39
    assert batched_vs_single(upstream, [4000, 1200, 2500]) < TOL


def test_full_base_group_norm_is_padding_invariant():
    """The masked GroupNorm matters most at full width (512 channels)."""
    upstream = hub.load("hubert_base", num_layers=1)
    assert batched_vs_single(upstream, [16000, 5000, 9999]) < TOL


def test_padding_values_do_not_matter():
    upstream = hub.load("wavlm_debug")
    wavs, lens, _ = padded_batch([4000, 2000])
    noisy = wavs.clone()
    noisy[1, 2000:] = 100.0
    with torch.no_grad():
        clean_out, _ = upstream(wavs, lens)
        noisy_out, out_lens = upstream(noisy, lens)
    n = int(out_lens[1])
    assert all((a[1, :n] - b[1, :n]).abs().max() < TOL for a, b in zip(clean_out, noisy_out))


EDGE_LENGTHS = [399, 400, 401, 559, 560, 719, 720, 1000, 1039, 1040, 16000]


def _formula(length: int, conv_layers) -> int:
    for _, kernel, stride in conv_layers:
        length = (length - kernel) // stride + 1 if length >= kernel else 0
    return length


@pytest.mark.parametrize("name", ["hubert_base", "hubert_debug", "melhubert_debug", "fbank", "mfcc"])
def test_lens_equal_frames_actually_produced(name):
    overrides = {"num_layers": 1} if name == "hubert_base" else {}
    upstream = hub.load(name, **overrides)
    wavs, lens, utts = padded_batch(EDGE_LENGTHS)
    with torch.no_grad():
        hidden_states, out_lens = upstream(wavs, lens)
        for utt, n in zip(utts, out_lens.tolist()):
            single, single_lens = upstream(utt[None], torch.tensor([len(utt)]))
            assert single[-1].shape[1] == n == int(single_lens[0])
    assert hidden_states[-1].shape[1] == int(out_lens.max())
    assert torch.equal(upstream.num_frames(lens), out_lens)


def test_conv_lens_follow_the_per_layer_formula():
    upstream = hub.load("hubert_base", num_layers=1)
    lengths = torch.tensor(EDGE_LENGTHS)
    expected = [_formula(n, upstream.config.conv_layers) for n in EDGE_LENGTHS]
    assert conv_output_lengths(lengths, upstream.config.conv_layers).tolist() == expected
    assert expected[:7] == [0, 1, 1, 1, 1, 1, 2]  # 400 samples = receptive field, hop 320


def test_kaldi_lens_match_torchaudio_frame_count():
    upstream = hub.load("fbank")
    for n in [400, 401, 559, 560, 719, 720, 16000]:
        frames = kaldi.fbank(torch.randn(1, n), num_mel_bins=80).shape[0]
        assert frames == 1 + (n - 400) // 160 == int(upstream.num_frames(torch.tensor([n]))[0])
    assert int(upstream.num_frames(torch.tensor([399]))[0]) == 0


def test_input_shorter_than_one_frame_gives_empty_output():
    for name in ["hubert_debug", "melhubert_debug", "fbank"]:
        upstream = hub.load(name)
        with torch.no_grad():
            hidden_states, lens = upstream(torch.randn(2, 300), torch.tensor([300, 200]))
        assert lens.tolist() == [0, 0]
        assert len(hidden_states) == upstream.num_layers + 1
        assert all(h.shape == (2, 0, upstream.hidden_size) for h in hidden_states)


def test_bad_inputs_are_reported():
    upstream = hub.load("hubert_debug")
    with pytest.raises(ValueError, match="wav_lens"):
        upstream(torch.randn(2, 1000), torch.tensor([1000, 1001]))
    with pytest.raises(ValueError, match="batch, samples"):
        upstream(torch.randn(1000), torch.tensor([1000]))


def test_masked_group_norm_matches_group_norm_on_valid_frames():
    from ssltk.upstream.feature_encoders import masked_group_norm

    weight, bias = torch.randn(8), torch.randn(8)
    # The second case is ill-conditioned: float32 inputs themselves limit accuracy.
    for offset, spread, tol in [(0.0, 1.0, 1e-5), (5.0, 0.01, 5e-4)]:
        x = torch.randn(3, 8, 900) * spread + offset
        lens = torch.tensor([900, 500, 2])
        out = masked_group_norm(x.clone(), lens, weight, bias, 1e-5)
        for b, n in enumerate(lens.tolist()):
            ref = F.group_norm(x[b : b + 1, :, :n].double(), 8, weight.double(), bias.double(), 1e-5)
            assert (out[b, :, :n] - ref[0].float()).abs().max() < tol
