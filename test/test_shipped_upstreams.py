"""The shipped upstreams (ssltk_mini, ssltk_mini_student): real weights by name, pinned by
stored reference hidden states; half-precision export; random-init names labelled as such."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ssltk.hub as hub
from ssltk.bin import export_upstream as export_cli
from ssltk.errors import UserError
from ssltk.results.downstream import describe_upstream
from ssltk.upstream.export import REFERENCE_FRAMES, hidden_states, reference_states, probe_signal
from ssltk.upstream.registry import SHIPPED, WEIGHTS_DIR

DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_upstream_loads_by_name_and_matches_its_reference(name):
    upstream = hub.load(name)
    assert not hub.is_random_init(name)
    assert "shipped weights" in hub.describe(name)
    assert all(p.dtype == torch.float32 for p in upstream.parameters())
    assert (WEIGHTS_DIR / SHIPPED[name][0]).stat().st_size <= 10_000_000
    stored = np.load(DATA / f"{name}_reference.npz")
    got = reference_states(upstream)
    assert sorted(got) == sorted(stored.files)
    assert len(got) == 2 * (upstream.num_layers + 1)
    for key in stored.files:
        np.testing.assert_allclose(got[key], stored[key], rtol=1e-4, atol=1e-4, err_msg=f"{name} {key}")
    # trained, not random: the layers differ from the same architecture's random init
    random = hub.load("melhubert_base", **{k: getattr(upstream.config, k) for k in (
        "num_mel_bins", "hidden_size", "num_layers", "num_heads", "ffn_size", "pos_conv_kernel",
        "pos_conv_groups")})
    last = hidden_states(random, probe_signal())[-1]
    assert not torch.allclose(last, hidden_states(upstream, probe_signal())[-1], atol=1e-2)


def test_a_missing_weights_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr("ssltk.upstream.registry.WEIGHTS_DIR", tmp_path)
    with pytest.raises(UserError, match="ssltk_mini: its weights .* are missing"):
        hub.load("ssltk_mini")


def test_random_init_names_are_labelled():
    assert hub.is_random_init("hubert_base") and hub.is_random_init("hubert_debug")
    assert "(random init)" in hub.describe("hubert_base")
    assert not hub.is_random_init("fbank") and "(random init)" not in hub.describe("fbank")
    assert describe_upstream("hubert_debug") == "hubert_debug (random init)"
    assert describe_upstream("ssltk_mini") == "ssltk_mini"
    assert describe_upstream("fbank") == "fbank"


def test_the_random_control_has_the_reference_architecture():
    trained, control = hub.load("ssltk_mini"), hub.load("ssltk_mini_random")
    assert control.config == trained.config and hub.is_random_init("ssltk_mini_random")
    assert describe_upstream("ssltk_mini_random") == "ssltk_mini_random (random init)"
    shapes = {k: v.shape for k, v in trained.state_dict().items()}
    assert {k: v.shape for k, v in control.state_dict().items()} == shapes
    assert not torch.equal(control.encoder.layers[0].ffn.fc1.weight, trained.encoder.layers[0].ffn.fc1.weight)


def _trained_like(name: str, path: Path) -> Path:
    """A registry model with non-trivial weights saved in ssltk's format."""
    from ssltk.upstream.checkpoint import save_ssltk

    upstream = hub.load(name)
    with torch.no_grad():
        for p in upstream.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return save_ssltk(upstream, path)


def test_half_precision_export_round_trip(tmp_path, capsys):
    src = _trained_like("melhubert_debug", tmp_path / "src.pt")
    dest, ref = tmp_path / "half.pt", tmp_path / "ref.npz"
    assert export_cli.main([str(src), str(dest), "--dtype", "float16", "--no-pretraining-heads",
                            "--reference", str(ref)]) == 0
    assert "max |difference|" in capsys.readouterr().out
    stored = torch.load(dest, weights_only=True)
    assert {v.dtype for v in stored["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    assert stored["pretraining_heads"] == {}
    assert dest.stat().st_size < 0.6 * src.stat().st_size
    original, half = hub.load(src), hub.load(dest)
    assert all(p.dtype == torch.float32 for p in half.parameters())
    for a, b in zip(hidden_states(original, probe_signal()), hidden_states(half, probe_signal())):
        assert float((a - b).norm() / a.norm()) < 2e-2
    fingerprint = np.load(ref)
    assert fingerprint["layer0_frames"].shape == (len(REFERENCE_FRAMES), half.hidden_size)
    np.testing.assert_allclose(fingerprint["layer2_mean"], reference_states(half)["layer2_mean"], rtol=1e-6)


def test_float32_export_is_exact(tmp_path):
    src = _trained_like("hubert_debug", tmp_path / "src.pt")
    export_cli.main([str(src), str(tmp_path / "copy.pt")])
    a = reference_states(hub.load(src))
    b = reference_states(hub.load(tmp_path / "copy.pt"))
    assert all(np.array_equal(a[k], b[k]) for k in a)
