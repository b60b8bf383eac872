"""The trainer on tiny synthetic problems.

The SIGKILL and DDP tests fork (no new torch import); the DDP run also works
under torchrun: ``torchrun --standalone --nproc_per_node 2 test/test_train.py ddp EXP``.
"""

import copy
import json
import multiprocessing
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from ssltk.errors import UserError
from ssltk.train import (EpochBatchSampler, TrainableModel, Trainer, TrainingDiverged, config_from_dict,
                         seed_everything)

FORK = multiprocessing.get_context("fork")


# ---------------------------------------------------------------- tiny problems

def blobs(n, batch_size=16, seed=0, dim=2):
    """Two Gaussian blobs (labels 0/1, centres at -2 and +2), as (x, y) batches."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, dim, generator=g) + (2.0 * y[:, None] - 1) * 2.0
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


class Classifier(TrainableModel):
    """A small MLP classifier; validation sums correct predictions."""

    def __init__(self, dim=2, hidden=8, dropout=0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, 2))
        self.calls = 0

    def forward(self, batch):
        x, y = batch
        logits = self.net(x)
        self.calls += 1
        return nn.functional.cross_entropy(logits, y), {"acc": (logits.argmax(-1) == y).float().mean()}

    def validation_step(self, batch):
        x, y = batch
        logits = self.net(x)
        return {"correct": (logits.argmax(-1) == y).sum(), "count": len(y),
                "loss_sum": nn.functional.cross_entropy(logits, y, reduction="sum")}

    def validation_metrics(self, totals):
        return {"acc": totals["correct"] / totals["count"], "loss": totals["loss_sum"] / totals["count"]}


def config(**trainer):
    base = {"max_epochs": 3, "optim": {"lr": 0.05}, "best_metric": "valid/acc", "best_mode": "max",
            "log_interval": 4}
    return config_from_dict({"trainer": {**base, **trainer}}, source="test")


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- learning, outputs, logs

@pytest.fixture(scope="module")
def blob_run(tmp_path_factory):
    exp = tmp_path_factory.mktemp("blob") / "exp"
    seed_everything(0)
    model = Classifier()
    cfg = config(max_epochs=3, optim={"lr": 0.01}, scheduler={"name": "linear_warmup", "warmup_steps": 8})
    results = Trainer(model, EpochBatchSampler(blobs(256), seed=0), blobs(128, seed=1), cfg, exp).fit()
    return model, exp, results


def test_learns_and_writes_outputs(blob_run):
    model, exp, results = blob_run
    assert results["finished"] and results["stop_reason"] == "max_epochs" and results["steps"] == 48
    last = results["history"][-1]
    assert last["valid/acc"] > 0.9 and last["train/acc"] > 0.9
    assert results["history"][0]["train/acc"] < 0.9  # it did learn, from chance
    on_disk = json.loads((exp / "results.json").read_text())
    assert on_disk["best_metric"] == "valid/acc" and on_disk["best_value"] == results["best_value"] > 0.9
    best = torch.load(exp / "valid.acc.best.pth", weights_only=True)
    assert best.keys() == model.state_dict().keys()
    assert (exp / f"{results['best_epoch']}epoch.pth").exists() and (exp / "checkpoint.pt").exists()
    log = (exp / "train.log").read_text()
    assert log.count("epoch 3/3 | step 48") == 1 and "valid: acc=" in log and "lr=0.01" in log
    assert "best_metric: valid/acc" in (exp / "config.yaml").read_text()
    assert not [p for p in exp.iterdir() if p.name.endswith(".tmp")]


def test_tensorboard_scalars(blob_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, exp, _ = blob_run
    acc = EventAccumulator(str(exp / "tensorboard"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/acc", "train/grad_norm", "lr", "valid/acc", "valid/loss"} <= tags
    assert [e.step for e in acc.Scalars("train/loss")] == list(range(4, 49, 4))  # log_interval 4
    assert [e.step for e in acc.Scalars("valid/acc")] == [16, 32, 48]
    lrs = {e.step: e.value for e in acc.Scalars("lr")}
    assert lrs[4] == pytest.approx(0.01 * 4 / 8) and lrs[8] == pytest.approx(0.01)  # warmup 8 updates
    assert acc.Scalars("valid/acc")[-1].value > 0.9


def test_finished_run_is_not_retrained(blob_run):
    model, exp, results = blob_run
    before = weights(model)
    again = Trainer(model, blobs(256), blobs(128, seed=1), config(), exp).fit()
    assert again["steps"] == 48 and again["best_epoch"] == results["best_epoch"]
    assert same(before, weights(model))


def test_plain_module_dataloader_valid_interval_max_steps(tmp_path, capfd):
    class Plain(nn.Module):  # no TrainableModel base: default validation = mean of forward's outputs
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.steps = []

        def forward(self, batch):
            x, y = batch
            return nn.functional.cross_entropy(self.lin(x), y), {"size": float(len(y))}

        def set_step(self, step):
            self.steps.append(step)

    (x, y), = blobs(64, batch_size=64)
    sampler = EpochBatchSampler([list(range(i, i + 16)) for i in range(0, 64, 16)], seed=2)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_sampler=sampler)
    model = Plain()
    cfg = config_from_dict({"trainer": {"max_epochs": 5, "max_steps": 10, "valid_interval": 2,
                                        "amp": True}})
    results = Trainer(model, loader, blobs(40, seed=1), cfg, tmp_path).fit()
    # 4 updates per epoch: epochs 1, 2 and half of 3; validation after epoch 2 and the last one.
    assert results["stop_reason"] == "max_steps" and results["steps"] == 10 and sampler.epoch == 3
    assert model.steps == list(range(10))
    history = results["history"]
    assert [h["step"] for h in history] == [4, 8, 10]
    assert ["valid/loss" in h for h in history] == [False, True, True]
    assert history[1]["valid/size"] == 40 / 3  # batches of 16, 16, 8
    assert results["best_metric"] == "valid/loss" and results["best_epoch"] in (2, 3)
    assert "trainer.amp is ignored on cpu" in capfd.readouterr().err


# ---------------------------------------------------------------- best checkpoint, n-best, patience

class Scripted(Classifier):
    """Validation reports a scripted accuracy per epoch."""

    def __init__(self, script):
        super().__init__()
        self.script = list(script)
        self.snapshots = []

    def validation_step(self, batch):
        return {"batches": 1}

    def validation_metrics(self, totals):
        self.snapshots.append(weights(self))
        return {"acc": self.script[len(self.snapshots) - 1]}


def test_best_checkpoint_nbest_average_and_patience(tmp_path):
    seed_everything(0)
    model = Scripted([0.0, 0.5, 0.9, 0.7, 0.6, 0.8, 0.95])  # [0]: the check before training
    cfg = config(max_epochs=6, keep_nbest=2, average_nbest=True, patience=3)
    results = Trainer(model, blobs(64), blobs(16), cfg, tmp_path).fit()
    # Epoch 2 is best; epochs 3, 4, 5 do not improve: patience 3 stops after epoch 5.
    assert results["stop_reason"] == "patience" and results["epochs"] == 5
    assert results["best_epoch"] == 2 and results["best_value"] == 0.9
    assert [n["epoch"] for n in results["nbest"]] == [2, 5]
    assert sorted(p.name for p in tmp_path.glob("*epoch.pth")) == ["2epoch.pth", "5epoch.pth"]
    # model.snapshots[0] is the early metric check before training; [e] is after epoch e.
    best = torch.load(tmp_path / "valid.acc.best.pth", weights_only=True)
    assert same(best, model.snapshots[2]) and not same(best, model.snapshots[5])
    assert same(torch.load(tmp_path / "5epoch.pth", weights_only=True), model.snapshots[5])
    ave = torch.load(tmp_path / "valid.acc.ave_2best.pth", weights_only=True)
    for key in ave:
        torch.testing.assert_close(ave[key], (model.snapshots[2][key] + model.snapshots[5][key]) / 2)


def test_unknown_best_metric_fails_before_training(tmp_path):
    model = Classifier()
    with pytest.raises(UserError, match=r"'valid/accuracy' is not computed; did you mean 'valid/acc'"):
        Trainer(model, blobs(64), blobs(16), config(best_metric="valid/accuracy"), tmp_path).fit()
    assert model.calls == 0
    with pytest.raises(UserError, match="no validation data"):
        Trainer(model, blobs(64), None, config(), tmp_path)
    with pytest.raises(UserError, match="unknown parameter group 'gen'"):
        Trainer(model, blobs(64), None, config(best_metric="train/loss", group_optim={"gen": {}}), tmp_path)


# ---------------------------------------------------------------- NaN guard, gradient clipping

class Flaky(Classifier):
    """Returns a NaN loss on chosen forward calls, a NaN gradient (finite loss) on others."""

    def __init__(self, nan_loss=(), nan_grad=()):
        super().__init__()
        self.nan_loss, self.nan_grad = set(nan_loss), set(nan_grad)
        self.seen = []

    def forward(self, batch):
        self.seen.append(weights(self))
        loss, stats = super().forward(batch)
        call = self.calls - 1
        if call in self.nan_loss:
            loss = loss * float("nan")
        if call in self.nan_grad:
            w = self.net[0].weight
            loss = loss + torch.sqrt(w - w).sum()  # value 0, gradient NaN
        return loss, stats


def test_non_finite_updates_are_skipped(tmp_path):
    seed_everything(0)
    model = Flaky(nan_loss={3, 9}, nan_grad={5})
    results = Trainer(model, blobs(256), blobs(64, seed=1), config(max_epochs=2), tmp_path).fit()
    assert results["bad_steps"] == 3 and results["history"][-1]["valid/acc"] > 0.9
    for bad in (3, 5, 9):  # the weights after a bad update equal those before it
        assert same(model.seen[bad], model.seen[bad + 1])
    assert not same(model.seen[2], model.seen[3])
    assert all(torch.isfinite(v).all() for v in model.state_dict().values())
    log = (tmp_path / "train.log").read_text()
    assert "step 3: non-finite loss" in log and "step 5: non-finite gradient" in log
    assert "train: loss=nan" not in log  # skipped batches do not enter the averages


def test_diverging_training_stops_with_a_clear_error(tmp_path):
    model = Flaky(nan_loss=range(20, 1000))
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 22: 3 consecutive updates had a "
                                               r"non-finite loss.*checkpoint of epoch 1.*intact"):
        Trainer(model, blobs(256), blobs(64), config(max_bad_steps=3), tmp_path).fit()
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ckpt["epoch"] == 1 and all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_gradient_clipping(tmp_path):
    class Steep(TrainableModel):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))

        def forward(self, batch):
            return 100.0 * (self.w * batch).sum(), {}

    x = torch.tensor([3.0, 4.0, 0.0])  # gradient 100 * x: norm 500
    model = Steep()
    before = model.w.detach().clone()
    cfg = config(max_epochs=1, optim={"name": "sgd", "lr": 1.0}, grad_clip=0.5, best_metric="train/loss",
                 best_mode="min")
    results = Trainer(model, [x], None, cfg, tmp_path).fit()
    step = model.w.detach() - before
    torch.testing.assert_close(step.norm(), torch.tensor(0.5))  # clipped to max norm 0.5
    torch.testing.assert_close(step, -0.5 * x / x.norm())  # same direction
    assert results["history"][0]["train/grad_norm"] == pytest.approx(500.0)  # norm before clipping


# ---------------------------------------------------------------- two optimisers (GAN-style)

class TinyGan(TrainableModel):
    """Generator and discriminator updated alternately with their own Adam optimisers."""

    def __init__(self):
        super().__init__()
        self.gen = nn.Linear(3, 2)
        self.disc = nn.Linear(2, 1)
        self.trace = []
        self.steps = []

    def set_step(self, step):
        self.steps.append(step)

    def param_groups(self):
        return {"discriminator": self.disc.parameters(), "generator": self.gen.parameters()}

    def forward(self, batch, group):
        self.trace.append((group, weights(self)))
        return self.loss(batch, group), {}

    def loss(self, batch, group):
        noise, real = batch
        fake = self.gen(noise)  # not detached: the discriminator loss also reaches the generator
        if group == "discriminator":
            return (nn.functional.softplus(-self.disc(real)).mean()
                    + nn.functional.softplus(self.disc(fake)).mean())
        return nn.functional.softplus(-self.disc(fake)).mean()


def test_two_optimisers_alternate_and_touch_only_their_group(tmp_path):
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 3, generator=g), torch.randn(8, 2, generator=g) + 3) for _ in range(6)]
    seed_everything(0)
    model = TinyGan()
    reference = copy.deepcopy(model)
    cfg = config(max_epochs=1, best_metric="train/generator_loss", best_mode="min",
                 optim={"name": "adam", "lr": 0.01, "betas": [0.5, 0.98]},
                 group_optim={"discriminator": {"name": "adam", "lr": 0.02, "weight_decay": 0.1}})
    results = Trainer(model, batches, None, cfg, tmp_path).fit()

    groups = [group for group, _ in model.trace]
    assert groups == ["discriminator", "generator"] * 3 and model.steps == list(range(6))
    prefix = {"discriminator": "disc.", "generator": "gen."}
    after = model.trace[1:] + [(None, weights(model))]
    for (group, w0), (_, w1) in zip(model.trace, after):
        changed = {k for k in w0 if not torch.equal(w0[k], w1[k])}
        assert changed == {k for k in w0 if k.startswith(prefix[group])}, group

    # The same updates by hand: only the group's gradients count in its update.
    opts = {"discriminator": torch.optim.Adam(reference.disc.parameters(), lr=0.02, weight_decay=0.1),
            "generator": torch.optim.Adam(reference.gen.parameters(), lr=0.01, betas=(0.5, 0.98))}
    for batch, group in zip(batches, groups):
        reference.zero_grad()
        reference.loss(batch, group).backward()
        opts[group].step()
    assert same(weights(reference), weights(model))
    last = results["history"][-1]
    assert {"train/generator_loss", "train/discriminator_loss", "lr/generator", "lr/discriminator"} <= set(last)


# ---------------------------------------------------------------- resume after SIGKILL

RESUME_EPOCHS = 4


def _resume_run(exp, kill_at=None):
    """Train a dropout classifier; with ``kill_at``, SIGKILL this process at that forward call."""

    class Killed(Classifier):
        def forward(self, batch):
            if kill_at is not None and self.calls == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return super().forward(batch)

    seed_everything(0)
    model = Killed(hidden=16, dropout=0.3)
    cfg = config(max_epochs=RESUME_EPOCHS, optim={"name": "adamw", "lr": 0.02, "weight_decay": 0.01},
                 scheduler={"name": "warmup_cosine", "warmup_steps": 5}, grad_clip=1.0, accum_grad=2)
    results = Trainer(model, EpochBatchSampler(blobs(160), seed=5), blobs(64, seed=1), cfg, exp).fit()
    return model, results


def _single_threaded(fn, *args):
    torch.set_num_threads(1)  # a forked child must not use the parent's OpenMP pool
    fn(*args)


def test_resume_after_sigkill_is_bit_exact(tmp_path, capfd, one_thread):
    # A forked child (no second torch import) trains and is SIGKILLed at forward call 25:
    # 10 batches per epoch, so in epoch 3, after the checkpoint of epoch 2.
    child = FORK.Process(target=_single_threaded, args=(_resume_run, tmp_path / "killed", 25))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == -signal.SIGKILL
    assert torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["epoch"] == 2
    capfd.readouterr()
    resumed, resumed_results = _resume_run(tmp_path / "killed")
    assert "resumed from" in capfd.readouterr().err and "epoch 2, step 10" in \
        (tmp_path / "killed" / "train.log").read_text()
    straight, results = _resume_run(tmp_path / "straight")
    assert same(weights(resumed), weights(straight))
    assert [h["epoch"] for h in resumed_results["history"]] == list(range(1, RESUME_EPOCHS + 1))
    for a, b in zip(resumed_results["history"], results["history"]):
        measured = lambda k: k == "time" or k.startswith("cost/")  # noqa: E731 - wall clock and memory
        assert {k: v for k, v in a.items() if not measured(k)} == {k: v for k, v in b.items() if not measured(k)}


# ---------------------------------------------------------------- DDP (gloo, CPU)

def _ddp_run(exp, accum_grad=1):
    seed_everything(0)
    model = Classifier(hidden=8)
    cfg = config(max_epochs=1, accum_grad=accum_grad, optim={"name": "sgd", "lr": 0.1, "momentum": 0.9})
    train = EpochBatchSampler(blobs(256), seed=1)
    valid = EpochBatchSampler(blobs(72, seed=1), shuffle=False, pad=False)  # 5 batches: uneven shards
    return model, Trainer(model, train, valid, cfg, exp).fit()


def _gan_run(exp):
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 3, generator=g), torch.randn(8, 2, generator=g) + 3) for _ in range(8)]
    seed_everything(0)
    model = TinyGan()
    cfg = config(max_epochs=1, best_metric="train/generator_loss", best_mode="min")
    return model, Trainer(model, EpochBatchSampler(batches, shuffle=False), None, cfg, exp).fit()


def _ddp_rank(rank, exp, port, run):
    """One rank, with the environment torchrun would give it."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    model, _ = run(exp)
    torch.save(weights(model), exp / f"rank{rank}.pt")


def _fork_ddp(exp, run):
    """Run ``run(exp)`` on two forked gloo ranks; return their final weights."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.start_processes(_ddp_rank, args=(exp, port, run), nprocs=2, start_method="fork")
    return [torch.load(exp / f"rank{r}.pt", weights_only=True) for r in range(2)]


def test_ddp_gloo_matches_single_process(tmp_path, one_thread):
    # Forked ranks avoid two more torch imports (seconds each on a small machine); the same
    # run under torchrun: torchrun --standalone --nproc_per_node 2 test/test_train.py ddp EXP
    exp = tmp_path / "ddp"
    rank0, rank1 = _fork_ddp(exp, _ddp_run)
    assert same(rank0, rank1)
    assert same(torch.load(exp / "checkpoint.pt", weights_only=True)["model"], rank0)
    assert (exp / "train.log").read_text().count("epoch 1/1 |") == 1  # rank 0 alone writes

    # One process accumulating the two ranks' batches takes the same steps.
    model, single = _ddp_run(tmp_path / "single", accum_grad=2)
    for key, value in weights(model).items():
        torch.testing.assert_close(rank0[key], value, rtol=1e-5, atol=1e-6)
    ddp = json.loads((exp / "results.json").read_text())["history"][0]
    assert ddp["valid/acc"] == single["history"][0]["valid/acc"]  # counts summed over ranks
    assert ddp["step"] == single["history"][0]["step"] == 8
    assert ddp["train/loss"] == pytest.approx(single["history"][0]["train/loss"], rel=1e-5)


def test_ddp_two_optimisers(tmp_path, one_thread):
    rank0, rank1 = _fork_ddp(tmp_path, _gan_run)
    assert same(rank0, rank1)
    assert json.loads((tmp_path / "results.json").read_text())["steps"] == 4  # 8 batches, 2 ranks


if __name__ == "__main__":  # torchrun --standalone --nproc_per_node 2 test/test_train.py ddp EXP
    assert sys.argv[1] == "ddp"
    torch.set_num_threads(1)
    ddp_model, _ = _ddp_run(Path(sys.argv[2]))
    torch.save(weights(ddp_model), Path(sys.argv[2]) / f"rank{os.environ['RANK']}.pt")


def test_device_selection_names_the_setting():
    from ssltk.device import select_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device(None).type == select_device("auto").type == expected
    assert select_device("cpu") == torch.device("cpu")
    with pytest.raises(UserError, match="trainer.device: unknown device 'tpu9'"):
        select_device("tpu9", "trainer.device")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="--device is 'cuda:1' but CUDA is not available"):
            select_device("cuda:1")


def test_trainer_reports_trainable_parameters_speed_and_peak_memory(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    model[0].requires_grad_(False)

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, batch):
            loss = self.net(batch["x"]).square().mean()
            return loss, {}

    batches = [{"x": torch.randn(3, 4)} for _ in range(4)]
    cfg = config_from_dict({"trainer": {"max_epochs": 2, "best_metric": "train/loss"}}, source="test")
    results = Trainer(Wrapped(), batches, None, cfg, tmp_path).fit()
    assert results["parameters"] == 4 * 8 + 8 + 8 * 2 + 2
    assert results["trainable_parameters"] == 8 * 2 + 2
    assert "model: 58 parameters, 18 trainable (31.03%)" in (tmp_path / "train.log").read_text()
    for epoch in results["history"]:
        assert epoch["cost/steps_per_sec"] > 0 and epoch["cost/peak_memory_mb"] > 0
