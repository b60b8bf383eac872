"""Explicit parameter-name tables: ssltk <-> fairseq (also s3prl, official WavLM) <-> Hugging Face.

Every row names one ssltk parameter and the names it has in the other layouts; where a
layout has spelled a name in more than one way (weight norm as ``weight_g``/``weight_v``
or as ``parametrizations.weight.original0/1``), all spellings are listed and the first is
the one writers use. Keys that belong to heads outside the upstream are listed in the
ignore tables below.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssltk.upstream.config import EncoderConfig


@dataclass(frozen=True)
class KeyRow:
    ours: str
    fairseq: tuple[str, ...]
    hf: tuple[str, ...]


def _weight_and_bias(ours: str, fairseq: str, hf: str) -> list[KeyRow]:
    return [KeyRow(f"{ours}.{p}", (f"{fairseq}.{p}",), (f"{hf}.{p}",)) for p in ("weight", "bias")]


def _conv_rows(cfg: EncoderConfig) -> list[KeyRow]:
    rows = []
    for i in range(len(cfg.conv_layers)):
        ours = fs = hf = f"feature_extractor.conv_layers.{i}"  # same prefix, different leaves
        rows.append(KeyRow(f"{ours}.conv.weight", (f"{fs}.0.weight",), (f"{hf}.conv.weight",)))
        if cfg.conv_bias:
            rows.append(KeyRow(f"{ours}.conv.bias", (f"{fs}.0.bias",), (f"{hf}.conv.bias",)))
        if cfg.extractor_mode == "layer_norm":
            rows += _weight_and_bias(f"{ours}.norm", f"{fs}.2.1", f"{hf}.layer_norm")
        elif i == 0:
            rows += _weight_and_bias(f"{ours}.norm", f"{fs}.2", f"{hf}.layer_norm")
    return rows


def _projection_rows(cfg: EncoderConfig) -> list[KeyRow]:
    rows = []
    if cfg.feature_layer_norm:
        rows += _weight_and_bias("feature_projection.norm", "layer_norm", "feature_projection.layer_norm")
    if cfg.feature_projection:
        rows += _weight_and_bias("feature_projection.linear", "post_extract_proj", "feature_projection.projection")
    return rows


def _encoder_rows(cfg: EncoderConfig) -> list[KeyRow]:
    ours_pos, fs_pos, hf_pos = "encoder.pos_conv.conv", "encoder.pos_conv.0", "encoder.pos_conv_embed.conv"
    rows = [
        KeyRow(f"{ours_pos}.bias", (f"{fs_pos}.bias",), (f"{hf_pos}.bias",)),
        KeyRow(
            f"{ours_pos}.parametrizations.weight.original0",
            (f"{fs_pos}.weight_g", f"{fs_pos}.parametrizations.weight.original0"),
            (f"{hf_pos}.parametrizations.weight.original0", f"{hf_pos}.weight_g"),
        ),
        KeyRow(
            f"{ours_pos}.parametrizations.weight.original1",
            (f"{fs_pos}.weight_v", f"{fs_pos}.parametrizations.weight.original1"),
            (f"{hf_pos}.parametrizations.weight.original1", f"{hf_pos}.weight_v"),
        ),
    ]
    rows += _weight_and_bias("encoder.norm", "encoder.layer_norm", "encoder.layer_norm")
    if cfg.relative_position_bias:
        rows.append(
            KeyRow(
                "encoder.rel_pos_bias.embedding.weight",
                ("encoder.layers.0.self_attn.relative_attention_bias.weight",),
                ("encoder.layers.0.attention.rel_attn_embed.weight",),
            )
        )
    for i in range(cfg.num_layers):
        ours, fs, hf = f"encoder.layers.{i}", f"encoder.layers.{i}", f"encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            rows += _weight_and_bias(f"{ours}.attention.{proj}", f"{fs}.self_attn.{proj}", f"{hf}.attention.{proj}")
        if cfg.relative_position_bias and cfg.gated_relative_position:
            rows += _weight_and_bias(
                f"{ours}.attention.rel_pos_gate.linear",
                f"{fs}.self_attn.grep_linear",
                f"{hf}.attention.gru_rel_pos_linear",
            )
            rows.append(
                KeyRow(
                    f"{ours}.attention.rel_pos_gate.scale",
                    (f"{fs}.self_attn.grep_a",),
                    (f"{hf}.attention.gru_rel_pos_const",),
                )
            )
        rows += _weight_and_bias(f"{ours}.attn_norm", f"{fs}.self_attn_layer_norm", f"{hf}.layer_norm")
        rows += _weight_and_bias(f"{ours}.ffn.fc1", f"{fs}.fc1", f"{hf}.feed_forward.intermediate_dense")
        rows += _weight_and_bias(f"{ours}.ffn.fc2", f"{fs}.fc2", f"{hf}.feed_forward.output_dense")
        rows += _weight_and_bias(f"{ours}.ffn_norm", f"{fs}.final_layer_norm", f"{hf}.final_layer_norm")
    return rows


def key_table(cfg: EncoderConfig) -> list[KeyRow]:
    """All parameters of a conv-frontend :class:`~ssltk.upstream.ssl_model.SSLUpstream`."""
    if cfg.frontend != "conv":
        raise ValueError(f"no fairseq/Hugging Face layout for frontend {cfg.frontend!r}")
    return _conv_rows(cfg) + _projection_rows(cfg) + _encoder_rows(cfg)


# Keys of heads that are not part of the upstream. Exact names or prefixes ending in ".".
FAIRSEQ_IGNORED = (
    "mask_emb",
    "label_embs_concat",
    "final_proj.",
    "quantizer.",
    "project_q.",
    "target_glu.",
)
HF_IGNORED = (
    "masked_spec_embed",
    "lm_head.",
    "quantizer.",
    "project_q.",
    "project_hid.",
    "projector.",
    "classifier.",
    "layer_weights",
)
# Heads kept on the loaded model (``SSLUpstream.pretraining_heads``, fairseq names).
KEPT_HEADS = ("mask_emb", "label_embs_concat", "final_proj.weight", "final_proj.bias")
HF_HEAD_NAMES = {"masked_spec_embed": "mask_emb"}


def is_ignored(key: str, ignored: tuple[str, ...]) -> bool:
    return any(key == name or (name.endswith(".") and key.startswith(name)) for name in ignored)
