"""egs2/mini_synth/ssl1 (egs2/TEMPLATE/ssl1/ssl.sh) end to end with its debug configs on a
tiny synthetic corpus, in a copy of the repository layout: k-means on MFCC -> pre-training 1
-> k-means on a layer of model 1 -> pre-training 2 -> distillation -> export + RESULTS.md."""

import os
import re
import subprocess
import time

import pytest
from test_recipes import recipe_copy, run  # test/ is on sys.path (pytest's default import mode)

DEBUG = ('./run.sh --local_data_opts "--num_utts 40" --km1_k 8 --km1_max_frames 20000 '
         "--km2_k 8 --km2_layer 1 --km2_max_frames 20000 "
         "--pretrain1_config conf/tuning/pretrain_melhubert_debug.yaml "
         "--pretrain2_config conf/tuning/pretrain_melhubert_debug.yaml "
         "--distill_config conf/tuning/distill_debug.yaml")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    recipe = recipe_copy(tmp_path_factory.mktemp("ssl"), "mini_synth/ssl1")
    start = time.monotonic()
    res = run(DEBUG, recipe)
    recipe.joinpath("first_run.log").write_text(res.stderr)
    recipe.joinpath("first_run.seconds").write_text(f"{time.monotonic() - start:.1f}")
    return recipe


def test_every_stage_writes_its_outputs(recipe):
    from ssltk import hub

    exp = recipe / "exp"
    for km in ("km1", "km2"):
        assert (exp / km / "codebook.pt").is_file()
        for dset in ("train", "dev"):
            labels = (exp / km / dset / "text.km").read_text().splitlines()
            assert len(labels) == len((recipe / "data" / dset / "wav.scp").read_text().splitlines())
            assert (exp / km / dset / "km_score.json").is_file()
        assert (exp / km / "log" / "fit.log").is_file()
    # iteration 1 labels MFCC frames (100 Hz), iteration 2 model-1 frames (50 Hz)
    assert "frame_rate: 100.0" in (exp / "km1" / "dev" / "km_info.yaml").read_text()
    assert "frame_rate: 50.0" in (exp / "km2" / "dev" / "km_info.yaml").read_text()
    for name in ("pretrain1", "pretrain2"):
        assert (exp / name / "log" / "pretrain.log").is_file()
    assert (exp / "distill" / "log" / "distill.log").is_file()
    for name in ("pretrain1", "pretrain2", "student"):
        model = hub.load(str(exp / "upstreams" / f"{name}.pt"))
        assert model.num_layers == (1 if name == "student" else 2)
    assert (exp / "upstreams" / "student.pt").samefile(exp / "distill" / "student.pt")


def test_results_hold_pnmi_of_both_kmeans_and_the_training_numbers(recipe):
    results = (recipe / "RESULTS.md").read_text()
    for step, features in (("k-means 1", r"mfcc \(deltas=True\)"),
                           ("k-means 2", r"exp/pretrain1/upstream\.pt layer 1")):
        for dset in ("train", "dev"):
            row = re.search(rf"^\| {step} \| {features} \| 8 \| {dset} \| \d+ \| (0\.\d{{4}}) \|",
                            results, re.M)
            assert row, f"no PNMI row for {step} {dset} in:\n{results}"
            assert 0.0 < float(row.group(1)) < 1.0
    for step, metric in (("pre-training 1", "valid/acc_m"), ("pre-training 2", "valid/acc_m"),
                         ("distillation", "valid/loss")):
        assert re.search(rf"^\| {step} \| .* \| {metric} \| \d+\.\d{{4}} \|", results, re.M), results
    # cost of each exported upstream, and of the same encoder behind HuBERT's CNN
    costs = dict(re.findall(r"^\| (.+?) \| ([\d.]+[kMG]?) \| [\d.]+[kMG]? \|$", results, re.M))
    assert {"pre-training 1: pretrain1/upstream.pt", "distillation: distill/student.pt",
            "HuBERT (CNN frontend), the same encoder: reference"} <= set(costs), results


def test_rerunning_finished_stages_is_a_noop(recipe):
    products = sorted(p for p in (recipe / "exp").rglob("*") if p.is_file())
    stamps = {p: p.stat().st_mtime_ns for p in products}
    results = (recipe / "RESULTS.md").read_text()
    start = time.monotonic()
    rerun = run(f"{DEBUG} --stage 3 --stop_stage 8", recipe)
    rerun_seconds = time.monotonic() - start
    assert sorted(p for p in (recipe / "exp").rglob("*") if p.is_file()) == products
    assert {p: p.stat().st_mtime_ns for p in products} == stamps
    assert (recipe / "RESULTS.md").read_text() == results
    for what in ("k-means 1: exp/km1/codebook.pt exists", "pre-training 1: exp/pretrain1/upstream.pt exists",
                 "k-means 2: exp/km2/codebook.pt exists", "pre-training 2: exp/pretrain2/upstream.pt exists",
                 "distillation: exp/distill/student.pt exists"):
        assert what in rerun.stderr
    # nothing retrained: much faster than the first run (no wall-clock constant)
    assert rerun_seconds < float((recipe / "first_run.seconds").read_text()) / 2


def test_newer_labels_make_a_trained_model_an_error(recipe):
    label_info = recipe / "exp" / "km2" / "train" / "km_info.yaml"
    before = label_info.stat()
    label_info.touch()  # as if k-means 2 had been rerun after pre-training 2
    try:
        res = run_fail(f"{DEBUG} --stage 6 --stop_stage 6", recipe)
    finally:
        os.utime(label_info, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert "exp/pretrain2/upstream.pt is older than its inputs" in res.stderr
    assert "remove exp/pretrain2 to retrain" in res.stderr


def test_missing_config_is_named(recipe):
    res = run_fail("./run.sh --stage 4 --stop_stage 4 --pretrain1_config conf/nope.yaml", recipe)
    assert "--pretrain1_config conf/nope.yaml: no such file" in res.stderr


def run_fail(cmd, cwd):
    res = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode != 0, res.stderr
    return res


def test_ssl_results_needs_something_to_summarise(tmp_path):
    from ssltk.bin import ssl_results

    with pytest.raises(SystemExit):
        ssl_results.main(["--expdir", str(tmp_path), "--train_set", "train", "--valid_set", "dev",
                          "--out", str(tmp_path / "RESULTS.md")])
    assert not (tmp_path / "RESULTS.md").exists()


def test_other_kmeans_options_are_not_silently_ignored(recipe):
    res = run_fail(f"{DEBUG} --stage 3 --stop_stage 3 --km1_k 9", recipe)
    assert "exp/km1/codebook.pt was fitted with" in res.stderr and "remove exp/km1 to refit" in res.stderr
