"""Typed YAML configuration with strict keys.

A configuration file maps onto a tree of dataclasses (a *schema*).  Every key
must be a field of its dataclass: a misspelt key is a `ConfigError` that names
the file, the line and the closest valid key; a value of the wrong type is an
error naming the key.  Dataclasses may check their values in
``__post_init__`` by raising `FieldError` (or ``ValueError``); the loader turns
that into a `ConfigError` pointing at the offending line.

Tasks add their own sections by declaring a schema with a ``trainer`` field
next to theirs::

    @dataclass
    class ClassifierConfig:
        trainer: TrainerConfig = field(default_factory=TrainerConfig)
        model: ModelConfig = field(default_factory=ModelConfig)

    cfg = load_config("conf/train.yaml", ClassifierConfig)

Supported field types: ``bool``, ``int``, ``float``, ``str``, ``Literal[...]``,
``X | None``, ``list[X]``, ``tuple[X, ...]``, ``tuple[X, Y]``,
``dict[str, X]``, nested dataclasses and ``Any`` (taken as is).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml

from ssltk.errors import UserError


class ConfigError(UserError):
    """A configuration mistake; the message names the file, line and key."""


class FieldError(ValueError):
    """Raised by a dataclass ``__post_init__`` to reject the value of one field."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key


# ---------------------------------------------------------------- trainer schema

@dataclass
class OptimConfig:
    """One optimiser."""

    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)  # adam, adamw
    eps: float = 1e-8  # adam, adamw
    momentum: float = 0.0  # sgd

    def __post_init__(self) -> None:
        require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        require(self.weight_decay >= 0, "weight_decay", f"must be >= 0, got {self.weight_decay}")
        require(all(0 <= b < 1 for b in self.betas), "betas", f"must be in [0, 1), got {self.betas}")


SCHEDULERS = ("none", "linear_warmup", "warmup_linear_decay", "warmup_cosine", "inverse_sqrt")


@dataclass
class SchedulerConfig:
    """Learning-rate schedule, a function of the update step (see `lr_factor`).

    ``none``: constant.  ``linear_warmup``: linear ramp over ``warmup_steps``,
    then constant.  ``warmup_linear_decay`` / ``warmup_cosine``: ramp, then decay
    to ``min_lr_ratio * lr`` at the last step.  ``inverse_sqrt``: ramp, then
    ``lr * sqrt(warmup_steps / step)`` (Noam / ESPnet ``warmuplr``).
    """

    name: Literal["none", "linear_warmup", "warmup_linear_decay", "warmup_cosine", "inverse_sqrt"] = "none"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0

    def __post_init__(self) -> None:
        require(self.warmup_steps >= 0, "warmup_steps", f"must be >= 0, got {self.warmup_steps}")
        require(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", f"must be in [0, 1], got {self.min_lr_ratio}")
        require(self.name != "inverse_sqrt" or self.warmup_steps > 0, "warmup_steps",
                 "inverse_sqrt needs warmup_steps > 0")


@dataclass
class TrainerConfig:
    """The ``trainer:`` section."""

    seed: int = 0
    max_epochs: int = 10
    max_steps: int | None = None  # optimiser updates; stops mid-epoch when reached
    accum_grad: int = 1  # micro-batches per update
    grad_clip: float | None = None  # max L2 norm of the gradients; 0 or null: off
    optim: OptimConfig = field(default_factory=OptimConfig)
    # Models with several parameter groups (see `TrainableModel.param_groups`): the
    # optimiser of each named group; groups not listed use `optim`.
    group_optim: dict[str, OptimConfig] = field(default_factory=dict)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    best_metric: str = "valid/loss"  # "valid/<metric>" or "train/<stat>"
    best_mode: Literal["min", "max"] = "min"
    keep_nbest: int = 1  # epoch snapshots kept, best first
    average_nbest: bool = False  # also write the average of the kept snapshots
    patience: int | None = None  # stop after this many validations without improvement
    valid_interval: int = 1  # epochs between validations (the last epoch always validates)
    log_interval: int = 50  # updates between TensorBoard / log lines
    amp: bool = False  # mixed precision (CUDA only; ignored with a note on CPU)
    amp_dtype: Literal["float16", "bfloat16"] = "float16"
    num_workers: int = 0  # data-loader workers (used by tasks building loaders)
    device: str | None = None  # "cpu", "cuda", "cuda:1"; null: cuda when available
    find_unused_parameters: bool = False  # DDP: some parameters get no gradient in a step
    max_bad_steps: int = 10  # consecutive non-finite updates before training stops
    resume: bool = True  # continue from exp_dir/checkpoint.pt when present

    def __post_init__(self) -> None:
        for key in ("max_epochs", "accum_grad", "keep_nbest", "valid_interval", "log_interval",
                    "max_bad_steps"):
            value = getattr(self, key)
            require(value >= 1, key, f"must be >= 1, got {value}")
        for key in ("max_steps", "patience"):
            value = getattr(self, key)
            require(value is None or value >= 1, key, f"must be >= 1 or null, got {value}")
        require(self.grad_clip is None or self.grad_clip >= 0, "grad_clip",
                 f"must be >= 0 or null, got {self.grad_clip}")
        require(self.num_workers >= 0, "num_workers", f"must be >= 0, got {self.num_workers}")
        require(self.best_metric.startswith(("valid/", "train/")), "best_metric",
                 f"must start with 'valid/' or 'train/', got {self.best_metric!r}")


@dataclass
class Config:
    """The default schema: a ``trainer:`` section only."""

    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def require(ok: bool, key: str, message: str) -> None:
    """For schema ``__post_init__`` checks: a `FieldError` on ``key`` unless ``ok``."""
    if not ok:
        raise FieldError(key, message)


# ---------------------------------------------------------------- loading

class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` (no dot) as a float, as YAML 1.2 does."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                   |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                   |\.[0-9_]+(?:[eE][-+][0-9]+)?
                   |[-+]?\.(?:inf|Inf|INF)
                   |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def load_config(path: str | Path, schema: type = Config, overrides: Iterable[str] = ()) -> Any:
    """Read a YAML file into ``schema`` (a dataclass), strictly.

    ``overrides`` are ``"dotted.key=value"`` strings (values in YAML syntax)
    applied on top of the file, e.g. ``["trainer.optim.lr=1e-4"]``.
    Missing sections and keys take the dataclass defaults.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror or e}") from None
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    locations: dict[tuple, str] = {}
    if root is not None:
        _locate(root, (), str(path), locations)
    return _build(data, schema, str(path), locations, overrides)


def config_from_dict(data: dict | None, schema: type = Config, source: str = "config",
                     overrides: Iterable[str] = ()) -> Any:
    """Like `load_config` for an already parsed mapping; ``source`` names it in errors."""
    return _build(data, schema, source, {}, overrides)


def config_to_dict(cfg: Any) -> Any:
    """Plain data (dicts, lists, scalars) for a config tree, ready for YAML/JSON."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, dict):
        return {k: config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    return cfg


def save_config(cfg: Any, path: str | Path) -> None:
    """Write a config tree as YAML (loadable again with `load_config`)."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), encoding="utf-8")


def _build(data: Any, schema: type, source: str, locations: dict, overrides: Iterable[str]) -> Any:
    if not (dataclasses.is_dataclass(schema) and isinstance(schema, type)):
        raise TypeError(f"schema must be a dataclass type, got {schema!r}")
    data = {} if data is None else data
    for text in overrides:
        data = _apply_override(data, text, locations)
    return _Converter(source, locations).convert(data, schema, ())


def _locate(node: yaml.Node, path: tuple, source: str, out: dict) -> None:
    """Record ``source:line`` of every key and value; reject duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                raise ConfigError(f"{source}:{key_node.start_mark.line + 1}: duplicate key "
                                  f"'{_dotted(path + (key,))}'")
            seen.add(key)
            out[path + (key,)] = f"{source}:{key_node.start_mark.line + 1}"
            _locate(value_node, path + (key,), source, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[path + (i,)] = f"{source}:{item.start_mark.line + 1}"
            _locate(item, path + (i,), source, out)


def _apply_override(data: Any, text: str, locations: dict) -> Any:
    key, sep, value_text = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r}: expected key.path=value")
    try:
        value = yaml.load(value_text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise ConfigError(f"override {text!r}: invalid YAML value: {e}") from None
    path = tuple(key.strip().split("."))
    if not isinstance(data, dict):
        raise ConfigError(f"override {text!r}: the config is not a mapping")
    node = data
    for i, part in enumerate(path[:-1]):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"override {text!r}: '{_dotted(path[:i + 1])}' is not a section")
        node = child
    node[path[-1]] = value
    locations[path] = f"override {text!r}"
    for other in [p for p in locations if len(p) > len(path) and p[:len(path)] == path]:
        del locations[other]
    return data


def _dotted(path: tuple) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "[")


class _Converter:
    def __init__(self, source: str, locations: dict):
        self.source = source
        self.locations = locations

    def where(self, path: tuple) -> str:
        while path and path not in self.locations:
            path = path[:-1]
        return self.locations.get(path, self.source)

    def fail(self, path: tuple, message: str) -> ConfigError:
        name = _dotted(path)
        return ConfigError(f"{self.where(path)}: {name + ': ' if name else ''}{message}")

    def convert(self, value: Any, tp: Any, path: tuple) -> Any:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if tp is Any:
            return value
        if dataclasses.is_dataclass(tp):
            return self.dataclass(value, tp, path)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            options = [a for a in args if a is not type(None)]
            if len(options) == 1 and typing.get_origin(options[0]) is None \
                    and not dataclasses.is_dataclass(options[0]):
                try:
                    return self.convert(value, options[0], path)
                except ConfigError:
                    raise self.fail(path, f"expected {_describe(options[0])} or null, "
                                    f"got {_show(value)}") from None
            if len(options) == 1:
                return self.convert(value, options[0], path)
            for option in options:
                try:
                    return self.convert(value, option, path)
                except ConfigError:
                    continue
            raise self.fail(path, f"expected {' or '.join(_describe(a) for a in args)}, got {_show(value)}")
        if origin is Literal:
            if value in args and not isinstance(value, bool):
                return value
            hint = _suggest(str(value), [str(a) for a in args])
            raise self.fail(path, f"expected one of {', '.join(map(repr, args))}, got {_show(value)}{hint}")
        if origin in (list, tuple):
            if not isinstance(value, (list, tuple)):
                raise self.fail(path, f"expected {_describe(tp)}, got {_show(value)}")
            if origin is list or (len(args) == 2 and args[1] is Ellipsis):
                item_types = [args[0] if args else Any] * len(value)
            else:
                if len(value) != len(args):
                    raise self.fail(path, f"expected {len(args)} values, got {len(value)}")
                item_types = list(args)
            items = [self.convert(v, t, path + (i,)) for i, (v, t) in enumerate(zip(value, item_types))]
            return items if origin is list else tuple(items)
        if origin is dict:
            if not isinstance(value, dict):
                raise self.fail(path, f"expected a mapping, got {_show(value)}")
            key_type, value_type = args or (Any, Any)
            return {self.convert(k, key_type, path + (k,)): self.convert(v, value_type, path + (k,))
                    for k, v in value.items()}
        return self.scalar(value, tp, path)

    def scalar(self, value: Any, tp: type, path: tuple) -> Any:
        if tp is bool:
            if isinstance(value, bool):
                return value
        elif tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)  # 1e5 written for an integer
        elif tp is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        elif tp is str:
            if isinstance(value, str):
                return value
        elif isinstance(tp, type) and isinstance(value, tp):
            return value
        raise self.fail(path, f"expected {_describe(tp)}, got {_show(value)}")

    def dataclass(self, value: Any, cls: type, path: tuple) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping (section {cls.__name__}), got {_show(value)}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        kwargs = {}
        for key, item in value.items():
            if key not in fields:
                section = f" in '{_dotted(path)}'" if path else ""
                hint = _suggest(str(key), list(fields))
                raise self.fail(path + (key,), f"unknown key{section}{hint} "
                                f"(valid keys: {', '.join(fields)})")
            kwargs[key] = self.convert(item, hints[key], path + (key,))
        missing = [name for name, f in fields.items() if name not in kwargs
                   and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise self.fail(path, f"missing required key(s): {', '.join(missing)}")
        try:
            return cls(**kwargs)
        except FieldError as e:
            raise self.fail(path + (e.key,), str(e).split(": ", 1)[1]) from None
        except (ValueError, TypeError) as e:
            raise self.fail(path, str(e)) from None


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
             type(None): "null"}
    if tp in names:
        return names[tp]
    if origin is list or origin is tuple:
        return "a list"
    if origin is dict:
        return "a mapping"
    if origin is Literal:
        return "one of " + ", ".join(map(repr, typing.get_args(tp)))
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return getattr(tp, "__name__", str(tp))


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"
