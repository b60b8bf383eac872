"""The ``peft`` section of a frontend config: which parameter-efficient methods adapt a
frozen upstream.  Every section that is set applies (they compose, e.g. Houlsby adapters
with BitFit), and each composes with ``finetune_upstream`` (then everything trains)::

    frontend:
      upstream: ssltk_mini
      peft:
        houlsby: {bottleneck: 32, placement: [ffn]}
        bitfit: true
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

from ssltk.train.config import require

Placement = Literal["attn", "ffn"]
Projection = Literal["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]


@dataclass
class HoulsbyConfig:
    """Bottleneck adapters (Houlsby et al., ICML 2019): ``x + up(gelu(down(x)))`` on the
    output of the attention and/or feed-forward block of every layer, before its residual
    add.  The seed's configuration (Chen et al., SLT 2022): bottleneck 32, after the FFN."""

    bottleneck: int = 32
    placement: list[Placement] = field(default_factory=lambda: ["ffn"])

    def __post_init__(self) -> None:
        require(self.bottleneck >= 1, "bottleneck", f"must be >= 1, got {self.bottleneck}")
        require(len(set(self.placement)) == len(self.placement) >= 1, "placement",
                f"one or both of attn, ffn, each once; got {self.placement}")


@dataclass
class AdapterBiasConfig:
    """AdapterBias (Fu et al., NAACL 2022 Findings): a token-dependent shift
    ``x + alpha(x) * v`` (``alpha``: a linear map to one weight per frame, ``v``: one vector
    per layer), on the same block outputs as Houlsby adapters."""

    placement: list[Placement] = field(default_factory=lambda: ["ffn"])

    def __post_init__(self) -> None:
        require(len(set(self.placement)) == len(self.placement) >= 1, "placement",
                f"one or both of attn, ffn, each once; got {self.placement}")


@dataclass
class LoraConfig:
    """LoRA (Hu et al., ICLR 2022): ``W x + (alpha / rank) B A x`` on the named linear
    projections of every layer, ``B`` zero-initialised.  The seed's configuration: rank 8
    on the query and key projections."""

    rank: int = 8
    alpha: float = 8.0
    targets: list[Projection] = field(default_factory=lambda: ["q_proj", "k_proj"])
    dropout: float = 0.0  # on the low-rank path's input

    def __post_init__(self) -> None:
        require(self.rank >= 1, "rank", f"must be >= 1, got {self.rank}")
        require(len(set(self.targets)) == len(self.targets) >= 1, "targets",
                f"a non-empty list of distinct projections, got {self.targets}")
        require(0.0 <= self.dropout < 1.0, "dropout", f"must be in [0, 1), got {self.dropout}")


@dataclass
class PrefixConfig:
    """Prefix tuning (Li & Liang, ACL 2021): ``length`` learned keys and values per
    attention head of every layer, attendable by every frame."""

    length: int = 5

    def __post_init__(self) -> None:
        require(self.length >= 1, "length", f"must be >= 1, got {self.length}")


@dataclass
class PromptConfig:
    """Prompt tuning on the input sequence (SpeechPrompt, Chang et al., Interspeech 2022):
    ``length`` learned vectors prepended to the first transformer layer's input; they are
    removed from every returned hidden state, so lengths keep the upstream contract."""

    length: int = 10

    def __post_init__(self) -> None:
        require(self.length >= 1, "length", f"must be >= 1, got {self.length}")


@dataclass
class PeftConfig:
    houlsby: HoulsbyConfig | None = None
    adapter_bias: AdapterBiasConfig | None = None
    bitfit: bool = False  # train every bias of the upstream (Ben Zaken et al., ACL 2022)
    lora: LoraConfig | None = None
    prefix: PrefixConfig | None = None
    prompt: PromptConfig | None = None

    def methods(self) -> list[str]:
        """Names of the methods that are on, in the order they are applied."""
        return [f.name for f in fields(self) if getattr(self, f.name) not in (None, False)]
