"""Task models: CTC decoding, heads, frozen upstreams, on-the-fly == precomputed, CTC learning."""

import math

import numpy as np
import pytest
import torch

from ssltk import hub
from ssltk.bin.extract_feats import main as extract_main
from ssltk.data.augment import speed_perturb
from ssltk.data.datadir import DataDir, read_table
from ssltk.errors import UserError
from ssltk.tasks.asr import CTCModel
from ssltk.tasks.classification import ClassificationModel
from ssltk.tasks.config import AsrConfig, ClsConfig, FrontendConfig
from ssltk.tasks.ctc_decode import greedy_decode, path_log_likelihood, prefix_beam_search
from ssltk.data.loader import collate, make_loader
from ssltk.tasks.targets import encode_texts
from ssltk.tasks.frontend import Frontend, build_frontend
from ssltk.tasks.heads import CTCHead, FrameStack, UtteranceHead, stack_count
from ssltk.text import build_token_dir
from ssltk.train.config import FieldError
from test_tasks_common import letter_corpus, letter_texts

pytestmark = pytest.mark.usefixtures("one_thread")


def log_probs(*rows):
    return np.log(np.array(rows, dtype=np.float64))


# ---------------------------------------------------------------- decoding

def test_greedy_merges_repeats_and_drops_blanks():
    lp = torch.log(torch.tensor([[.1, .8, .1], [.1, .8, .1], [.8, .1, .1], [.1, .8, .1], [.1, .1, .8]]))
    assert greedy_decode(lp) == [[1, 1, 2]]
    assert greedy_decode(lp[None].repeat(2, 1, 1), torch.tensor([5, 2])) == [[1, 1, 2], [1]]


def test_beam_search_beats_greedy_on_spread_probability():
    # blank 0.6 in both frames: the best path is "" (0.36), but "a" has 0.16 + 0.24 + 0.24 = 0.64
    lp = log_probs([.6, .4], [.6, .4])
    assert greedy_decode(torch.from_numpy(lp)) == [[]]
    assert prefix_beam_search(lp, beam=1)[0][0] == []  # one prefix per frame keeps ""
    (best, score), (second, score2) = prefix_beam_search(lp, beam=2, nbest=2)
    assert best == [1] and second == []
    assert score == pytest.approx(math.log(0.64)) and score2 == pytest.approx(math.log(0.36))
    assert path_log_likelihood(lp, best) > path_log_likelihood(lp, [])


def test_beam_scores_are_exact_ctc_likelihoods():
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = rng.dirichlet(np.ones(3), size=4)
        results = prefix_beam_search(np.log(p), beam=1000, nbest=1000, token_topk=None)
        for ids, score in results:
            assert score == pytest.approx(path_log_likelihood(np.log(p), ids), abs=1e-5)
        # every prefix of at most 4 labels appears; their probabilities sum to 1
        assert sum(math.exp(s) for _, s in results) == pytest.approx(1.0, abs=1e-6)


def test_beam_one_equals_greedy_on_peaked_posteriors():
    rng = np.random.default_rng(1)
    for _ in range(20):
        t, v = 30, 6
        p = rng.dirichlet(np.ones(v) * 0.3, size=t)
        top = rng.integers(0, v, size=t)
        p = 0.1 * p
        p[np.arange(t), top] += 0.9  # sharply peaked, as a trained model's posteriors
        lp = torch.log(torch.from_numpy(p))
        assert prefix_beam_search(lp, beam=1)[0][0] == greedy_decode(lp)[0]
        assert prefix_beam_search(lp, beam=4)[0][0] == greedy_decode(lp)[0]


def test_language_model_hook():
    lp = log_probs([.1, .5, .4], [.9, .05, .05])
    assert prefix_beam_search(lp, beam=4)[0][0] == [1]
    no_ones = lambda prefix, token: -10.0 if token == 1 else 0.0  # noqa: E731
    assert prefix_beam_search(lp, beam=4, lm=no_ones, lm_weight=1.0)[0][0] == [2]


# ---------------------------------------------------------------- heads and frontends

@pytest.mark.parametrize("make", [
    lambda: UtteranceHead(8, 3, proj_dim=6, pooling="mean"),
    lambda: UtteranceHead(8, 3, proj_dim=0, pooling="attentive"),
    lambda: UtteranceHead(8, 3, proj_dim=6, encoder_layers=1, encoder_size=4, stack_frames=2),
    lambda: CTCHead(8, 5, "blstm", proj_dim=6, hidden_size=4, num_layers=2, dropout=0.0),
    lambda: CTCHead(8, 5, "linear", proj_dim=0),
    lambda: CTCHead(8, 5, "blstm", proj_dim=6, hidden_size=4, num_layers=1, stack_frames=3),
])
def test_heads_ignore_padding(make):
    torch.manual_seed(0)
    head = make().eval()
    lens = torch.tensor([7, 3, 5])
    x = torch.randn(3, 9, 8)
    batched = head(x, lens)
    for i, n in enumerate(lens.tolist()):
        alone = head(x[i:i + 1, :n], lens[i:i + 1])
        if isinstance(batched, tuple):  # CTC: frame logits and frame counts
            (frames, out_lens), (alone, alone_lens) = batched, alone
            assert out_lens[i] == alone_lens[0] == alone.shape[1]
            got = frames[i:i + 1, :int(out_lens[i])]
        else:
            got = batched[i:i + 1]
        torch.testing.assert_close(got, alone, atol=1e-6, rtol=1e-5)


def test_frame_stacking_concatenates_neighbours():
    x = torch.arange(2 * 5 * 2, dtype=torch.float).reshape(2, 5, 2)
    y, lens = FrameStack(2)(x, torch.tensor([5, 3]))
    assert y.shape == (2, 3, 4) and lens.tolist() == [3, 2]
    assert y[0, 0].tolist() == [0, 1, 2, 3] and y[0, 2].tolist() == [8, 9, 0, 0]
    assert y[1, 1].tolist() == [14, 15, 0, 0]  # frames past the length are zeroed


def test_frozen_upstream_is_not_trained_nor_saved():
    cfg = FrontendConfig(upstream="hubert_debug")
    model = ClassificationModel(build_frontend(cfg), ["a", "b"], ClsConfig(proj_dim=4))
    upstream = model.frontend.upstream
    model.train()
    assert not upstream.training and model.head.training
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("head.", "frontend.featurizer.")) for n in trainable)
    state = model.state_dict()
    assert not any(k.startswith("frontend.upstream.") for k in state)
    fresh = ClassificationModel(build_frontend(cfg), ["a", "b"], ClsConfig(proj_dim=4))
    fresh.load_state_dict(state)  # strict: the upstream keys are filled in from the model
    torch.testing.assert_close(fresh.head.output.weight, model.head.output.weight)

    tuned_frontend = build_frontend(FrontendConfig(upstream="hubert_debug", finetune_upstream=True))
    tuned = ClassificationModel(tuned_frontend, ["a", "b"], ClsConfig(proj_dim=4)).train()
    assert tuned.frontend.upstream.training
    assert any(k.startswith("frontend.upstream.") for k in tuned.state_dict())
    assert all(p.requires_grad for p in tuned.frontend.upstream.parameters())
    batch = {"wavs": torch.randn(2, 4000), "wav_lens": torch.tensor([4000, 3000]),
             "labels": torch.tensor([0, 1])}
    tuned(batch)[0].backward()
    assert any(p.grad is not None for p in tuned.frontend.upstream.parameters())


def test_intent_validation_reports_scenario_and_action_accuracy():
    labels = ["alarm_query", "alarm_set", "play_music", "play_radio"]
    model = ClassificationModel(Frontend(input_dim=4), labels, ClsConfig(proj_dim=0, intent=True))
    predicted = torch.tensor([1, 0, 3, 3])  # alarm_set, alarm_query, play_radio, play_radio
    model.logits = lambda batch: torch.nn.functional.one_hot(predicted, 4).float() * 10
    batch = {"labels": torch.tensor([1, 1, 0, 2])}  # alarm_set, alarm_set, alarm_query, play_music
    totals = {k: float(v) for k, v in model.validation_step(batch).items()}
    metrics = model.validation_metrics(totals)
    assert metrics["acc"] == 0.25  # only the first
    assert metrics["scenario_acc"] == 0.75  # all but alarm_query -> play_radio
    assert metrics["action_acc"] == 0.25  # only set -> set
    assert model.predict(batch) == ["alarm_set", "alarm_query", "play_radio", "play_radio"]


def test_speed_perturbation_scales_frequency_and_length():
    t = torch.arange(16000) / 16000
    tone = torch.sin(2 * math.pi * 1000 * t)
    wavs, lens = torch.stack([tone, tone]), torch.tensor([16000, 8000])
    wavs[1, 8000:] = 0
    out, new_lens = speed_perturb(wavs, lens, [1.1], torch.Generator().manual_seed(0))
    assert new_lens.tolist() == [14546, 7273] and out.shape == (2, 14546)
    peak = torch.fft.rfft(out[0]).abs().argmax().item() * 16000 / 14546
    assert abs(peak - 1100) < 2  # 1 kHz played 1.1 times faster
    assert out[1, 7273:].abs().max() == 0  # re-padded with zeros
    same, same_lens = speed_perturb(wavs, lens, [1.0])
    assert torch.equal(same, wavs) and torch.equal(same_lens, lens)


def test_frontend_speed_perturbs_training_batches_only():
    frontend = build_frontend(FrontendConfig(upstream="fbank", speed_perturb=[0.8]))
    batch = {"wavs": torch.randn(1, 16000), "wav_lens": torch.tensor([16000])}
    assert frontend.eval()(batch)[1].item() == 98  # 25 ms windows, 10 ms shift
    assert frontend.train()(batch)[1].item() == 123  # 1.25 s of audio
    with pytest.raises(UserError, match="speed_perturb needs features computed from audio"):
        build_frontend(FrontendConfig(speed_perturb=[0.9, 1.1]), input_dim=4)
    with pytest.raises(FieldError, match=r"factors must lie in \[0.5, 2\], got \[3.0\]"):
        FrontendConfig(speed_perturb=[1.0, 3.0])


def test_utterance_mvn_normalises_valid_frames_only():
    frontend = Frontend(input_dim=3, utterance_mvn=True)
    feats = torch.randn(2, 7, 3) * 5 + 2
    lens = torch.tensor([7, 4])
    out, out_lens = frontend({"feats": feats, "feat_lens": lens})
    assert torch.equal(out_lens, lens) and out[1, 4:].abs().max() == 0
    for i, n in enumerate(lens.tolist()):
        valid = out[i, :n]
        torch.testing.assert_close(valid.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
        torch.testing.assert_close(valid.var(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)
        alone, _ = frontend({"feats": feats[i:i + 1, :n], "feat_lens": lens[i:i + 1]})
        torch.testing.assert_close(alone[0], valid)


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_frozen_upstream_in_reduced_precision_is_close_and_unsaved(precision):
    torch.manual_seed(0)
    batch = {"wavs": torch.randn(2, 8000), "wav_lens": torch.tensor([8000, 5000])}
    full = build_frontend(FrontendConfig(upstream="ssltk_mini", layer_norm=True)).eval()
    reduced = build_frontend(FrontendConfig(upstream="ssltk_mini", layer_norm=True, precision=precision)).eval()
    reduced.featurizer.load_state_dict(full.featurizer.state_dict())
    with torch.no_grad():
        (a, a_lens), (b, b_lens) = full(batch), reduced(batch)
    assert torch.equal(a_lens, b_lens) and b.dtype == torch.float32
    error = float((a - b).norm() / a.norm())
    assert 0 < error < 0.1, error  # changed, but little
    assert reduced.upstream_fingerprint == full.upstream_fingerprint  # of the weights as loaded
    assert not any(k.startswith("upstream.") for k in reduced.state_dict())
    with pytest.raises(FieldError, match="frozen upstream"):
        FrontendConfig(upstream="ssltk_mini", precision=precision, finetune_upstream=True)


def test_stack_ms_picks_frames_by_frame_rate():
    cfg = AsrConfig(stack_ms=30)
    assert [stack_count(cfg, rate) for rate in (100, 50, 25, 10)] == [3, 2, 1, 1]
    assert stack_count(AsrConfig(stack_frames=4), 50) == 4
    with pytest.raises(ValueError, match="frame rate"):
        stack_count(cfg, None)
    with pytest.raises(FieldError, match="not both"):
        ClsConfig(stack_frames=2, stack_ms=30)
    model = ClassificationModel(Frontend(input_dim=4), ["a", "b"], ClsConfig(stack_ms=30), frame_rate=50)
    assert model.head.stack.k == 2


def test_multitask_ctc_trains_both_and_predicts_labels(tmp_path):
    ddir = letter_corpus(tmp_path / "data", letter_texts(6, 5), seed=5)
    tokenizer = build_token_dir(ddir / "text", "char", tmp_path / "tokens")
    texts = encode_texts(DataDir(ddir), "audio", tokenizer, allow_unk=False)
    cfg = ClsConfig(proj_dim=8, encoder_layers=1, encoder_size=4, ctc_weight=0.5, stack_frames=2)
    with pytest.raises(ValueError, match="tokenizer"):
        ClassificationModel(Frontend(input_dim=4), ["a", "b"], cfg)
    torch.manual_seed(0)
    model = ClassificationModel(build_frontend(FrontendConfig(upstream="fbank")), ["a", "b"], cfg,
                                tokenizer)
    items = [(u, torch.randn(4000 + 800 * i), (i % 2, texts[u])) for i, u in enumerate(texts)]
    batch = collate(items)
    assert batch["labels"].tolist() == [0, 1, 0, 1, 0, 1]
    assert batch["target_lens"].tolist() == [len(t) for t in texts.values()]
    loss, stats = model(batch)
    ce = torch.nn.functional.cross_entropy(model.logits(batch), batch["labels"])
    assert stats["ctc"] > 0
    torch.testing.assert_close(loss, 0.5 * ce + 0.5 * stats["ctc"])
    loss.backward()
    assert model.ctc.weight.grad.abs().sum() > 0 and model.head.output.weight.grad.abs().sum() > 0
    assert len(model.predict(batch)) == 6


# ---------------------------------------------------------------- on the fly == precomputed

@pytest.fixture(scope="module")
def letters(tmp_path_factory):
    root = tmp_path_factory.mktemp("letters")
    ddir = letter_corpus(root / "data", letter_texts(5, 3), seed=3)
    return root, ddir


def outputs_by_utt(model, loader, fn):
    out = {}
    with torch.no_grad():
        for batch in loader:
            values = fn(model, batch)
            lens = model.frontend(batch)[1]
            for i, utt in enumerate(batch["utts"]):
                out[utt] = values[i, :int(lens[i])] if values.dim() == 3 else values[i]
    return out


def test_on_the_fly_equals_precomputed(letters):
    root, ddir = letters
    dump = root / "dump"
    assert extract_main(["--upstream", "hubert_debug", "--data", str(ddir), "--out", str(dump),
                         "--layer", "1", "--batch_seconds", "1.5"]) == 0
    tokenizer = build_token_dir(ddir / "text", "char", root / "tokens")
    online = build_frontend(FrontendConfig(upstream="hubert_debug", featurizer="layer", layer=1))
    offline = Frontend(input_dim=hub.load("hubert_debug").hidden_size)
    asr_cfg = AsrConfig(proj_dim=8, hidden_size=6, num_layers=2, dropout=0.0)
    for build, fn in [
        (lambda fe: ClassificationModel(fe, ["x", "y", "z"], ClsConfig(proj_dim=8)),
         lambda m, b: m.logits(b)),
        (lambda fe: CTCModel(fe, tokenizer, asr_cfg), lambda m, b: m.log_probs(b)[0]),
    ]:
        torch.manual_seed(0)
        a = build(online).eval()
        b = build(offline).eval()
        b.load_state_dict(a.state_dict(), strict=False)  # the head's weights
        # different batchings on purpose: padding must not matter
        audio = make_loader(DataDir(ddir), "audio", batch_seconds=3.0, max_batch=4, shuffle=False)
        feats = make_loader(DataDir(dump), "feats", frame_rate=50.0, batch_seconds=100.0,
                            max_batch=16, shuffle=False)
        x, y = outputs_by_utt(a, audio, fn), outputs_by_utt(b, feats, fn)
        assert x.keys() == y.keys() and len(x) == 5
        for utt in x:
            torch.testing.assert_close(x[utt], y[utt], atol=1e-5, rtol=1e-5)
            assert torch.equal(x[utt].argmax(-1), y[utt].argmax(-1))


# ---------------------------------------------------------------- learning

def test_ctc_memorises_a_tiny_letter_task(tmp_path):
    texts = letter_texts(8, 11)
    ddir = letter_corpus(tmp_path / "data", texts, seed=11)
    tokenizer = build_token_dir(ddir / "text", "char", tmp_path / "tokens")
    upstream = hub.load("fbank")
    data = DataDir(ddir)
    targets = encode_texts(data, "audio", tokenizer, allow_unk=False)
    loader = make_loader(data, "audio", targets=targets, batch_seconds=100.0, max_batch=8, shuffle=False)
    batch = next(iter(loader))
    with torch.no_grad():
        hidden, lens = upstream(batch["wavs"], batch["wav_lens"])
    feats = hidden[-1]
    feats = (feats - feats.mean((0, 1))) / feats.std((0, 1))
    batch = {**batch, "feats": feats, "feat_lens": lens}
    torch.manual_seed(0)
    model = CTCModel(Frontend(input_dim=feats.shape[-1]), tokenizer, AsrConfig(head="linear", proj_dim=32))
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    losses = []
    for _ in range(300):
        loss, _ = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.01 * losses[0]
    model.eval()
    refs = read_table(ddir / "text")
    assert dict(zip(batch["utts"], model.predict(batch))) == refs
    assert dict(zip(batch["utts"], model.predict(batch, beam=4))) == refs
    assert collate([("u", torch.zeros(3), [1, 2])])["target_lens"].tolist() == [2]


def test_spec_augment_masks_bands_and_spans_within_bounds():
    from ssltk.data.augment import spec_augment
    from ssltk.tasks.config import SpecAugmentConfig

    feats, lens = torch.ones(3, 100, 40), torch.tensor([100, 60, 10])
    gen = torch.Generator().manual_seed(0)
    out = spec_augment(feats, lens, freq_masks=2, freq_width=8, time_masks=2, time_width=20,
                       max_time_ratio=0.2, generator=gen)
    assert torch.equal(feats, torch.ones(3, 100, 40))  # the input is left alone
    for b, n in enumerate(lens.tolist()):
        zero_dims = (out[b, :n] == 0).all(0).sum().item()  # whole bands
        zero_frames = (out[b, :n] == 0).all(1).sum().item()  # whole spans
        assert zero_dims <= 2 * 8 and zero_frames <= 2 * min(20, int(0.2 * n))
    assert 0 < (out == 0).float().mean() < 0.5
    again = spec_augment(feats, lens, 2, 8, 2, 20, 0.2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)  # seeded: a resumed run repeats its masks
    # in the frontend: training batches only
    cfg = FrontendConfig(upstream="fbank", featurizer="layer", spec_augment=SpecAugmentConfig())
    frontend = build_frontend(cfg)
    batch = {"wavs": torch.randn(2, 16000), "wav_lens": torch.tensor([16000, 12000])}
    frontend.eval()
    clean, _ = frontend(batch)
    assert torch.equal(frontend(batch)[0], clean)
    frontend.train()
    assert (frontend(batch)[0] == 0).sum() > (clean == 0).sum()
    with pytest.raises(FieldError):
        SpecAugmentConfig(max_time_ratio=1.5)
