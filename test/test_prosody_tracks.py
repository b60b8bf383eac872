"""Prosody targets: the pitch tracks (``vuv``, ``log_f0``), the pitch-tracking metrics, V/UV
masking in ``frame_reg`` and the ``frame_cls`` voicing probe."""

import json
import math

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from ssltk.bin.frame_tracks import main as tracks_main
from ssltk.bin.score import main as score_main
from ssltk.data.datadir import DataDirError
from ssltk.data.dump import write_dump
from ssltk.data.loader import collate
from ssltk.data.tracks import (fill_unvoiced, log_energy, pitch, read_track, track_rate, track_source,
                               write_track, write_vectors)
from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec
from ssltk.metrics.pitch import fine_pitch_error_cents, gross_pitch_error, pitch_errors, vuv_error
from ssltk.tasks.experiment import infer, score_decoded, train
from ssltk.tasks.frame_regression import FrameRegConfig, FrameRegressionModel
from test_tasks_common import _write_dir

pytestmark = pytest.mark.usefixtures("one_thread")

RATE = 16000


# ---------------------------------------------------------------- metrics

def test_pitch_metrics_equal_a_hand_computation():
    ref = [100, 100, 200, 0, 0, 150, 120, 0]
    hyp = [101, 130, 100, 0, 90, 150, 0, 0]
    # voiced in both: frames 0, 1, 2, 5; gross (> 20% off): 1 (+30%) and 2 (-50%)
    assert gross_pitch_error(ref, hyp) == pytest.approx(2 / 4)
    # fine: frame 0 (|1200 log2(1.01)| = 17.2264 cents) and frame 5 (0 cents)
    assert fine_pitch_error_cents(ref, hyp) == pytest.approx(1200 * math.log2(1.01) / 2)
    assert fine_pitch_error_cents(ref, hyp) == pytest.approx(8.6132, abs=1e-4)
    # voicing differs on frames 4 and 6
    assert vuv_error(ref, hyp) == pytest.approx(2 / 8)
    assert gross_pitch_error(ref, hyp, tolerance=0.6) == 0.0  # the 50% error is fine then
    pooled = pitch_errors([ref[:3], ref[3:]], [hyp[:3], hyp[3:]])
    assert pooled == {"gpe": pytest.approx(0.5), "fpe_cents": pytest.approx(8.6132, abs=1e-4),
                      "vuv_error": pytest.approx(0.25), "frames": 8, "voiced_both": 4}
    assert math.isnan(gross_pitch_error([0, 0], [100, 0])) and math.isnan(vuv_error([], []))
    with pytest.raises(ValueError, match="3 and 2 frames"):
        vuv_error([1, 2, 3], [1, 2])


# ---------------------------------------------------------------- the pitch track

def harmonic_glide(f_start: float, f_end: float, seconds: float) -> np.ndarray:
    """Harmonics with amplitude 1/k (below 7 kHz) of an exponentially gliding F0, rms 0.3."""
    n = int(seconds * RATE)
    f0 = f_start * (f_end / f_start) ** (np.arange(n) / n)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) / k * (k * f0 < 7000) for k in range(1, int(7000 / min(f_start, f_end)) + 1))
    return 0.3 * x / np.sqrt(np.mean(x ** 2))


def glide_utterance(rng, f_start: float, f_end: float, seconds: float = 0.6):
    """Near-silence (0.2 s), a harmonic glide, white noise (0.2 s), near-silence (0.2 s):
    ``(wav, reference F0 of each frame (0: unvoiced), frames 30 ms or more from a boundary)``."""
    def quiet(s):
        return 1e-3 * rng.standard_normal(int(s * RATE))

    wav = np.concatenate([quiet(0.2), harmonic_glide(f_start, f_end, seconds),
                          0.3 * rng.standard_normal(int(0.2 * RATE)), quiet(0.2)])
    n = len(log_energy(wav, RATE))
    centres = np.arange(n) / 100 + 0.0125
    start, end = 0.2, 0.2 + seconds
    inside = (centres >= start) & (centres < end)
    ref = np.where(inside, f_start * (f_end / f_start) ** ((centres - start) / seconds), 0.0)
    scored = (np.abs(centres - start) > 0.03) & (np.abs(centres - end) > 0.03)
    return wav, ref, scored


@pytest.mark.parametrize("f_start, f_end", [(120.0, 220.0), (300.0, 80.0)])
def test_pitch_track_of_a_harmonic_glide_and_noise(f_start, f_end):
    wav, ref, scored = glide_utterance(np.random.default_rng(0), f_start, f_end)
    tracks = pitch(wav, RATE)
    assert set(tracks) == {"vuv", "log_f0"} and all(v.dtype == np.float32 for v in tracks.values())
    assert len(tracks["vuv"]) == len(tracks["log_f0"]) == len(ref)
    assert set(np.unique(tracks["vuv"])) == {0.0, 1.0}
    hyp = np.where(tracks["vuv"] > 0, np.exp(tracks["log_f0"].astype(np.float64)), 0.0)
    errors = pitch_errors([ref[scored]], [hyp[scored]])
    # measured (bench/pitch_trackers.py): GPE 0 and FPE about 8 cents; pYIN's grid is 10 cents
    assert errors["gpe"] < 0.02 and errors["fpe_cents"] < 50
    assert errors["voiced_both"] == int((ref[scored] > 0).sum())  # every voiced frame found
    assert not tracks["vuv"][scored & (ref == 0)].any()  # silence and noise frames unvoiced
    assert np.isfinite(tracks["log_f0"]).all()


def test_fill_unvoiced_interpolates_and_holds_the_ends():
    log_f0 = np.array([9, 4.0, 9, 9, 5.0, 9, 9])
    voiced = np.array([0, 1, 0, 0, 1, 0, 0], bool)
    np.testing.assert_allclose(fill_unvoiced(log_f0, voiced), [4, 4, 4 + 1 / 3, 4 + 2 / 3, 5, 5, 5])
    assert fill_unvoiced(log_f0, np.zeros(7, bool)).tolist() == [0.0] * 7
    assert len(pitch(np.zeros(399), RATE)["vuv"]) == 0  # shorter than a frame


def test_pitch_tracks_are_written_and_read_back_like_log_energy(tmp_path):
    rng = np.random.default_rng(1)
    glides = {"s0-000": (110.0, 160.0), "s1-001": (250.0, 180.0)}
    utts = {u: glide_utterance(rng, *g, seconds=0.4) for u, g in glides.items()}
    ddir = _write_dir(tmp_path / "d", {u: wav for u, (wav, _, _) in utts.items()}, {})
    assert tracks_main(["--track", "pitch", "--data", str(ddir)]) == 0
    assert tracks_main(["--track", "log_energy", "--data", str(ddir)]) == 0
    vuv, log_f0, energy = (read_track(ddir / f"{n}.scp") for n in ("vuv", "log_f0", "log_energy"))
    assert set(vuv) == set(log_f0) == set(energy) == set(utts)
    for utt, (_, ref, scored) in utts.items():
        assert len(vuv[utt]) == len(log_f0[utt]) == len(energy[utt]) == len(ref)
        voiced = scored & (ref > 0)
        assert vuv[utt][voiced].all() and not vuv[utt][scored & (ref == 0)].any()
        cents = 1200 / math.log(2) * np.abs(log_f0[utt][voiced] - np.log(ref[voiced]))
        assert np.median(cents) < 50
    for name in ("vuv", "log_f0"):
        info = yaml.safe_load((ddir / f"{name}.yaml").read_text())
        assert info["track"] == name and info["made_by"] == "pitch" and info["tracker"] == "pyin"
        assert track_rate(ddir, name) == 100.0 and info["window"] == 0.025
        assert not (ddir / f"{name}.scp.tmp").exists()
    # a track's own name computes its source; the scp named is returned
    assert track_source("log_f0") == track_source("vuv") == "pitch"
    assert write_track(ddir, "log_f0", frame_rate=50.0) == ddir / "log_f0.scp"
    assert track_rate(ddir, "vuv") == 50.0 and len(read_track(ddir / "vuv.scp")["s0-000"]) == 49
    with pytest.raises(UserError, match="unknown track 'f0' .*log_energy, log_f0, pitch, vuv"):
        track_source("f0")
    with pytest.raises(DataDirError, match="--track pitch"):
        track_rate(tmp_path, "log_f0")


# ---------------------------------------------------------------- V/UV masking

class FeatsFrontend(nn.Module):
    """The features of the batch as they are."""

    output_size = 4

    def forward(self, batch):
        return batch["feats"], batch["feat_lens"]


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5])
def test_vuv_mask_keeps_unvoiced_targets_out_of_the_loss_and_its_gradient(ratio):
    """Changing log-F0 on unvoiced frames changes neither the loss nor its gradient, whatever
    the ratio of track frames to model frames; changing a voiced frame does."""
    torch.manual_seed(0)
    model = FrameRegressionModel(FeatsFrontend(), FrameRegConfig(target="log_f0", mask="vuv"), ratio,
                                 mean=5.0, std=0.3)
    lens = [20, 14]
    track_lens = [int(n * ratio) for n in lens]
    items = []
    for i, (n, s) in enumerate(zip(lens, track_lens)):
        vuv = (torch.rand(s) < 0.6).float()
        vuv[:3] = torch.tensor([1.0, 1.0, 0.0])
        log_f0 = torch.where(vuv > 0, 5 + 0.3 * torch.randn(s), torch.tensor(0.0))
        items.append((f"u{i}", torch.randn(n, 4), torch.stack([log_f0, vuv], 1)))
    batch = collate(items)
    assert batch["targets"].shape == (2, max(track_lens), 2)

    def loss_and_grad(b):
        model.zero_grad()
        loss, _ = model(b)
        loss.backward()
        return loss.detach().clone(), [p.grad.clone() for p in model.parameters()]

    loss, grads = loss_and_grad(batch)
    changed = {**batch, "targets": batch["targets"].clone()}
    unvoiced = changed["targets"][..., 1] == 0
    changed["targets"][..., 0][unvoiced] = 1e3 * torch.randn(int(unvoiced.sum()))
    loss2, grads2 = loss_and_grad(changed)
    assert torch.equal(loss, loss2) and all(torch.equal(g, h) for g, h in zip(grads, grads2))
    changed["targets"][0, 0, 0] += 1.0  # frame 0 is voiced and read by model frame 0
    loss3, _ = loss_and_grad(changed)
    assert not torch.equal(loss, loss3)
    # without the mask column every frame counts
    plain = {**batch, "targets": batch["targets"][..., 0]}
    plain_changed = {**batch, "targets": changed["targets"][..., 0]}
    assert not torch.equal(model(plain)[0], model(plain_changed)[0])


# ---------------------------------------------------------------- probes on a linear target

DIM = 6
REG_CONF = """\
trainer: {seed: 0, max_epochs: 25, optim: {name: adam, lr: 3.0e-2}, best_metric: valid/rmse, best_mode: min}
data: {batch_seconds: 8, max_batch: 8}
frame_reg: {target: lin, mask: vuv, head: linear}
"""
CLS_CONF = """\
trainer: {seed: 0, max_epochs: 30, optim: {name: adam, lr: 3.0e-2}, best_metric: valid/acc, best_mode: max}
data: {batch_seconds: 8, max_batch: 8}
frame_cls: {target: side, head: linear}
"""


def linear_dump(path, n: int, seed: int, w: np.ndarray, u: np.ndarray):
    """A dump of random 50 Hz features ``x`` and 100 Hz tracks: ``lin`` = ``w . x + 1`` on the
    voiced frames of ``vuv`` (about 70% of the even ones), large noise elsewhere; ``side`` =
    ``u . x > 0``; ``clean`` = ``w . x + 1`` on every frame.  Model frame ``t`` reads track
    frame ``2 t``; odd track frames hold noise (unvoiced) or, in ``clean``, the mean of their
    neighbours."""
    rng = np.random.default_rng(seed)
    mats, tracks = {}, {"lin": {}, "vuv": {}, "side": {}, "clean": {}}
    for i in range(n):
        x = rng.standard_normal((int(rng.integers(40, 80)), DIM)).astype(np.float32)
        utt = f"s{i % 3}-{i:03d}"
        mats[utt] = x
        vuv = (rng.random(2 * len(x)) < 0.7).astype(np.float32)
        vuv[1::2] = 0
        lin = 50 + 20 * rng.standard_normal(2 * len(x))
        lin[0::2] = np.where(vuv[0::2] > 0, x @ w + 1, lin[0::2])
        side = (rng.random(2 * len(x)) < 0.5).astype(np.float32)
        side[0::2] = (x @ u > 0).astype(np.float32)
        tracks["lin"][utt], tracks["vuv"][utt], tracks["side"][utt] = lin, vuv, side
        clean = np.repeat(x @ w + 1, 2)
        clean[1:-1:2] = (clean[:-2:2] + clean[2::2]) / 2
        tracks["clean"][utt] = clean
    write_dump(path, FeatureSpec(upstream=None), sorted(mats.items()), 50.0)
    for name, table in tracks.items():
        write_vectors(path / f"{name}.scp", table, 100.0)
    return path


@pytest.fixture(scope="module")
def linear_dumps(tmp_path_factory):
    root = tmp_path_factory.mktemp("linear")
    rng = np.random.default_rng(7)
    w, u = rng.standard_normal(DIM), rng.standard_normal(DIM)
    return root, linear_dump(root / "train", 24, 0, w, u), linear_dump(root / "dev", 8, 1, w, u)


def _best_valid(results: dict) -> dict:
    best = results["history"][results["best_epoch"] - 1]
    return {k.split("/")[1]: v for k, v in best.items() if k.startswith("valid/")}


def test_probe_of_a_linear_target_reaches_corr_099_on_voiced_frames(linear_dumps):
    root, train_dir, dev = linear_dumps
    (root / "reg.yaml").write_text(REG_CONF)
    exp = root / "reg"
    final = _best_valid(train("frame_reg", root / "reg.yaml", train_dir, dev, exp, feats=True))
    assert final["corr"] > 0.99 and final["rmse"] < 0.1 * final["rmse_mean"]
    infer(exp, dev, exp / "dec")
    numbers = score_decoded(exp, dev, exp / "dec", exp / "dec" / "result.txt")
    assert numbers["metrics"]["corr"] > 0.99
    assert numbers["metrics"]["rmse"] == pytest.approx(final["rmse"], abs=1e-4)  # rounded to 4 places
    vuv = read_track(dev / "vuv.scp")
    assert numbers["frames"] == sum(int(v[0::2].sum()) for v in vuv.values())  # voiced frames only
    assert "mask: " in (exp / "dec" / "result.txt").read_text()
    # the score CLI with --mask gives the same numbers; without it the noise frames count
    out = exp / "dec" / "cli.txt"
    args = ["--task", "frame_reg", "--ref", str(dev / "lin.scp"), "--hyp", str(exp / "dec" / "hyp.scp"),
            "--out", str(out)]
    assert score_main([*args, "--mask", str(dev / "vuv.scp")]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["metrics"] == numbers["metrics"]
    assert score_main(args) == 0
    assert json.loads(out.with_suffix(".json").read_text())["metrics"]["corr"] < 0.5


def test_probe_of_a_linear_target_reaches_corr_099_without_a_mask(linear_dumps):
    root, train_dir, dev = linear_dumps
    (root / "clean.yaml").write_text(REG_CONF.replace("target: lin, mask: vuv", "target: clean"))
    final = _best_valid(train("frame_reg", root / "clean.yaml", train_dir, dev, root / "clean", feats=True))
    assert final["corr"] > 0.99 and final["rmse"] < 0.1 * final["rmse_mean"]


def test_probe_without_the_mask_learns_the_noise_too(linear_dumps):
    root, train_dir, dev = linear_dumps
    (root / "nomask.yaml").write_text(REG_CONF.replace(", mask: vuv", "").replace("25", "3"))
    final = _best_valid(train("frame_reg", root / "nomask.yaml", train_dir, dev, root / "nomask", feats=True))
    assert final["corr"] < 0.5


def test_mask_track_must_match_the_target(linear_dumps, tmp_path):
    root, train_dir, dev = linear_dumps
    conf = tmp_path / "conf.yaml"
    conf.write_text(REG_CONF.replace("mask: vuv", "mask: lin"))
    with pytest.raises(Exception, match="mask"):
        train("frame_reg", conf, train_dir, dev, tmp_path / "exp", feats=True)
    conf.write_text(REG_CONF.replace("mask: vuv", "mask: pitch"))
    with pytest.raises(DataDirError, match="pitch.yaml: no such file"):
        train("frame_reg", conf, train_dir, dev, tmp_path / "exp", feats=True)


def test_frame_cls_learns_a_linear_boundary_then_decodes_and_scores(linear_dumps):
    root, train_dir, dev = linear_dumps
    (root / "cls.yaml").write_text(CLS_CONF)
    exp = root / "cls"
    final = _best_valid(train("frame_cls", root / "cls.yaml", train_dir, dev, exp, feats=True))
    assert final["acc"] > 0.95 and final["acc_majority"] < 0.75
    meta = yaml.safe_load((exp / "exp.yaml").read_text())
    assert 0.3 < meta["target_prior"] < 0.7
    infer(exp, dev, exp / "dec")
    probs = read_track(exp / "dec" / "hyp.scp")
    assert all(((p >= 0) & (p <= 1)).all() for p in probs.values())
    numbers = score_decoded(exp, dev, exp / "dec", exp / "dec" / "result.txt")
    assert numbers["metrics"]["acc"] == pytest.approx(100 * final["acc"], abs=0.01)
    assert numbers["frames"] == sum(len(p) for p in probs.values())


def test_frame_cls_needs_a_binary_track(linear_dumps, tmp_path):
    root, train_dir, dev = linear_dumps
    conf = tmp_path / "conf.yaml"
    conf.write_text(CLS_CONF.replace("target: side", "target: lin"))
    with pytest.raises(UserError, match="frame_cls needs a 0/1 track"):
        train("frame_cls", conf, train_dir, dev, tmp_path / "exp", feats=True)
