"""ssltk.hub: registry, name/path resolution, errors, contract attributes, upstream_info."""

from __future__ import annotations

import pytest
import torch

import ssltk.hub as hub
from ssltk.bin import upstream_info
from ssltk.errors import UserError
from ssltk.upstream import save_ssltk

REQUIRED = [
    "wav2vec2_base", "wav2vec2_large_lv60", "hubert_base", "hubert_large", "wavlm_base",
    "wavlm_base_plus", "wavlm_large", "distilhubert", "melhubert_base", "fbank", "mfcc",
    "hubert_debug", "wav2vec2_debug", "wav2vec2_stable_debug", "wavlm_debug",
    "distilhubert_debug", "melhubert_debug",
]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_registry_lists_the_standard_and_debug_names():
    names = hub.list_upstreams()
    assert names == sorted(names)
    assert set(REQUIRED) <= set(names)


@pytest.mark.parametrize("name", [n for n in REQUIRED if n.endswith("_debug")] + ["fbank", "mfcc"])
def test_contract_attributes(name):
    upstream = hub.load(name)
    assert not upstream.training
    assert upstream.sample_rate == 16000
    assert upstream.downsample_rate == (160 if name in ("fbank", "mfcc") else 320)
    with torch.no_grad():
        hidden_states, lens = upstream(torch.randn(2, 8000), torch.tensor([8000, 6000]))
    assert isinstance(hidden_states, list) and len(hidden_states) == upstream.num_layers + 1
    assert all(h.shape[0] == 2 and h.shape[-1] == upstream.hidden_size for h in hidden_states)
    assert lens.dtype == torch.long and lens.tolist() == upstream.num_frames(torch.tensor([8000, 6000])).tolist()


@pytest.mark.parametrize(
    "name,layers,hidden,params_millions",
    [
        ("hubert_base", 12, 768, 94.4),
        ("wavlm_base_plus", 12, 768, 94.4),
        ("wav2vec2_large_lv60", 24, 1024, 315.4),
        ("wavlm_large", 24, 1024, 315.5),
        ("distilhubert", 2, 768, 23.5),
    ],
)
def test_standard_sizes(name, layers, hidden, params_millions):
    upstream = hub.load(name)
    params = sum(p.numel() for p in upstream.parameters()) / 1e6
    assert (upstream.num_layers, upstream.hidden_size) == (layers, hidden)
    assert abs(params - params_millions) < 0.1


def test_registry_initialisation_is_seeded_from_the_name():
    state = torch.random.get_rng_state()
    a, b = hub.load("wavlm_debug"), hub.load("wavlm_debug")
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    c = hub.load("wavlm_debug", seed=1)
    assert not torch.equal(a.encoder.layers[0].ffn.fc1.weight, c.encoder.layers[0].ffn.fc1.weight)


def test_unknown_name_suggests_close_names():
    with pytest.raises(ValueError) as info:  # a UserError (ValueError): CLIs print it plainly
        hub.load("hubert_bsae")
    assert isinstance(info.value, UserError)
    assert "did you mean hubert_base" in str(info.value)
    with pytest.raises(FileNotFoundError, match="missing/dir/model.pt"):
        hub.load("missing/dir/model.pt")


def test_existing_path_wins_over_registry_name(tmp_path, monkeypatch):
    save_ssltk(hub.load("wavlm_debug"), tmp_path / "hubert_debug")
    monkeypatch.chdir(tmp_path)
    upstream = hub.load("hubert_debug")
    assert upstream.config.family == "wavlm"


def test_overrides():
    assert hub.load("mfcc", deltas=True).hidden_size == 39
    assert hub.load("fbank", num_mel_bins=40).hidden_size == 40
    assert hub.load("hubert_debug", num_layers=3).num_layers == 3
    with pytest.raises(ValueError, match="unknown override"):
        hub.load("hubert_debug", num_layer=3)
    with pytest.raises(ValueError, match="invalid override"):
        hub.load("mfcc", bogus=1)


def test_macs_are_counted_analytically():
    upstream = hub.load("hubert_debug")
    samples = 16000
    conv, length, in_dim = 0, samples, 1
    for dim, kernel, stride in upstream.config.conv_layers:
        length = (length - kernel) // stride + 1
        conv += length * dim * in_dim * kernel
        in_dim = dim
    t, d, f = length, 32, 64
    projection = t * in_dim * d
    pos_conv = t * d * (d // 4) * 16
    per_layer = 4 * t * d * d + 2 * t * t * d + 2 * t * d * f
    assert upstream.macs(samples) == conv + projection + pos_conv + 2 * per_layer


def test_upstream_info_cli(capsys):
    assert upstream_info.main(["--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in REQUIRED)
    assert upstream_info.main(["hubert_debug"]) == 0
    info = capsys.readouterr().out
    expected = ("layers:          2", "hidden size:     32", "parameters:", "frame rate:      50 Hz", "MACs / s audio:")
    assert all(text in info for text in expected)
    assert upstream_info.main(["mfcc"]) == 0
    assert "frame rate:      100 Hz" in capsys.readouterr().out
    assert upstream_info.main(["hubert_debug", "--conf", "num_layers=3", "hidden_size=48"]) == 0
    info = capsys.readouterr().out
    assert "layers:          3" in info and "hidden size:     48" in info
    with pytest.raises(SystemExit):
        upstream_info.main(["hubert_debug", "--conf", "num_layers"])
    assert "--conf 'num_layers': expected KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        upstream_info.main(["hubertt_debug"])
    assert info.value.code == 1
    assert "error: unknown upstream 'hubertt_debug'" in capsys.readouterr().err
