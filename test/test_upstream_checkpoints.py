"""Checkpoint readers/writers: fairseq layouts, s3prl converted, ssltk's own, and errors.

fairseq-layout files are written here from HF models' weights with a reverse key mapping
written independently in ``test_upstream_common``; loading them must reproduce HF.
"""

from __future__ import annotations

import argparse
import enum
import sys
import types

import pytest
import torch
from test_upstream_common import (
    STABLE,
    TINY_LENGTHS,
    batched_vs_single,
    fairseq_model_cfg,
    hf_hidden_states,
    hf_to_fairseq_state,
    make_hf_model,
    max_diff_on_valid,
    padded_batch,
)

import ssltk.hub as hub
from ssltk.upstream import CheckpointError, KeyMismatchError, save_s3prl_hubert, save_ssltk
from ssltk.upstream.state_mapping import build_ssl_upstream

pytest.importorskip("transformers")
TOL = 1e-4

# Field names of s3prl's HubertConfig / HubertPretrainingConfig (facts from s3prl's
# upstream/hubert/hubert_model.py); s3prl drops unknown keys and needs ``label_rate``.
S3PRL_HUBERT_MODEL_FIELDS = {
    "label_rate", "extractor_mode", "encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim",
    "encoder_attention_heads", "activation_fn", "layer_type", "dropout", "attention_dropout",
    "activation_dropout", "encoder_layerdrop", "dropout_input", "dropout_features", "final_dim",
    "untie_final_proj", "layer_norm_first", "conv_feature_layers", "conv_bias", "logit_temp",
    "target_glu", "feature_grad_mult", "mask_length", "mask_prob", "mask_selection", "mask_other",
    "no_mask_overlap", "mask_min_space", "mask_channel_length", "mask_channel_prob",
    "mask_channel_selection", "mask_channel_other", "no_mask_channel_overlap",
    "mask_channel_min_space", "conv_pos", "conv_pos_groups", "latent_temp", "skip_masked",
    "skip_nomask", "checkpoint_activations", "required_seq_len_multiple",
    "depthwise_conv_kernel_size", "attn_type", "pos_enc_type", "fp16",
}
S3PRL_HUBERT_TASK_FIELDS = {
    "label_rate", "sample_rate", "normalize", "enable_padding", "max_keep_size",
    "max_sample_size", "min_sample_size", "random_crop", "pad_audio",
}


def _matches_hf(upstream, model) -> float:
    wavs, lens, utts = padded_batch(TINY_LENGTHS)
    with torch.no_grad():
        hidden_states, out_lens = upstream(wavs, lens)
    return max_diff_on_valid(hidden_states, out_lens, [hf_hidden_states(model, u) for u in utts])


def _with_heads(state: dict, dim: int) -> dict:
    """Add the HuBERT pre-training heads a real fairseq checkpoint carries."""
    return state | {
        "final_proj.weight": torch.randn(8, dim),
        "final_proj.bias": torch.randn(8),
        "label_embs_concat": torch.randn(12, 8),
    }


@pytest.mark.parametrize(
    "model_type,overrides,name",
    [
        ("hubert", {}, "hubert"),
        ("hubert", dict(STABLE, conv_bias=True), "hubert"),
        ("wav2vec2", {}, "wav2vec2"),
        ("wav2vec2", dict(STABLE, conv_bias=True), "wav2vec2"),
        ("wavlm", {}, "wavlm"),
    ],
)
def test_fairseq_cfg_layout_matches_hf(model_type, overrides, name, tmp_path):
    model = make_hf_model(model_type, **overrides)
    state = _with_heads(hf_to_fairseq_state(model), model.config.hidden_size)
    ckpt = {"cfg": {"model": fairseq_model_cfg(model, name), "task": {"normalize": False}}, "model": state}
    torch.save(ckpt, tmp_path / "model.pt")
    ours = hub.load(tmp_path / "model.pt")
    assert ours.config.family == name
    diff = _matches_hf(ours, model)
    print(f"fairseq {model_type} {overrides}: {diff:.2e}")
    assert diff < TOL
    assert set(ours.pretraining_heads) == {"mask_emb", "final_proj.weight", "final_proj.bias", "label_embs_concat"}


def test_official_wavlm_flat_cfg_layout(tmp_path):
    model = make_hf_model("wavlm", **STABLE)
    cfg = fairseq_model_cfg(model, "wavlm") | {"normalize": False}
    torch.save({"cfg": cfg, "model": hf_to_fairseq_state(model)}, tmp_path / "WavLM-Large.pt")
    assert _matches_hf(hub.load(tmp_path / "WavLM-Large.pt"), model) < TOL


def test_old_fairseq_args_namespace_layout(tmp_path):
    model = make_hf_model("wav2vec2")
    args = argparse.Namespace(arch="wav2vec2", normalize=False, **fairseq_model_cfg(model, "wav2vec2"))
    torch.save({"args": args, "cfg": None, "model": hf_to_fairseq_state(model)}, tmp_path / "old.pt")
    assert _matches_hf(hub.load(tmp_path / "old.pt"), model) < TOL


def test_fairseq_finetuned_layout(tmp_path):
    model = make_hf_model("hubert")
    inner = {"model": fairseq_model_cfg(model, "hubert"), "task": {"normalize": False}}
    state = {f"w2v_encoder.w2v_model.{k}": v for k, v in hf_to_fairseq_state(model).items()}
    state |= {"w2v_encoder.proj.weight": torch.randn(5, 32), "w2v_encoder.proj.bias": torch.randn(5)}
    ckpt = {"cfg": {"model": {"_name": "hubert_ctc", "w2v_args": inner}, "task": {}}, "model": state}
    torch.save(ckpt, tmp_path / "ctc.pt")
    assert _matches_hf(hub.load(tmp_path / "ctc.pt"), model) < TOL


def test_checkpoint_with_classes_that_are_not_installed(tmp_path):
    """fairseq configs may pickle fairseq enums; they load without fairseq (with a warning)."""
    module = types.ModuleType("not_installed_fairseq_constants")

    class ExtractorMode(enum.Enum):
        DEFAULT = "default"

    ExtractorMode.__module__ = module.__name__
    ExtractorMode.__qualname__ = "ExtractorMode"
    module.ExtractorMode = ExtractorMode
    sys.modules[module.__name__] = module
    try:
        model = make_hf_model("hubert")
        cfg = fairseq_model_cfg(model, "hubert") | {"extractor_mode": ExtractorMode.DEFAULT}
        torch.save({"cfg": {"model": cfg, "task": {}}, "model": hf_to_fairseq_state(model)}, tmp_path / "m.pt")
    finally:
        del sys.modules[module.__name__]
    with pytest.warns(UserWarning, match="weights_only"):
        ours = hub.load(tmp_path / "m.pt")
    assert _matches_hf(ours, model) < TOL


def test_s3prl_converted_layout_round_trip(tmp_path):
    model = make_hf_model("hubert")
    fairseq_state = hf_to_fairseq_state(model)
    converted = {
        "task_cfg": {"_name": "hubert_pretraining", "normalize": False, "label_rate": 50, "sample_rate": 16000},
        "model_cfg": fairseq_model_cfg(model, "hubert"),
        "model_weight": _with_heads(fairseq_state, 32),
        "dictionaries_symbols": [["a", "b"]],
    }
    torch.save(converted, tmp_path / "converted.pt")
    ours = hub.load(tmp_path / "converted.pt")
    assert _matches_hf(ours, model) < TOL

    # ssltk writes the same layout back; it loads with weights_only and in ssltk again.
    save_s3prl_hubert(ours, tmp_path / "written.converted.pt", final_dim=8)
    written = torch.load(tmp_path / "written.converted.pt", map_location="cpu", weights_only=True)
    assert {"task_cfg", "model_cfg", "model_weight", "dictionaries_symbols"} <= set(written)
    assert set(written["model_cfg"]) - {"_name"} <= S3PRL_HUBERT_MODEL_FIELDS
    assert set(written["task_cfg"]) - {"_name"} <= S3PRL_HUBERT_TASK_FIELDS
    assert "label_rate" in written["model_cfg"]
    # s3prl builds its layers with eval(conv_feature_layers) and loads weights strictly:
    # the names must be fairseq's plus the heads s3prl's HubertModel creates.
    layers = eval(written["model_cfg"]["conv_feature_layers"])  # noqa: S307 - our own string
    assert layers == [tuple(s) for s in zip(model.config.conv_dim, model.config.conv_kernel, model.config.conv_stride)]
    expected = set(fairseq_state) | {"final_proj.weight", "final_proj.bias"}
    assert set(written["model_weight"]) == expected
    assert torch.equal(written["model_weight"]["final_proj.weight"], converted["model_weight"]["final_proj.weight"])
    assert _matches_hf(hub.load(tmp_path / "written.converted.pt"), model) < TOL


def test_s3prl_writer_refuses_wavlm(tmp_path):
    with pytest.raises(ValueError, match="wavlm"):
        save_s3prl_hubert(hub.load("wavlm_debug"), tmp_path / "x.pt")


@pytest.mark.parametrize(
    "name", ["hubert_debug", "wavlm_stable_debug", "melhubert_debug", "distilhubert_debug", "mfcc"]
)
def test_ssltk_format_round_trip(name, tmp_path):
    original = hub.load(name, **({"deltas": True} if name == "mfcc" else {}))
    save_ssltk(original, tmp_path / "up.pt")
    loaded = hub.load(tmp_path / "up.pt")
    assert type(loaded) is type(original) and loaded.hidden_size == original.hidden_size
    wavs, lens, _ = padded_batch([3000, 2000])
    with torch.no_grad():
        a, la = original(wavs, lens)
        b, lb = loaded(wavs, lens)
    assert torch.equal(la, lb)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_overrides_apply_to_checkpoints(tmp_path):
    save_ssltk(hub.load("hubert_debug"), tmp_path / "up.pt")
    assert hub.load(tmp_path / "up.pt", layerdrop=0.3).config.layerdrop == 0.3
    with pytest.raises(ValueError, match="change the model"):
        hub.load(tmp_path / "up.pt", hidden_size=64)


def test_loading_takes_over_tensors_and_converts_like_copying():
    """Loaded weights become the parameters without a copy; fp16 or non-contiguous ones end
    up as ``load_state_dict``'s copy into the fp32 parameters would leave them."""
    original = hub.load("hubert_debug")
    state = {k: v.clone() for k, v in original.state_dict().items()}
    half, strided = "encoder.layers.0.ffn.fc1.weight", "encoder.layers.1.ffn.fc1.weight"
    kept = "encoder.norm.weight"
    state[half] = state[half].half()
    state[strided] = state[strided].t().contiguous().t()
    loaded = build_ssl_upstream("test", original.config, state)
    params = dict(loaded.named_parameters())
    assert params.keys() == state.keys()
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 and p.is_contiguous() and p.requires_grad
               for p in params.values())
    assert torch.equal(params[half], state[half].float()) and torch.equal(params[strided], state[strided])
    assert params[kept].data_ptr() == state[kept].data_ptr()


def test_key_mismatch_lists_missing_and_unexpected_names(tmp_path):
    model = make_hf_model("hubert")
    state = hf_to_fairseq_state(model)
    del state["encoder.layers.1.fc2.bias"]
    state["encoder.layers.1.mystery.weight"] = torch.zeros(3)
    torch.save({"cfg": {"model": fairseq_model_cfg(model, "hubert"), "task": {}}, "model": state}, tmp_path / "bad.pt")
    with pytest.raises(KeyMismatchError) as info:
        hub.load(tmp_path / "bad.pt")
    message = str(info.value)
    assert "encoder.layers.1.fc2.bias" in message and "encoder.layers.1.mystery.weight" in message
    assert "bad.pt" in message
    assert info.value.missing == ["encoder.layers.1.fc2.bias"]
    assert info.value.unexpected == ["encoder.layers.1.mystery.weight"]


def test_shape_mismatch_names_the_file(tmp_path):
    model = make_hf_model("hubert")
    cfg = fairseq_model_cfg(model, "hubert") | {"encoder_ffn_embed_dim": 48}
    torch.save({"cfg": {"model": cfg, "task": {}}, "model": hf_to_fairseq_state(model)}, tmp_path / "shape.pt")
    with pytest.raises(CheckpointError, match="(?s)shape.pt.*size mismatch"):
        hub.load(tmp_path / "shape.pt")


def test_unknown_layout_says_what_it_found(tmp_path):
    torch.save({"weights": torch.zeros(2), "epoch": 3}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError) as info:
        hub.load(tmp_path / "odd.pt")
    message = str(info.value)
    assert "'weights': Tensor" in message and "'epoch': int" in message and "odd.pt" in message

    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError, match="config.json.*notes.txt"):
        hub.load(tmp_path / "dir")


def test_unsupported_hf_setting_is_named(tmp_path):
    model = make_hf_model("hubert", conv_pos_batch_norm=True)
    model.save_pretrained(tmp_path / "hf")
    with pytest.raises(CheckpointError, match="conv_pos_batch_norm"):
        hub.load(tmp_path / "hf")


def test_loaded_checkpoint_is_padding_invariant(tmp_path):
    model = make_hf_model("wavlm")
    model.save_pretrained(tmp_path / "hf")
    assert batched_vs_single(hub.load(tmp_path / "hf"), [4000, 1500, 2900, 4000]) < TOL
