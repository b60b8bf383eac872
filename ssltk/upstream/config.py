"""Configuration of the shared wav2vec 2.0-family encoder.

One dataclass describes wav2vec 2.0, HuBERT, WavLM, DistilHuBERT and MelHuBERT: they
differ only in the frontend (conv stack or log-Mel), the normalisation placement
(post-LN or pre-LN "stable layer norm"), and WavLM's gated relative position bias.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ssltk.errors import UserError

ConvLayerSpec = tuple[int, int, int]  # (channels, kernel, stride)

# The 7-layer wav2vec 2.0 conv stack: 400-sample receptive field, 320-sample hop.
STANDARD_CONV_LAYERS: list[ConvLayerSpec] = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2

FAMILIES = ("wav2vec2", "hubert", "wavlm", "distilhubert", "melhubert")
FRONTENDS = ("conv", "fbank")
EXTRACTOR_MODES = ("group_norm", "layer_norm")
ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "silu")


@dataclass
class EncoderConfig:
    """Architecture of a wav2vec 2.0-family upstream (field names are ssltk's own).

    ``family`` is informational (it names the checkpoint layouts a model can be written
    to); the computation is fully described by the other fields.
    """

    family: str = "wav2vec2"
    # Frontend: "conv" (waveform CNN) or "fbank" (MelHuBERT: kaldi log-Mel, frames stacked).
    frontend: str = "conv"
    conv_layers: list[ConvLayerSpec] = field(default_factory=lambda: list(STANDARD_CONV_LAYERS))
    extractor_mode: str = "group_norm"  # GroupNorm on conv 0 only | LayerNorm on every conv
    conv_bias: bool = False
    num_mel_bins: int = 80  # fbank frontend
    stack_frames: int = 2  # fbank frontend: 10 ms frames stacked to 20 ms
    # Feature projection: LayerNorm over frontend channels, Linear to hidden size, dropout.
    feature_layer_norm: bool = True
    feature_projection: bool = True  # False only when frontend dim == hidden size (fairseq)
    # Transformer.
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    ffn_size: int = 3072
    activation: str = "gelu"
    layer_norm_first: bool = False  # True: pre-LN "stable layer norm" (large models)
    layer_norm_eps: float = 1e-5
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    # WavLM gated relative position bias.
    relative_position_bias: bool = False
    num_buckets: int = 320
    max_distance: int = 800
    gated_relative_position: bool = False
    # Regularisation (all inactive in eval mode).
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    feature_dropout: float = 0.0
    layerdrop: float = 0.0
    # Input.
    normalize_waveform: bool = False  # zero-mean unit-variance per utterance (large models)
    sample_rate: int = 16000
    # Sequence compression after layers (ssltk.compress.subsample), {layer index: spec}:
    # "fixed:F" averages every F frames; "codes:K" averages runs of frames with the same
    # nearest of K centroids (stored with the weights): a variable frame rate.
    subsample: dict[int, str] = field(default_factory=dict)
    # Structured attention pruning (ssltk.compress.heads), {layer index: [original head
    # indices]}: the heads a layer keeps (absent: all), and kept heads whose attention is
    # replaced by the identity (skip-ahead).
    kept_heads: dict[int, list[int]] = field(default_factory=dict)
    identity_heads: dict[int, list[int]] = field(default_factory=dict)
    # Feed-forward units a layer keeps after FC pruning ({layer index: units}; absent: ffn_size).
    ffn_sizes: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conv_layers = [tuple(int(v) for v in spec) for spec in self.conv_layers]
        self.subsample = {int(k): str(v) for k, v in self.subsample.items()}
        self.kept_heads = {int(k): sorted(int(h) for h in v) for k, v in self.kept_heads.items()}
        self.identity_heads = {int(k): sorted(int(h) for h in v) for k, v in self.identity_heads.items()}
        self.ffn_sizes = {int(k): int(v) for k, v in self.ffn_sizes.items()}
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent field."""
        checks = [
            (self.family in FAMILIES, f"family must be one of {FAMILIES}, got {self.family!r}"),
            (self.frontend in FRONTENDS, f"frontend must be one of {FRONTENDS}, got {self.frontend!r}"),
            (
                self.extractor_mode in EXTRACTOR_MODES,
                f"extractor_mode must be one of {EXTRACTOR_MODES}, got {self.extractor_mode!r}",
            ),
            (self.activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS}, got {self.activation!r}"),
            (self.frontend != "conv" or len(self.conv_layers) > 0, "conv_layers must not be empty"),
            (self.num_layers >= 0, "num_layers must be >= 0"),
            (
                self.hidden_size % max(self.num_heads, 1) == 0,
                f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}",
            ),
            (
                self.hidden_size % max(self.pos_conv_groups, 1) == 0,
                f"hidden_size {self.hidden_size} is not divisible by pos_conv_groups {self.pos_conv_groups}",
            ),
            (
                self.feature_projection or self.frontend_dim == self.hidden_size,
                "feature_projection=False needs the frontend dimension to equal hidden_size",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"invalid EncoderConfig: {message}")
        from ssltk.compress.subsample import parse_subsample

        for layer, spec in self.subsample.items():
            if not 0 <= layer < self.num_layers:
                raise UserError(f"invalid EncoderConfig: subsample after layer {layer}: the layers are "
                                f"0..{self.num_layers - 1}")
            parse_subsample(spec)
        for name in ("kept_heads", "identity_heads"):
            for layer, heads in getattr(self, name).items():
                if not 0 <= layer < self.num_layers or not all(0 <= h < self.num_heads for h in heads) \
                        or len(set(heads)) != len(heads):
                    raise UserError(f"invalid EncoderConfig: {name}[{layer}] = {heads}: layers are "
                                    f"0..{self.num_layers - 1}, heads 0..{self.num_heads - 1}, each once")
        for layer, units in self.ffn_sizes.items():
            if not 0 <= layer < self.num_layers or not 0 <= units <= self.ffn_size:
                raise UserError(f"invalid EncoderConfig: ffn_sizes[{layer}] = {units}: layers are "
                                f"0..{self.num_layers - 1}, units 0..{self.ffn_size}")
        for layer, heads in self.identity_heads.items():
            missing = set(heads) - set(self.kept_heads.get(layer, range(self.num_heads)))
            if missing:
                raise UserError(f"invalid EncoderConfig: identity_heads[{layer}] names pruned heads {sorted(missing)}")

    @property
    def frontend_dim(self) -> int:
        """Channels produced by the frontend (input of the feature projection)."""
        if self.frontend == "fbank":
            return self.num_mel_bins * self.stack_frames
        return self.conv_layers[-1][0]

    @property
    def downsample_rate(self) -> int:
        """Input samples per output frame (of the last layer; with "codes" subsampling, whose
        rate varies, per frame before it)."""
        from ssltk.compress.subsample import parse_subsample

        if self.frontend == "fbank":
            rate = 160 * self.stack_frames
        else:
            rate = 1
            for _, _, stride in self.conv_layers:
                rate *= stride
        for spec in self.subsample.values():
            kind, value = parse_subsample(spec)
            rate *= value if kind == "fixed" else 1
        return rate

    def to_dict(self) -> dict[str, Any]:
        """Plain-python dict (safe for ``torch.load(weights_only=True)`` and JSON)."""
        out = dataclasses.asdict(self)
        out["conv_layers"] = [list(spec) for spec in self.conv_layers]
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "EncoderConfig":
        """Build from :meth:`to_dict` output; unknown fields are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UserError(f"unknown EncoderConfig fields: {unknown}; known fields: {sorted(known)}")
        return cls(**values)

    def replace(self, **overrides: Any) -> "EncoderConfig":
        """Copy with some fields changed; unknown field names are an error."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise UserError(f"unknown override(s) {unknown}; valid names: {sorted(known)}")
        return dataclasses.replace(self, **overrides)


def parse_conv_layers(spec: str) -> list[ConvLayerSpec]:
    """Parse fairseq's ``conv_feature_layers`` string without ``eval``.

    Accepts list/tuple literals of ints combined with ``+`` and ``*``, e.g.
    ``"[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"``.
    """

    def evaluate(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return evaluate(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [evaluate(item) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = evaluate(node.left), evaluate(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(f"unsupported element {ast.dump(node)} in conv_feature_layers {spec!r}")

    try:
        layers = evaluate(ast.parse(spec.strip(), mode="eval"))
    except SyntaxError as err:
        raise ValueError(f"cannot parse conv_feature_layers {spec!r}: {err}") from err
    if not isinstance(layers, list) or not all(isinstance(t, tuple) and len(t) == 3 for t in layers):
        raise ValueError(f"conv_feature_layers {spec!r} is not a list of (dim, kernel, stride) tuples")
    return [tuple(int(v) for v in t) for t in layers]


def format_conv_layers(layers: list[ConvLayerSpec]) -> str:
    """Inverse of :func:`parse_conv_layers` (a plain list literal fairseq can ``eval``)."""
    return "[" + ", ".join(f"({d}, {k}, {s})" for d, k, s in layers) + "]"
