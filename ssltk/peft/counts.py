"""Trainable parameters of each way of using an upstream (the seed 001 adapter table)."""

from __future__ import annotations

import dataclasses

from ssltk import hub
from ssltk.featurizer import Featurizer
from ssltk.peft import apply_peft, trainable_parameters
from ssltk.peft.config import (AdapterBiasConfig, HoulsbyConfig, LoraConfig, PeftConfig,
                               PrefixConfig, PromptConfig)

# the default configuration of each method (the seed's, where its code states it)
DEFAULT_METHODS = {
    "houlsby": PeftConfig(houlsby=HoulsbyConfig()),
    "adapter_bias": PeftConfig(adapter_bias=AdapterBiasConfig()),
    "bitfit": PeftConfig(bitfit=True),
    "lora": PeftConfig(lora=LoraConfig()),
    "prefix": PeftConfig(prefix=PrefixConfig()),
    "prompt": PeftConfig(prompt=PromptConfig()),
}


def describe(cfg: PeftConfig) -> str:
    """``houlsby(bottleneck=32, placement=['ffn'])``-style summary of the methods that are on."""
    parts = []
    for name in cfg.methods():
        section = getattr(cfg, name)
        if dataclasses.is_dataclass(section):
            args = ", ".join(f"{f.name}={getattr(section, f.name)}" for f in dataclasses.fields(section))
            parts.append(f"{name}({args})")
        else:
            parts.append(name)
    return " + ".join(parts)


def parameter_table(upstream: str, methods: dict[str, PeftConfig] | None = None) -> list[tuple[str, str, int]]:
    """Rows ``(method, configuration, trainable upstream-side parameters)``: the weighted
    sum (its layer weights), each peft method (without the weighted sum and head), and full
    fine-tuning (every upstream parameter)."""
    base = hub.load(upstream)
    rows = [("weighted_sum", f"one weight per hidden state (0..{base.num_layers})",
             trainable_parameters(Featurizer(base, mode="weighted_sum")))]
    for name, cfg in (methods or DEFAULT_METHODS).items():
        rows.append((name, describe(cfg), trainable_parameters(apply_peft(hub.load(upstream), cfg))))
    rows.append(("finetune", "every upstream parameter", trainable_parameters(base)))
    return rows
