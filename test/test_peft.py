"""Parameter-efficient methods (ssltk.peft): what trains, identity at initialisation,
padding, checkpoints, and the parameter counts of the seed 001 adapter table."""

from __future__ import annotations

import pytest
import torch
from test_upstream_common import batched_vs_single, padded_batch

import ssltk.hub as hub
from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec
from ssltk.peft import apply_peft, trainable_parameters
from ssltk.peft.config import (AdapterBiasConfig, HoulsbyConfig, LoraConfig, PeftConfig,
                               PrefixConfig, PromptConfig)
from ssltk.peft.counts import parameter_table
from ssltk.tasks.frontend import spec_frontend

TOL = 1e-4
METHODS = {
    "houlsby": PeftConfig(houlsby=HoulsbyConfig(bottleneck=4, placement=["attn", "ffn"])),
    "adapter_bias": PeftConfig(adapter_bias=AdapterBiasConfig(placement=["attn", "ffn"])),
    "bitfit": PeftConfig(bitfit=True),
    "lora": PeftConfig(lora=LoraConfig(rank=2, targets=["q_proj", "v_proj", "fc1"])),
    "prefix": PeftConfig(prefix=PrefixConfig(length=3)),
    "prompt": PeftConfig(prompt=PromptConfig(length=4)),
}
# which parameter names each method may train
OWNED = {
    "houlsby": lambda n: "_adapter." in n,
    "adapter_bias": lambda n: "_adapter." in n,
    "bitfit": lambda n: n.endswith(".bias"),
    "lora": lambda n: ".lora_" in n,
    "prefix": lambda n: ".prefix." in n,
    "prompt": lambda n: ".prompt." in n,
}


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _adapted(method: str, name: str = "hubert_debug"):
    return apply_peft(hub.load(name), METHODS[method])


def _perturb(upstream) -> None:
    """Move every trainable parameter away from its initial value (as training would)."""
    with torch.no_grad():
        for p in upstream.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))


@pytest.mark.parametrize("method", list(METHODS))
def test_only_the_methods_parameters_get_gradients(method):
    upstream = _adapted(method)
    _perturb(upstream)  # zero-initialised halves would otherwise block the other half's gradient
    wavs, lens, _ = padded_batch([4000, 2500])
    hidden, _ = upstream(wavs, lens)
    sum(h.square().mean() for h in hidden).backward()
    trained = {n for n, p in upstream.named_parameters() if p.requires_grad}
    assert trained and all(OWNED[method](n) for n in trained), sorted(trained)[:5]
    for n, p in upstream.named_parameters():
        if n in trained:
            assert p.grad is not None and p.grad.abs().sum() > 0, n
        else:
            assert p.grad is None, n


@pytest.mark.parametrize("method", ["houlsby", "adapter_bias", "lora"])
@pytest.mark.parametrize("name", ["hubert_debug", "wav2vec2_stable_debug"])
def test_zero_initialised_methods_leave_the_upstream_unchanged(method, name):
    wavs, lens, _ = padded_batch([4000, 2500])
    with torch.no_grad():
        before, _ = hub.load(name)(wavs, lens)
        torch.manual_seed(0)
        after, _ = apply_peft(hub.load(name), METHODS[method])(wavs, lens)
    assert len(after) == len(before)
    assert max(float((a - b).abs().max()) for a, b in zip(after, before)) == 0.0


@pytest.mark.parametrize("method", ["prefix", "prompt"])
@pytest.mark.parametrize("name", ["hubert_debug", "wavlm_debug"])
def test_prefix_and_prompt_keep_lengths_and_padding(method, name):
    upstream = _adapted(method, name).eval()
    lengths = [4000, 2500, 1200]
    wavs, lens, _ = padded_batch(lengths)
    with torch.no_grad():
        hidden, out_lens = upstream(wavs, lens)
        plain, plain_lens = hub.load(name)(wavs, lens)
    assert torch.equal(out_lens, plain_lens)
    assert [h.shape for h in hidden] == [h.shape for h in plain]
    assert batched_vs_single(upstream, lengths) < TOL
    # they do change the states
    assert max(float((h - p).abs().max()) for h, p in zip(hidden[1:], plain[1:])) > 1e-3


def test_lora_merges_into_a_plain_linear():
    upstream = _adapted("lora")
    _perturb(upstream)
    lora = upstream.encoder.layers[0].attention.q_proj
    x = torch.randn(3, lora.in_features)
    torch.testing.assert_close(lora.merged()(x), lora(x))


@pytest.mark.parametrize("method", list(METHODS))
def test_a_saved_adapted_frontend_reloads_onto_a_fresh_upstream(method):
    spec = FeatureSpec("hubert_debug", mode="weighted_sum")
    frontend = spec_frontend(spec, peft=METHODS[method])
    _perturb(frontend.upstream)
    state = frontend.state_dict()
    upstream_keys = [k for k in state if k.startswith("upstream.")]
    assert upstream_keys and all(OWNED[method](k[len("upstream."):]) for k in upstream_keys)
    assert sum(state[k].numel() for k in upstream_keys) == trainable_parameters(frontend.upstream)

    torch.manual_seed(123)  # a fresh build initialises the methods differently
    fresh = spec_frontend(spec, peft=METHODS[method])
    fresh.load_state_dict(state)
    wavs, lens, _ = padded_batch([4000, 2500])
    batch = {"wavs": wavs, "wav_lens": lens}
    frontend.eval(), fresh.eval()
    with torch.no_grad():
        torch.testing.assert_close(fresh(batch)[0], frontend(batch)[0])
    assert fresh.upstream_fingerprint == frontend.upstream_fingerprint  # of the frozen upstream


def test_frozen_upstream_with_peft_stays_in_eval_mode_and_trains_through_it():
    frontend = spec_frontend(FeatureSpec("hubert_debug", mode="weighted_sum"), peft=METHODS["houlsby"])
    frontend.train()
    assert not frontend.upstream.training
    wavs, lens, _ = padded_batch([4000, 2500])
    feats, _ = frontend({"wavs": wavs, "wav_lens": lens})
    feats.square().mean().backward()
    adapter = frontend.upstream.encoder.layers[0].ffn_adapter
    assert adapter.up.weight.grad is not None and adapter.up.weight.grad.abs().sum() > 0


def test_finetune_with_peft_trains_everything():
    upstream = apply_peft(hub.load("hubert_debug"), METHODS["lora"], finetune=True)
    assert all(p.requires_grad for p in upstream.parameters())


def test_peft_on_a_non_transformer_upstream_is_a_clear_error():
    with pytest.raises(UserError, match="needs a transformer upstream"):
        apply_peft(hub.load("fbank"), METHODS["houlsby"])


def test_parameter_counts_on_hubert_base_match_the_seed_table():
    counts = {method: count for method, _, count in parameter_table("hubert_base")}
    # seed 001, "Does adapter work?" (HuBERT base): Houlsby 0.60M, AdapterBias 0.02M,
    # BitFit 0.10M, LoRA 0.29M, Prefix 0.10M, weighted sum 12
    assert counts["houlsby"] == 12 * (2 * 768 * 32 + 32 + 768) == 599_424  # 0.1% off 0.60M
    assert counts["bitfit"] == 104_704  # 4.7% above 0.10M
    assert counts["lora"] == 12 * 2 * 8 * (768 + 768) == 294_912  # 1.7% above 0.29M
    assert counts["adapter_bias"] == 12 * (768 + 768 + 1) == 18_444  # 0.018M (rounds to 0.02M)
    assert counts["prefix"] == 12 * 2 * 5 * 768 == 92_160  # 0.092M: 7.8% below 0.10M
    assert counts["weighted_sum"] == 13  # hidden states 0..12 (the seed counts 12)
    assert counts["finetune"] == 94_370_944
