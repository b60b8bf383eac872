"""Making upstreams smaller and faster (seed 001, "Model Compression & Sequence
Compression").  Every method returns a normal upstream (`EncoderConfig` records what was
removed), which `ssltk.upstream.checkpoint.save_ssltk` writes and `ssltk.hub.load` reads:

* `ssltk.compress.subsample`: sequence compression between layers (fixed or code segments);
* `ssltk.compress.pruning`: magnitude pruning (masks; ``model.prune`` in pre-training);
* `ssltk.compress.heads`: head pruning and skip-ahead;
* `ssltk.compress.ffn`: FC (feed-forward unit) pruning;
* `ssltk.compress.quantize`: bfloat16 / int8 inference.

`compress` applies one of them by name (``METHODS``), as ``python -m
ssltk.bin.compress_upstream`` does.
"""

from __future__ import annotations

from typing import Any

import torch

from ssltk.errors import UserError

METHODS = ("weights", "heads", "ffn", "skip_ahead", "subsample")


def compress(upstream, method: str, *, sparsity: float = 0.5, heads: int = 1, fraction: float = 0.5,
             threshold: float = 0.9, layer: int = 0, spec: str = "fixed:2",
             audio: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[Any, str]:
    """``(compressed upstream, a one-line description)`` of ``method`` applied to ``upstream``
    (an `SSLUpstream`; not changed).  ``audio`` (``wavs, wav_lens``) is what skip-ahead
    measures attention maps on."""
    from ssltk.upstream.ssl_model import SSLUpstream

    if not isinstance(upstream, SSLUpstream):
        raise UserError(f"compression needs a transformer upstream, got {type(upstream).__name__}")
    if method == "weights":
        import copy

        from ssltk.compress.pruning import PruneConfig, prune_by_magnitude, unmask

        pruned = copy.deepcopy(upstream)
        reached = prune_by_magnitude(pruned, PruneConfig(sparsity=sparsity))
        return unmask(pruned), f"magnitude pruning of the projections to sparsity {reached:.3f}"
    if method == "heads":
        from ssltk.compress.heads import least_important, prune_heads

        drop = least_important(upstream, heads)
        return prune_heads(upstream, drop), f"pruned the {heads} heads of least L1 norm: {drop}"
    if method == "ffn":
        from ssltk.compress.ffn import prune_ffn

        return prune_ffn(upstream, fraction), f"pruned {fraction:.0%} of every layer's FFN units"
    if method == "skip_ahead":
        from ssltk.compress.heads import skip_ahead

        if audio is None:
            raise UserError("skip_ahead measures attention maps on audio: give some")
        fast, chosen = skip_ahead(upstream, *audio, threshold)
        return fast, f"identity attention for heads with diagonality >= {threshold}: {chosen or 'none'}"
    if method == "subsample":
        if spec.startswith("codes"):
            raise UserError("codes:K subsampling needs k-means centroids of that layer; build it with "
                            "ssltk.compress.subsample.CodeSegmentSubsample from a codebook")
        new = SSLUpstream(upstream.config.replace(subsample={**upstream.config.subsample, layer: spec}))
        new.load_state_dict(upstream.state_dict())
        new.pretraining_heads = dict(upstream.pretraining_heads)
        return new.train(upstream.training), f"{spec} subsampling after layer {layer}"
    raise UserError(f"unknown compression method {method!r} (expected one of {', '.join(METHODS)})")


def audio_batch(data: str | None, count: int, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(wavs, wav_lens)``: the first ``count`` utterances of a data dir, padded; without a
    data dir, a 4 s speech-like probe signal."""
    if data is None:
        from ssltk.upstream.export import probe_signal

        wav = probe_signal(4.0, sample_rate)
        return wav, torch.tensor([wav.shape[1]])
    from ssltk.data.batching import UtteranceDataset, batch_loader

    dataset = UtteranceDataset(data, sample_rate)
    _, wavs, lens = next(iter(batch_loader(dataset, [dataset.ddir.utt_ids()[:count]])))
    return wavs, lens
