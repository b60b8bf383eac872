"""Trainer configuration (strict typed YAML), learning-rate schedules and the epoch batch sampler."""

import math
import textwrap
from dataclasses import dataclass, field
from typing import Literal

import pytest
import torch

from ssltk.errors import UserError
from ssltk.train import (Config, ConfigError, EpochBatchSampler, FieldError, SchedulerConfig,
                         TrainerConfig, config_from_dict, load_config, save_config)
from ssltk.train.optim import lr_factor


@dataclass
class ModelSection:
    hidden: int = 8
    layers: list[int] = field(default_factory=lambda: [1, 2])
    act: Literal["relu", "gelu"] = "relu"
    dropout: float | None = None

    def __post_init__(self):
        if self.hidden <= 0:
            raise FieldError("hidden", f"must be > 0, got {self.hidden}")


@dataclass
class TaskConfig:
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    model: ModelSection = field(default_factory=ModelSection)


def write(tmp_path, text, name="train.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_sections_types_and_defaults(tmp_path):
    path = write(tmp_path, """\
        trainer:
          max_epochs: 3
          max_steps: 1e5          # float notation for an integer
          grad_clip: 5
          optim: {name: adamw, lr: 1e-3, betas: [0.9, 0.98]}
          scheduler: {name: warmup_cosine, warmup_steps: 10}
          best_metric: valid/acc
          best_mode: max
        model:
          hidden: 16
          act: gelu
        """)
    cfg = load_config(path, TaskConfig)
    t = cfg.trainer
    assert (t.max_epochs, t.max_steps, t.grad_clip) == (3, 100000, 5.0)
    assert isinstance(t.grad_clip, float) and isinstance(t.max_steps, int)
    assert t.optim.name == "adamw" and t.optim.lr == 1e-3 and t.optim.betas == (0.9, 0.98)
    assert t.optim.weight_decay == 0.0  # default
    assert t.scheduler.name == "warmup_cosine" and t.patience is None
    assert cfg.model == ModelSection(hidden=16, act="gelu")
    # An empty file is all defaults; the default schema has the trainer section only.
    assert load_config(write(tmp_path, "", "empty.yaml")) == Config()
    # Round trip through save_config.
    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml", TaskConfig) == cfg


def test_misspelt_key_names_file_line_and_closest_key(tmp_path):
    path = write(tmp_path, """\
        trainer:
          seed: 1
          max_epoch: 3
        """)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert f"{path}:3:" in msg and "trainer.max_epoch" in msg and "did you mean 'max_epochs'" in msg
    assert isinstance(e.value, UserError)

    path = write(tmp_path, """\
        trainer:
          optim:
            lr: 0.1
            weight_decy: 0.01
        """)
    with pytest.raises(ConfigError, match=r":4: trainer\.optim\.weight_decy: unknown key .*"
                                          r"did you mean 'weight_decay'"):
        load_config(path)
    # An unknown section (no task declared it).
    with pytest.raises(ConfigError, match=r":1: model: unknown key.*valid keys: trainer"):
        load_config(write(tmp_path, "model: {hidden: 3}\n"))
    with pytest.raises(ConfigError, match=r":2: model\.hiden: unknown key.*did you mean 'hidden'"):
        load_config(write(tmp_path, "model:\n  hiden: 3\n"), TaskConfig)


@pytest.mark.parametrize("text, match", [
    ("trainer:\n  max_epochs: ten\n", r":2: trainer\.max_epochs: expected an integer, got 'ten'"),
    ("trainer:\n  max_epochs: 2.5\n", r"trainer\.max_epochs: expected an integer, got 2\.5"),
    ("trainer:\n  amp: 1\n", r"trainer\.amp: expected true or false, got 1"),
    ("trainer:\n  optim: {lr: fast}\n", r"trainer\.optim\.lr: expected a number, got 'fast'"),
    ("trainer:\n  optim: {betas: [0.9]}\n", r"trainer\.optim\.betas: expected 2 values, got 1"),
    ("trainer:\n  best_mode: maximum\n", r"trainer\.best_mode: expected one of 'min', 'max'.*did you mean 'max'"),
    ("trainer:\n  optim: {name: adamm}\n", r"trainer\.optim\.name: .*did you mean 'adam'"),
    ("trainer:\n  patience: [1]\n", r"trainer\.patience: expected an integer or null"),
    ("trainer: 3\n", r":1: trainer: expected a mapping"),
    ("trainer:\n  seed: 1\n\n  accum_grad: 0\n", r":4: trainer\.accum_grad: must be >= 1, got 0"),
    ("trainer:\n  best_metric: acc\n", r"trainer\.best_metric: must start with 'valid/' or 'train/'"),
    ("model:\n  hidden: -1\n", r":2: model\.hidden: must be > 0"),
    ("trainer:\n  seed: 1\n  seed: 2\n", r":3: duplicate key 'trainer\.seed'"),
    ("trainer: [unclosed\n", r"invalid YAML"),
])
def test_bad_values_name_the_key(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text), TaskConfig)


def test_overrides_and_dicts(tmp_path):
    path = write(tmp_path, "trainer:\n  optim: {lr: 0.1}\n")
    cfg = load_config(path, TaskConfig, overrides=["trainer.optim.lr=1e-4", "model.layers=[3, 4]",
                                                   "trainer.group_optim.disc.lr=0.5"])
    assert cfg.trainer.optim.lr == 1e-4 and cfg.model.layers == [3, 4]
    assert cfg.trainer.group_optim["disc"].lr == 0.5
    with pytest.raises(ConfigError, match=r"override 'trainer\.optim\.lrr=1'.*did you mean 'lr'"):
        load_config(path, TaskConfig, overrides=["trainer.optim.lrr=1"])
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(path, overrides=["trainer.seed"])
    with pytest.raises(ConfigError, match=r"^my dict: trainer\.seed: expected an integer"):
        config_from_dict({"trainer": {"seed": "x"}}, source="my dict")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_lr_schedules():
    def f(name, step, warmup=4, total=20, floor=0.0):
        return lr_factor(SchedulerConfig(name=name, warmup_steps=warmup, min_lr_ratio=floor), step, total)

    assert f("none", 0) == f("none", 100) == 1.0
    assert [f("linear_warmup", s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert f("warmup_cosine", 3) == 1.0 and f("warmup_cosine", 4) == 1.0
    assert f("warmup_cosine", 12) == pytest.approx(0.5)  # halfway through the decay
    assert f("warmup_cosine", 20, floor=0.1) == pytest.approx(0.1)
    assert f("warmup_linear_decay", 12) == pytest.approx(0.5)
    assert f("inverse_sqrt", 3) == 1.0 and f("inverse_sqrt", 15) == pytest.approx(math.sqrt(4 / 16))
    with pytest.raises(ConfigError, match="inverse_sqrt needs warmup_steps > 0"):
        config_from_dict({"trainer": {"scheduler": {"name": "inverse_sqrt"}}})


def test_epoch_batch_sampler_order_and_shards():
    batches = [[f"u{i}", f"v{i}"] for i in range(7)]
    s = EpochBatchSampler(batches, seed=3, rank=0, world_size=1)
    s.set_epoch(1)
    first = list(s)
    assert list(s) == first and sorted(first) == sorted(batches)
    s.set_epoch(2)
    assert list(s) != first and sorted(s) == sorted(batches)
    assert list(EpochBatchSampler(batches, seed=3, rank=0, world_size=1)) == first  # epoch 1 default
    assert list(EpochBatchSampler(batches, shuffle=False, world_size=1, rank=0)) == batches

    # Two ranks, padded (training): equal lengths, together every batch, one repeated.
    shards = [EpochBatchSampler(batches, seed=3, rank=r, world_size=2) for r in range(2)]
    assert [len(x) for x in shards] == [4, 4] == [len(list(x)) for x in shards]
    together = list(shards[0]) + list(shards[1])
    assert sorted(map(tuple, set(map(tuple, together)))) == sorted(map(tuple, batches))
    # Unpadded (validation): a partition.
    shards = [EpochBatchSampler(batches, shuffle=False, rank=r, world_size=2, pad=False) for r in range(2)]
    assert [len(x) for x in shards] == [4, 3]
    assert sorted(list(shards[0]) + list(shards[1])) == sorted(batches)

    # As the batch sampler of a DataLoader.
    data = {f"u{i}": torch.tensor(i) for i in range(7)} | {f"v{i}": torch.tensor(10 + i) for i in range(7)}
    loader = torch.utils.data.DataLoader(data, batch_sampler=EpochBatchSampler(batches, world_size=1, rank=0))
    assert sorted(int(b.sum()) for b in loader) == [10 + 2 * i for i in range(7)]


def test_trainer_config_programmatic_checks():
    with pytest.raises(FieldError, match="max_epochs: must be >= 1"):
        TrainerConfig(max_epochs=0)
    assert TrainerConfig(grad_clip=0).grad_clip == 0  # 0 means off


def test_cls_config_rejects_mean_pooling_of_normalised_utterances(tmp_path):
    from ssltk.tasks.registry import TASKS

    path = tmp_path / "c.yaml"
    path.write_text("frontend: {utterance_mvn: true}\ncls: {pooling: mean}\n")
    with pytest.raises(ConfigError, match=r"c.yaml: cls.pooling: mean pooling straight after "
                                          r"frontend.utterance_mvn"):
        load_config(path, TASKS["cls"].schema)
    path.write_text("frontend: {utterance_mvn: true}\ncls: {pooling: attentive}\n")
    assert load_config(path, TASKS["cls"].schema).cls.pooling == "attentive"
