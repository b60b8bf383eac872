"""Magnitude pruning (ssltk.compress.pruning): masks, zeros that stay zero, save/load,
iteration, and pruning inside masked-prediction pre-training."""

from __future__ import annotations

import json

import pytest
import torch
from test_pretrain import DEBUG_CONF, corpus  # noqa: F401 - the pre-training fixture
from test_upstream_common import padded_batch

import ssltk.hub as hub
from ssltk.bin.pretrain import main as pretrain_main
from ssltk.compress.pruning import MaskedLinear, PruneConfig, count_nonzero, prune_by_magnitude, unmask
from ssltk.train.config import ConfigError, config_from_dict
from ssltk.upstream.checkpoint import save_ssltk

TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]


def _weights(upstream):
    return [getattr(getattr(layer, "attention" if n.endswith("proj") else "ffn"), n)
            for layer in upstream.encoder.layers for n in TARGETS]


def test_global_magnitude_pruning_masks_the_smallest_weights():
    upstream = hub.load("hubert_debug")
    before = count_nonzero(upstream)
    all_weights = torch.cat([m.weight.detach().abs().flatten() for m in _weights(upstream)])
    reached = prune_by_magnitude(upstream, PruneConfig(sparsity=0.6))
    modules = _weights(upstream)
    assert all(isinstance(m, MaskedLinear) for m in modules)
    assert reached == pytest.approx(0.6, abs=1e-3)
    threshold = all_weights.kthvalue(int(0.6 * all_weights.numel())).values
    for m in modules:  # kept exactly the weights above the global threshold
        assert torch.equal(m.mask, m.weight.abs() > threshold)
    assert before - count_nonzero(upstream) == sum(int((~m.mask).sum()) for m in modules)


def test_per_matrix_scope_prunes_each_matrix_to_the_sparsity():
    upstream = hub.load("hubert_debug")
    prune_by_magnitude(upstream, PruneConfig(sparsity=0.25, scope="layer", targets=["fc1"]))
    for layer in upstream.encoder.layers:
        mask = layer.ffn.fc1.mask
        assert 1 - mask.float().mean().item() == pytest.approx(0.25, abs=0.01)
        assert not isinstance(layer.attention.q_proj, MaskedLinear)


def test_pruned_weights_stay_zero_through_training_and_export(tmp_path):
    upstream = hub.load("hubert_debug").train()
    prune_by_magnitude(upstream, PruneConfig(sparsity=0.5))
    optimizer = torch.optim.AdamW(upstream.parameters(), lr=1e-2, weight_decay=0.1)
    wavs, lens, _ = padded_batch([4000, 2500])
    for _ in range(3):
        hidden, _ = upstream(wavs, lens)
        optimizer.zero_grad()
        sum(h.square().mean() for h in hidden).backward()
        for m in _weights(upstream):
            assert (m.weight.grad[~m.mask] == 0).all()  # no gradient reaches a pruned weight
        optimizer.step()
    masks = [m.mask.clone() for m in _weights(upstream)]
    upstream.eval()
    with torch.no_grad():
        expected, _ = upstream(wavs, lens)
    save_ssltk(unmask(upstream), tmp_path / "pruned.pt")
    loaded = hub.load(str(tmp_path / "pruned.pt"))
    for m, mask in zip(_weights(loaded), masks):
        assert type(m) is torch.nn.Linear and (m.weight[~mask] == 0).all()
    with torch.no_grad():
        got, _ = loaded(wavs, lens)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, expected))
    # iterating from the export: earlier zeros stay pruned, more are added
    reached = prune_by_magnitude(loaded, PruneConfig(sparsity=0.75))
    assert reached == pytest.approx(0.75, abs=1e-3)
    assert all((~m.mask | mask).all() and not (m.mask & ~mask).any() for m, mask in zip(_weights(loaded), masks))


def test_masks_are_saved_and_loaded_with_the_model():
    upstream = hub.load("hubert_debug")
    prune_by_magnitude(upstream, PruneConfig(sparsity=0.5))
    state = upstream.state_dict()
    assert "encoder.layers.0.attention.q_proj.mask" in state
    fresh = hub.load("hubert_debug")
    prune_by_magnitude(fresh, PruneConfig(sparsity=0.0))  # masks of ones
    fresh.load_state_dict(state)
    assert all(torch.equal(a.mask, b.mask) for a, b in zip(_weights(fresh), _weights(upstream)))


def test_prune_config_errors():
    with pytest.raises(ConfigError, match="sparsity"):
        config_from_dict({"sparsity": 1.0}, PruneConfig)
    with pytest.raises(ConfigError, match="targets"):
        config_from_dict({"targets": ["fc3"]}, PruneConfig)


def test_pretraining_with_pruning_exports_a_sparse_upstream_and_resumes(corpus, tmp_path):  # noqa: F811
    exp = tmp_path / "exp"
    args = ["--config", str(DEBUG_CONF), "--train", str(corpus / "train"), "--valid", str(corpus / "dev"),
            "--exp", str(exp), "--override", "model.prune.sparsity=0.5"]
    pretrain_main(args + ["trainer.max_epochs=1"])
    pretrain_main(args + ["trainer.max_epochs=2"])  # resumes: the masks come back with the checkpoint
    results = json.loads((exp / "results.json").read_text())
    assert results["epochs"] == 2
    upstream = hub.load(str(exp / "upstream.pt"))
    weights = torch.cat([m.weight.flatten() for m in _weights(upstream)])
    assert (weights == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    checkpoint = torch.load(exp / "checkpoint.pt", weights_only=True)["model"]
    mask = checkpoint["upstream.encoder.layers.0.ffn.fc1.mask"]
    assert torch.equal(upstream.encoder.layers[0].ffn.fc1.weight != 0, mask)
