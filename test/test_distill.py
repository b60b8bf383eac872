"""DistilHuBERT distillation: frozen teacher, student init, heads, loss, CLI, export."""

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ssltk import hub
from ssltk.bin.distill import main as distill_main
from ssltk.data.datadir import DataDir
from ssltk.errors import UserError
from ssltk.pretraining.distill import (DistillConfig, DistillModel, DistillSection, default_head_layers,
                               distill_loss, load_teacher, student_config)
from ssltk.data.loader import make_loader
from ssltk.train import ConfigError, load_config, load_state, seed_everything
from ssltk.upstream.registry import SSL_CONFIGS
from test_tasks_common import tone_corpus

pytestmark = pytest.mark.usefixtures("one_thread")

CONF_DIR = Path(__file__).resolve().parents[1] / "ssltk" / "pretraining" / "conf"
CONF = str(CONF_DIR / "distill_debug.yaml")


def section(**kw):
    return DistillSection(**{"teacher": "hubert_debug", "student_layers": 1, **kw})


def batch_of(*lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    wavs = torch.zeros(len(lengths), max(lengths))
    for i, n in enumerate(lengths):
        wavs[i, :n] = torch.randn(n, generator=g)
    return {"wavs": wavs, "wav_lens": torch.tensor(lengths)}


# ---------------------------------------------------------------- heads, errors

def test_default_head_layers():
    assert default_head_layers(12) == [4, 8, 12]
    assert default_head_layers(24) == [8, 16, 24]
    assert default_head_layers(2) == [1, 2]  # round(2/3) = round(4/3) = 1: one head for layer 1
    assert default_head_layers(1) == [1]
    model = DistillModel(load_teacher("hubert_debug"), section())
    assert model.head_layers == [1, 2] and len(model.heads) == 2


def test_student_of_hubert_base_is_the_distilhubert_architecture():
    class Teacher:  # student_config reads the config only (no 95M-parameter build)
        config = SSL_CONFIGS["hubert_base"]

    assert student_config(Teacher, 2) == SSL_CONFIGS["distilhubert"]
    assert student_config(Teacher, 2, {"dropout": 0.0}).dropout == 0.0
    with pytest.raises(UserError, match="unknown override"):
        student_config(Teacher, 2, {"dropuot": 0.0})


def test_clear_errors():
    teacher = load_teacher("hubert_debug")
    with pytest.raises(hub.UnknownUpstreamError, match="hubert_debgu"):
        load_teacher("hubert_debgu")
    with pytest.raises(UserError, match="not an SSL model"):
        load_teacher("fbank")
    with pytest.raises(UserError, match=r"layer\(s\) \[3\] outside .* range 0..2"):
        DistillModel(teacher, section(head_layers=[1, 3]))
    with pytest.raises(UserError, match="3 layers cannot be initialised from a teacher with 2"):
        DistillModel(teacher, section(student_layers=3))
    assert DistillModel(teacher, section(student_layers=3, init_from_teacher=False)).student.num_layers == 3
    with pytest.raises(UserError, match="frame rate"):
        DistillModel(teacher, section(student={"conv_layers": [[32, 10, 5], [32, 4, 4]]}))


def test_strict_config(tmp_path):
    cfg = load_config(CONF, DistillConfig)
    assert cfg.distill.teacher == "hubert_debug" and cfg.trainer.best_metric == "valid/loss"
    full = load_config(CONF_DIR / "distill_distilhubert.yaml", DistillConfig)
    assert (full.distill.student_layers, full.distill.head_layers) == (2, [4, 8, 12])
    assert (full.trainer.optim.lr, full.trainer.max_steps) == (2e-4, 200000)
    bad = tmp_path / "bad.yaml"
    bad.write_text("distill:\n  teachr: hubert_debug\n")
    with pytest.raises(ConfigError, match="did you mean 'teacher'"):
        load_config(bad, DistillConfig)
    with pytest.raises(ConfigError, match="student_layers"):
        load_config(CONF, DistillConfig, ["distill.student={num_layers: 3}"])


# ---------------------------------------------------------------- frozen teacher, init

def test_teacher_frozen_and_not_saved():
    model = DistillModel(load_teacher("hubert_debug"), section())
    model.train()
    assert not model.teacher.training and model.student.training
    assert all(not p.requires_grad for p in model.teacher.parameters())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("student.", "heads.")) for n in trainable)
    state = model.state_dict()
    assert not any(k.startswith("teacher.") for k in state)
    loss, _ = model(batch_of(4000, 3000))
    loss.backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    # checkpoints without the teacher load back strictly
    other = DistillModel(load_teacher("hubert_debug"), section())
    other.load_state_dict(state, strict=True)
    assert torch.equal(other.heads[0].weight, model.heads[0].weight)


@torch.no_grad()
def test_student_initialised_from_teacher():
    teacher = load_teacher("hubert_debug")
    model = DistillModel(teacher, section()).eval()
    assert model.kept_random == []
    t_state, s_state = teacher.state_dict(), model.student.state_dict()
    for key in s_state:
        assert torch.equal(s_state[key], t_state[key]), key
    assert not any(k.startswith("encoder.layers.1.") for k in s_state)
    # the 1-layer student computes the teacher's first layers exactly
    batch = batch_of(6000, 4000)
    t_hidden, t_lens = teacher(batch["wavs"], batch["wav_lens"])
    s_hidden, s_lens = model.student(batch["wavs"], batch["wav_lens"])
    assert torch.equal(t_lens, s_lens) and len(s_hidden) == 2
    for k in range(2):
        torch.testing.assert_close(s_hidden[k], t_hidden[k])
    random = DistillModel(teacher, section(init_from_teacher=False)).student
    assert not torch.equal(random.encoder.layers[0].ffn.fc1.weight, teacher.encoder.layers[0].ffn.fc1.weight)


def test_frontend_grad_mult_scales_or_freezes_the_cnn():
    teacher = load_teacher("hubert_debug")
    batch = batch_of(4000, 3000)
    grads = {}
    for mult in (1.0, 0.1):
        seed_everything(0)
        model = DistillModel(teacher, section(frontend_grad_mult=mult, student={"dropout": 0.0}))
        model(batch)[0].backward()
        grads[mult] = (model.student.feature_extractor.conv_layers[0].conv.weight.grad.clone(),
                       model.heads[0].weight.grad.clone())
    torch.testing.assert_close(grads[0.1][0], 0.1 * grads[1.0][0])
    torch.testing.assert_close(grads[0.1][1], grads[1.0][1])
    frozen = DistillModel(teacher, section(frontend_grad_mult=0.0))
    assert not any(p.requires_grad for p in frozen.student.feature_extractor.parameters())
    assert all(p.requires_grad for p in frozen.student.encoder.parameters())


# ---------------------------------------------------------------- loss

def test_loss_against_hand_computation_and_padding():
    pred = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [9.0, 9.0]]])
    target = torch.tensor([[[1.0, 1.0], [0.0, -2.0], [-5.0, 3.0]]])
    lens = torch.tensor([2])  # the third frame is padding
    loss, l1s, coss = distill_loss([pred, pred], [target, pred], lens, l1_weight=1.0, cosine_weight=0.5)
    l1 = (0.5 + 2.0) / 2  # frame means |d|: (0 + 1) / 2, (0 + 4) / 2
    cos = (1 / math.sqrt(2) + -1.0) / 2
    cos_term = (-F.logsigmoid(torch.tensor(1 / math.sqrt(2))) - F.logsigmoid(torch.tensor(-1.0))) / 2
    head0 = l1 + 0.5 * cos_term
    head1 = 0.5 * -F.logsigmoid(torch.tensor(1.0))  # perfect prediction: L1 0, cos 1
    assert float(loss) == pytest.approx(float(head0 + head1), rel=1e-6)
    assert float(l1s[0]) == pytest.approx(l1) and float(coss[0]) == pytest.approx(cos)
    assert float(l1s[1]) == 0 and float(coss[1]) == pytest.approx(1.0)
    changed = target.clone()
    changed[:, 2] = 100.0
    assert float(distill_loss([pred, pred], [changed, pred], lens, 1.0, 0.5)[0]) == pytest.approx(float(loss))


@torch.no_grad()
def test_identity_student_reaches_the_loss_floor():
    """Student = the whole teacher, one identity head on the last layer: L1 0, cos 1."""
    teacher = load_teacher("hubert_debug")
    model = DistillModel(teacher, section(student_layers=2, head_layers=[2])).eval()
    model.heads[0].weight.copy_(torch.eye(32))
    model.heads[0].bias.zero_()
    loss, stats = model(batch_of(5000, 3000))
    assert float(stats["l1_L2"]) < 1e-5 and float(stats["cos_L2"]) == pytest.approx(1.0, abs=1e-5)
    assert float(loss) == pytest.approx(-math.log(1 / (1 + math.exp(-1))), abs=1e-5)


@torch.no_grad()
def test_validation_is_frame_weighted_and_padding_free():
    model = DistillModel(load_teacher("hubert_debug"), section()).eval()
    batch = batch_of(8000, 3000, seed=3)
    together = model.validation_step(batch)
    alone = [model.validation_step({"wavs": batch["wavs"][i:i + 1, :n], "wav_lens": torch.tensor([n])})
             for i, n in enumerate((8000, 3000))]
    for key, value in together.items():
        assert value == pytest.approx(sum(a[key] for a in alone), rel=1e-4), key
    metrics = model.validation_metrics(together)
    assert set(metrics) == {"loss", "l1_L1", "cos_L1", "l1_L2", "cos_L2"}


# ---------------------------------------------------------------- end to end

def _initial_valid_loss(valid_dir) -> float:
    """The untrained model of the CLI run (same seed) on the validation set."""
    cfg = load_config(CONF, DistillConfig)
    teacher = load_teacher(cfg.distill.teacher)
    seed_everything(cfg.trainer.seed)
    model = DistillModel(teacher, cfg.distill).eval()
    loader = make_loader(DataDir(valid_dir), "audio", batch_seconds=cfg.data.batch_seconds,
                         max_batch=cfg.data.max_batch, shuffle=False)
    totals = {}
    with torch.no_grad():
        for batch in loader:
            for k, v in model.validation_step(batch).items():
                totals[k] = totals.get(k, 0.0) + v
    return model.validation_metrics(totals)["loss"]


def test_distill_end_to_end_and_export(tmp_path, capsys):
    train_dir = tone_corpus(tmp_path / "train", 16, seed=0)
    valid_dir = tone_corpus(tmp_path / "dev", 6, seed=1)
    exp = tmp_path / "exp"
    args = ["--config", CONF, "--train", str(train_dir), "--valid", str(valid_dir), "--exp", str(exp),
            "--teacher", "hubert_debug", "--override", "trainer.max_epochs=4"]
    assert distill_main(args) == 0
    results = json.loads((exp / "results.json").read_text())
    losses = [h["valid/loss"] for h in results["history"]]
    before = _initial_valid_loss(valid_dir)
    assert len(losses) == 4 and losses[-1] < losses[0] < before
    assert results["best_value"] == min(losses)
    assert {"valid/l1_L1", "valid/cos_L2", "train/l1_L2", "train/cos_L1"} <= set(results["history"][-1])
    # the teacher is in no checkpoint
    ckpt = load_state(exp / "checkpoint.pt")
    assert not any(k.startswith("teacher.") for k in ckpt["model"])
    best = load_state(exp / results["best_checkpoint"])
    # rerun: finished, returns at once and exports the same student again
    assert distill_main(args) == 0
    assert json.loads((exp / "results.json").read_text())["steps"] == results["steps"]
    with pytest.raises(SystemExit):  # resuming with another teacher
        distill_main(args[:-3] + ["melhubert_debug", "--override", "trainer.max_epochs=5"])
    assert "another teacher_weights (" in capsys.readouterr().err

    student = hub.load(exp / "student.pt")
    assert student.num_layers == 1 and student.hidden_size == 32 and student.downsample_rate == 320
    for key, value in student.state_dict().items():
        assert torch.equal(value, best["student." + key]), key
    heads = student.pretraining_heads
    assert heads["distill.head_layers"].tolist() == [1, 2]
    assert torch.equal(heads["distill.heads.1.weight"], best["heads.1.weight"])
    batch = batch_of(7000, 4000, 2500, seed=5)
    with torch.no_grad():
        hidden, lens = student(batch["wavs"], batch["wav_lens"])
        assert len(hidden) == student.num_layers + 1
        for i, n in enumerate(batch["wav_lens"].tolist()):
            one, one_lens = student(batch["wavs"][i:i + 1, :n], torch.tensor([n]))
            assert int(one_lens[0]) == int(lens[i])
            for layer in range(len(hidden)):
                torch.testing.assert_close(hidden[layer][i, :lens[i]], one[layer][0],
                                           atol=1e-4, rtol=1e-4)


def test_cli_errors(tmp_path, capsys):
    train_dir = tone_corpus(tmp_path / "train", 2, seed=0)
    base = ["--config", CONF, "--train", str(train_dir), "--valid", str(train_dir),
            "--exp", str(tmp_path / "e")]
    for extra, message in ((["--teacher", "fbank"], "not an SSL model"),
                           (["--override", "distill.head_layers=[5]"], "outside the teacher"),
                           (["--teacher", "hubert_bse"], "unknown upstream")):
        with pytest.raises(SystemExit):
            distill_main(base + extra)
        assert message in capsys.readouterr().err


# ---------------------------------------------------------------- robustness: CDM and DAT

def robust_section(tmp_path, setup=1, dat_weight=0.0):
    from ssltk.pretraining.distill import RobustSection

    conf = tmp_path / "distort.yaml"
    conf.write_text("seed: 3\nprob: 1.0\ndistortions:\n  - {kind: gain, db: [-12, -6]}\n"
                    "  - {kind: clip, fraction: 0.3}\nseen: [gain, clip]\n")
    return section(robust=RobustSection(distortions=str(conf), setup=setup, dat_weight=dat_weight))


def test_gradient_reversal_flips_the_discriminators_gradient_into_the_student(tmp_path):
    torch.manual_seed(0)
    model = DistillModel(load_teacher("hubert_debug"), robust_section(tmp_path, dat_weight=1.0))
    disc = model.discriminator
    last = torch.randn(3, 7, model.student.hidden_size, requires_grad=True)
    lens, types = torch.tensor([7, 5, 2]), torch.tensor([0, 1, 2])
    reversed_grad, = torch.autograd.grad(F.cross_entropy(disc(last, lens), types), last)
    disc.reverse.scale = -1.0  # identity in both directions: the plain gradient
    plain_grad, = torch.autograd.grad(F.cross_entropy(disc(last, lens), types), last)
    assert plain_grad.abs().sum() > 0
    torch.testing.assert_close(reversed_grad, -plain_grad)
    disc.reverse.scale = 1.0
    x = torch.randn(4, requires_grad=True)
    assert torch.equal(disc.reverse(x), x)


def test_cross_distortion_mapping_inputs_and_resumable_draws(tmp_path):
    torch.manual_seed(0)
    batch = {**batch_of(8000, 6000, 4000), "utts": ["a", "b", "c"]}
    one = DistillModel(load_teacher("hubert_debug"), robust_section(tmp_path, setup=1))
    wavs, lens, t_wavs, t_lens, types = one._inputs(batch, 5)
    assert torch.equal(t_wavs, batch["wavs"]) and not torch.equal(wavs, batch["wavs"])  # setup 1: clean teacher
    assert torch.equal(lens, batch["wav_lens"]) and set(types.tolist()) <= {1, 2}  # prob 1: always distorted
    two = DistillModel(load_teacher("hubert_debug"), robust_section(tmp_path, setup=2))
    wavs2, _, t_wavs2, _, _ = two._inputs(batch, 5)
    assert torch.equal(wavs2, wavs)  # the student's draws depend on the seed, utterance and update only
    assert not torch.equal(t_wavs2, batch["wavs"]) and not torch.equal(t_wavs2, wavs2)  # setup 2
    assert not torch.equal(one._inputs(batch, 6)[0], wavs)  # another update, other draws
    loss, _ = one(batch)
    assert int(one.updates) == 1 and "updates" in one.state_dict() and torch.isfinite(loss)


def test_dat_trains_the_discriminator_and_reports_it(tmp_path):
    torch.manual_seed(0)
    model = DistillModel(load_teacher("hubert_debug"), robust_section(tmp_path, dat_weight=0.5))
    batch = {**batch_of(8000, 6000, 4000), "utts": ["a", "b", "c"]}
    loss, stats = model(batch)
    assert {"dat_loss", "dat_acc"} <= set(stats)
    loss.backward()
    assert model.discriminator.mlp[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())
