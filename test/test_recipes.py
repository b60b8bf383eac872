"""Recipes end to end on CPU with tiny settings, in a copy of the repository layout."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FSDD = Path(os.environ.get("FSDD", ROOT.parent / "shared" / "data" / "fsdd"))

TINY_CLS = """\
trainer: {seed: 0, max_epochs: 2, optim: {name: adam, lr: 2.0e-3}, best_metric: valid/acc, best_mode: max}
frontend: {upstream: fbank, featurizer: weighted_sum}
data: {batch_seconds: 60, max_batch: 32}
cls: {label_table: utt2category, proj_dim: 16, pooling: mean}
"""


def recipe_copy(tmp_path: Path, recipe: str) -> Path:
    """egs2/<recipe> with its links resolved against a tree whose utils/ and tools/
    are the real ones, so that outputs land in tmp_path."""
    shutil.copytree(ROOT / "egs2" / "TEMPLATE", tmp_path / "egs2" / "TEMPLATE", symlinks=True)
    shutil.copytree(ROOT / "egs2" / recipe, tmp_path / "egs2" / recipe, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "exp", "dump", "downloads", "RESULTS*.md", "RESULTS*.json"))
    (tmp_path / "utils").symlink_to(ROOT / "utils")
    (tmp_path / "tools").symlink_to(ROOT / "tools")
    (tmp_path / "egs2" / recipe / "conf").mkdir(exist_ok=True)
    return tmp_path / "egs2" / recipe


def small_fsdd(dst: Path, speakers=("george", "jackson"), takes=15) -> Path:
    """An FSDD layout with links to a few speakers' first takes (test: takes 0-4, dev: 5-9,
    train: the rest, as prep_fsdd splits them)."""
    (dst / "recordings").mkdir(parents=True)
    for speaker in speakers:
        for digit in range(10):
            for take in range(takes):
                name = f"{digit}_{speaker}_{take}.wav"
                (dst / "recordings" / name).symlink_to(FSDD / "recordings" / name)
    return dst


def run(cmd: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    res = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1", **env})
    assert res.returncode == 0, f"{cmd} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def test_slurp_ic1_runs_end_to_end_and_resumes(tmp_path):
    recipe = recipe_copy(tmp_path, "slurp/ic1")
    (recipe / "conf" / "tiny.yaml").write_text(TINY_CLS.replace("utt2category", "utt2intent"))
    cmd = './run.sh --upstreams "fbank hubert_debug" --num_utts 600 --train_config conf/tiny.yaml'
    run(cmd, recipe, SLURP="")
    results = (recipe / "RESULTS.md").read_text()
    assert "| cls_fbank_weighted_sum_tiny | fbank | weighted_sum |" in results
    assert "hubert_debug (random init)" in results
    assert "scenario_acc" in results and "action_acc" in results
    assert len(list((recipe / "data" / "test").glob("utt2intent"))) == 1
    # the SSL upstream's learned layer weights are plotted (FBANK has one hidden state: left out)
    assert (recipe / "exp" / "layer_weights.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    checkpoint = recipe / "exp" / "cls_fbank_weighted_sum_tiny" / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    rerun = run(f"{cmd} --stage 5 --stop_stage 5", recipe, SLURP="")
    assert checkpoint.stat().st_mtime_ns == stamp  # finished: nothing retrained
    assert "Stage 5" in rerun.stderr


@pytest.mark.skipif(not (FSDD / "recordings").is_dir(), reason=f"FSDD corpus not at {FSDD}")
def test_fsdd_cls1_digits_end_to_end(tmp_path):
    recipe = recipe_copy(tmp_path, "fsdd/cls1")
    (recipe / "conf" / "tiny.yaml").write_text(TINY_CLS)
    run("./run.sh --upstreams fbank --tasks digit --train_config conf/tiny.yaml", recipe,
        FSDD=str(FSDD))
    results = (recipe / "RESULTS.md").read_text()
    assert "| digit_fbank_tiny | fbank | weighted_sum |" in results
    assert (recipe / "exp" / "digit_fbank_tiny" / "decode_test" / "predictions").read_text().count("\n") == 300


def test_missing_corpus_is_named(tmp_path):
    recipe = recipe_copy(tmp_path, "fsdd/cls1")
    (recipe / "conf" / "tiny.yaml").write_text(TINY_CLS)
    res = subprocess.run(["bash", "-c", "./run.sh --upstreams fbank --tasks digit "
                          "--train_config conf/tiny.yaml"], cwd=recipe, capture_output=True,
                         text=True, env={**os.environ, "FSDD": str(tmp_path / "no_fsdd")})
    assert res.returncode != 0
    assert f"{tmp_path / 'no_fsdd'}: FSDD directory not found" in res.stderr


def test_mini_cs_asr1_scores_each_language(tmp_path):
    recipe = recipe_copy(tmp_path, "mini_cs/asr1")
    (recipe / "conf" / "tiny.yaml").write_text(
        "trainer: {seed: 0, max_epochs: 1, optim: {name: adam, lr: 2.0e-3}}\n"
        "frontend: {upstream: fbank, featurizer: weighted_sum}\n"
        "data: {batch_seconds: 80, max_batch: 32}\n"
        "asr: {head: blstm, proj_dim: 16, hidden_size: 16, num_layers: 1, dropout: 0.0}\n")
    run("./run.sh --upstreams fbank --num_utts 150 --train_config conf/tiny.yaml", recipe)
    results = (recipe / "RESULTS.md").read_text()
    header = next(line for line in results.splitlines() if line.startswith("| experiment"))
    for metric in ("mer", "wer_en", "wer_tn"):
        assert f" {metric} " in header
    assert (recipe / "dump" / "tokens" / "char" / "tokens.txt").read_text().startswith("<blank>")


@pytest.mark.skipif(not (FSDD / "recordings").is_dir(), reason=f"FSDD corpus not at {FSDD}")
def test_fsdd_reg1_frame_regression_end_to_end(tmp_path):
    recipe = recipe_copy(tmp_path, "fsdd/reg1")
    run("./run.sh --upstreams fbank --train_config conf/tuning/train_debug.yaml", recipe, FSDD=str(FSDD))
    assert (recipe / "data" / "test" / "log_energy.scp").read_text().count("\n") == 300
    results = (recipe / "RESULTS.md").read_text()
    assert ("| experiment | upstream | featurizer | config | trainable params | train time (s) | steps/s "
            "| peak memory (MiB) | rmse | corr | utt_corr |") in results
    row = next(line for line in results.splitlines() if line.startswith("| frame_reg_fbank_"))
    rmse, corr = (float(v) for v in row.strip("|").split("|")[8:10])
    assert corr > 0.8 and rmse < 2.5  # measured: 1.84 / 0.88 (the training mean gives 3.7 / 0)


@pytest.mark.skipif(not (FSDD / "recordings").is_dir(), reason=f"FSDD corpus not at {FSDD}")
def test_ssltk_mini_compress1_end_to_end_with_continued_pretraining(tmp_path):
    recipe = recipe_copy(tmp_path, "ssltk_mini/compress1")
    for name in ("cls", "phones"):  # the real probes, with a budget of two steps
        conf = recipe / "conf" / f"{name}.yaml"
        conf.write_text(conf.read_text().replace("max_steps: 200", "max_steps: 2").replace("max_steps: 400", "max_steps: 2"))
    conf = recipe / "conf" / "continue.yaml"
    conf.write_text(conf.read_text().replace("max_epochs: 3", "max_epochs: 1"))
    # the probes' code paths have their own tests (fsdd/cls1, phone recognition); here one task
    cmd = ('./run.sh --source_upstream melhubert_debug --specs "none weights:0.5 weights:0.75 bf16" '
           '--seeds 0 --local_data_opts "--num_utts 30" --continue_config conf/continue.yaml '
           '--continue_set phn_train --continue_valid phn_dev --km_layer 1 --km_k 4 --cost_runs 1 --cost_utts 2 '
           '--eval_opts "--tasks phones" --tasks "phones=phn_test:per"')
    run(cmd, recipe, FSDD=str(small_fsdd(tmp_path / "fsdd")))
    lines = (recipe / "RESULTS.md").read_text().splitlines()
    rows = {line.split(" | ")[0][2:]: line for line in lines if line.startswith("| ")}
    assert set(rows) >= {"none", "weights0.5", "weights0.75", "bf16"}
    for tag in ("none", "weights0.75", "bf16"):
        assert rows[tag].endswith("| 1 |"), rows[tag]  # one seed of the task scored
    assert "continued pre-training" in rows["weights0.75"] and "| 1.00x |" in rows["none"]
    manifest = yaml.safe_load((recipe / "exp" / "upstreams" / "upstreams.yaml").read_text())
    by_tag = {e["tag"]: e for e in manifest}
    assert by_tag["weights0.75"]["upstream"] == "exp/continue_weights0.75/upstream.pt"
    # iterative: the second level was pruned from the first level's continued upstream
    from ssltk import hub
    from ssltk.compress.pruning import count_nonzero

    first, second = (hub.load(recipe / by_tag[t]["upstream"]) for t in ("weights0.5", "weights0.75"))
    assert count_nonzero(second) < count_nonzero(first)
    for layer_a, layer_b in zip(first.encoder.layers, second.encoder.layers):
        zero = layer_a.ffn.fc1.weight == 0
        assert bool((layer_b.ffn.fc1.weight[zero] == 0).all())  # earlier zeros stay pruned


NOISE = Path(os.environ.get("NOISE", ROOT.parent / "shared" / "data" / "noise"))


@pytest.mark.skipif(not (FSDD / "recordings").is_dir() or not (NOISE / "speech_commands_bg").is_dir(),
                    reason=f"FSDD corpus not at {FSDD} or noise corpus not at {NOISE}")
def test_ssltk_mini_robust1_end_to_end(tmp_path):
    recipe = recipe_copy(tmp_path, "ssltk_mini/robust1")
    (recipe / "conf").mkdir(exist_ok=True)
    compress_conf = tmp_path / "egs2" / "ssltk_mini" / "compress1"  # conf/cls.yaml links there
    shutil.copytree(ROOT / "egs2" / "ssltk_mini" / "compress1", compress_conf, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "exp", "dump", "downloads", "RESULTS*"))
    for name in ("cls", "phones"):
        conf = compress_conf / "conf" / f"{name}.yaml"
        text = conf.read_text()
        for old in ("max_steps: 200", "max_steps: 400"):
            text = text.replace(old, old.split(":")[0] + ": 2")
        conf.write_text(text)
    env = {"FSDD": str(small_fsdd(tmp_path / "fsdd")), "NOISE": str(NOISE)}
    run("local/data.sh --num_utts 30", recipe, **env)
    run('local/distill.sh --systems cdm1_dat --extra_layers "" --teacher melhubert_debug '
        '--overrides "trainer.max_steps=2 data.batch_seconds=4"', recipe, **env)
    run('./run.sh --stage 3 --source_upstream melhubert_debug --seeds 0 --cost_runs 1 --cost_utts 2 '
        '--eval_opts "--tasks phones"', recipe, **env)
    lines = (recipe / "RESULTS.md").read_text().splitlines()
    header = next(line for line in lines if line.startswith("| upstream"))
    for column in ("digit acc (test)", "digit acc (test_noise_unseen)", "phones per (phn_test_telephone)"):
        assert column in header
    row = next(line for line in lines if line.startswith("| cdm1_dat_l2 |"))
    assert row.count(" ± ") == 7  # phones: clean and six distortions scored (digits not run here)
    rows = {line.split(" | ")[0][2:] for line in lines if line.startswith("| ")}
    assert {"none", "cdm1_dat_l2"} <= rows
    distorted = recipe / "data" / "test_babble"
    assert (distorted / "distortion.yaml").is_file() and len((distorted / "wav.scp").read_text().splitlines()) == 100
    student = recipe / "exp" / "distill_cdm1_dat_l2"
    assert (student / "student.pt").is_file() and "dat_loss" in (student / "results.json").read_text()
