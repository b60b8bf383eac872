"""Compute cost of an upstream: parameters and multiply-accumulates per second of audio.

MACs are counted analytically by each upstream's ``macs`` for one 1 s utterance:
convolutions (frontend and positional), linear layers (feature projection, q/k/v/out
projections, feed-forward, WavLM's gate) and the two attention products (``QK^T`` and
``AV``: ``2 T^2 D`` per layer).  Norms, activations, softmax and the relative-position
lookup are not counted.  fbank/MFCC count a real FFT as ``2 N log2 N``, the Mel
filterbank matmul and the DCT.
"""

from __future__ import annotations


def human(count: float) -> str:
    """``1.23G`` / ``4.56M`` / ``7.89k`` / ``12``."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.2f}{unit}"
    return f"{count:.0f}"


def cost(upstream) -> tuple[int, int]:
    """``(parameters, MACs per second of audio)`` of an upstream."""
    return sum(p.numel() for p in upstream.parameters()), upstream.macs(upstream.sample_rate)


def describe_upstream(name_or_path: str, **overrides) -> str:
    """Multi-line summary of one upstream (``overrides``: as for ``hub.load``)."""
    from ssltk import hub

    upstream = hub.load(name_or_path, **overrides)
    params, macs = cost(upstream)
    family = f" ({upstream.config.family})" if hasattr(upstream.config, "family") else ""
    return "\n".join([
        f"upstream:        {name_or_path}",
        f"type:            {type(upstream).__name__}{family}",
        f"layers:          {upstream.num_layers} ({upstream.num_layers + 1} hidden states)",
        f"hidden size:     {upstream.hidden_size}",
        f"parameters:      {params} ({human(params)})",
        f"sample rate:     {upstream.sample_rate} Hz",
        f"downsample rate: {upstream.downsample_rate} samples/frame",
        f"frame rate:      {upstream.frame_rate:g} Hz",
        f"MACs / s audio:  {macs} ({human(macs)})",
    ])
