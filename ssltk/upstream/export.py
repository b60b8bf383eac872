"""Export an upstream to ssltk's checkpoint format and check the copy against the original;
reference hidden states that pin a shipped checkpoint (see test/test_shipped_upstreams.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ssltk.errors import UserError

# relative error of the hidden states allowed after storing the weights in each precision
TOLERANCE = {"float32": 1e-5, "float16": 2e-2, "bfloat16": 1e-1}


def probe_signal(seconds: float = 2.0, sample_rate: int = 16000) -> torch.Tensor:
    """A fixed, speech-like test input [1, T]: a harmonic tone with a gliding pitch, an
    amplitude envelope and a little seeded noise."""
    t = torch.arange(int(seconds * sample_rate), dtype=torch.float64) / sample_rate
    f0 = 120 + 40 * torch.sin(2 * torch.pi * 0.7 * t)
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / sample_rate
    voiced = sum(torch.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 - torch.cos(2 * torch.pi * 2.5 * t))
    noise = torch.randn(t.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (0.1 * envelope * voiced + 0.005 * noise).float().unsqueeze(0)


@torch.no_grad()
def hidden_states(upstream, wav: torch.Tensor) -> list[torch.Tensor]:
    states, _ = upstream.eval()(wav, torch.tensor([wav.shape[1]]))
    return [h[0] for h in states]


def export_upstream(src: str | Path, dest: str | Path, dtype: str = "float32",
                    pretraining_heads: bool = True) -> dict:
    """Write ``src`` (anything ``hub.load`` reads) to ``dest`` in ssltk's format; returns the
    parameter count, file size and the largest difference of the hidden states."""
    from ssltk import hub
    from ssltk.upstream.checkpoint import save_ssltk

    if dtype not in TOLERANCE:
        raise UserError(f"dtype must be one of {', '.join(TOLERANCE)}, not {dtype!r}")
    upstream = hub.load(src)
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".tmp")
    save_ssltk(upstream, tmp, getattr(torch, dtype), pretraining_heads)
    wav = probe_signal(sample_rate=int(upstream.sample_rate))
    ref, got = hidden_states(upstream, wav), hidden_states(hub.load(tmp), wav)
    max_diff = max(float((a - b).abs().max()) for a, b in zip(ref, got))
    rel = max(float((a - b).norm() / a.norm().clamp_min(1e-12)) for a, b in zip(ref, got))
    if rel > TOLERANCE[dtype]:
        tmp.unlink()
        raise UserError(f"export of {src} in {dtype} changes the hidden states by {rel:.2e} "
                        f"(relative), more than {TOLERANCE[dtype]:g}: not written")
    tmp.replace(dest)
    return {"params": sum(p.numel() for p in upstream.parameters()), "bytes": dest.stat().st_size,
            "max_diff": max_diff, "rel_diff": rel}


REFERENCE_FRAMES = (0, 17, 50, -1)  # frames of the test signal kept whole in a reference


def reference_states(upstream) -> dict[str, np.ndarray]:
    """A compact fingerprint of ``upstream``'s hidden states on :func:`probe_signal`: per
    layer, the mean over frames and a few whole frames (float32)."""
    states = hidden_states(upstream, probe_signal(sample_rate=int(upstream.sample_rate)))
    out = {}
    for i, h in enumerate(states):
        out[f"layer{i}_mean"] = h.mean(0).numpy()
        out[f"layer{i}_frames"] = h[list(REFERENCE_FRAMES)].numpy()
    return out


def write_reference(upstream, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **reference_states(upstream))
    return path
