"""The compression study: specs, compressed checkpoints, their cost, and the table."""

import json

import pytest
import torch
import yaml

from ssltk import hub
from ssltk.bin.compress_study import main
from ssltk.compress.pruning import count_nonzero
from ssltk.compress.study import check_spec, make, measure, read_manifest, tag_of
from ssltk.errors import UserError
from ssltk.upstream.checkpoint import save_ssltk

SPECS = ["none", "weights:0.5", "heads:1", "ffn:0.5", "fixed:2@0", "skip:0.0", "int8", "bf16",
         "upstream:distilhubert_debug"]


def test_tags_and_bad_specs():
    assert [tag_of(s) for s in SPECS] == ["none", "weights0.5", "heads1", "ffn0.5", "fixed2at0", "skip0.0",
                                          "int8", "bf16", "distilhubert_debug"]
    assert tag_of("upstream:exp/distill/upstream_student.pt") == "upstream_student"
    assert tag_of("upstream:cdm1_l2=exp/distill_cdm1_l2/student.pt") == "cdm1_l2"
    for bad in ("weights", "heads:x", "fixed:2", "prune:0.5", ""):
        with pytest.raises(UserError, match="compression spec"):
            check_spec(bad)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    torch.manual_seed(0)
    source = str(save_ssltk(hub.load("melhubert_debug"), root / "source.pt"))
    wavs, lens = torch.randn(2, 16000), torch.tensor([16000, 11000])
    for spec in SPECS:
        make(source, spec, root / "upstreams", audio=(wavs, lens))
    return root, source, wavs, lens


def test_every_compressed_upstream_is_a_hub_checkpoint_with_its_cost(study):
    root, source, wavs, lens = study
    entries = {e.tag: e for e in read_manifest(root / "upstreams")}
    assert list(entries) == [tag_of(s) for s in SPECS]
    assert entries["none"].upstream == source and entries["int8"].precision == "int8"
    assert entries["bf16"].precision == "bfloat16" and entries["distilhubert_debug"].upstream == "distilhubert_debug"
    full = hub.load(source)
    pruned = hub.load(entries["weights0.5"].upstream)
    targets = sum(p.numel() for layer in full.encoder.layers for p in
                  (*(getattr(layer.attention, n).weight for n in ("q_proj", "k_proj", "v_proj", "out_proj")),
                   layer.ffn.fc1.weight, layer.ffn.fc2.weight))
    assert count_nonzero(full) - count_nonzero(pruned) == pytest.approx(targets / 2, abs=2)
    fixed = hub.load(entries["fixed2at0"].upstream)
    hidden, out_lens = fixed(wavs, lens)
    assert hidden[-1].shape[1] == (full(wavs, lens)[0][-1].shape[1] + 1) // 2
    rows = {r["tag"]: r for r in measure(list(entries.values()), wavs, lens, runs=2)}
    assert rows["none"]["speedup"] == 1.0
    assert rows["weights0.5"]["nonzero"] == count_nonzero(pruned) < rows["weights0.5"]["parameters"]
    assert rows["heads1"]["macs"] < rows["none"]["macs"] and rows["ffn0.5"]["macs"] < rows["none"]["macs"]
    assert rows["fixed2at0"]["macs"] < rows["none"]["macs"]
    assert rows["int8"]["macs"] == rows["none"]["macs"] and rows["int8"]["seconds"] > 0
    # skip:0.0 makes every head identity: attention products are no longer counted
    assert rows["skip0.0"]["macs"] < rows["none"]["macs"]


def test_table_joins_cost_and_seeds_of_each_task(study, tmp_path):
    root, *_ = study
    upstreams = root / "upstreams"
    assert main(["cost", "--upstreams", str(upstreams), "--runs", "1"]) == 0
    expdir = tmp_path / "exp"
    for task, test_set, metric, values in (("digit", "test", "acc", [90.0, 92.0, 94.0]),
                                           ("phones", "test_phn", "per", [30.0, 32.0])):
        for seed, value in enumerate(values):
            decode = expdir / f"{task}_weights0.5_s{seed}" / f"decode_{test_set}"
            decode.mkdir(parents=True)
            (decode / "result.json").write_text(json.dumps({"metrics": {metric: value, "other": 1.0}}))
    out = tmp_path / "RESULTS.md"
    assert main(["table", "--upstreams", str(upstreams), "--expdir", str(expdir), "--out", str(out),
                 "--task", "digit=test:acc", "--task", "phones=test_phn:per"]) == 0
    lines = out.read_text().splitlines()
    assert "| upstream | compression | parameters | non-zero | MACs / s | speed-up | digit acc (test) | " \
           "phones per (test_phn) | seeds |" in lines
    row = next(line for line in lines if line.startswith("| weights0.5 |"))
    assert row.endswith("| 92.00 ± 2.00 | 31.00 ± 1.41 | 2/3 |")
    none = next(line for line in lines if line.startswith("| none |"))
    assert "| 1.00x |" in none and none.endswith("| - | - | 0 |")
    assert yaml.safe_load((upstreams / "cost.yaml").read_text())[0]["tag"] == "none"


def test_table_names_a_missing_metric_and_a_bad_task(study, tmp_path, capsys):
    root, *_ = study
    decode = tmp_path / "exp" / "digit_none_s0" / "decode_test"
    decode.mkdir(parents=True)
    (decode / "result.json").write_text(json.dumps({"metrics": {"acc": 1.0}}))
    with pytest.raises(SystemExit):
        main(["table", "--upstreams", str(root / "upstreams"), "--expdir", str(tmp_path / "exp"),
              "--out", str(tmp_path / "R.md"), "--task", "digit=test:per"])
    assert "no metric 'per'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["table", "--upstreams", str(root / "upstreams"), "--expdir", str(tmp_path / "exp"),
              "--out", str(tmp_path / "R.md"), "--task", "digit"])
    assert "expected NAME=SET:METRIC" in capsys.readouterr().err
