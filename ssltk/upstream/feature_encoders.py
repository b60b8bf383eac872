"""Feature encoders of the wav2vec 2.0-family models (what their configs call the
``frontend``): the waveform CNN and MelHuBERT's log-Mel.

Both return ``(features[B, T', C], lens[B])`` with ``lens`` the exact number of frames
each utterance yields on its own, so padding never changes valid frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
from torch import nn

from ssltk.upstream.config import ConvLayerSpec


def conv_output_lengths(lens: torch.Tensor, conv_layers: list[ConvLayerSpec]) -> torch.Tensor:
    """Frames produced by an unpadded conv stack: per layer ``floor((L - k) / s) + 1``.

    Lengths shorter than a layer's kernel give 0 frames (and stay 0).
    """
    for _, kernel, stride in conv_layers:
        lens = torch.div(lens - kernel, stride, rounding_mode="floor") + 1
        lens = lens.clamp(min=0)
    return lens


def receptive_field(conv_layers: list[ConvLayerSpec]) -> int:
    """Samples seen by one output frame (the shortest input that yields a frame)."""
    field, hop = 1, 1
    for _, kernel, stride in conv_layers:
        field += (kernel - 1) * hop
        hop *= stride
    return field


def masked_group_norm(
    x: torch.Tensor, lens: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> torch.Tensor:
    """GroupNorm with one group per channel, statistics over each utterance's valid frames.

    ``x`` is ``[B, C, T]``. Statistics come from sums of ``x`` and ``x**2`` over the
    valid frames (float32 for half-precision inputs); an utterance where that is
    ill-conditioned (``mean**2 > 100 * var`` in some channel) is recomputed two-pass.
    The same code runs with and without padding, so a batch and its utterances run
    alone see identical statistics. Padded frames are normalised with
    their utterance's statistics; their values are never used downstream. Without
    autograd the affine transform is written into ``x`` in place.
    """
    xs = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    counts = lens.clamp(min=1).tolist()
    sums = torch.stack([xs[b, :, :n].sum(-1) for b, n in enumerate(counts)])
    squares = torch.stack([torch.linalg.vector_norm(xs[b, :, :n], dim=-1).square() for b, n in enumerate(counts)])
    n = torch.tensor(counts, dtype=xs.dtype, device=x.device)[:, None]
    mean = sums / n
    var = (squares / n - mean.square()).clamp(min=0)
    ill_conditioned = (mean.square() > 100 * var).any(-1)
    if bool(ill_conditioned.any()):
        for b in ill_conditioned.nonzero().flatten().tolist():
            var[b], mean[b] = torch.var_mean(xs[b, :, : counts[b]], dim=-1, correction=0)
    scale = torch.rsqrt(var + eps) * weight.to(xs.dtype)
    shift = bias.to(xs.dtype) - mean * scale
    scale, shift = scale[..., None].to(x.dtype), shift[..., None].to(x.dtype)
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad)
    return torch.addcmul(shift, x, scale) if needs_grad else torch.addcmul(shift, x, scale, out=x)


class ConvBlock(nn.Module):
    """Conv1d, optional normalisation (masked GroupNorm or channel LayerNorm), GELU."""

    def __init__(self, in_dim: int, out_dim: int, kernel: int, stride: int, bias: bool, norm: str | None):
        super().__init__()
        self.conv = nn.Conv1d(in_dim, out_dim, kernel, stride=stride, bias=bias)
        self.norm_type = norm
        if norm == "group_norm":
            self.norm = nn.GroupNorm(out_dim, out_dim, affine=True)
        elif norm == "layer_norm":
            self.norm = nn.LayerNorm(out_dim, elementwise_affine=True)
        else:
            self.norm = nn.Identity()

    def forward(self, x: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """``x[B, C_in, T] -> [B, C_out, T']``; ``lens`` are the output lengths."""
        x = self.conv(x)
        if self.norm_type == "group_norm":
            x = masked_group_norm(x, lens, self.norm.weight, self.norm.bias, self.norm.eps)
        elif self.norm_type == "layer_norm":
            x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        if torch.is_grad_enabled() and x.requires_grad:
            return F.gelu(x)
        return torch.ops.aten.gelu_(x)  # fresh tensor, no autograd: in place saves a copy


class ConvFeatureExtractor(nn.Module):
    """The wav2vec 2.0 waveform CNN.

    ``group_norm`` mode: GroupNorm (one group per channel) on the first block only;
    ``layer_norm`` mode: LayerNorm over channels on every block.
    """

    def __init__(self, conv_layers: list[ConvLayerSpec], mode: str, conv_bias: bool):
        super().__init__()
        self.layer_specs = list(conv_layers)
        blocks = []
        in_dim = 1
        for index, (dim, kernel, stride) in enumerate(conv_layers):
            norm = mode if (mode == "layer_norm" or index == 0) else None
            blocks.append(ConvBlock(in_dim, dim, kernel, stride, conv_bias, norm))
            in_dim = dim
        self.conv_layers = nn.ModuleList(blocks)
        self.output_dim = in_dim

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``wavs[B, T] -> (features[B, T', C], lens[B])``."""
        x = wavs[:, None, :]
        lens = wav_lens
        for block, spec in zip(self.conv_layers, self.layer_specs):
            lens = conv_output_lengths(lens, [spec])
            x = block(x, lens)
        return x.transpose(1, 2), lens

    def output_lengths(self, wav_lens: torch.Tensor) -> torch.Tensor:
        return conv_output_lengths(wav_lens, self.layer_specs)

    def macs(self, num_samples: int) -> int:
        """Conv multiply-accumulates (norms and GELU not counted)."""
        total, length, in_dim = 0, num_samples, 1
        for dim, kernel, stride in self.layer_specs:
            length = max((length - kernel) // stride + 1, 0)
            total += length * dim * in_dim * kernel
            in_dim = dim
        return total


def kaldi_num_frames(lens: torch.Tensor, frame_length: int = 400, frame_shift: int = 160) -> torch.Tensor:
    """Kaldi frame count with ``snip_edges=True``: ``1 + (L - 400) // 160``, 0 if ``L < 400``."""
    frames = torch.div(lens - frame_length, frame_shift, rounding_mode="floor") + 1
    return torch.where(lens >= frame_length, frames, torch.zeros_like(frames))


class LogMelEncoder(nn.Module):
    """MelHuBERT frontend: kaldi log-Mel fbank (25 ms / 10 ms), ``stack`` frames concatenated.

    Computed per utterance on its valid samples (so padding cannot leak in); the fbank has
    no parameters. Output frames: ``kaldi_frames // stack``.
    """

    def __init__(self, num_mel_bins: int = 80, stack: int = 2, sample_rate: int = 16000):
        super().__init__()
        self.num_mel_bins = num_mel_bins
        self.stack = stack
        self.sample_rate = sample_rate
        self.output_dim = num_mel_bins * stack

    def output_lengths(self, wav_lens: torch.Tensor) -> torch.Tensor:
        return torch.div(kaldi_num_frames(wav_lens), self.stack, rounding_mode="floor")

    def forward(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lens = self.output_lengths(wav_lens)
        out = wavs.new_zeros(wavs.shape[0], int(lens.max()) if len(lens) else 0, self.output_dim)
        for index, (length, frames) in enumerate(zip(wav_lens.tolist(), lens.tolist())):
            if frames == 0:
                continue
            fbank = kaldi.fbank(
                wavs[index, :length].float()[None],
                num_mel_bins=self.num_mel_bins,
                sample_frequency=float(self.sample_rate),
                dither=0.0,
            )
            out[index, :frames] = fbank[: frames * self.stack].reshape(frames, self.output_dim).to(out.dtype)
        return out, lens

    def macs(self, num_samples: int) -> int:
        frames = int(kaldi_num_frames(torch.tensor(num_samples)))
        return frames * fbank_macs_per_frame(self.num_mel_bins)


def fbank_macs_per_frame(num_mel_bins: int, fft_size: int = 512) -> int:
    """Counted fbank cost per frame: real FFT as ``2 N log2 N`` MACs plus the Mel matmul."""
    return 2 * fft_size * (fft_size.bit_length() - 1) + (fft_size // 2 + 1) * num_mel_bins
