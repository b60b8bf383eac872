"""Hugging Face directories: ``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``
(sharded or not) of ``model_type`` wav2vec2, hubert or wavlm, with or without the
``<model_type>.`` key prefix of task models (``*ForCTC`` etc.)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ssltk.upstream.config import EncoderConfig
from ssltk.upstream.key_maps import HF_IGNORED
from ssltk.upstream.ssl_model import SSLUpstream
from ssltk.upstream.state_mapping import CheckpointError, build_ssl_upstream, map_state

HF_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm")

_HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}


def hf_config(values: dict[str, Any], source: str, do_normalize: bool = False) -> EncoderConfig:
    """Map a Hugging Face ``config.json`` (wav2vec2 / hubert / wavlm) onto :class:`EncoderConfig`."""
    model_type = values.get("model_type")
    if model_type not in HF_MODEL_TYPES:
        raise CheckpointError(f"{source}: model_type {model_type!r} is not one of {HF_MODEL_TYPES}")
    blockers = {
        "add_adapter": bool(values.get("add_adapter", False)),
        "adapter_attn_dim": values.get("adapter_attn_dim") is not None,
        "conv_pos_batch_norm": bool(values.get("conv_pos_batch_norm", False)),
        "feat_extract_activation": values.get("feat_extract_activation", "gelu") != "gelu",
    }
    for field, blocked in blockers.items():
        if blocked:
            raise CheckpointError(f"{source}: unsupported Hugging Face setting {field}={values.get(field)!r}")
    activation = values.get("hidden_act", "gelu")
    if activation not in _HF_ACTIVATIONS:
        raise CheckpointError(f"{source}: unsupported hidden_act {activation!r}")
    norm = values.get("feat_extract_norm", "group")
    if norm not in ("group", "layer"):
        raise CheckpointError(f"{source}: unsupported feat_extract_norm {norm!r}")
    conv_layers = list(zip(values["conv_dim"], values["conv_kernel"], values["conv_stride"]))
    wavlm = model_type == "wavlm"
    return EncoderConfig(
        family=model_type,
        conv_layers=conv_layers,
        extractor_mode="group_norm" if norm == "group" else "layer_norm",
        conv_bias=bool(values.get("conv_bias", False)),
        feature_layer_norm=bool(values.get("feat_proj_layer_norm", True)),
        hidden_size=int(values["hidden_size"]),
        num_layers=int(values["num_hidden_layers"]),
        num_heads=int(values["num_attention_heads"]),
        ffn_size=int(values["intermediate_size"]),
        activation=_HF_ACTIVATIONS[activation],
        layer_norm_first=bool(values.get("do_stable_layer_norm", False)),
        layer_norm_eps=float(values.get("layer_norm_eps", 1e-5)),
        pos_conv_kernel=int(values.get("num_conv_pos_embeddings", 128)),
        pos_conv_groups=int(values.get("num_conv_pos_embedding_groups", 16)),
        relative_position_bias=wavlm,
        num_buckets=int(values.get("num_buckets", 320)),
        max_distance=int(values.get("max_bucket_distance", 800)),
        gated_relative_position=wavlm,
        dropout=float(values.get("hidden_dropout", 0.1)),
        attention_dropout=float(values.get("attention_dropout", 0.1)),
        activation_dropout=float(values.get("activation_dropout", 0.0)),
        feature_dropout=float(values.get("feat_proj_dropout", 0.0)),
        layerdrop=float(values.get("layerdrop", 0.0)),
        normalize_waveform=do_normalize,
    )


def _read_safetensors(file: Path) -> dict[str, torch.Tensor]:
    """Tensors read into memory, not memory-mapped: a mapping would stay resident as long
    as any one tensor of the file lives (e.g. a kept pre-training head) and would break if
    the file were rewritten while the model is in use."""
    from safetensors.torch import load_file

    try:
        return load_file(str(file), device="cpu", backend="pread")
    except TypeError:  # older safetensors: memory-mapped only
        return load_file(str(file), device="cpu")


def _hf_weights(directory: Path) -> dict[str, torch.Tensor]:
    candidates = [
        "model.safetensors",
        "model.safetensors.index.json",
        "pytorch_model.bin",
        "pytorch_model.bin.index.json",
    ]
    for name in candidates:
        path = directory / name
        if not path.is_file():
            continue
        if name.endswith(".index.json"):
            shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
            files = [directory / shard for shard in shards]
        else:
            files = [path]
        state: dict[str, torch.Tensor] = {}
        for file in files:
            if file.suffix == ".safetensors":
                state.update(_read_safetensors(file))
            else:
                state.update(torch.load(file, map_location="cpu", weights_only=True))
        return state
    raise CheckpointError(f"{directory}: no weights found (looked for {', '.join(candidates)})")


def read_hf_directory(directory: Path) -> SSLUpstream:
    values = json.loads((directory / "config.json").read_text())
    preprocessor = directory / "preprocessor_config.json"
    do_normalize = False
    if preprocessor.is_file():
        do_normalize = bool(json.loads(preprocessor.read_text()).get("do_normalize", False))
    cfg = hf_config(values, str(directory), do_normalize)
    prefix = f"{values['model_type']}."
    state = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in _hf_weights(directory).items()}
    ours, heads = map_state(str(directory), cfg, state, "hf", HF_IGNORED)
    return build_ssl_upstream(str(directory), cfg, ours, heads)
