"""Configuration schemas of the downstream tasks (strict YAML, see `ssltk.train.config`).

A task config has the trainer's section plus ``frontend``, ``data`` and the
task's own section (``cls`` or ``asr``)::

    trainer: {max_epochs: 20, optim: {lr: 1.0e-4}, best_metric: valid/acc, best_mode: max}
    frontend: {upstream: hubert_base, featurizer: weighted_sum}
    data: {batch_seconds: 200, max_batch: 32}
    cls: {label_table: utt2intent, intent: true}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ssltk.data.augment import check_speed_factors
from ssltk.data.loader import DataConfig
from ssltk.peft.config import PeftConfig
from ssltk.train.config import TrainerConfig, require



@dataclass
class SpecAugmentConfig:
    """SpecAugment masking of the features in training (`ssltk.data.augment.spec_augment`)."""

    freq_masks: int = 2  # bands of feature dimensions per utterance
    freq_width: int = 27  # widest band (dimensions)
    time_masks: int = 2  # spans of frames per utterance
    time_width: int = 40  # widest span (frames)
    max_time_ratio: float = 0.2  # and at most this fraction of the utterance

    def __post_init__(self) -> None:
        for key in ("freq_masks", "freq_width", "time_masks", "time_width"):
            require(getattr(self, key) >= 0, key, f"must be >= 0, got {getattr(self, key)}")
        require(0 <= self.max_time_ratio <= 1, "max_time_ratio", f"must be in [0, 1], got {self.max_time_ratio}")


@dataclass
class FrontendConfig:
    """Upstream and featurizer (ignored with precomputed features: the dump decides)."""

    upstream: str = "fbank"  # registry name or checkpoint path (--upstream overrides)
    finetune_upstream: bool = False  # train the upstream too (default: frozen, eval mode)
    featurizer: Literal["weighted_sum", "layer", "subset"] = "weighted_sum"
    layer: int = -1  # featurizer: layer (0 = transformer input, -1 = last)
    layers: list[int] | None = None  # featurizer: subset
    layer_norm: bool = False  # normalise each hidden state over features first
    utterance_mvn: bool = False  # then zero mean, unit variance per dimension over each utterance
    # Training only: each utterance at a speed drawn from these factors (e.g. [0.9, 1.0, 1.1]):
    # robustness to unseen voices; needs features computed on the fly.  null: off.
    speed_perturb: list[float] | None = None
    # Training only: SpecAugment masks on the features the head sees (after utterance_mvn).
    spec_augment: SpecAugmentConfig | None = None
    # Parameter-efficient methods added to the frozen upstream (adapters, LoRA, BitFit,
    # prefix, prompt; `ssltk.peft`).  null: none.
    peft: PeftConfig | None = None
    # The frozen upstream computes in this precision (`ssltk.compress.quantize`): int8 (dynamic
    # quantisation of its linear layers; CPU) or bfloat16 (autocast); the head stays float32.
    precision: Literal["float32", "bfloat16", "int8"] = "float32"

    def __post_init__(self) -> None:
        require(self.featurizer != "subset" or bool(self.layers), "layers",
                 "featurizer 'subset' needs a non-empty list of layers")
        require(self.precision == "float32" or not (self.finetune_upstream or self.peft), "precision",
                f"{self.precision} applies to a frozen upstream, not to a fine-tuned or adapted one")
        if self.speed_perturb is not None:
            problem = check_speed_factors(self.speed_perturb)
            require(problem is None, "speed_perturb", str(problem))


@dataclass
class ClsConfig:
    """Utterance classification: projector -> pooling over valid frames -> linear."""

    label_table: str = "utt2category"  # data-dir table: utt2category, utt2spk, utt2intent, ...
    proj_dim: int = 256  # projector before pooling (0: none)
    pooling: Literal["mean", "attentive"] = "mean"
    dropout: float = 0.0  # before the output layer (and after the encoder)
    intent: bool = False  # labels are scenario_action intents: also scenario/action accuracy
    encoder_layers: int = 0  # BLSTM layers between projector and pooling (0: none, as SUPERB)
    encoder_size: int = 256  # BLSTM units per direction
    stack_frames: int = 1  # concatenate k consecutive frames first (k times fewer frames)
    # > 0: stack instead to the whole number of the frontend's frames nearest this period
    # (ms, at least one frame): one config then suits 10 ms (FBANK) and 20 ms (SSL) frontends
    stack_ms: float = 0.0
    # Multi-task: loss = (1 - ctc_weight) * cross-entropy + ctc_weight * CTC (per token) of
    # a linear layer on the encoder's frames predicting the transcript (the token list's
    # table, e.g. text): phonetic supervision that helps with little data.  0: off.
    ctc_weight: float = 0.0
    tokens: str | None = None  # token directory for the CTC task (--tokens overrides)

    def __post_init__(self) -> None:
        require(self.proj_dim >= 0, "proj_dim", f"must be >= 0, got {self.proj_dim}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        require(self.encoder_layers >= 0, "encoder_layers", f"must be >= 0, got {self.encoder_layers}")
        require(self.stack_frames >= 1, "stack_frames", f"must be >= 1, got {self.stack_frames}")
        check_stacking(self)
        require(0 <= self.ctc_weight < 1, "ctc_weight", f"must be in [0, 1), got {self.ctc_weight}")


@dataclass
class AsrConfig:
    """CTC recognition: projector -> BLSTM (or nothing: a linear head) -> linear over tokens."""

    tokens: str | None = None  # token directory from ssltk.bin.tokens (--tokens overrides)
    head: Literal["blstm", "linear"] = "blstm"
    proj_dim: int = 1024  # projector (0: none)
    hidden_size: int = 1024  # BLSTM units per direction
    num_layers: int = 2  # BLSTM layers
    dropout: float = 0.2  # after each BLSTM layer
    allow_unk: bool = False  # map units missing from tokens.txt to <unk>; false: an error
    beam_size: int = 1  # decoding default of ssltk.bin.infer (1: greedy)
    stack_frames: int = 1  # concatenate k consecutive frames first (k times fewer frames)
    # > 0: stack instead to the whole number of the frontend's frames nearest this period
    # (ms, at least one frame): one config then suits 10 ms (FBANK) and 20 ms (SSL) frontends
    stack_ms: float = 0.0

    def __post_init__(self) -> None:
        for key in ("proj_dim",):
            require(getattr(self, key) >= 0, key, f"must be >= 0, got {getattr(self, key)}")
        for key in ("hidden_size", "num_layers", "beam_size", "stack_frames"):
            require(getattr(self, key) >= 1, key, f"must be >= 1, got {getattr(self, key)}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")
        check_stacking(self)


def check_stacking(cfg) -> None:
    require(cfg.stack_ms >= 0, "stack_ms", f"must be >= 0, got {cfg.stack_ms}")
    require(not (cfg.stack_ms and cfg.stack_frames > 1), "stack_ms",
            f"give stack_frames ({cfg.stack_frames}) or stack_ms ({cfg.stack_ms}), not both")


@dataclass
class ClsTaskConfig:
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    data: DataConfig = field(default_factory=DataConfig)
    cls: ClsConfig = field(default_factory=ClsConfig)

    def __post_init__(self) -> None:
        # the mean over time of a linear map of zero-mean features is the same for every utterance
        require(not (self.frontend.utterance_mvn and self.cls.pooling == "mean"
                     and self.cls.encoder_layers == 0), "cls.pooling",
                "mean pooling straight after frontend.utterance_mvn sees all-zero means: "
                "use pooling: attentive, an encoder (encoder_layers), or utterance_mvn: false")


@dataclass
class AsrTaskConfig:
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    data: DataConfig = field(default_factory=DataConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)

