"""RESULTS.md from scored experiments: one row per experiment, seeds merged."""

import json

import yaml

from ssltk.bin.results_table import main


def scored(expdir, name, upstream, **metrics):
    exp = expdir / name
    (exp / "decode_test").mkdir(parents=True)
    (exp / "decode_test" / "result.json").write_text(json.dumps({"metrics": metrics}))
    (exp / "config.yaml").write_text(yaml.safe_dump({"frontend": {"upstream": upstream,
                                                                  "featurizer": "weighted_sum"}}))


def test_runs_with_several_seeds_share_a_row_with_mean_and_std(tmp_path):
    expdir = tmp_path / "exp"
    scored(expdir, "digit_fbank_train", "fbank", acc=97.5)
    for seed, acc in enumerate([60.0, 70.0, 80.0]):
        scored(expdir, f"fewshot_fbank_k1_s{seed}", "fbank", acc=acc)
    scored(expdir, "fewshot_hubert_debug_k1_s0", "hubert_debug", acc=12.5)
    scored(expdir, "fewshot_hubert_debug_k20_s0", "hubert_debug", acc=50.0)
    scored(expdir, "fewshot_hubert_debug_k5_s0", "hubert_debug", acc=25.0)
    assert main(["--expdir", str(expdir), "--out", str(tmp_path / "RESULTS.md")]) == 0
    lines = (tmp_path / "RESULTS.md").read_text().splitlines()
    assert "| experiment | upstream | featurizer | acc | seeds |" in lines
    assert "| digit_fbank_train | fbank | weighted_sum | 97.50 | - |" in lines
    assert "| fewshot_fbank_k1_s* | fbank | weighted_sum | 70.00 ± 10.00 | 3 |" in lines
    assert ("| fewshot_hubert_debug_k1_s* | hubert_debug (random init) | weighted_sum "
            "| 12.50 ± - | 1 |") in lines
    order = [line.split()[1] for line in lines if line.startswith("| fewshot_hubert")]
    assert order == [f"fewshot_hubert_debug_k{k}_s*" for k in (1, 5, 20)]  # numbers sort as numbers
