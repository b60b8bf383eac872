"""extract_feats: one matrix per utterance, sharding through run.pl, resuming."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch

from ssltk import hub
from ssltk.bin.extract_feats import main as extract_main
from ssltk.data.datadir import read_table, write_table
from ssltk.featurizer import Featurizer

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PATH=f"{ROOT / 'utils'}:{Path(sys.executable).parent}:{os.environ['PATH']}")


@pytest.fixture
def data_dir(tmp_path):
    rng = np.random.default_rng(0)
    ddir = tmp_path / "data"
    ddir.mkdir()
    wav_scp = {}
    for i, n in enumerate([3000, 7200, 400, 5100, 16000, 9999]):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, (0.1 * rng.standard_normal(n)).astype(np.float32), 16000, subtype="FLOAT")
        wav_scp[f"u{i}"] = str(path)
    write_table(ddir / "wav.scp", wav_scp)
    write_table(ddir / "utt2spk", {u: u for u in wav_scp})
    write_table(ddir / "text", {u: "x" for u in wav_scp})
    return ddir


def reference(upstream, wav_path, featurizer):
    x = torch.from_numpy(sf.read(wav_path, dtype="float32")[0])[None]
    with torch.inference_mode():
        hidden, lens = upstream(x, torch.tensor([x.shape[1]]))
        return featurizer(hidden)[0, : int(lens[0])].numpy()


def test_one_matrix_per_utterance_equal_to_the_upstream(data_dir, tmp_path):
    out = tmp_path / "dump"
    assert extract_main(["--upstream", "hubert_debug", "--data", str(data_dir), "--out", str(out),
                         "--layer", "1", "--batch_seconds", "1.0"]) == 0
    feats = dict(kaldiio.load_scp(str(out / "feats.scp")).items())
    frames = read_table(out / "utt2num_frames")
    upstream = hub.load("hubert_debug")
    wavs = read_table(data_dir / "wav.scp")
    assert sorted(feats) == sorted(wavs)
    for utt, mat in feats.items():
        n = sf.info(wavs[utt]).frames
        assert mat.shape == (int(frames[utt]), 32)
        assert int(frames[utt]) == int(upstream.num_frames(torch.tensor([n]))[0])
        expected = reference(upstream, wavs[utt], Featurizer(upstream, mode="layer", layer=1))
        np.testing.assert_allclose(mat, expected, atol=1e-5)
    assert read_table(out / "text") == read_table(data_dir / "text")  # a data dir itself


def test_weighted_sum_from_a_weights_file(data_dir, tmp_path):
    upstream = hub.load("hubert_debug")
    (tmp_path / "w.txt").write_text("0.2\n0.3\n0.5\n")
    out = tmp_path / "dump"
    extract_main(["--upstream", "hubert_debug", "--data", str(data_dir), "--out", str(out),
                  "--weights", str(tmp_path / "w.txt")])
    featurizer = Featurizer(upstream, weights_path=tmp_path / "w.txt")
    np.testing.assert_allclose(featurizer.weights().numpy(), [0.2, 0.3, 0.5], atol=1e-6)
    mat = kaldiio.load_scp(str(out / "feats.scp"))["u4"]
    wav = read_table(data_dir / "wav.scp")["u4"]
    np.testing.assert_allclose(mat, reference(upstream, wav, featurizer), atol=1e-5)


def extract_cmd(data_dir, out, *extra):
    return [sys.executable, "-m", "ssltk.bin.extract_feats", "--upstream", "hubert_debug",
            "--data", str(data_dir), "--out", str(out), "--nj", "3",
            "--cmd", "run.pl --max-jobs-run 1", *extra]


def test_killed_midway_then_rerun_completes_only_missing_shards(data_dir, tmp_path):
    out = tmp_path / "dump"
    proc = subprocess.Popen(extract_cmd(data_dir, out), env=ENV, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "data" / ".done.1"
    deadline = time.time() + 120
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.exists()
    assert not (out / "data" / ".done.3").exists() and not (out / "feats.scp").exists()
    stamp = (out / "data" / "feats.1.ark").stat().st_mtime_ns

    res = subprocess.run(extract_cmd(data_dir, out), env=ENV, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "shard 1 already done" in (out / "log" / "extract.1.log").read_text()
    assert (out / "data" / "feats.1.ark").stat().st_mtime_ns == stamp
    feats = dict(kaldiio.load_scp(str(out / "feats.scp")).items())
    assert sorted(feats) == [f"u{i}" for i in range(6)]
    frames = read_table(out / "utt2num_frames")
    assert all(feats[u].shape[0] == int(frames[u]) for u in feats)


def test_sharded_through_run_pl_into_a_path_with_spaces(data_dir, tmp_path):
    out = tmp_path / "my dumps" / "hubert layer"  # run.pl quotes such arguments once
    res = subprocess.run(extract_cmd(data_dir, out), env=ENV, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert sorted(dict(kaldiio.load_scp(str(out / "feats.scp")).items())) == [f"u{i}" for i in range(6)]


def test_failing_shard_and_bad_input_give_clear_errors(data_dir, tmp_path):
    out = tmp_path / "dump"
    res = subprocess.run(extract_cmd(data_dir, out, "--layer", "7"), env=ENV,
                         capture_output=True, text=True)
    assert res.returncode == 1
    assert "failed" in res.stderr and "extract.1.log" in res.stderr
    assert "layer 7: hubert_debug has hidden states 0..2" in (out / "log" / "extract.1.log").read_text()

    res = subprocess.run(extract_cmd(tmp_path / "nope", out), env=ENV, capture_output=True, text=True)
    assert res.returncode == 1 and "nope: data directory not found" in res.stderr
    assert "Traceback" not in res.stderr

    extract_main(["--upstream", "hubert_debug", "--data", str(data_dir), "--out", str(out)])
    with pytest.raises(SystemExit):  # same --out, another layer: refused, nothing overwritten
        extract_main(["--upstream", "hubert_debug", "--data", str(data_dir), "--out", str(out),
                      "--layer", "0"])


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_reduced_precision_extraction_is_close_to_float32_and_recorded(data_dir, tmp_path, precision):
    import yaml

    outs = {}
    for p in ("float32", precision):
        outs[p] = tmp_path / p
        assert extract_main(["--upstream", "ssltk_mini", "--data", str(data_dir), "--out", str(outs[p]),
                             "--layer", "4", "--device", "cpu", "--precision", p]) == 0
    info = yaml.safe_load((outs[precision] / "feats_info.yaml").read_text())
    assert info["precision"] == precision
    assert "precision" not in yaml.safe_load((outs["float32"] / "feats_info.yaml").read_text())
    full = dict(kaldiio.load_scp(str(outs["float32"] / "feats.scp")).items())
    reduced = dict(kaldiio.load_scp(str(outs[precision] / "feats.scp")).items())
    for utt, mat in full.items():
        assert reduced[utt].shape == mat.shape and reduced[utt].dtype == np.float32
        if not len(mat):  # u2 (400 samples) is too short for a frame of ssltk_mini
            continue
        # relative error of the layer: small, not zero (the computation did change)
        error = np.linalg.norm(reduced[utt] - mat) / np.linalg.norm(mat)
        assert 0 < error < 0.1, (utt, error)


def test_float16_on_cpu_is_a_clear_error(data_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        extract_main(["--upstream", "hubert_debug", "--data", str(data_dir), "--out", str(tmp_path / "d"),
                      "--device", "cpu", "--precision", "float16"])
    assert "float16 needs a CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
