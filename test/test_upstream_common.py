"""Shared helpers for the upstream tests (no tests here).

Builds random-weight Hugging Face peers, padded batches, and compares ssltk's batched
output on valid frames with a peer run one utterance at a time.
"""

from __future__ import annotations

import re

import torch

# Tiny HF config: 3 convs, hop 80, pos-conv kernel 16 (even: exercises the frame removal).
TINY_HF = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    conv_dim=(16, 16, 16),
    conv_kernel=(10, 4, 4),
    conv_stride=(5, 4, 4),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=4,
)
TINY_WAVLM = dict(num_buckets=16, max_bucket_distance=32)
STABLE = dict(do_stable_layer_norm=True, feat_extract_norm="layer")
TINY_LENGTHS = [4000, 2500, 3111]
BASE_LENGTHS = [16000, 11000, 13333]


def make_hf_model(model_type: str, tiny: bool = True, seed: int = 0, noise: float = 0.05, **overrides):
    """Random HF base model in eval mode with every parameter perturbed, so that
    zero/one initialisations (biases, norms) cannot hide a mapping mistake."""
    from transformers import (
        HubertConfig,
        HubertModel,
        Wav2Vec2Config,
        Wav2Vec2Model,
        WavLMConfig,
        WavLMModel,
    )

    classes = {
        "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
        "hubert": (HubertConfig, HubertModel),
        "wavlm": (WavLMConfig, WavLMModel),
    }
    config_cls, model_cls = classes[model_type]
    values = dict(TINY_HF) if tiny else {}
    if model_type == "wavlm" and tiny:
        values.update(TINY_WAVLM)
    values.update(overrides)
    torch.manual_seed(seed)
    model = model_cls(config_cls(**values)).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * noise)
    return model


def padded_batch(lengths: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """(wavs[B, T] zero-padded, lens[B], list of unpadded utterances)."""
    generator = torch.Generator().manual_seed(seed)
    utts = [torch.randn(n, generator=generator) * 0.3 for n in lengths]
    wavs = torch.zeros(len(lengths), max(lengths))
    for i, utt in enumerate(utts):
        wavs[i, : len(utt)] = utt
    return wavs, torch.tensor(lengths), utts


def hf_hidden_states(model, utt: torch.Tensor) -> list[torch.Tensor]:
    """HF hidden states in the ssltk convention: layer inputs, then the encoder output.

    transformers 5 returns the last layer's raw output as its final hidden state (no
    final LayerNorm in pre-LN models); the encoder output is ``last_hidden_state``.
    """
    with torch.no_grad():
        out = model(utt[None], output_hidden_states=True)
    return list(out.hidden_states[:-1]) + [out.last_hidden_state]


def max_diff_on_valid(hidden_states, lens, references_per_utt) -> float:
    """Max abs difference between batched ssltk output and per-utterance references.

    Each reference (unpadded) defines its own valid length; ``lens`` must equal the
    length of the last reference (they differ from earlier ones only when a
    ``between_layers`` module shortens time).
    """
    worst = 0.0
    for i, references in enumerate(references_per_utt):
        assert len(references) == len(hidden_states)
        assert int(lens[i]) == references[-1].shape[1], f"utterance {i}: lens {int(lens[i])} != frames produced"
        for ours, ref in zip(hidden_states, references):
            n = ref.shape[1]
            assert ours.shape[1] >= n
            worst = max(worst, (ours[i, :n] - ref[0]).abs().max().item())
    return worst


def batched_vs_single(upstream, lengths: list[int], seed: int = 1) -> float:
    """Max abs difference between a padded batch and each utterance run alone."""
    wavs, lens, utts = padded_batch(lengths, seed)
    with torch.no_grad():
        hidden_states, out_lens = upstream(wavs, lens)
        singles = [upstream(u[None], torch.tensor([len(u)]))[0] for u in utts]
    assert len(hidden_states) == upstream.num_layers + 1
    return max_diff_on_valid(hidden_states, out_lens, singles)


# --- HF -> fairseq parameter names, written independently of ssltk's tables ---------

_HF_TO_FAIRSEQ = [
    (r"^feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
    (r"^feature_projection\.layer_norm\.", "layer_norm."),
    (r"^feature_projection\.projection\.", "post_extract_proj."),
    (r"^encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original0$", "encoder.pos_conv.0.weight_g"),
    (r"^encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original1$", "encoder.pos_conv.0.weight_v"),
    (r"^encoder\.pos_conv_embed\.conv\.bias$", "encoder.pos_conv.0.bias"),
    (r"^encoder\.layer_norm\.", "encoder.layer_norm."),
    (r"^encoder\.layers\.(\d+)\.attention\.rel_attn_embed\.", r"encoder.layers.\1.self_attn.relative_attention_bias."),
    (r"^encoder\.layers\.(\d+)\.attention\.gru_rel_pos_linear\.", r"encoder.layers.\1.self_attn.grep_linear."),
    (r"^encoder\.layers\.(\d+)\.attention\.gru_rel_pos_const$", r"encoder.layers.\1.self_attn.grep_a"),
    (r"^encoder\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
    (r"^encoder\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
    (r"^encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", r"encoder.layers.\1.fc1."),
    (r"^encoder\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
    (r"^encoder\.layers\.(\d+)\.final_layer_norm\.", r"encoder.layers.\1.final_layer_norm."),
    (r"^masked_spec_embed$", "mask_emb"),
]


def hf_to_fairseq_state(model) -> dict[str, torch.Tensor]:
    """fairseq-named copy of an HF model's state dict."""
    layer_norm_convs = model.config.feat_extract_norm == "layer"
    out = {}
    for key, value in model.state_dict().items():
        match = re.match(r"^feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(weight|bias)$", key)
        if match:
            middle = "2.1" if layer_norm_convs else "2"
            out[f"feature_extractor.conv_layers.{match.group(1)}.{middle}.{match.group(2)}"] = value.clone()
            continue
        for pattern, replacement in _HF_TO_FAIRSEQ:
            if re.search(pattern, key):
                out[re.sub(pattern, replacement, key)] = value.clone()
                break
        else:
            raise AssertionError(f"test mapping has no rule for {key}")
    return out


def fairseq_model_cfg(model, name: str) -> dict:
    """fairseq model config (fairseq field names) describing an HF model."""
    cfg = model.config
    layers = list(zip(cfg.conv_dim, cfg.conv_kernel, cfg.conv_stride))
    values = {
        "_name": name,
        "extractor_mode": "layer_norm" if cfg.feat_extract_norm == "layer" else "default",
        "encoder_layers": cfg.num_hidden_layers,
        "encoder_embed_dim": cfg.hidden_size,
        "encoder_ffn_embed_dim": cfg.intermediate_size,
        "encoder_attention_heads": cfg.num_attention_heads,
        "activation_fn": "gelu",
        "layer_norm_first": cfg.do_stable_layer_norm,
        "conv_feature_layers": " + ".join(f"[{tuple(spec)}]" for spec in layers),
        "conv_bias": cfg.conv_bias,
        "conv_pos": cfg.num_conv_pos_embeddings,
        "conv_pos_groups": cfg.num_conv_pos_embedding_groups,
        "dropout": 0.1,
        "attention_dropout": 0.1,
        "encoder_layerdrop": 0.05,
    }
    if cfg.model_type == "wavlm":
        values.update(
            relative_position_embedding=True,
            num_buckets=cfg.num_buckets,
            max_distance=cfg.max_bucket_distance,
            gru_rel_pos=True,
        )
    if name == "hubert":
        values["label_rate"] = 50
    return values
