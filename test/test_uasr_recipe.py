"""egs2/mini_uasr/uasr1 (egs2/TEMPLATE/uasr1/uasr.sh) end to end on a tiny synthetic corpus,
GAN with and without the CLIP loss, in a copy of the repository layout: data -> VAD ->
espeak phonemes + phone LM -> features -> k-means targets -> CLIP targets -> training ->
decoding (transcripts, segments, posteriorgrams, unit ids) -> RESULTS.md."""

import json
import os
import re
import subprocess

import pytest
from test_recipes import recipe_copy, run  # test/ is on sys.path (pytest's default import mode)

from ssltk.data.datadir import read_table

TINY = ('./run.sh --feats_upstream fbank --local_data_opts "--num_utts 40" --seeds "0 1" --km_k 8 '
        '--train_args "--override trainer.max_epochs=2 data.updates_per_epoch=4 data.batch_size=8"')


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    recipe = recipe_copy(tmp_path_factory.mktemp("uasr"), "mini_uasr/uasr1")
    res = run(TINY, recipe)
    recipe.joinpath("first_run.log").write_text(res.stderr)
    return recipe


def test_every_stage_writes_its_outputs(recipe):
    data, exp = recipe / "data", recipe / "exp"
    for dset in ("train", "dev", "test"):
        nosil = data / f"{dset}_nosil"
        assert (nosil / "vad_intervals").is_file()
        assert read_table(nosil / "text.phn").keys() == read_table(data / dset / "text.phn").keys()
    info = json.loads((data / "text_only_prep" / "text_info.json").read_text())
    assert info["sentences_kept"] > 0 and info["lm_order"] == 4
    assert (data / "text_only_prep" / "lm.phones.4.arpa").is_file()
    assert (exp / "km_mfcc8" / "train" / "text.km").is_file()
    assert (exp / "clip" / "text_encoder.pt").is_file()
    for system in ("gan", "gan_clip1.0"):
        for seed in (0, 1):
            run_dir = exp / f"{system}_s{seed}"
            results = json.loads((run_dir / "results.json").read_text())
            assert results["finished"] and results["best_metric"] == "valid/weighted_lm_ppl"
            decode = run_dir / "decode_test"
            hyps = read_table(decode / "hyp.phn", strict=False)
            units = read_table(decode / "units")
            assert hyps.keys() == units.keys() == read_table(data / "test" / "text.phn").keys()
            score = json.loads((decode / "score.json").read_text())
            assert 0 <= score["per"] and 0 < score["majority_per"] <= 100
            ctm = (decode / "segments.ctm").read_text().splitlines()
            assert ctm and all(len(line.split()) == 5 for line in ctm)
            assert (decode / "posteriors" / "feats.scp").is_file()
    clip_log = (exp / "gan_clip1.0_s0" / "train.log").read_text()
    assert "clip=" in clip_log and "clip=" not in (exp / "gan_s0" / "train.log").read_text()


def test_results_table(recipe):
    results = (recipe / "RESULTS.md").read_text()
    assert re.search(r"^\| majority-phone baseline .* \| - \| \d+\.\d\d \| \d+\.\d\d \|$", results, re.M)
    for system in ("gan", "gan_clip1.0"):
        assert re.search(rf"^\| {re.escape(system)} \| 2 \| [\d.]+ ± [\d.]+ \|", results, re.M), results
    assert "Spearman correlation between `weighted_lm_ppl` and validation PER" in results


def test_rerun_is_a_noop(recipe):
    exp = recipe / "exp"
    products = sorted(p for p in exp.rglob("*") if p.is_file() and "decode_" not in str(p))
    stamps = {p: p.stat().st_mtime_ns for p in products}
    run(f"{TINY} --stage 2 --stop_stage 7", recipe)
    assert {p: p.stat().st_mtime_ns for p in products} == stamps


def test_melhubert_features_need_the_mini_synth_recipe(tmp_path):
    recipe = recipe_copy(tmp_path, "mini_uasr/uasr1")
    res = subprocess.run(["bash", "-c", "./run.sh --feats_upstream melhubert --stage 4 --stop_stage 4"], cwd=recipe,
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode != 0
    assert "../../mini_synth/ssl1/exp/pretrain1/upstream.pt" in res.stderr
    assert "(cd ../../mini_synth/ssl1 && ./run.sh)" in res.stderr and "--feats_upstream fbank" in res.stderr
    assert not (recipe / "dump").exists()


def test_a_missing_upstream_checkpoint_is_named(tmp_path):
    recipe = recipe_copy(tmp_path, "mini_uasr/uasr1")
    res = subprocess.run(["bash", "-c", "./run.sh --feats_upstream nowhere/model.pt --stage 4 --stop_stage 4"],
                         cwd=recipe, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode != 0 and "--upstream nowhere/model.pt: no such checkpoint" in res.stderr
