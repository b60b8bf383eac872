"""K-means targets: the algorithm, the codebook, cluster-quality metrics and the CLI."""

import math

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from ssltk import hub
from ssltk.bin.extract_feats import main as extract_main
from ssltk.bin.kmeans import main as kmeans_main
from ssltk.data.ctm import frame_labels, read_ctm
from ssltk.data.datadir import read_table, write_table
from ssltk.errors import UserError
from ssltk.metrics.cluster import cluster_scores
from ssltk.pretraining.features import sample_frames
from ssltk.pretraining.kmeans import Codebook, KMeansConfig, assign, minibatch_kmeans
from ssltk.pretraining.labels import align_labels, duration_mismatches, read_info, read_labels

pytestmark = pytest.mark.usefixtures("one_thread")


def blobs(n_per=250, k=8, dim=16, std=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    means = 3.0 * torch.randn(k, dim, generator=g)
    truth = torch.arange(k).repeat_interleave(n_per)
    x = means[truth] + std * torch.randn(len(truth), dim, generator=g)
    perm = torch.randperm(len(x), generator=g)
    return x[perm], truth[perm]


def test_recovers_separated_blobs():
    x, truth = blobs()
    centers, inertia = minibatch_kmeans(x, KMeansConfig(k=8, batch_size=256, seed=0))
    labels, _ = assign(x, centers)
    scores = cluster_scores(truth.tolist(), labels.tolist())  # equal up to permutation
    assert scores.phone_purity == 1.0 and scores.cluster_purity == 1.0
    assert scores.pnmi == pytest.approx(1.0)
    oracle = sum(float((x[truth == c] - x[truth == c].mean(0)).square().sum()) for c in range(8))
    assert oracle <= inertia <= 1.01 * oracle


def test_deterministic_for_a_seed():
    x, _ = blobs(n_per=100, k=5, dim=4, std=1.0)
    cfg = KMeansConfig(k=6, batch_size=64, seed=3)
    a, ia = minibatch_kmeans(x, cfg)
    b, ib = minibatch_kmeans(x, cfg)
    assert torch.equal(a, b) and ia == ib
    c, _ = minibatch_kmeans(x, KMeansConfig(k=6, batch_size=64, seed=4))
    assert not torch.equal(a, c)


def test_chunked_assignment_equals_full():
    g = torch.Generator().manual_seed(1)
    x, c = torch.randn(103, 5, generator=g), torch.randn(7, 5, generator=g)
    labels, dists = assign(x, c, chunk_elems=20)  # 2 rows a chunk
    full = torch.cdist(x.double(), c.double()).square()
    assert torch.equal(labels, full.argmin(1))
    assert torch.allclose(dists.double(), full.min(1).values, atol=1e-4)


def test_kmeans_input_errors():
    with pytest.raises(UserError, match="larger than the number of frames"):
        minibatch_kmeans(torch.randn(5, 2), KMeansConfig(k=6))
    with pytest.raises(UserError, match="NaN"):
        minibatch_kmeans(torch.tensor([[0.0, float("nan")], [1.0, 1.0]]), KMeansConfig(k=1))


def test_codebook_roundtrip_and_dim_mismatch(tmp_path):
    book = Codebook(torch.tensor([[0.0, 0.0], [10.0, 10.0]]), torch.tensor([1.0, 1.0]),
                    torch.tensor([2.0, 2.0]), {"upstream": "mfcc", "layer": 0, "k": 2})
    book.save(tmp_path / "cb.pt")
    back = Codebook.load(tmp_path / "cb.pt")
    assert back.meta["upstream"] == "mfcc" and back.k == 2
    assert back.predict(torch.tensor([[1.0, 1.0], [21.0, 21.0]])).tolist() == [0, 1]
    with pytest.raises(UserError, match="cb.pt"):
        back.predict(torch.zeros(3, 5))
    (tmp_path / "bad.pt").write_text("not a codebook")
    with pytest.raises(UserError, match="bad.pt"):
        Codebook.load(tmp_path / "bad.pt")


def test_sample_frames_is_uniform_subset_and_order_free():
    utts = [(f"u{i}", torch.full((10 + i, 2), float(i))) for i in range(6)]
    a, total, n = sample_frames(iter(utts), 20, seed=0)
    b, _, _ = sample_frames(iter(utts[::-1]), 20, seed=0)
    assert (total, n, len(a)) == (75, 6, 20) and torch.equal(a, b)


def test_scores_hand_computed():
    # p(a,0) = 1/2, p(b,0) = p(b,1) = 1/4
    s = cluster_scores(["a", "a", "b", "b"], [0, 0, 0, 1])
    assert s.phone_purity == pytest.approx(0.75) and s.cluster_purity == pytest.approx(0.75)
    assert s.pnmi == pytest.approx(1.5 - 0.75 * math.log2(3))  # I = H(z) - H(z|y), H(y) = 1 bit
    perfect = cluster_scores(list("aabbcc"), [7, 7, 3, 3, 5, 5])
    assert (perfect.pnmi, perfect.phone_purity, perfect.cluster_purity) == pytest.approx((1, 1, 1))
    independent = cluster_scores(list("aabb"), [0, 1, 0, 1])
    assert independent.pnmi == pytest.approx(0.0, abs=1e-12)
    assert independent.phone_purity == 0.5 and independent.cluster_purity == 0.5
    rng = np.random.default_rng(0)
    assert cluster_scores(rng.integers(0, 40, 20000), rng.integers(0, 8, 20000)).pnmi < 0.01
    assert math.isnan(cluster_scores(["a"] * 3, [0, 1, 2]).pnmi)


def test_ctm_frames_and_label_rates(tmp_path):
    (tmp_path / "x.ctm").write_text("u1 1 0.000 0.030 sil\nu1 1 0.030 0.020 a\n")
    segs = read_ctm(tmp_path / "x.ctm")["u1"]
    # frame centres at 12.5, 22.5, 32.5, 42.5, 52.5 ms
    assert frame_labels(segs, 5, 100.0) == ["sil", "sil", "a", "a", None]
    (tmp_path / "bad.ctm").write_text("u1 1 0.0 sil\n")
    with pytest.raises(UserError, match="bad.ctm:1"):
        read_ctm(tmp_path / "bad.ctm")
    labels = np.arange(7)  # 100 Hz labels on a 50 Hz model: every second one, fairseq's rule
    assert align_labels(labels, 100.0, 4, 50.0).tolist() == [0, 2, 4]
    assert align_labels(labels, 50.0, 9, 50.0).tolist() == list(range(7))
    assert duration_mismatches({"u": labels}, 100.0, {"u": 0.07}) == []
    assert len(duration_mismatches({"u": labels}, 100.0, {"u": 0.5})) == 1


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from ssltk.corpora.synth import generate

    root = tmp_path_factory.mktemp("km") / "cs"
    generate("codeswitch", root, seed=0, num_utts=30, nj=1)
    return root / "data"


def fails(capsys, argv, *needles):
    with pytest.raises(SystemExit):
        kmeans_main(argv)
    err = capsys.readouterr().err
    for needle in needles:
        assert needle in err, err


def test_end_to_end_mfcc(corpus, tmp_path, capsys):
    book = tmp_path / "mfcc8.pt"
    kmeans_main(["fit", "--data", str(corpus / "train"), "--upstream", "mfcc", "--k", "8",
                 "--device", "cpu", "--out", str(book)])
    dirs = [str(corpus / s) for s in ("train", "dev")]
    outs = [str(tmp_path / s) for s in ("train", "dev")]
    kmeans_main(["label", "--codebook", str(book), "--data", *dirs, "--out", *outs, "--device", "cpu"])
    mfcc = hub.load("mfcc")
    for d, o in zip(dirs, outs):
        info = read_info(o)
        assert info["frame_rate"] == 100.0 and info["k"] == 8 and info["upstream"] == "mfcc"
        labels = read_labels(f"{o}/text.km", k=8)
        wavs = read_table(f"{d}/wav.scp")
        assert set(labels) == set(wavs)
        for utt, path in wavs.items():
            frames = int(mfcc.num_frames(torch.tensor([sf.info(path).frames]))[0])
            assert len(labels[utt]) == frames, utt
    kmeans_main(["score", "--data", *dirs, "--labels", *outs])
    report = yaml.safe_load((tmp_path / "train" / "km_score.json").read_text())
    # measured: PNMI 0.40 (train), 0.42 (dev) at seed 0; shuffled labels 0.01
    assert report["pnmi"] > 0.3 and report["pnmi_shuffled"] < 0.05
    assert report["unaligned_frames"] == 0 and report["num_clusters"] == 8


def test_stage2_layer_and_dump_agree(corpus, tmp_path):
    dev = str(corpus / "dev")
    book = str(tmp_path / "h.pt")
    kmeans_main(["fit", "--data", dev, "--upstream", "hubert_debug", "--layer", "1", "--k", "4",
                 "--device", "cpu", "--out", book])
    kmeans_main(["label", "--codebook", book, "--data", dev, "--out", str(tmp_path / "a"),
                 "--device", "cpu"])
    extract_main(["--upstream", "hubert_debug", "--layer", "1", "--data", dev,
                  "--out", str(tmp_path / "dump"), "--device", "cpu"])
    kmeans_main(["label", "--codebook", book, "--feats", str(tmp_path / "dump"),
                 "--out", str(tmp_path / "b"), "--device", "cpu"])
    a, b = (read_labels(tmp_path / d / "text.km") for d in "ab")
    assert a.keys() == b.keys() and all(np.array_equal(a[u], b[u]) for u in a)
    assert read_info(tmp_path / "a")["frame_rate"] == 50.0
    model = hub.load("hubert_debug")
    for utt, path in read_table(f"{dev}/wav.scp").items():
        assert len(a[utt]) == int(model.num_frames(torch.tensor([sf.info(path).frames]))[0])


def test_cli_errors(corpus, tmp_path, capsys):
    train = str(corpus / "train")
    out = str(tmp_path / "cb.pt")
    fails(capsys, ["fit", "--data", str(tmp_path / "nope"), "--upstream", "mfcc", "--k", "4",
                   "--out", out], "nope", "not found")
    fails(capsys, ["fit", "--data", train, "--upstream", "mfcx", "--k", "4", "--out", out],
          "unknown upstream 'mfcx'", "mfcc")
    fails(capsys, ["fit", "--data", train, "--upstream", "mfcc", "--layer", "2", "--k", "4",
                   "--out", out], "--layer 2", "0..0")
    fails(capsys, ["fit", "--data", train, "--upstream", "mfcc", "--k", "50", "--max-frames", "40",
                   "--out", out], "--k 50", "(40")
    fails(capsys, ["label", "--codebook", str(tmp_path / "missing.pt"), "--data", train],
          "missing.pt")
    fails(capsys, ["score", "--data", train, "--labels", str(tmp_path)], "km_info.yaml")
    # a 5-dim dump against a 13-dim MFCC codebook
    dump = tmp_path / "dump"
    dump.mkdir()
    with kaldiio.WriteHelper(f"ark,scp:{dump}/feats.ark,{dump}/feats.scp") as w:
        w["u1"] = np.zeros((30, 5), np.float32)
    (dump / "feats_info.yaml").write_text("upstream: toy\nlayer: 0\ndim: 5\nframe_rate: 50.0\n")
    Codebook(torch.zeros(4, 13), meta={"upstream": "mfcc", "layer": 0}).save(out)
    fails(capsys, ["label", "--codebook", out, "--feats", str(dump)], "feats.scp",
          "dimension 5", "13")
    kmeans_main(["fit", "--feats", str(dump), "--k", "1", "--out", out])  # a dump fits, too
    assert Codebook.load(out).meta["upstream"] == "toy"
    write_table(dump / "utt2num_frames", {"u1": "31"})
    fails(capsys, ["fit", "--feats", str(dump), "--k", "1", "--out", out], "utt2num_frames", "'u1'")


class _Blobs:
    """A FeatureSource of two well separated 2-d blobs, three utterances."""

    frame_rate, dim = 100.0, 2

    def describe(self):
        return {"feats": "blobs"}

    def frames(self):
        gen = torch.Generator().manual_seed(0)
        for i, centre in enumerate(([0.0, 0.0], [10.0, 10.0], [0.0, 0.0])):
            yield f"u{i}", torch.tensor(centre) + 0.1 * torch.randn(50, 2, generator=gen)


def test_fit_codebook_samples_normalises_and_records_provenance():
    from ssltk.pretraining.kmeans import fit_codebook

    codebook, stats = fit_codebook(_Blobs(), KMeansConfig(k=2, n_init=1), max_frames=120,
                                   normalize="global", where="blobs")
    assert stats["num_utts"] == 3
    meta = codebook.meta
    assert (meta["feats"], meta["k"], meta["dim"], meta["sampled_frames"], meta["total_frames"],
            meta["trained_on"]) == ("blobs", 2, 2, 120, 150, "blobs")
    centres = sorted((codebook.centers * codebook.std + codebook.mean).tolist())
    assert centres[0] == pytest.approx([0.0, 0.0], abs=0.1)
    assert centres[1] == pytest.approx([10.0, 10.0], abs=0.1)
    assert codebook.predict(torch.tensor([[0.0, 0.1], [9.9, 10.0]])).tolist() in ([0, 1], [1, 0])
    with pytest.raises(UserError, match=r"--k 200 is larger than the number of frames \(120, from 3 utterances of blobs\)"):
        fit_codebook(_Blobs(), KMeansConfig(k=200), max_frames=120, where="blobs")
