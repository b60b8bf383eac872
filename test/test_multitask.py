"""Multi-task fine-tuning (ssltk.tasks.multitask): one upstream, several tasks with their own
heads and data, trained in turn, exported, and usable frozen by any task."""

from __future__ import annotations

import pytest
import torch
import yaml
from test_tasks_common import letter_corpus, letter_texts, tone_corpus

from ssltk import hub
from ssltk.bin.multitask import main as multitask_main
from ssltk.bin.tokens import main as tokens_main
from ssltk.bin.train import main as train_main
from ssltk.errors import UserError
from ssltk.tasks import CONF_DIR
from ssltk.tasks.multitask import MultiTaskConfig, RoundRobin, train
from ssltk.train.config import ConfigError, config_from_dict

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("mtl")
    tones = {split: tone_corpus(root / f"tones_{split}", n, seed) for split, n, seed in
             (("train", 12, 0), ("dev", 6, 1))}
    letters = {split: letter_corpus(root / f"letters_{split}", letter_texts(n, seed), seed, prefix=split[0])
               for split, n, seed in (("train", 6, 0), ("dev", 3, 1))}
    assert tokens_main(["--text", str(letters["train"] / "text"), "--type", "char",
                        "--out", str(root / "tokens")]) == 0
    return root, tones, letters


def write_config(root, tones, letters, **trainer):
    config = {
        "trainer": {"max_steps": 6, "max_epochs": 100, "valid_interval": 1, "optim": {"lr": 1e-3},
                    "best_metric": "valid/loss", "best_mode": "min", **trainer},
        "frontend": {"upstream": "hubert_debug", "finetune_upstream": True},
        "data": {"batch_seconds": 4, "max_batch": 4},
        "tasks": {
            "category": {"task": "cls", "config": str(CONF_DIR / "cls_debug.yaml"),
                         "train": str(tones["train"]), "valid": str(tones["dev"])},
            "speaker": {"task": "cls", "config": str(CONF_DIR / "cls_debug.yaml"),
                        "train": str(tones["train"]), "valid": str(tones["dev"]),
                        "overrides": ["cls.label_table=utt2spk"], "weight": 0.5},
            "letters": {"task": "asr", "config": str(CONF_DIR / "asr_debug.yaml"),
                        "train": str(letters["train"]), "valid": str(letters["dev"]),
                        "tokens": str(root / "tokens")},
        },
    }
    path = root / "multitask.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_one_upstream_trains_on_every_task_and_is_exported(corpora, tmp_path):
    root, tones, letters = corpora
    config = write_config(root, tones, letters)
    exp = tmp_path / "mtl"
    assert multitask_main(["--config", str(config), "--exp", str(exp)]) == 0
    results = yaml.safe_load((exp / "results.json").read_text())
    assert results["steps"] == 6
    last = results["history"][-1]
    for key in ("valid/category/acc", "valid/speaker/acc", "valid/letters/loss", "valid/loss",
                "train/category/acc", "train/speaker/acc"):
        assert key in last, key
    assert last["valid/loss"] == pytest.approx(
        last["valid/category/loss"] + last["valid/speaker/loss"] + last["valid/letters/loss"])
    # the exported upstream is the fine-tuned one: same architecture, moved weights
    tuned, start = hub.load(str(exp / "upstream.pt")), hub.load("hubert_debug")
    assert tuned.num_layers == start.num_layers and tuned.hidden_size == start.hidden_size
    moved = [k for k, v in start.state_dict().items() if not torch.allclose(v, tuned.state_dict()[k])]
    assert any(k.startswith("encoder.layers.") for k in moved)
    # ... and any task uses it frozen through --upstream
    assert train_main(["--task", "cls", "--config", str(CONF_DIR / "cls_debug.yaml"),
                       "--train", str(tones["train"]), "--valid", str(tones["dev"]),
                       "--exp", str(tmp_path / "frozen"), "--upstream", str(exp / "upstream.pt"),
                       "--override", "trainer.max_epochs=1"]) == 0
    # a rerun of a finished run returns at once and exports the same upstream
    before = (exp / "upstream.pt").read_bytes()
    assert multitask_main(["--config", str(config), "--exp", str(exp)]) == 0
    assert (exp / "upstream.pt").read_bytes() == before


def test_the_tasks_share_one_upstream_module(corpora, tmp_path, monkeypatch):
    root, tones, letters = corpora
    seen = {}

    class Capture:
        def __init__(self, model, *args, **kwargs):
            seen["model"], seen["train"] = model, args[0]

        def fit(self):
            raise SystemExit  # stop after the set-up

    monkeypatch.setattr("ssltk.tasks.multitask.Trainer", Capture)
    with pytest.raises(SystemExit):
        train(write_config(root, tones, letters), tmp_path / "exp")
    model = seen["model"]
    upstreams = {id(m.frontend.upstream) for m in model.models.values()}
    assert upstreams == {id(model.upstream)}
    assert all(p.requires_grad for p in model.upstream.parameters())
    batches = list(seen["train"])
    assert len(batches) == len(seen["train"]) == 3 * max(len(loader) for loader in seen["train"].loaders.values())
    assert [b["task"] for b in batches[:6]] == ["category", "letters", "speaker"] * 2  # config order


def test_round_robin_cycles_shorter_loaders_and_validation_visits_each_batch_once():
    loaders = {"a": [1, 2, 3], "b": [10]}
    assert [(b["task"], b["batch"]) for b in RoundRobin(loaders)] == \
        [("a", 1), ("b", 10), ("a", 2), ("b", 10), ("a", 3), ("b", 10)]
    assert [b["batch"] for b in RoundRobin(loaders, cycle=False)] == [1, 2, 3, 10]


def test_config_errors_are_clear(corpora, tmp_path):
    root, tones, letters = corpora
    base = yaml.safe_load(write_config(root, tones, letters).read_text())
    with pytest.raises(ConfigError, match="finetune_upstream"):
        config_from_dict({**base, "frontend": {"upstream": "hubert_debug"}}, MultiTaskConfig)
    with pytest.raises(ConfigError, match="peft"):
        config_from_dict({**base, "frontend": {"upstream": "hubert_debug", "finetune_upstream": True,
                                               "peft": {"bitfit": True}}}, MultiTaskConfig)
    with pytest.raises(ConfigError, match="tsk"):
        config_from_dict({**base, "tasks": {"x": {"tsk": "cls"}}}, MultiTaskConfig)
    bad = dict(base, tasks={"x": dict(base["tasks"]["category"], config=str(tmp_path / "none.yaml"))})
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(UserError, match="tasks.x.config: .*none.yaml: no such file"):
        train(tmp_path / "bad.yaml", tmp_path / "exp")
