"""One experiment directory for the four training entry points (downstream training,
masked-prediction pre-training, distillation, the UASR GAN): each resumes after a SIGKILL,
and each refuses a resumed run whose settings changed, naming the key."""

import json
import multiprocessing
import os
import signal

import kaldiio
import numpy as np
import pytest
import torch
import yaml

from ssltk.bin.distill import main as distill_main
from ssltk.bin.kmeans import main as kmeans_main
from ssltk.bin.pretrain import main as pretrain_main
from ssltk.bin.train import main as train_main
from ssltk.bin.uasr_train import main as uasr_main
from ssltk.errors import UserError
from ssltk.pretraining.masked_prediction import PretrainConfig
from ssltk.tasks import CONF_DIR
from ssltk.train import Trainer, load_config
from ssltk.train.expdir import ExpDir, diff_keys
from ssltk.uasr.lm import train_ngram, write_arpa
from test_tasks_common import tone_corpus

pytestmark = pytest.mark.usefixtures("one_thread")

FORK = multiprocessing.get_context("fork")
PT_CONF = CONF_DIR.parent.parent / "pretraining" / "conf"


# ---------------------------------------------------------------- ExpDir itself

def test_diff_keys_names_nested_keys():
    old = {"a": 1, "gan": {"lr": 1e-3, "dims": [1, 2]}, "gone": 0}
    new = {"a": 1, "gan": {"lr": 2e-3, "dims": (1, 2)}, "added": 1}
    assert diff_keys(old, new) == ["added", "gan.lr", "gone"]


def test_meta_is_checked_only_when_resuming_and_free_keys_may_change(tmp_path):
    exp = ExpDir(tmp_path / "exp")
    exp.start({"kind": "x", "teacher": {"path": "a.pt", "weights": "f00"}}, resuming=False)
    exp.start({"kind": "x", "teacher": {"path": "b.pt", "weights": "f00"}}, resuming=True,
              free=("teacher.path",))
    with pytest.raises(UserError, match=r"another teacher\.weights \(teacher\.weights: 'f00' then, 'ba5' now"):
        exp.start({"kind": "x", "teacher": {"path": "b.pt", "weights": "ba5"}}, resuming=True)
    exp.start({"kind": "y"}, resuming=False)  # a fresh run overwrites
    assert exp.read_meta("y") == {"kind": "y"}
    with pytest.raises(UserError, match="holds a y run, not a x run"):
        exp.read_meta("x")


# ---------------------------------------------------------------- the four entry points

def _killed_after_first_epoch(main, argv):
    """Run ``main(argv)`` in a forked child that is SIGKILLed once epoch 1 is saved."""
    def child():
        torch.set_num_threads(1)
        save = Trainer._save

        def save_then_die(self, *args, **kwargs):
            save(self, *args, **kwargs)
            if self.epoch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

        Trainer._save = save_then_die
        main(argv)

    proc = FORK.Process(target=child)
    proc.start()
    proc.join(timeout=300)
    assert proc.exitcode == -signal.SIGKILL


def _resume_then_refuse(capsys, main, argv, exp, changed_args, key):
    _killed_after_first_epoch(main, argv)
    assert torch.load(exp / "checkpoint.pt", weights_only=True)["epoch"] == 1
    capsys.readouterr()
    assert main(argv) == 0
    assert "resumed from" in (exp / "train.log").read_text()
    results = json.loads((exp / "results.json").read_text())
    assert results["finished"] and results["epochs"] == 2
    with pytest.raises(SystemExit) as e:
        main(argv + changed_args)
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert f"holds a run with another {key} (" in err and "Traceback" not in err
    assert yaml.safe_load((exp / "exp.yaml").read_text())  # what was written stays


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    root = tmp_path_factory.mktemp("tones")
    return tone_corpus(root / "train", 16, 0), tone_corpus(root / "dev", 6, 1)


def test_downstream_training(tones, tmp_path, capsys):
    train, dev = tones
    exp = tmp_path / "exp"
    argv = ["--task", "cls", "--config", str(CONF_DIR / "cls_debug.yaml"), "--train", str(train),
            "--valid", str(dev), "--exp", str(exp), "--override", "trainer.max_epochs=2"]
    _resume_then_refuse(capsys, train_main, argv, exp, ["cls.proj_dim=8"], "cls.proj_dim")


def test_pretraining(tones, tmp_path, capsys):
    train, dev = tones
    for d in (train, dev):  # labels in their own dirs: the shared corpus stays as it is
        (tmp_path / d.name).mkdir()
    kmeans_main(["fit", "--data", str(train), "--upstream", "mfcc", "--k", "4", "--device", "cpu",
                 "--out", str(tmp_path / "km.pt")])
    for d in (train, dev):
        kmeans_main(["label", "--codebook", str(tmp_path / "km.pt"), "--data", str(d),
                     "--out", str(tmp_path / d.name), "--device", "cpu"])
    exp = tmp_path / "exp"
    argv = ["--config", str(PT_CONF / "pretrain_melhubert_debug.yaml"), "--train", str(train),
            "--valid", str(dev), "--train_labels", str(tmp_path / "train"),
            "--valid_labels", str(tmp_path / "dev"), "--exp", str(exp),
            "--override", "trainer.max_epochs=2"]
    assert load_config(PT_CONF / "pretrain_melhubert_debug.yaml", PretrainConfig).model.mask_prob != 0.5
    _resume_then_refuse(capsys, pretrain_main, argv, exp, ["model.mask_prob=0.5"], "model.mask_prob")


def test_distillation_refuses_another_teacher(tones, tmp_path, capsys):
    train, dev = tones
    exp = tmp_path / "exp"
    argv = ["--config", str(PT_CONF / "distill_debug.yaml"), "--train", str(train), "--valid", str(dev),
            "--exp", str(exp), "--override", "trainer.max_epochs=2"]
    # melhubert_debug: another teacher with the same number of layers
    _resume_then_refuse(capsys, distill_main, argv, exp, ["--teacher", "melhubert_debug"],
                        "teacher_weights")


def _gan_inputs(root):
    """A 4-dim feature dump (train/dev) and a phone text dir for a tiny GAN."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 12), ("dev", 4)):
        out = root / split
        out.mkdir(parents=True)
        mats = {f"{split}{i:02d}": rng.standard_normal((int(rng.integers(20, 40)), 4)).astype(np.float32)
                for i in range(n)}
        with kaldiio.WriteHelper(f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}") as w:
            for utt, mat in mats.items():
                w(utt, mat)
        (out / "utt2num_frames").write_text("".join(f"{u} {len(m)}\n" for u, m in mats.items()))
        info = {"upstream": "fbank", "layer": None, "weights": None, "layer_norm": False, "dim": 4,
                "frame_rate": 50.0}
        (out / "feats_info.yaml").write_text(yaml.safe_dump(info))
    text = root / "text"
    text.mkdir()
    sentences = [list(rng.choice(["a", "b", "c"], size=int(rng.integers(3, 8)))) + ["<SIL>"]
                 for _ in range(40)]
    (text / "phones.txt").write_text("a 50\nb 40\nc 30\n<SIL> 40\n")
    (text / "lm.phones.txt").write_text("".join(" ".join(s) + "\n" for s in sentences))
    write_arpa(train_ngram(sentences, order=3), text / "lm.phones.3.arpa")
    return root


def test_uasr_gan_refuses_changed_settings(tmp_path, capsys):
    root = _gan_inputs(tmp_path / "in")
    conf = tmp_path / "gan.yaml"
    conf.write_text("trainer: {max_epochs: 2, best_metric: valid/weighted_lm_ppl, best_mode: min}\n"
                    "gan: {discriminator: {dim: 8}, mmi_weight: 0.0}\n"
                    "data: {batch_size: 4, updates_per_epoch: 4, valid_batch_size: 4}\n")
    exp = tmp_path / "exp"
    argv = ["--config", str(conf), "--train", str(root / "train"), "--valid", str(root / "dev"),
            "--text", str(root / "text"), "--exp", str(exp)]
    _resume_then_refuse(capsys, uasr_main, argv, exp, ["--override", "gan.smoothness_weight=0.7"],
                        "gan.smoothness_weight")
