"""Masked-prediction pre-training: span masks, masked-only loss, a tiny end-to-end run."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from ssltk import hub
from ssltk.bin.kmeans import main as kmeans_main
from ssltk.bin.pretrain import main as pretrain_main
from ssltk.data.datadir import DataDir
from ssltk.errors import UserError
from ssltk.pretraining.masked_prediction import (IGNORE, MaskedPredictionModel, PretrainConfig, PretrainModelConfig,
                                build_model, compute_span_mask, expected_mask_fraction, km_targets,
                                pretrain)
from ssltk.data.loader import make_loader
from ssltk.train import load_config, seed_everything

pytestmark = pytest.mark.usefixtures("one_thread")

CONF = Path(__file__).resolve().parents[1] / "ssltk" / "pretraining" / "conf"
DEBUG_CONF = CONF / "pretrain_melhubert_debug.yaml"


# ---------------------------------------------------------------- span masking

def test_span_mask_statistics_padding_and_seed():
    lens = torch.tensor([500] * 150 + [37] * 150)
    mask = compute_span_mask(lens, 520, 0.8, 10, 2, torch.Generator().manual_seed(0))
    assert mask.shape == (300, 520) and mask.dtype == torch.bool
    assert not mask[:, 500:].any() and not mask[150:, 37:].any()  # never on padding
    # overlapping spans: ~ 1 - (1 - 0.8 / 10) ** 10 = 0.57 of long utterances, not 0.8
    long_frac = mask[:150, :500].float().mean().item()
    assert abs(long_frac - expected_mask_fraction(500, 0.8, 10, 2)) < 0.01
    assert abs(expected_mask_fraction(5000, 0.8, 10, 2) - (1 - 0.92 ** 10)) < 0.005
    short_frac = mask[150:, :37].float().mean().item()
    assert abs(short_frac - expected_mask_fraction(37, 0.8, 10, 2)) < 0.02
    # min_masks: every utterance has at least 2 spans' worth of frames when it can
    assert (mask[150:, :37].sum(1) >= 10).all()
    # MelHuBERT's 0.7 / 5
    mel = compute_span_mask(torch.tensor([400] * 100), 400, 0.7, 5, 2, torch.Generator().manual_seed(1))
    assert abs(mel.float().mean().item() - expected_mask_fraction(400, 0.7, 5, 2)) < 0.01
    # deterministic under a seed, from a generator or from torch's global RNG
    again = compute_span_mask(lens, 520, 0.8, 10, 2, torch.Generator().manual_seed(0))
    assert torch.equal(mask, again)
    torch.manual_seed(5)
    a = compute_span_mask(lens[:4], 520, 0.8, 10)
    torch.manual_seed(5)
    b = compute_span_mask(lens[:4], 520, 0.8, 10)
    assert torch.equal(a, b) and not torch.equal(a, mask[:4])
    # degenerate lengths
    tiny = compute_span_mask(torch.tensor([0, 3]), 5, 0.8, 10)
    assert not tiny[0].any() and tiny[1, :3].all() and not tiny[1, 3:].any()
    assert not compute_span_mask(lens, 520, 0.0, 10).any()


# ---------------------------------------------------------------- loss on masked frames

def _model(**overrides) -> MaskedPredictionModel:
    cfg = PretrainModelConfig(upstream="melhubert_debug", head="linear", mask_prob=0.5, mask_length=4,
                              **overrides)
    torch.manual_seed(0)
    model = MaskedPredictionModel(hub.load(cfg.upstream), cfg, num_classes=8, label_rate=50.0)
    return model.eval()


def _batch(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    wav_lens = torch.tensor([16000, 11000])
    wavs = torch.randn(2, 16000, generator=g) * 0.1
    wavs[1, 11000:] = 0
    frames = model.upstream.num_frames(wav_lens)
    targets = torch.randint(0, 8, (2, int(frames.max())), generator=g)
    return {"utts": ["a", "b"], "wavs": wavs, "wav_lens": wav_lens, "targets": targets,
            "target_lens": frames.clone()}, frames


def test_loss_only_on_masked_frames():
    model = _model()
    batch, frames = _batch(model)
    mask = compute_span_mask(frames, int(frames.max()), 0.5, 4, 2, torch.Generator().manual_seed(7))
    assert mask.any() and (~mask).any()

    def loss(b, m=model):
        with torch.no_grad():
            return m.predict(b, torch.Generator().manual_seed(7))

    base = loss(batch)
    assert base["count_m"] == int(mask.sum()) and base["count_u"] == int(frames.sum() - mask.sum())
    changed = dict(batch, targets=torch.where(mask, batch["targets"], (batch["targets"] + 3) % 8))
    assert torch.equal(loss(changed)["loss"], base["loss"])  # unmasked labels do not matter
    masked_changed = dict(batch, targets=torch.where(mask, (batch["targets"] + 3) % 8, batch["targets"]))
    assert not torch.equal(loss(masked_changed)["loss"], base["loss"])
    both = _model(pred_nomask_weight=0.5)
    both.load_state_dict(model.state_dict())
    assert not torch.equal(loss(changed, both)["loss"], loss(batch, both)["loss"])
    # frames past the last label are ignored
    short = dict(batch, target_lens=torch.tensor([10, 10]))
    out = loss(short)
    assert out["count_m"] + out["count_u"] == 20
    targets = model.frame_targets(short, frames, int(frames.max()))
    assert (targets[:, 10:] == IGNORE).all() and (targets[:, :10] >= 0).all()
    # gradients reach the encoder, the head and the mask embedding (HuBERT style too)
    hubert = MaskedPredictionModel(hub.load("hubert_debug"), PretrainModelConfig(final_dim=16), 8, 50.0)
    hubert.train()
    batch, _ = _batch(hubert)
    total, stats = hubert(batch)
    total.backward()
    assert 0 <= stats["acc_m"] <= 1 and 0.2 < stats["masked_frac"] < 0.8
    for p in (hubert.mask_emb, hubert.label_embs, hubert.final_proj.weight,
              hubert.upstream.encoder.layers[0].ffn.fc1.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """80 synthetic utterances (dev: an unseen speaker), MFCC k-means labels with k = 8."""
    from ssltk.corpora.synth import generate

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("pt")
    generate("codeswitch", root / "cs", seed=0, num_utts=80, nj=1)
    data = root / "cs" / "data"
    kmeans_main(["fit", "--data", str(data / "train"), "--upstream", "mfcc", "--k", "8",
                 "--device", "cpu", "--out", str(root / "km.pt")])
    kmeans_main(["label", "--codebook", str(root / "km.pt"), "--data", str(data / "train"),
                 str(data / "dev"), "--device", "cpu"])
    return data


def _valid_metrics(model, data):
    targets, _ = km_targets(data / "dev")
    loader = make_loader(DataDir(data / "dev"), "audio", targets=targets, shuffle=False,
                         batch_seconds=20, max_batch=8)
    totals = {}
    model.eval()
    with torch.no_grad():
        for batch in loader:
            for k, v in model.validation_step(batch).items():
                totals[k] = totals.get(k, 0) + v
    return model.validation_metrics(totals)


def test_end_to_end_melhubert(corpus, tmp_path):
    exp = tmp_path / "exp"
    cfg = load_config(DEBUG_CONF, PretrainConfig)
    seed_everything(cfg.trainer.seed)
    before = _valid_metrics(build_model(cfg.model, 8, 100.0), corpus)
    pretrain_main(["--config", str(DEBUG_CONF), "--train", str(corpus / "train"), "--valid",
                   str(corpus / "dev"), "--exp", str(exp), "--override", "trainer.max_epochs=10"])
    results = json.loads((exp / "results.json").read_text())
    history = results["history"]
    losses = [h["train/loss"] for h in history]
    # measured (seed 0): train loss 1.93 -> 1.35; dev acc_m 0.12 at init (chance 1/8),
    # best 0.35 (the dev speaker is unseen: its cluster distribution differs from train)
    assert losses[-1] < 0.8 * losses[0]
    assert before["acc_m"] < 0.2
    assert results["best_metric"] == "valid/acc_m"
    assert results["best_value"] > 0.25 and results["best_value"] > before["acc_m"] + 0.1
    assert all("valid/acc_u" in h for h in history)

    upstream = hub.load(exp / "upstream.pt")
    assert set(upstream.pretraining_heads) == {"final_proj.weight", "final_proj.bias"}  # zero mask
    wavs = torch.randn(2, 16000) * 0.1
    hidden, lens = upstream(wavs, torch.tensor([16000, 9000]))
    assert len(hidden) == upstream.num_layers + 1 and hidden[-1].shape == (2, 49, 32)
    assert lens.tolist() == [49, 27]  # kaldi frames (1 + (L - 400) // 160) // 2
    # the exported encoder is the best checkpoint's
    best = torch.load(exp / results["best_checkpoint"], weights_only=True)
    assert torch.equal(upstream.state_dict()["encoder.layers.0.ffn.fc1.weight"],
                       best["upstream.encoder.layers.0.ffn.fc1.weight"])
    # continuing from the export reuses the encoder and the heads
    cont = build_model(PretrainModelConfig(**{**cfg.model.__dict__, "upstream": str(exp / "upstream.pt")}),
                       8, 100.0)
    assert torch.equal(cont.final_proj.weight, best["final_proj.weight"])
    assert _valid_metrics(cont, corpus)["acc_m"] == pytest.approx(results["best_value"])


def test_resume_repeats_the_run(corpus, tmp_path):
    args = ["--config", str(DEBUG_CONF), "--train", str(corpus / "train"), "--valid", str(corpus / "dev")]
    pretrain_main(args + ["--exp", str(tmp_path / "full"), "--override", "trainer.max_epochs=3"])
    pretrain_main(args + ["--exp", str(tmp_path / "cut"), "--override", "trainer.max_epochs=1"])
    pretrain_main(args + ["--exp", str(tmp_path / "cut"), "--override", "trainer.max_epochs=3"])
    full, cut = (json.loads((tmp_path / d / "results.json").read_text())["history"] for d in ("full", "cut"))
    assert len(cut) == 3
    for a, b in zip(full, cut):
        assert a["train/loss"] == pytest.approx(b["train/loss"], rel=1e-5)
        assert a["valid/acc_m"] == pytest.approx(b["valid/acc_m"], rel=1e-5)


def test_errors(corpus, tmp_path):
    train, dev = corpus / "train", corpus / "dev"
    # a data dir without text.km
    bare = tmp_path / "bare"
    shutil.copytree(dev, bare)
    (bare / "text.km").unlink()
    with pytest.raises(UserError, match=r"bare/text.km: no such file.*ssltk.bin.kmeans label"):
        pretrain(DEBUG_CONF, train, bare, tmp_path / "e1")
    # an utterance missing from text.km
    labels = tmp_path / "labels"
    labels.mkdir()
    lines = (dev / "text.km").read_text().splitlines()
    (labels / "text.km").write_text("\n".join(lines[1:]) + "\n")
    shutil.copy(dev / "km_info.yaml", labels)
    first = lines[0].split()[0]
    missing = rf"utterance '{first}' of .*wav.scp is missing from .*labels/text.km"
    with pytest.raises(UserError, match=missing):
        pretrain(DEBUG_CONF, train, dev, tmp_path / "e2", valid_labels=labels)
    # k of the labels differs from the config's num_classes
    with pytest.raises(UserError, match=r"num_classes is 16 but the labels have k = 8 .*km_info.yaml"):
        pretrain(DEBUG_CONF, train, dev, tmp_path / "e3", overrides=["model.num_classes=16"])
    # train and valid labelled with different codebooks / k
    other = tmp_path / "other"
    shutil.copytree(labels, other)
    info = (dev / "km_info.yaml").read_text().replace("k: 8", "k: 9")
    (other / "km_info.yaml").write_text(info)
    (other / "text.km").write_text((dev / "text.km").read_text())
    with pytest.raises(UserError, match="differ in k"):
        pretrain(DEBUG_CONF, train, dev, tmp_path / "e4", valid_labels=other)
    # strict config keys
    with pytest.raises(UserError, match="mask_prb"):
        pretrain(DEBUG_CONF, train, dev, tmp_path / "e5", overrides=["model.mask_prb=0.5"])
    assert not any((tmp_path / f"e{i}").exists() for i in range(1, 6))


@pytest.mark.parametrize("name", ["pretrain_hubert_base", "pretrain_melhubert_base"])
def test_paper_configs_load_and_build(name):
    cfg = load_config(CONF / f"{name}.yaml", PretrainConfig)
    upstream = hub.load(cfg.model.upstream, **cfg.model.upstream_conf)
    assert (upstream.num_layers, upstream.hidden_size) == (12, 768)
    assert cfg.model.head == ("cosine" if name == "pretrain_hubert_base" else "linear")
