"""wav2vec-U 2.0 networks and losses: hand-computed values on small tensors."""

import math

import pytest
import torch
from torch import nn

from ssltk.uasr.gan import GanConfig, UasrModel
from ssltk.uasr.losses import (aux_kmeans_loss, diversity_penalty, gan_loss, gradient_penalty,
                               smoothness_loss)
from ssltk.uasr.model import (Discriminator, DiscriminatorConfig, Generator, GeneratorConfig,
                              join_segments)

pytestmark = pytest.mark.usefixtures("one_thread")

PHONES = ["<SIL>", "a", "b", "c"]


def test_gan_loss_is_binary_cross_entropy():
    scores = torch.tensor([0.0, 2.0])
    real = (math.log(1 + math.exp(-0.0)) + math.log(1 + math.exp(-2.0))) / 2
    fake = (math.log(1 + math.exp(0.0)) + math.log(1 + math.exp(2.0))) / 2
    assert gan_loss(scores, real=True).item() == pytest.approx(real, abs=1e-6)
    assert gan_loss(scores, real=False).item() == pytest.approx(fake, abs=1e-6)


class LinearCritic(nn.Module):
    """D(x) = mean_t sum_v w_v x[t, v]: dD/dx[t, v] = w_v / T."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x, lens=None):
        return (x * self.w).sum(-1).mean(-1)


def test_gradient_penalty_hand_computed():
    w = [3.0, -1.0, 0.5]
    critic = LinearCritic(w)
    real = torch.rand(2, 4, 3)
    fake = torch.rand(3, 6, 3)  # cut to 2 sequences of 4 frames
    # the norm over time of w_v / T repeated T times: |w_v| / sqrt(T), T = 4
    expected = sum((abs(v) / 2 - 1) ** 2 for v in w)  # the same for every sequence
    penalty = gradient_penalty(critic, real, fake)
    assert penalty.item() == pytest.approx(expected, abs=1e-5)
    penalty.backward()  # create_graph: the penalty trains the critic
    # d/dw_v of sum_v (|w_v|/2 - 1)^2 = (|w_v|/2 - 1) * sign(w_v)
    grad = [(abs(v) / 2 - 1) * math.copysign(1, v) for v in w]
    assert critic.w.grad.tolist() == pytest.approx(grad, abs=1e-5)


def test_smoothness_counts_valid_pairs_only():
    logits = torch.tensor([[[0.0, 1.0], [2.0, 1.0], [2.0, 4.0]],
                           [[1.0, 1.0], [0.0, 3.0], [99.0, -99.0]]])  # 2nd: 2 valid frames
    lens = torch.tensor([3, 2])
    # pairs: (0,1): (4 + 0)/2 = 2; (1,2): (0 + 9)/2 = 4.5; 2nd utt: (1 + 4)/2 = 2.5
    assert smoothness_loss(logits, lens).item() == pytest.approx((2 + 4.5 + 2.5) / 3)


def test_diversity_penalty():
    lens = torch.tensor([2, 1])
    uniform = torch.zeros(2, 2, 4)
    assert diversity_penalty(uniform, lens).item() == pytest.approx(0.0, abs=1e-5)
    peaked = torch.full((2, 2, 4), -50.0)
    peaked[..., 1] = 50.0
    assert diversity_penalty(peaked, lens).item() == pytest.approx(3 / 4, abs=1e-5)
    half = torch.full((1, 2, 4), -50.0)  # two phones used equally: perplexity 2
    half[0, 0, 0] = half[0, 1, 3] = 50.0
    assert diversity_penalty(half, torch.tensor([2])).item() == pytest.approx(2 / 4, abs=1e-5)
    # a padded frame does not count
    padded = torch.cat([half, torch.full((1, 1, 4), -50.0)], dim=1)
    padded[0, 2, 2] = 50.0
    assert diversity_penalty(padded, torch.tensor([2])).item() == pytest.approx(2 / 4, abs=1e-5)


def test_aux_kmeans_loss_ignores_unlabelled_frames():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 0.0], [5.0, 5.0]]])
    targets = torch.tensor([[0, 1, -1, -1]])  # longer than logits; -1: no label
    expected = (math.log(1 + math.exp(-2.0)) + math.log(2)) / 2
    assert aux_kmeans_loss(logits, targets).item() == pytest.approx(expected, abs=1e-6)


def test_join_segments():
    # argmax per frame: 1 1 2 2 2 1 | 0 0 (padding)
    logits = torch.tensor([[[0, 1, 0], [0, 3, 0], [0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 5, 0],
                            [9, 0, 0], [9, 0, 0]]], dtype=torch.float)
    joined, lens = join_segments(logits, torch.tensor([6]), "mean")
    assert lens.tolist() == [3]
    assert joined[0].tolist() == [[0, 2, 0], [0, 0, 2], [0, 5, 0]]
    torch.manual_seed(0)
    picked, lens = join_segments(logits, torch.tensor([6]), "random")
    assert lens.tolist() == [3]
    assert picked[0, 0].tolist() in ([0, 1, 0], [0, 3, 0])
    assert picked[0, 1].tolist() in ([0, 0, 1], [0, 0, 2], [0, 0, 3])
    assert picked[0, 2].tolist() == [0, 5, 0]


def test_generator_shapes_batch_norm_and_padding_invariance():
    gen = Generator(5, 4, GeneratorConfig())
    assert gen.bn.weight.tolist() == [30.0] * 5
    assert gen.proj.kernel_size == (9,) and gen.proj.stride == (3,) and gen.proj.bias is None
    gen.eval()
    x = torch.randn(2, 10, 5)
    lens = torch.tensor([10, 7])
    logits, out_lens, residual = gen(x, lens)
    assert out_lens.tolist() == [4, 3] and logits.shape == (2, 4, 4) and residual.shape == x.shape
    alone, _, _ = gen(x[1:, :7], lens[1:])
    assert torch.allclose(alone[0], logits[1, :3], atol=1e-4)


def test_discriminator_is_causal_and_averages_valid_frames():
    disc = Discriminator(4, DiscriminatorConfig(dim=8, depth=2, kernel=3))
    x = torch.rand(1, 6, 4)
    per_frame = disc.net(x.transpose(1, 2)).squeeze(1)
    changed = x.clone()
    changed[0, 4:] = torch.rand(2, 4)
    per_frame_changed = disc.net(changed.transpose(1, 2)).squeeze(1)
    assert torch.allclose(per_frame[0, :4], per_frame_changed[0, :4])
    assert not torch.allclose(per_frame[0, 4:], per_frame_changed[0, 4:])
    assert disc(x, torch.tensor([4])).item() == pytest.approx(per_frame[0, :4].mean().item(), abs=1e-6)
    assert disc(x, None).item() == pytest.approx(per_frame[0].mean().item(), abs=1e-6)


def _batch(B=3, T=12, D=5):
    torch.manual_seed(1)
    return {"feats": torch.randn(B, T, D), "feat_lens": torch.tensor([12, 9, 7][:B]),
            "text": torch.tensor([[0, 1, 2, 0], [0, 3, 0, 0], [0, 2, 1, 3]][:B]),
            "text_lens": torch.tensor([4, 3, 4][:B]),
            "km": torch.randint(0, 6, (B, T))}


def test_discriminator_step_adds_the_gradient_penalty_once():
    cfg = GanConfig(generator=GeneratorConfig(dropout=0.0),
                    discriminator=DiscriminatorConfig(dim=8, kernel=3), gradient_penalty=2.0)
    model = UasrModel(5, PHONES, cfg, num_clusters=6)
    batch = _batch()
    torch.manual_seed(7)
    loss, stats = model(batch, group="discriminator")
    expected = stats["d_fake"] + stats["d_real"] + 2.0 * stats["grad_pen"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert all(p.grad is None for p in model.generator.parameters())  # only D learns here
    model.zero_grad()
    torch.manual_seed(7)
    loss_g, stats_g = model(batch, group="generator")
    assert "grad_pen" not in stats_g
    expected_g = (stats_g["g_adv"] + 3.0 * stats_g["diversity"] + 1.5 * stats_g["smooth"]
                  + 0.5 * stats_g["mmi"])
    assert loss_g.item() == pytest.approx(expected_g.item(), rel=1e-5)
    loss_g.backward()
    assert model.aux_head.weight.grad is not None and model.generator.proj.weight.grad is not None


def test_param_groups_split_generator_and_discriminator():
    model = UasrModel(5, PHONES, GanConfig(), num_clusters=6)
    groups = model.param_groups()
    assert list(groups) == ["generator", "discriminator"]  # generator first, as fairseq
    gen = {id(p) for p in groups["generator"]}
    disc = {id(p) for p in groups["discriminator"]}
    assert not gen & disc
    assert gen | disc == {id(p) for p in model.parameters()}
    assert id(model.aux_head.weight) in gen


def test_validation_metrics_weighted_lm_ppl():
    class FixedLM:  # log10 P = -1 per phone and per </s>
        def score(self, tokens, bos=True, eos=True):
            return -1.0 * (len(tokens) + int(eos))

    model = UasrModel(5, PHONES, GanConfig(), lm=FixedLM())
    totals = {"sentences": 2, "pred_phones": 4, "lm_logprob": -6.0, "seen_1": 3, "seen_2": 1,
              "seen_3": 0, "errors": 2, "ref_phones": 8}
    out = model.validation_metrics(totals)
    assert out["lm_ppl"] == pytest.approx(10.0)  # 10 ** (6 / (4 + 2))
    assert out["vocab_usage"] == pytest.approx(2 / 3)
    assert out["weighted_lm_ppl"] == pytest.approx(10.0 / (2 / 3) ** 2)
    assert out["per"] == pytest.approx(25.0)


def _write_dump(path, lengths, dim=3, frame_rate=50.0):
    import kaldiio
    import yaml

    path.mkdir(parents=True)
    mats = {f"u{i:02d}": torch.arange(n * dim, dtype=torch.float32).reshape(n, dim).numpy() + i
            for i, n in enumerate(lengths)}
    with kaldiio.WriteHelper(f"ark,scp:{path / 'feats.ark'},{path / 'feats.scp'}") as w:
        for utt, mat in mats.items():
            w(utt, mat)
    (path / "utt2num_frames").write_text("".join(f"{u} {len(m)}\n" for u, m in mats.items()))
    info = {"upstream": "test", "layer": None, "weights": None, "layer_norm": False, "dim": dim,
            "frame_rate": frame_rate}
    (path / "feats_info.yaml").write_text(yaml.safe_dump(info))
    return mats


def test_speech_set_aligns_kmeans_labels_and_pads(tmp_path):
    from ssltk.uasr.data import SpeechSet

    mats = _write_dump(tmp_path / "dump", [4, 2])
    km = tmp_path / "km"
    km.mkdir()
    (km / "text.km").write_text("u00 0 1 2 3 4 5 6 7\nu01 9 8 7 6\n")  # 100 Hz
    (km / "km_info.yaml").write_text("frame_rate: 100\nk: 10\n")
    speech = SpeechSet(tmp_path / "dump", km_dir=km)
    assert speech.num_clusters == 10 and speech.dim == 3
    batch = speech.batch([0, 1])
    assert batch["feat_lens"].tolist() == [4, 2]
    assert torch.equal(batch["feats"][1, :2], torch.from_numpy(mats["u01"]))
    assert batch["feats"][1, 2:].abs().sum() == 0
    assert batch["km"].tolist() == [[0, 2, 4, 6], [9, 7, -1, -1]]  # every 2nd label, -1 padding


def test_gan_batches_are_reproducible_per_epoch(tmp_path):
    from ssltk.uasr.data import GanBatches, SpeechSet

    _write_dump(tmp_path / "dump", [3, 4, 5, 6, 7])
    speech = SpeechSet(tmp_path / "dump")
    text = [torch.tensor([0, 1, 0]), torch.tensor([0, 2, 3, 0])]
    batches = GanBatches(speech, text, batch_size=2, updates_per_epoch=5, seed=3)
    assert len(batches) == 5
    first = [b["utts"] for b in batches]
    # two epochs of 5 x 2 utterances = 4 passes over the 5 utterances, each a permutation
    batches.set_epoch(2)
    second = [b["utts"] for b in batches]
    stream = [u for b in first + second for u in b]
    for k in range(4):
        assert sorted(stream[5 * k:5 * k + 5]) == [f"u{i:02d}" for i in range(5)]
    resumed = GanBatches(speech, text, batch_size=2, updates_per_epoch=5, seed=3)
    resumed.set_epoch(2)
    again = list(resumed)
    assert [b["utts"] for b in again] == second
    b = again[0]
    assert b["text"].shape[0] == 2 and b["text_lens"].tolist() in ([3, 3], [3, 4], [4, 3], [4, 4])


def test_read_phone_text_names_the_line_of_an_unknown_phone(tmp_path):
    from ssltk.errors import UserError
    from ssltk.uasr.data import read_phone_text

    path = tmp_path / "lm.phones.txt"
    path.write_text("<SIL> a b <SIL>\n\n<SIL> a x <SIL>\n")
    with pytest.raises(UserError, match=r"lm.phones.txt:3: phone 'x'"):
        read_phone_text(path, PHONES)
    path.write_text("<SIL> a b <SIL>\n")
    assert [t.tolist() for t in read_phone_text(path, PHONES)] == [[0, 1, 2, 0]]


@pytest.mark.parametrize("fake", ["hard", "gumbel"])
def test_one_hot_fakes_pass_gradients_straight_through(fake):
    model = UasrModel(5, PHONES, GanConfig(fake=fake))
    logits = torch.randn(2, 3, 4, requires_grad=True)
    lens = torch.tensor([3, 2])
    probs = model.distributions(logits, lens)
    assert probs[0].sum(-1).tolist() == [1.0, 1.0, 1.0] and probs[1, 2].abs().sum() == 0
    assert set(probs.detach().flatten().tolist()) <= {0.0, 1.0}
    if fake == "hard":
        assert torch.equal(probs[0].argmax(-1), logits[0].argmax(-1))
    (probs * torch.randn(4)).sum().backward()
    assert logits.grad.abs().sum() > 0
    model.eval()  # evaluation: the softmax
    assert torch.allclose(model.distributions(logits, lens)[0], logits[0].softmax(-1))
    model.set_step(10)
    assert model.temperature == pytest.approx(max(2.0 * 0.99995 ** 10, 0.1))
