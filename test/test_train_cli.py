"""The train / infer / score / tokens CLIs end to end on tiny synthetic corpora:
learning, resuming, precomputed == on-the-fly, and clear errors for bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from ssltk.bin.extract_feats import main as extract_main
from ssltk.bin.infer import main as infer_main
from ssltk.bin.score import main as score_main
from ssltk.bin.tokens import main as tokens_main
from ssltk.bin.train import main as train_main
from ssltk.data.datadir import DataDir, read_table, write_table
from ssltk.tasks import CONF_DIR
from ssltk.data.loader import make_loader
from ssltk.tasks.experiment import load_experiment
from ssltk.train import Trainer
from test_tasks_common import letter_corpus, letter_texts, tone_corpus

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
CLS_CONF = str(CONF_DIR / "cls_debug.yaml")
ASR_CONF = str(CONF_DIR / "asr_debug.yaml")


@pytest.fixture(scope="module")
def tones(tmp_path_factory):
    root = tmp_path_factory.mktemp("tones")
    return tone_corpus(root / "train", 24, 0), tone_corpus(root / "dev", 8, 1)


@pytest.fixture(scope="module")
def letters(tmp_path_factory):
    """Letter corpus with word-level language tags, its fbank dumps and a char token list."""
    root = tmp_path_factory.mktemp("letters")
    dirs = {}
    for split, n, seed in (("train", 10, 0), ("dev", 4, 1)):
        ddir = letter_corpus(root / split, letter_texts(n, seed), seed, prefix=split[0])
        text = read_table(ddir / "text")
        write_table(ddir / "text.lang", {u: " ".join("en" if len(w) % 2 else "tn" for w in t.split())
                                         for u, t in text.items()})
        out = root / "dump" / split
        assert extract_main(["--upstream", "fbank", "--data", str(ddir), "--out", str(out)]) == 0
        dirs[split] = ddir
    assert tokens_main(["--text", str(dirs["train"] / "text"), "--type", "char",
                        "--out", str(root / "tokens")]) == 0
    return root, dirs


def train(*args):
    return train_main([*map(str, args)])


def results(exp):
    return json.loads((Path(exp) / "results.json").read_text())


def fails(capsys, fn, *args):
    """Run a CLI expecting a user error; return its message."""
    with pytest.raises(SystemExit) as e:
        fn([*map(str, args)])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


# ---------------------------------------------------------------- classification

def test_classifier_learns_decodes_and_scores(tones, tmp_path):
    train_dir, dev_dir = tones
    exp = tmp_path / "exp"
    assert train("--task", "cls", "--config", CLS_CONF, "--train", train_dir, "--valid", dev_dir,
                 "--exp", exp, "--override", "trainer.max_epochs=2") == 0
    assert results(exp)["best_value"] >= 0.9
    meta = yaml.safe_load((exp / "exp.yaml").read_text())
    assert meta["task"] == "cls" and meta["input"] == "audio" and meta["labels"] == ["noise", "tone"]
    assert len((exp / "featurizer_weights.txt").read_text().split()) == 1  # fbank: one hidden state
    assert infer_main(["--exp", str(exp), "--data", str(dev_dir), "--out", str(exp / "dec")]) == 0
    assert score_main(["--task", "cls", "--ref", str(dev_dir / "utt2category"),
                       "--hyp", str(exp / "dec" / "predictions"),
                       "--out", str(exp / "dec" / "result.txt")]) == 0
    assert json.loads((exp / "dec" / "result.json").read_text())["metrics"]["acc"] >= 90.0


def test_rerun_continues_instead_of_restarting(tones, tmp_path):
    train_dir, dev_dir = tones
    exp = tmp_path / "exp"
    cmd = ["--task", "cls", "--config", CLS_CONF, "--train", train_dir, "--valid", dev_dir, "--exp", exp,
           "--override", "trainer.max_epochs=1"]
    train(*cmd)
    first = results(exp)
    stamp = (exp / "checkpoint.pt").stat().st_mtime_ns
    train(*cmd)  # finished: nothing to do
    assert results(exp)["epochs"] == 1 and (exp / "checkpoint.pt").stat().st_mtime_ns == stamp
    train(*cmd, "trainer.max_epochs=2")  # more epochs: continues at epoch 2
    second = results(exp)
    assert second["epochs"] == 2 and second["history"][0] == first["history"][0]
    assert second["steps"] == 2 * first["steps"]
    assert "resumed from" in (exp / "train.log").read_text()


def test_interrupted_run_resumes_from_its_last_epoch(tones, tmp_path, monkeypatch):
    train_dir, dev_dir = tones
    exp = tmp_path / "exp"
    cmd = ["--task", "cls", "--config", CLS_CONF, "--train", train_dir, "--valid", dev_dir, "--exp", exp,
           "--override", "trainer.max_epochs=3"]
    run_epoch = Trainer._run_epoch

    def interrupted(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt  # as if killed during epoch 2
        run_epoch(self, epoch)

    monkeypatch.setattr(Trainer, "_run_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(*cmd)
    epoch1 = results(exp)["history"][0]
    monkeypatch.setattr(Trainer, "_run_epoch", run_epoch)
    train(*cmd)
    done = results(exp)
    assert [h["epoch"] for h in done["history"]] == [1, 2, 3] and done["history"][0] == epoch1
    assert "resumed from" in (exp / "train.log").read_text()


def test_precomputed_features_give_the_same_predictions_as_audio(tones, tmp_path, capsys):
    train_dir, dev_dir = tones
    dumps = {}
    for name, ddir in (("train", train_dir), ("dev", dev_dir)):
        dumps[name] = tmp_path / "dump" / name
        extract_main(["--upstream", "hubert_debug", "--data", str(ddir), "--out", str(dumps[name]),
                      "--layer", "1"])
    exp = tmp_path / "exp"
    train("--task", "cls", "--config", CLS_CONF, "--train", dumps["train"], "--valid", dumps["dev"],
          "--exp", exp, "--feats", "--override", "trainer.max_epochs=1")
    err = fails(capsys, train_main, "--task", "cls", "--config", CLS_CONF, "--train", dumps["train"],
                "--valid", dumps["dev"], "--exp", exp, "--feats", "--upstream", "wavlm_debug")
    assert "--upstream wavlm_debug, but the features in" in err and "come from hubert_debug" in err
    config = yaml.safe_load((exp / "config.yaml").read_text())["frontend"]
    assert (config["upstream"], config["featurizer"], config["layer"]) == ("hubert_debug", "layer", 1)
    infer_main(["--exp", str(exp), "--data", str(dumps["dev"]), "--out", str(tmp_path / "from_feats")])
    infer_main(["--exp", str(exp), "--data", str(dev_dir), "--out", str(tmp_path / "from_audio")])
    predictions = read_table(tmp_path / "from_feats" / "predictions")
    assert predictions == read_table(tmp_path / "from_audio" / "predictions") and len(predictions) == 8
    logits = []
    for data in (dumps["dev"], dev_dir):
        model, kind, _, meta = load_experiment(exp, data)
        loader = make_loader(DataDir(data), kind, frame_rate=meta["feats_info"]["frame_rate"],
                             batch_seconds=1.0, max_batch=4, shuffle=False)
        with torch.no_grad():
            logits.append({u: x for b in loader for u, x in zip(b["utts"], model.logits(b))})
    assert logits[0].keys() == logits[1].keys()
    for utt in logits[0]:
        torch.testing.assert_close(logits[0][utt], logits[1][utt], atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------- CTC

def test_asr_pipeline_with_beam_search(letters, tmp_path):
    root, dirs = letters
    exp = tmp_path / "exp"
    assert train("--task", "asr", "--config", ASR_CONF, "--train", root / "dump" / "train",
                 "--valid", root / "dump" / "dev", "--exp", exp, "--feats", "--tokens", root / "tokens",
                 "--override", "trainer.max_epochs=2", "data.batch_seconds=5") == 0
    assert (exp / "tokens" / "tokens.txt").read_text() == (root / "tokens" / "tokens.txt").read_text()
    assert {"valid/loss", "valid/ter", "valid/wer"} <= set(results(exp)["history"][-1])
    for data, out, beam in ((root / "dump" / "dev", "feats_b1", 1), (dirs["dev"], "audio_b1", 1),
                            (dirs["dev"], "audio_b3", 3)):
        infer_main(["--exp", str(exp), "--data", str(data), "--out", str(exp / out), "--beam", str(beam)])
    hyp = read_table(exp / "feats_b1" / "hyp", strict=True)
    assert hyp == read_table(exp / "audio_b1" / "hyp") and len(hyp) == 4
    assert yaml.safe_load((exp / "audio_b3" / "decode.yaml").read_text())["beam"] == 3
    assert read_table(exp / "audio_b3" / "hyp.token").keys() == hyp.keys()
    score_main(["--task", "asr", "--ref", str(dirs["dev"] / "text"), "--hyp", str(exp / "audio_b3" / "hyp"),
                "--out", str(exp / "audio_b3" / "result.txt")])
    numbers = json.loads((exp / "audio_b3" / "result.json").read_text())
    assert numbers["word"]["wrd"] == sum(len(t.split()) for t in read_table(dirs["dev"] / "text").values())


def test_bilingual_tokens_train_and_codeswitch_scoring(letters, tmp_path):
    root, dirs = letters
    tokens_main(["--text", str(dirs["train"] / "text"), "--type", "bpe", "--bpe_size", "6",
                 "--lang_tags", str(dirs["train"] / "text.lang"), "--out", str(tmp_path / "tok")])
    exp = tmp_path / "exp"
    train("--task", "cs", "--config", CONF_DIR / "cs_asr_debug.yaml", "--train", root / "dump" / "train",
          "--valid", root / "dump" / "dev", "--exp", exp, "--feats", "--tokens", tmp_path / "tok",
          "--override", "trainer.max_epochs=1", "asr.head=linear")
    infer_main(["--exp", str(exp), "--data", str(root / "dump" / "dev"), "--out", str(exp / "dec")])
    assert score_main(["--task", "cs", "--ref", str(dirs["dev"] / "text"), "--hyp", str(exp / "dec" / "hyp"),
                       "--lang-tags", str(dirs["dev"] / "text.lang"),
                       "--out", str(exp / "dec" / "result.txt")]) == 0
    numbers = json.loads((exp / "dec" / "result.json").read_text())
    words = sum(len(t.split()) for t in read_table(dirs["dev"] / "text").values())
    assert sum(lang["wrd"] for lang in numbers["languages"].values()) == words


# ---------------------------------------------------------------- bad input

def test_missing_label_unknown_token_and_setup_errors(tones, letters, tmp_path, capsys):
    train_dir, dev_dir = tones
    broken = tmp_path / "dev"
    broken.mkdir()
    for name in ("wav.scp", "utt2spk"):
        (broken / name).write_text((dev_dir / name).read_text())
    labels = read_table(dev_dir / "utt2category")
    missing = sorted(labels)[3]
    write_table(broken / "utt2category", {u: c for u, c in labels.items() if u != missing})
    err = fails(capsys, train_main, "--task", "cls", "--config", CLS_CONF, "--train", train_dir,
                "--valid", broken, "--exp", tmp_path / "e1")
    assert f"utterance '{missing}' of {broken / 'wav.scp'} is missing from {broken / 'utt2category'}" in err

    write_table(broken / "utt2category", {**labels, missing: "whistle"})
    err = fails(capsys, train_main, "--task", "cls", "--config", CLS_CONF, "--train", train_dir,
                "--valid", broken, "--exp", tmp_path / "e2")
    assert f"utterance '{missing}' of {broken / 'utt2category'}: label 'whistle' is not one of the 2" in err

    root, dirs = letters
    dev = tmp_path / "letters_dev"
    dev.mkdir()
    for name in ("wav.scp", "utt2spk"):
        (dev / name).write_text((dirs["dev"] / name).read_text())
    text = read_table(dirs["dev"] / "text")
    odd = sorted(text)[1]
    write_table(dev / "text", {**text, odd: text[odd] + " x"})
    asr = ["--task", "asr", "--config", ASR_CONF, "--train", dirs["train"], "--valid", dev,
           "--tokens", root / "tokens"]
    err = fails(capsys, train_main, *asr, "--exp", tmp_path / "e3")
    assert f"utterance '{odd}': token 'x' is not in" in err and "asr.allow_unk: true" in err
    assert f"{dev / 'text'}" in err
    err = fails(capsys, train_main, *asr[:-2], "--exp", tmp_path / "e4")
    assert "asr needs a token directory: pass --tokens DIR" in err
    err = fails(capsys, train_main, "--task", "cls", "--config", CLS_CONF, "--train", train_dir,
                "--valid", dev_dir, "--exp", tmp_path / "e5", "--feats")
    assert "no feats.scp" in err and "extract_feats" in err
    err = fails(capsys, infer_main, "--exp", tmp_path / "e5", "--data", dev_dir, "--out", tmp_path / "d")
    assert "not a trained experiment" in err


def test_changed_labels_on_resume_are_an_error(tones, tmp_path, capsys):
    train_dir, dev_dir = tones
    exp = tmp_path / "exp"
    train("--task", "cls", "--config", CLS_CONF, "--train", train_dir, "--valid", dev_dir, "--exp", exp,
          "--override", "trainer.max_epochs=1")
    other = tmp_path / "train"
    other.mkdir()
    for name in ("wav.scp", "utt2spk"):
        (other / name).write_text((train_dir / name).read_text())
    labels = read_table(train_dir / "utt2category")
    write_table(other / "utt2category", {u: c.upper() for u, c in labels.items()})
    err = fails(capsys, train_main, "--task", "cls", "--config", CLS_CONF, "--train", other,
                "--valid", dev_dir, "--exp", exp, "--override", "trainer.max_epochs=2")
    assert f"{exp} holds a run with another labels" in err


def test_misspelt_config_key_from_the_command_line(tones, tmp_path):
    train_dir, dev_dir = tones
    config = tmp_path / "train.yaml"
    config.write_text(Path(CLS_CONF).read_text().replace("  pooling: mean", "  poolling: mean"))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-m", "ssltk.bin.train", "--task", "cls", "--config", str(config),
                          "--train", str(train_dir), "--valid", str(dev_dir),
                          "--exp", str(tmp_path / "exp")],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert res.returncode == 1
    line = next(i for i, t in enumerate(config.read_text().splitlines(), 1) if "poolling" in t)
    assert f"train: error: {config}:{line}: cls.poolling: unknown key in 'cls'; did you mean 'pooling'?" \
        in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "exp" / "checkpoint.pt").exists()
