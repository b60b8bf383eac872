"""fairseq layouts: fairseq ``.pt`` (``cfg``/``args`` + ``model``), official WavLM, and
s3prl's "converted" dicts (``task_cfg``, ``model_cfg``, ``model_weight``), which hold
fairseq configs and parameter names. Also the writer of s3prl's converted HuBERT layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ssltk.upstream.config import EncoderConfig, format_conv_layers, parse_conv_layers
from ssltk.upstream.key_maps import FAIRSEQ_IGNORED, is_ignored, key_table
from ssltk.upstream.pickle_compat import plain
from ssltk.upstream.ssl_model import SSLUpstream
from ssltk.upstream.state_mapping import CheckpointError, build_ssl_upstream, map_state

FINETUNED_PREFIX = "w2v_encoder.w2v_model."
FINETUNED_IGNORED = ("w2v_encoder.proj.",)

_FAIRSEQ_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_accurate": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "relu": "relu",
    "swish": "silu",
}
_FAIRSEQ_EXTRACTOR_MODES = {"default": "group_norm", "layer_norm": "layer_norm"}


def fairseq_config(model: dict[str, Any], task: dict[str, Any], source: str) -> EncoderConfig:
    """Map fairseq (wav2vec2 / HuBERT / WavLM) config fields onto :class:`EncoderConfig`."""

    def unsupported(field: str, value: Any) -> CheckpointError:
        return CheckpointError(f"{source}: unsupported fairseq setting {field}={value!r}")

    if model.get("layer_type", "transformer") != "transformer":
        raise unsupported("layer_type", model["layer_type"])
    if int(model.get("pos_conv_depth", 1) or 1) != 1:
        raise unsupported("pos_conv_depth", model["pos_conv_depth"])
    activation = model.get("activation_fn", "gelu")
    if activation not in _FAIRSEQ_ACTIVATIONS:
        raise unsupported("activation_fn", activation)
    mode = model.get("extractor_mode", "default")
    if mode not in _FAIRSEQ_EXTRACTOR_MODES:
        raise unsupported("extractor_mode", mode)
    conv_layers = parse_conv_layers(
        model.get("conv_feature_layers", "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2")
    )
    relative = bool(model.get("relative_position_embedding", False))
    name = str(model.get("_name", model.get("arch", "")))
    if relative:
        family = "wavlm"
    elif name.startswith("hubert") or "label_rate" in model:
        family = "hubert"
    else:
        family = "wav2vec2"
    hidden = int(model.get("encoder_embed_dim", 768))
    return EncoderConfig(
        family=family,
        conv_layers=conv_layers,
        extractor_mode=_FAIRSEQ_EXTRACTOR_MODES[mode],
        conv_bias=bool(model.get("conv_bias", False)),
        feature_projection=conv_layers[-1][0] != hidden,
        hidden_size=hidden,
        num_layers=int(model.get("encoder_layers", 12)),
        num_heads=int(model.get("encoder_attention_heads", 12)),
        ffn_size=int(model.get("encoder_ffn_embed_dim", 3072)),
        activation=_FAIRSEQ_ACTIVATIONS[activation],
        layer_norm_first=bool(model.get("layer_norm_first", False)),
        pos_conv_kernel=int(model.get("conv_pos", 128)),
        pos_conv_groups=int(model.get("conv_pos_groups", 16)),
        relative_position_bias=relative,
        num_buckets=int(model.get("num_buckets", 320)),
        max_distance=int(model.get("max_distance", 1280)),
        gated_relative_position=bool(model.get("gru_rel_pos", False)),
        dropout=float(model.get("dropout", 0.1)),
        attention_dropout=float(model.get("attention_dropout", 0.1)),
        activation_dropout=float(model.get("activation_dropout", 0.0)),
        feature_dropout=float(model.get("dropout_input", 0.0)),
        layerdrop=float(model.get("encoder_layerdrop", 0.0)),
        normalize_waveform=bool(task.get("normalize", model.get("normalize", False))),
        sample_rate=int(task.get("sample_rate", 16000)),
    )


def _fairseq_sections(ckpt: dict[str, Any], source: str) -> tuple[dict, dict, str]:
    """Return (model cfg, task cfg, weight-name prefix) of a fairseq checkpoint."""
    if ckpt.get("cfg") is not None:
        cfg = plain(ckpt["cfg"])
        if isinstance(cfg.get("model"), dict):
            model, task = cfg["model"], cfg.get("task") or {}
        else:  # official WavLM: a flat model config
            model, task = cfg, cfg
    else:
        model = plain(ckpt["args"])
        task = model
    prefix = ""
    if model.get("w2v_args") is not None:  # fine-tuned: the pre-trained model is nested
        nested = plain(model["w2v_args"])
        if isinstance(nested.get("model"), dict):
            model, task = nested["model"], nested.get("task") or {}
        else:
            model = task = nested
        prefix = FINETUNED_PREFIX
    elif "w2v_path" in model:
        raise CheckpointError(f"{source}: fine-tuned checkpoint without embedded w2v_args; load its w2v_path instead")
    return model, task, prefix


def read_fairseq(ckpt: dict[str, Any], source: str) -> SSLUpstream:
    model_cfg, task_cfg, prefix = _fairseq_sections(ckpt, source)
    cfg = fairseq_config(model_cfg, task_cfg, source)
    state = ckpt["model"]
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)} | {
            k: v for k, v in state.items() if not k.startswith(prefix) and not is_ignored(k, FINETUNED_IGNORED)
        }
    ours, heads = map_state(source, cfg, state, "fairseq", FAIRSEQ_IGNORED)
    return build_ssl_upstream(source, cfg, ours, heads)


def read_s3prl_converted(ckpt: dict[str, Any], source: str) -> SSLUpstream:
    cfg = fairseq_config(plain(ckpt["model_cfg"]), plain(ckpt["task_cfg"] or {}), source)
    ours, heads = map_state(source, cfg, ckpt["model_weight"], "fairseq", FAIRSEQ_IGNORED)
    return build_ssl_upstream(source, cfg, ours, heads)



_S3PRL_HUBERT_FAMILIES = ("hubert", "wav2vec2", "distilhubert")


def save_s3prl_hubert(upstream: SSLUpstream, path: str | Path, label_rate: float = 50.0, final_dim: int = 256) -> Path:
    """Write s3prl's converted HuBERT layout, loadable by s3prl's ``hubert_custom``.

    The dict has ``task_cfg`` / ``model_cfg`` (fairseq ``HubertPretrainingConfig`` /
    ``HubertConfig`` field names), ``model_weight`` (fairseq parameter names) and
    ``dictionaries_symbols``. s3prl loads it strictly, so the pre-training heads it
    builds are included: ``mask_emb`` and ``final_proj`` come from
    ``upstream.pretraining_heads`` when present and are zeros otherwise (feature
    extraction never uses them). ``dictionaries_symbols`` is ``[None]`` (no label
    embeddings). For ESPnet's ``frontend: s3prl``, use ``upstream: hubert_local`` (or
    ``hubert_custom``) with ``path_or_url`` set to this file: both load this layout as
    it is (they convert fairseq files only with ``extra_conf: {fairseq: true}``).
    """
    cfg = upstream.config
    if cfg.frontend != "conv" or cfg.relative_position_bias or cfg.family not in _S3PRL_HUBERT_FAMILIES:
        raise ValueError(f"the s3prl HuBERT layout cannot hold a {cfg.family} model (frontend={cfg.frontend})")
    if cfg.activation not in ("gelu", "relu", "silu") or cfg.layer_norm_eps != 1e-5:
        raise ValueError(f"the s3prl HuBERT layout cannot hold activation={cfg.activation}, eps={cfg.layer_norm_eps}")
    if not cfg.feature_layer_norm:
        raise ValueError("the s3prl HuBERT layout always has a feature LayerNorm")
    if cfg.feature_projection == (cfg.frontend_dim == cfg.hidden_size):
        # fairseq (and s3prl) build post_extract_proj exactly when the CNN and encoder widths differ
        raise ValueError(
            f"the s3prl HuBERT layout cannot hold feature_projection={cfg.feature_projection} with CNN "
            f"dimension {cfg.frontend_dim} and hidden_size {cfg.hidden_size}"
        )
    own = upstream.state_dict()
    weights = {row.fairseq[0]: own[row.ours].detach().cpu() for row in key_table(cfg)}
    heads = upstream.pretraining_heads
    dim = cfg.hidden_size
    weights["mask_emb"] = heads.get("mask_emb", torch.zeros(dim)).detach().cpu()
    proj_weight = heads.get("final_proj.weight")
    if proj_weight is not None and tuple(proj_weight.shape) == (final_dim, dim):
        weights["final_proj.weight"] = proj_weight.detach().cpu()
        weights["final_proj.bias"] = heads["final_proj.bias"].detach().cpu()
    else:
        weights["final_proj.weight"] = torch.zeros(final_dim, dim)
        weights["final_proj.bias"] = torch.zeros(final_dim)
    activation = {"gelu": "gelu", "relu": "relu", "silu": "swish"}[cfg.activation]
    model_cfg = {
        "_name": "hubert",
        "label_rate": float(label_rate),
        "extractor_mode": "default" if cfg.extractor_mode == "group_norm" else "layer_norm",
        "encoder_layers": cfg.num_layers,
        "encoder_embed_dim": dim,
        "encoder_ffn_embed_dim": cfg.ffn_size,
        "encoder_attention_heads": cfg.num_heads,
        "activation_fn": activation,
        "layer_type": "transformer",
        "dropout": cfg.dropout,
        "attention_dropout": cfg.attention_dropout,
        "activation_dropout": cfg.activation_dropout,
        "encoder_layerdrop": cfg.layerdrop,
        "dropout_input": cfg.feature_dropout,
        "dropout_features": 0.0,
        "final_dim": final_dim,
        "untie_final_proj": False,
        "layer_norm_first": cfg.layer_norm_first,
        "conv_feature_layers": format_conv_layers(cfg.conv_layers),
        "conv_bias": cfg.conv_bias,
        "feature_grad_mult": 1.0,
        "conv_pos": cfg.pos_conv_kernel,
        "conv_pos_groups": cfg.pos_conv_groups,
    }
    task_cfg = {
        "_name": "hubert_pretraining",
        "label_rate": float(label_rate),
        "sample_rate": cfg.sample_rate,
        "normalize": cfg.normalize_waveform,
        "enable_padding": False,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"task_cfg": task_cfg, "model_cfg": model_cfg, "model_weight": weights, "dictionaries_symbols": [None]}, path
    )
    return path
