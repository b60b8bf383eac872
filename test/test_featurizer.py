"""Featurizer: weighted sum, single layer, layer subset, layer norm, weight files."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import ssltk.hub as hub
from ssltk.featurizer import Featurizer


@pytest.fixture
def hidden_states():
    torch.manual_seed(0)
    return [torch.randn(2, 7, 16) * (i + 1) + i for i in range(5)]


def test_zero_init_is_uniform(hidden_states):
    featurizer = Featurizer(num_layers=4, hidden_size=16)
    assert torch.allclose(featurizer.weights(), torch.full((5,), 0.2))
    assert featurizer.output_size == 16
    assert torch.allclose(featurizer(hidden_states), sum(hidden_states) / 5, atol=1e-6)


def test_weighted_sum_equals_manual_computation(hidden_states):
    featurizer = Featurizer(num_layers=4, hidden_size=16)
    with torch.no_grad():
        featurizer.logits.copy_(torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0]))
    weights = torch.softmax(torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0]), 0)
    expected = sum(w * h for w, h in zip(weights, hidden_states))
    assert torch.allclose(featurizer(hidden_states), expected, atol=1e-6)
    assert torch.allclose(featurizer.weights(), weights)
    featurizer(hidden_states).sum().backward()
    assert featurizer.logits.grad is not None


def test_layer_mode(hidden_states):
    assert torch.equal(Featurizer(num_layers=4, hidden_size=16, mode="layer", layer=2)(hidden_states), hidden_states[2])
    last = Featurizer(num_layers=4, hidden_size=16, mode="layer")
    assert torch.equal(last(hidden_states), hidden_states[4])
    assert last.weights().tolist() == [0, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="out of range"):
        Featurizer(num_layers=4, hidden_size=16, mode="layer", layer=5)


def test_subset_mode(hidden_states):
    featurizer = Featurizer(num_layers=4, hidden_size=16, mode="subset", layers=[1, -1])
    assert torch.allclose(featurizer(hidden_states), (hidden_states[1] + hidden_states[4]) / 2, atol=1e-6)
    assert torch.allclose(featurizer.weights(), torch.tensor([0, 0.5, 0, 0, 0.5]))
    with pytest.raises(ValueError, match="non-empty"):
        Featurizer(num_layers=4, hidden_size=16, mode="subset")


def test_layer_norm_option(hidden_states):
    featurizer = Featurizer(num_layers=4, hidden_size=16, layer_norm=True)
    expected = sum(F.layer_norm(h, (16,)) for h in hidden_states) / 5
    assert torch.allclose(featurizer(hidden_states), expected, atol=1e-6)
    assert not any(p.shape == (16,) for p in featurizer.parameters())  # parameter-free norm


def test_from_upstream():
    upstream = hub.load("wavlm_debug")
    featurizer = Featurizer(upstream)
    with torch.no_grad():
        hidden_states, _ = upstream(torch.randn(1, 4000), torch.tensor([4000]))
    assert featurizer(hidden_states).shape == hidden_states[-1].shape
    assert Featurizer(hub.load("fbank"))(hub.load("fbank")(torch.randn(1, 800), torch.tensor([800]))[0]).shape[-1] == 80


@pytest.mark.parametrize("suffix", [".pt", ".txt"])
def test_weights_save_and_load(hidden_states, tmp_path, suffix):
    trained = Featurizer(num_layers=4, hidden_size=16)
    with torch.no_grad():
        trained.logits.copy_(torch.tensor([0.1, 0.2, 3.0, -2.0, 0.0]))
    trained.save_weights(tmp_path / f"w{suffix}")
    reused = Featurizer(num_layers=4, hidden_size=16, weights_path=tmp_path / f"w{suffix}")
    assert torch.allclose(reused.weights(), trained.weights(), atol=1e-6)
    assert torch.allclose(reused(hidden_states), trained(hidden_states), atol=1e-5)
    path = tmp_path / f"w{suffix}"
    subset = Featurizer(num_layers=4, hidden_size=16, mode="subset", layers=[2, 3], weights_path=path)
    w = trained.weights()
    assert torch.allclose(subset.weights()[2:4], w[2:4] / w[2:4].sum(), atol=1e-6)


def test_bad_weight_files(tmp_path):
    (tmp_path / "short.txt").write_text("0.5\n0.5\n")
    with pytest.raises(ValueError, match="2 weights"):
        Featurizer(num_layers=4, hidden_size=16, weights_path=tmp_path / "short.txt")
    (tmp_path / "words.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match="one number per line"):
        Featurizer(num_layers=1, hidden_size=16, weights_path=tmp_path / "words.txt")
    with pytest.raises(ValueError, match="no weights"):
        Featurizer(num_layers=1, hidden_size=16, mode="layer").load_weights(tmp_path / "words.txt")
    with pytest.raises(ValueError, match="hidden states"):
        Featurizer(num_layers=4, hidden_size=16)([torch.zeros(1, 2, 16)] * 3)
