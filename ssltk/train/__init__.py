"""One trainer for every ssltk task.

An entry point supplies a model (see `ssltk.train.model` for the contract), batch
iterables and a config; the `Trainer` does the rest::

    cfg = load_config("conf/train.yaml", MyTaskConfig)   # has a `trainer:` section
    seed_everything(cfg.trainer.seed)
    model = MyModel(cfg.model)
    train = EpochBatchSampler(train_batches, seed=cfg.trainer.seed)
    valid = EpochBatchSampler(valid_batches, shuffle=False, pad=False)
    results = Trainer(model, train, valid, cfg, "exp/my_task").fit()
"""

from ssltk.train.checkpoint import average_state_dicts, load_state, save_atomic, seed_everything
from ssltk.train.config import (Config, ConfigError, FieldError, OptimConfig, SchedulerConfig,
                                TrainerConfig, config_from_dict, config_to_dict, load_config,
                                save_config)
from ssltk.train.sampler import EpochBatchSampler
from ssltk.train.model import TrainableModel
from ssltk.train.trainer import Trainer, TrainingDiverged

__all__ = [
    "Config", "ConfigError", "EpochBatchSampler", "FieldError", "OptimConfig", "SchedulerConfig",
    "TrainableModel", "Trainer", "TrainerConfig", "TrainingDiverged", "average_state_dicts",
    "config_from_dict", "config_to_dict", "load_state", "load_config", "save_atomic",
    "save_config", "seed_everything",
]
