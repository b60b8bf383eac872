"""Parameter-efficient use of a pre-trained upstream: adapters, LoRA, BitFit, prefix and
prompt tuning, configured by the ``peft`` section of a frontend config (`PeftConfig`).

`apply_peft` freezes the upstream and puts each configured method into the extension
points of the shared transformer (`ssltk.upstream.transformer`: adapter slots, replaceable
``nn.Linear`` projections, a per-layer ``prefix`` and an encoder ``prompt``), so the
upstream keeps its contract and no forward hooks are involved.  Only the methods'
parameters train.  A new method is a module with ``apply(encoder_or_upstream, section)``
plus an entry in `METHODS`.

Why not Hugging Face ``peft``: it targets modules by name inside ``transformers`` models and
wraps the whole model (``PeftModel``) to inject and save adapters; ssltk's upstreams already
expose typed slots for exactly these insertions, the pieces are a few lines each, and our
checkpoints, configs and ESPnet frontend then need no second model wrapper or dependency.
"""

from __future__ import annotations

from torch import nn

from ssltk.errors import UserError
from ssltk.peft import adapter_bias, bitfit, houlsby, lora, prefix, prompt
from ssltk.peft.config import PeftConfig

# method name (a PeftConfig field) -> (what apply() takes: "encoder" or "upstream", apply)
METHODS = {
    "houlsby": ("encoder", houlsby.apply),
    "adapter_bias": ("encoder", adapter_bias.apply),
    "bitfit": ("upstream", bitfit.apply),
    "lora": ("encoder", lora.apply),
    "prefix": ("encoder", prefix.apply),
    "prompt": ("encoder", prompt.apply),
}


def apply_peft(upstream: nn.Module, cfg: PeftConfig, finetune: bool = False) -> nn.Module:
    """Add the methods of ``cfg`` to ``upstream`` (in place; returned for chaining).

    The upstream's own parameters are frozen first unless ``finetune``; the added modules'
    parameters (and, with BitFit, the biases) train.
    """
    from ssltk.upstream.transformer import TransformerEncoder

    methods = cfg.methods()
    encoder = getattr(upstream, "encoder", None)
    if methods and not isinstance(encoder, TransformerEncoder):
        raise UserError(f"frontend.peft ({', '.join(methods)}) needs a transformer upstream "
                        f"(HuBERT, wav2vec 2.0, WavLM, MelHuBERT, ...), not {type(upstream).__name__}")
    if not finetune:
        upstream.requires_grad_(False)
    for name in methods:
        target, apply = METHODS[name]
        apply(encoder if target == "encoder" else upstream, getattr(cfg, name))
    return upstream


def trainable_parameters(module: nn.Module) -> int:
    """Number of parameters with ``requires_grad``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["METHODS", "PeftConfig", "apply_peft", "trainable_parameters"]
