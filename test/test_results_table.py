"""RESULTS.md from scored experiments: one row per experiment, seeds merged."""

import json

import pytest
import yaml

from ssltk.bin.results_table import main


def scored(expdir, name, upstream, epoch_times=(10.0, 20.4), frontend=None, lr=1e-3, costs=None,
           **metrics):
    exp = expdir / name
    (exp / "decode_test").mkdir(parents=True)
    (exp / "decode_test" / "result.json").write_text(json.dumps({"metrics": metrics}))
    (exp / "config.yaml").write_text(yaml.safe_dump({
        "trainer": {"optim": {"lr": lr}},
        "frontend": {"upstream": upstream, "featurizer": "weighted_sum", **(frontend or {})}}))
    (exp / "exp.yaml").write_text(yaml.safe_dump({"kind": "downstream", "config_file": "conf/train.yaml"}))
    history = [{"epoch": e + 1, "time": t} for e, t in enumerate(epoch_times)]
    summary = {"finished": True, "history": history}
    if costs:  # (trainable parameters, steps/s per epoch, peak memory per epoch)
        summary["trainable_parameters"] = costs[0]
        for h, speed, memory in zip(history, costs[1], costs[2]):
            h.update({"cost/steps_per_sec": speed, "cost/peak_memory_mb": memory})
    (exp / "results.json").write_text(json.dumps(summary))


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
    assert "| experiment | upstream | featurizer | config | train time (s) | acc | seeds |" in lines
    assert "| digit_fbank_train | fbank | weighted_sum | conf/train.yaml | 30 | 97.50 | - |" in lines
    assert ("| fewshot_fbank_k1_s* | fbank | weighted_sum | conf/train.yaml | 30.00 ± 0.00 "
            "| 70.00 ± 10.00 | 3 |") in lines
    assert ("| fewshot_hubert_debug_k1_s* | hubert_debug (random init) | weighted_sum | conf/train.yaml "
            "| 30.00 ± - | 12.50 ± - | 1 |") in lines
    order = [line.split()[1] for line in lines if line.startswith("| fewshot_hubert")]
    assert order == [f"fewshot_hubert_debug_k{k}_s*" for k in (1, 5, 20)]  # numbers sort as numbers


def test_espnet_experiments_are_rows_beside_ssltk_ones_with_a_ratio(tmp_path, capsys):
    expdir = tmp_path / "exp"
    scored(expdir, "asr_fbank_train", "fbank", epoch_times=(600.2, 599.9), wer=20.0, cer=9.0)
    for name, frontend, conf in (("espnet_cpu", "default", {"n_fft": 512}),
                                 ("espnet_ssltk_cpu", "ssltk", {"upstream": "fbank", "featurizer": "weighted_sum"})):
        exp = expdir / name
        (exp / "decode_test").mkdir(parents=True)
        (exp / "decode_test" / "result.json").write_text(json.dumps({"metrics": {"wer": 25.0, "cer": 12.0}}))
        (exp / "config.yaml").write_text(yaml.safe_dump({  # what ESPnet's asr_train writes, in part
            "config": f"conf/espnet/{name}.yaml", "frontend": frontend, "frontend_conf": conf,
            "encoder": "transformer", "version": "202511"}))
        (exp / "train_seconds").write_text("1250\n")
    out, notes = tmp_path / "RESULTS.md", tmp_path / "notes.md"
    notes.write_text("## Published\n\nESPnet's own numbers.\n")
    assert main(["--expdir", str(expdir), "--out", str(out), "--reference", "espnet_cpu",
                 "--notes", str(notes)]) == 0
    assert out.read_text().endswith("\n\n## Published\n\nESPnet's own numbers.\n")  # after the tables
    lines = out.read_text().splitlines()
    assert ("| experiment | toolkit | upstream | featurizer | config | train time (s) | wer | cer "
            "| cer / espnet_cpu |") in lines
    assert "| asr_fbank_train | ssltk | fbank | weighted_sum | conf/train.yaml | 1200 | 20.00 | 9.00 | 0.75 |" in lines
    assert ("| espnet_cpu | ESPnet 202511 | default (ESPnet) | - | conf/espnet/espnet_cpu.yaml | 1250 "
            "| 25.00 | 12.00 | 1.00 |") in lines
    assert ("| espnet_ssltk_cpu | ESPnet 202511 | fbank | weighted_sum | conf/espnet/espnet_ssltk_cpu.yaml "
            "| 1250 | 25.00 | 12.00 | 1.00 |") in lines
    # without a scored reference there is no ratio column
    assert main(["--expdir", str(expdir), "--out", str(out), "--reference", "missing"]) == 0
    assert "cer / " not in out.read_text()
    before = out.read_text()
    with pytest.raises(SystemExit):
        main(["--expdir", str(expdir), "--out", str(out), "--notes", str(tmp_path / "none.md")])
    assert f"--notes {tmp_path / 'none.md'}: No such file" in capsys.readouterr().err
    assert out.read_text() == before  # the error left the old file as it was


def test_peft_methods_learning_rates_and_costs_get_columns(tmp_path):
    expdir = tmp_path / "exp"
    scored(expdir, "eff_frozen_s0", "hubert_debug", acc=50.0, costs=(13, [4.0, 6.0], [800.0, 900.0]))
    scored(expdir, "eff_houlsby_s0", "hubert_debug", acc=60.0, lr=1e-2,
           frontend={"peft": {"houlsby": {"bottleneck": 32}, "bitfit": True, "lora": None}},
           costs=(1200, [2.0, 3.0], [950.0, 1000.0]))
    scored(expdir, "eff_finetune_s0", "hubert_debug", acc=70.0, frontend={"finetune_upstream": True},
           costs=(90000, [1.0, 1.0], [1500.0, 1400.0]))
    assert main(["--expdir", str(expdir), "--out", str(tmp_path / "RESULTS.md")]) == 0
    lines = (tmp_path / "RESULTS.md").read_text().splitlines()
    assert ("| experiment | upstream | featurizer | method | lr | config | trainable params | train time (s) "
            "| steps/s | peak memory (MiB) | acc | seeds |") in lines
    # the median speed of the epochs, the largest peak; one seed: "± -"
    assert any(line.startswith("| eff_houlsby_s* | hubert_debug (random init) | weighted_sum | houlsby+bitfit "
                               "| 0.01 | conf/train.yaml | 1200 | 30.00 ± - | 3.00 ± - | 1000.00 ± - "
                               "| 60.00 ± - | 1 |") for line in lines), lines
    assert any("| eff_finetune_s* | hubert_debug (random init) | weighted_sum | finetune | 0.001 |" in line
               for line in lines)
    assert any("| eff_frozen_s* | hubert_debug (random init) | weighted_sum | frozen | 0.001 |" in line
               for line in lines)


def test_mean_std_and_cells_are_formatted_in_one_place():
    from ssltk.results.table import fmt, mean_std, merge_seeds, system_of

    assert mean_std([1.0, 2.0, 3.0]) == "2.00 ± 1.00"
    assert mean_std([4.0, None, float("nan")], digits=1) == "4.0 ± -"
    assert mean_std([None]) == "-"
    assert fmt(0.12345, 3) == "0.123" and fmt(None) == "-" and fmt(float("nan")) == "-" and fmt(7) == "7"
    assert system_of("gan_clip1.0_s2") == "gan_clip1.0" and system_of("gan") == "gan"
    rows = [{"experiment": "a_s0", "upstream": "x", "per": 10.0},
            {"experiment": "b", "upstream": "y", "per": 5.0},
            {"experiment": "a_s1", "upstream": "x", "per": 20.0}]
    assert merge_seeds(rows, "experiment", ("upstream",)) == [
        {"experiment": "a_s*", "upstream": "x", "per": "15.00 ± 7.07", "seeds": 2}, rows[1]]


def uasr_run(expdir, name, pers, ppls):
    exp = expdir / name
    exp.mkdir(parents=True)
    history = [{"epoch": e + 1, "valid/weighted_lm_ppl": ppl, "valid/per": per}
               for e, (ppl, per) in enumerate(zip(ppls, pers))]
    best = min(range(len(ppls)), key=ppls.__getitem__)
    (exp / "results.json").write_text(json.dumps({"best_epoch": best + 1, "best_value": ppls[best],
                                                  "steps": 8, "history": history}))
    for dset in ("dev", "test"):
        (exp / f"decode_{dset}").mkdir()
        (exp / f"decode_{dset}" / "score.json").write_text(json.dumps(
            {"per": pers[best], "majority_per": 90.0, "majority_phone": "n"}))


def test_uasr_results_merge_seeds_and_correlate_checkpoints(tmp_path):
    from ssltk.bin.uasr_results import main as uasr_main

    uasr_run(tmp_path, "gan_s0", [60.0, 50.0, 40.0], [30.0, 20.0, 10.0])
    uasr_run(tmp_path, "gan_s1", [70.0, 50.0, 60.0], [30.0, 10.0, 20.0])
    assert uasr_main(["--expdir", str(tmp_path), "--out", str(tmp_path / "RESULTS.md")]) == 0
    lines = (tmp_path / "RESULTS.md").read_text().splitlines()
    assert "| majority-phone baseline (`n` for every phone) | - | 90.00 | 90.00 |" in lines
    assert "| gan | 2 | 45.00 ± 7.07 | 45.00 ± 7.07 |" in lines
    assert "| gan_s0 | 8 | 3 | 10.00 | 40.00 | 40.00 | 40.00 (3) | 1.000 | 3 |" in lines
    assert any("over all 6 checkpoints of all runs: **" in line for line in lines)


def test_rows_of_removed_experiments_come_back_from_the_archive_with_their_date(tmp_path):
    import os
    import shutil

    expdir, out = tmp_path / "exp", tmp_path / "RESULTS.md"
    scored(expdir, "asr_old", "fbank", cer=10.0)
    old_result = expdir / "asr_old" / "decode_test" / "result.json"
    os.utime(old_result, (1_700_000_000, 1_700_000_000))  # scored on 2023-11-14
    assert main(["--expdir", str(expdir), "--out", str(out)]) == 0
    archive = json.loads((tmp_path / "RESULTS.json").read_text())
    assert [r["experiment"] for r in archive["test"]] == ["asr_old"]
    assert "date" not in out.read_text().splitlines()[6]  # one date: no column

    shutil.rmtree(expdir / "asr_old")  # a later run of the recipe has only the new experiment
    scored(expdir, "asr_new", "ssltk_mini", cer=8.0)
    assert main(["--expdir", str(expdir), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| experiment"))
    assert header.split(" | ")[3:5] == ["config", "date"]
    old = next(line for line in lines if line.startswith("| asr_old"))
    assert "2023-11-14" in old and "10.00" in old
    assert any(line.startswith("| asr_new") for line in lines)

    assert main(["--expdir", str(expdir), "--out", str(out), "--fresh"]) == 0
    assert "asr_old" not in out.read_text()
    assert [r["experiment"] for r in json.loads((tmp_path / "RESULTS.json").read_text())["test"]] == ["asr_new"]


def test_a_corrupt_archive_is_named(tmp_path, capsys):
    scored(tmp_path / "exp", "asr_new", "fbank", cer=8.0)
    (tmp_path / "RESULTS.json").write_text("{not json")
    with pytest.raises(SystemExit):
        main(["--expdir", str(tmp_path / "exp"), "--out", str(tmp_path / "RESULTS.md")])
    assert "RESULTS.json: not a results archive" in capsys.readouterr().err
