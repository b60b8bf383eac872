"""The frame-level regression task (``frame_reg``): tracks, alignment, training, scoring."""

import json
import math

import numpy as np
import pytest
import torch

from ssltk.bin.frame_tracks import main as tracks_main
from ssltk.bin.infer import main as infer_main
from ssltk.bin.score import main as score_main
from ssltk.bin.train import main as train_main
from ssltk.data.tracks import log_energy, read_track, resample_track, track_rate
from ssltk.tasks.frame_regression import pearson_from_sums
from test_tasks_common import RATE, _write_dir

pytestmark = pytest.mark.usefixtures("one_thread")

CONF = """\
trainer: {seed: 0, max_epochs: 15, optim: {name: adam, lr: 1.0e-2}, best_metric: valid/rmse, best_mode: min}
frontend: {upstream: fbank, featurizer: weighted_sum}
data: {batch_seconds: 3, max_batch: 8}
frame_reg: {target: log_energy, head: linear}
"""


def test_log_energy_of_a_sine_and_frame_count():
    t = np.arange(16000) / 16000
    track = log_energy(0.5 * np.sin(2 * np.pi * 1000 * t), 16000, 100.0, 0.025)
    assert track.dtype == np.float32 and len(track) == 1 + (16000 - 400) // 160  # Kaldi's snip_edges count
    np.testing.assert_allclose(track, math.log(0.125), atol=1e-4)  # mean square of 0.5 sin = 0.125
    assert len(log_energy(np.zeros(399), 16000)) == 0


def test_resample_track_interpolates_and_marks_frames_past_the_track():
    track = torch.tensor([[0.0, 1, 2, 3, 4, 5], [10, 11, 12, 0, 0, 0]])
    lens = torch.tensor([6, 3])
    values, valid = resample_track(track, lens, 4, 2.0)  # 100 Hz track, 50 Hz frames
    assert values[0, :3].tolist() == [0, 2, 4] and valid[0].tolist() == [True, True, True, False]
    assert values[1, :2].tolist() == [10, 12] and valid[1].tolist() == [True, True, False, False]
    values, valid = resample_track(track[:1], lens[:1], 11, 0.5)  # 50 Hz track, 100 Hz frames
    assert values[0].tolist() == [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5] and valid.all()


def test_pearson_from_sums_equals_numpy():
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal(50), rng.standard_normal(50)
    t = t + 0.5 * p
    sums = {"n": 50, "sp": p.sum(), "st": t.sum(), "spp": (p * p).sum(), "stt": (t * t).sum(),
            "spt": (p * t).sum()}
    assert pearson_from_sums(sums) == pytest.approx(np.corrcoef(p, t)[0, 1], abs=1e-12)
    assert math.isnan(pearson_from_sums({**sums, "spp": p.sum() ** 2 / 50}))


def loudness_corpus(ddir, n: int, seed: int):
    """``n`` utterances of four 0.1-0.2 s noise segments, each at a random level (40 dB range)."""
    rng = np.random.default_rng(seed)
    wavs = {}
    for i in range(n):
        parts = [10 ** rng.uniform(-2.5, -0.5) * rng.standard_normal(int(RATE * rng.uniform(0.1, 0.2)))
                 for _ in range(4)]
        wavs[f"s{i % 3}-{i:03d}"] = np.concatenate(parts)
    return _write_dir(ddir, wavs, {})


@pytest.fixture(scope="module")
def energy_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("energy")
    dirs = loudness_corpus(root / "train", 24, 0), loudness_corpus(root / "dev", 8, 1)
    assert tracks_main(["--track", "log_energy", "--data", *map(str, dirs)]) == 0
    return root, dirs


def test_tracks_are_written_per_utterance(energy_corpus):
    _, (train, _) = energy_corpus
    tracks = read_track(train / "log_energy.scp")
    assert len(tracks) == 24 and track_rate(train, "log_energy") == 100.0
    assert all(len(v) > 20 for v in tracks.values())


def test_fbank_probe_learns_log_energy_then_decodes_and_scores(energy_corpus):
    root, (train, dev) = energy_corpus
    (root / "conf.yaml").write_text(CONF)
    exp = root / "exp"
    assert train_main(["--task", "frame_reg", "--config", str(root / "conf.yaml"), "--train", str(train),
                       "--valid", str(dev), "--exp", str(exp)]) == 0
    best = json.loads((exp / "results.json").read_text())
    final = {k.split("/")[1]: v for k, v in best["history"][best["best_epoch"] - 1].items()
             if k.startswith("valid/")}
    assert final["corr"] > 0.9 and final["rmse"] < 0.5 * final["rmse_mean"]
    assert infer_main(["--exp", str(exp), "--data", str(dev), "--out", str(exp / "dec")]) == 0
    hyps, refs = read_track(exp / "dec" / "hyp.scp"), read_track(dev / "log_energy.scp")
    assert set(hyps) == set(refs)
    assert all(len(hyps[u]) == len(refs[u]) for u in refs)  # fbank frames = track frames (100 Hz)
    assert score_main(["--exp", str(exp), "--data", str(dev), "--decode", str(exp / "dec"),
                       "--out", str(exp / "dec" / "result.txt")]) == 0
    metrics = json.loads((exp / "dec" / "result.json").read_text())["metrics"]
    assert metrics["corr"] == pytest.approx(final["corr"], abs=1e-3)
    assert metrics["rmse"] == pytest.approx(final["rmse"], rel=1e-3)


def test_missing_track_names_the_utterance(energy_corpus, tmp_path, capsys):
    _, (train, dev) = energy_corpus
    conf = tmp_path / "conf.yaml"
    conf.write_text(CONF.replace("log_energy", "pitch"))
    with pytest.raises(SystemExit):
        train_main(["--task", "frame_reg", "--config", str(conf), "--train", str(train),
                    "--valid", str(dev), "--exp", str(tmp_path / "exp")])
    assert f"{train / 'pitch.scp'}: no such file" in capsys.readouterr().err
