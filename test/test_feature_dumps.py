"""The feature-dump format (ssltk.data.dump) and its producers beyond extract_feats:
UASR posteriorgrams whose spec is a loadable upstream, and the alignment diagnostic whose
spec names none; the writer, reader and comparison."""

from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from ssltk import hub
from ssltk.bin.alignment_feats import main as alignment_main
from ssltk.bin.extract_feats import main as extract_main
from ssltk.bin.uasr_infer import main as uasr_infer_main
from ssltk.data.datadir import DataDir, DataDirError, read_table, write_table
from ssltk.data.dump import Dump, DumpWriter, check_same, read_info, write_dump
from ssltk.errors import UserError
from ssltk.featurizer import FeatureSpec
from ssltk.tasks import CONF_DIR
from ssltk.tasks.experiment import infer, train
from ssltk.train.expdir import ExpDir
from ssltk.uasr.lm import train_ngram, write_arpa
from test_tasks_common import tone_corpus

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
CLS_CONF = CONF_DIR / "cls_debug.yaml"
GAN_CONF = ROOT / "egs2" / "mini_uasr" / "uasr1" / "conf" / "train_gan.yaml"
PHONES = ["<SIL>", "a", "b", "c"]


# ---------------------------------------------------------------- format

def test_writer_reader_and_comparison(tmp_path):
    spec = FeatureSpec("hubert_debug", layer=1)
    mats = {"u1": np.arange(6, dtype=np.float32).reshape(3, 2), "u0": np.ones((1, 2), np.float32)}
    writer = DumpWriter(tmp_path / "d", spec, extra_fact=7)
    assert not writer.done(1)
    writer.write_shard(1, [("u1", mats["u1"])], frame_rate=50.0)
    writer.write_shard(2, [("u0", mats["u0"])], frame_rate=50.0)
    assert writer.done(1) and writer.done(2)
    assert writer.finish(2, utts=["u0", "u1"]) == 2
    info = yaml.safe_load((tmp_path / "d" / "feats_info.yaml").read_text())
    assert info == {"upstream": "hubert_debug", "layer": 1, "weights": None, "layer_norm": False,
                    "dim": 2, "frame_rate": 50.0, "extra_fact": 7}
    dump = Dump(tmp_path / "d")
    assert dump.spec == spec and dump.dim == 2 and dump.frame_rate == 50.0
    assert dump.utts == ["u0", "u1"] and dump.num_frames == {"u0": 1, "u1": 3}
    for utt, mat in dump:
        np.testing.assert_array_equal(mat, mats[utt])
    # another spec into the same directory is refused; without resuming, shards are redone
    with pytest.raises(UserError, match="another configuration"):
        DumpWriter(tmp_path / "d", FeatureSpec("hubert_debug", layer=0)).done(1)
    assert not DumpWriter(tmp_path / "d", spec, resume=False).done(1)
    # a writer refuses a trainable featurizer; the finish checks the utterances
    with pytest.raises(UserError, match="trainable"):
        DumpWriter(tmp_path / "x", FeatureSpec("hubert_debug", mode="weighted_sum"))
    with pytest.raises(DataDirError, match="1 utterances written, 2 expected"):
        write_dump(tmp_path / "e", spec, [("u0", mats["u0"])], 50.0, utts=["u0", "u1"])

    # errors name the file and the utterance
    write_table(tmp_path / "d" / "utt2num_frames", {"u0": "1", "u1": "4"})
    with pytest.raises(DataDirError, match=r"utt2num_frames: 'u1' has 4 frames, .*holds 3"):
        Dump(tmp_path / "d").matrix("u1")
    (tmp_path / "d" / "feats_info.yaml").write_text("upstream: x\ndim: 2\n")
    with pytest.raises(DataDirError, match="feats_info.yaml: missing layer, weights, layer_norm"):
        Dump(tmp_path / "d")
    assert Dump(tmp_path / "d", strict=False).dim == 2  # k-means reads partial infos

    # comparison: the spec keys and dim; older spellings of non-upstream sources agree
    check_same(info, dict(info, frame_rate=100.0, extra_fact=1), "a", "b")
    with pytest.raises(UserError, match="a and b hold different features .*layer: 1 vs 2"):
        check_same(info, dict(info, layer=2), "a", "b")
    check_same(dict(info, upstream="uasr:exp/gan"), dict(info, upstream="exp/gan"), "a", "b")
    assert FeatureSpec.from_info({"upstream": "alignment:data/x/phones.ctm"}).upstream is None


# ---------------------------------------------------------------- UASR posteriorgrams

def _text_dir(path: Path) -> Path:
    rng = np.random.default_rng(0)
    sents = [["<SIL>", *rng.choice(PHONES[1:], rng.integers(2, 6)).tolist(), "<SIL>"]
             for _ in range(40)]
    path.mkdir()
    (path / "phones.txt").write_text("".join(f"{p} {10 - i}\n" for i, p in enumerate(PHONES)))
    (path / "lm.phones.txt").write_text("".join(" ".join(s) + "\n" for s in sents))
    write_arpa(train_ngram(sents, order=2), path / "lm.phones.2.arpa")
    return path


@pytest.fixture(scope="module")
def uasr_run(tmp_path_factory):
    """A GAN trained for 2 updates on hubert_debug layer 1 features of a tone corpus, and
    its posteriorgram dumps of the train and dev sets."""
    from ssltk.uasr.gan import train as train_gan

    root = tmp_path_factory.mktemp("uasr")
    data, dumps, posts = {}, {}, {}
    for name, n, seed in (("train", 12, 0), ("dev", 6, 1)):
        data[name] = tone_corpus(root / "data" / name, n, seed)
        dumps[name] = root / "dump" / name
        assert extract_main(["--upstream", "hubert_debug", "--layer", "1", "--data",
                             str(data[name]), "--out", str(dumps[name])]) == 0
    exp = root / "exp" / "gan"
    train_gan(GAN_CONF, dumps["train"], dumps["dev"], _text_dir(root / "text"), exp,
              overrides=["trainer.max_epochs=1", "data.updates_per_epoch=2", "data.batch_size=4",
                         "data.valid_batch_size=4", "gan.mmi_weight=0", "gan.discriminator.dim=8"])
    for name in ("train", "dev"):
        out = root / "decode" / name
        assert uasr_infer_main(["--exp", str(exp), "--feats", str(dumps[name]), "--out", str(out),
                                "--posteriors", "--batch_size", "4"]) == 0
        posts[name] = out / "posteriors"
    return root, exp, data, posts


def _from_audio(upstream, wav_path) -> np.ndarray:
    """The single hidden state of ``upstream`` on one file, ``[frames, dim]``."""
    x = torch.from_numpy(sf.read(wav_path, dtype="float32")[0])[None]
    with torch.no_grad():
        hidden, lens = upstream(x, torch.tensor([x.shape[1]]))
    assert len(hidden) == 1
    return hidden[0][0, :int(lens[0])].numpy()


def test_posteriorgram_spec_loads_and_recomputes_the_dump_from_audio(uasr_run):
    root, exp, data, posts = uasr_run
    info = read_info(posts["dev"])
    assert info["upstream"] == str(exp) and info["layer"] is None and not info["weights"]
    assert info["dim"] == len(PHONES) and info["phones"] == PHONES
    assert info["frame_rate"] == pytest.approx(50.0 / 2)  # generator stride 2
    upstream = hub.load(FeatureSpec.from_info(info).upstream)
    assert (upstream.num_layers, upstream.hidden_size, upstream.sample_rate) == (0, 4, 16000)
    assert upstream.frame_rate == info["frame_rate"]
    dump = Dump(posts["dev"])
    wavs = read_table(data["dev"] / "wav.scp")
    assert dump.utts == list(wavs)
    for utt in dump.utts[:3]:
        posteriors = _from_audio(upstream, wavs[utt])
        assert posteriors.shape == (dump.num_frames[utt], 4)
        np.testing.assert_allclose(posteriors, dump.matrix(utt), atol=1e-5)
        np.testing.assert_allclose(dump.matrix(utt).sum(1), 1.0, atol=1e-5)
        assert np.ptp(dump.matrix(utt)) > 0.1  # not a flat, uninformative posteriorgram
    # the dump is a data dir: the tone labels came along
    assert read_table(posts["dev"] / "utt2category") == read_table(data["dev"] / "utt2category")


def test_downstream_trains_on_posteriorgrams_and_decodes_audio(uasr_run, tmp_path):
    root, exp, data, posts = uasr_run
    res = train("cls", CLS_CONF, posts["train"], posts["dev"], tmp_path / "cls", feats=True,
                overrides=["trainer.max_epochs=1"])
    assert len(res["history"]) == 1
    meta = ExpDir(tmp_path / "cls").read_meta()
    assert meta["feats_info"]["upstream"] == str(exp) and meta["feats_info"]["dim"] == 4
    # decoding the dump, and the audio through the dump's spec, agree
    infer(tmp_path / "cls", posts["dev"], tmp_path / "from_feats")
    infer(tmp_path / "cls", data["dev"], tmp_path / "from_audio")
    predictions = read_table(tmp_path / "from_feats" / "predictions")
    assert len(predictions) == 6
    assert predictions == read_table(tmp_path / "from_audio" / "predictions")


def test_decoding_refuses_features_the_gan_was_not_trained_on(uasr_run, tmp_path, capsys):
    root, exp, data, posts = uasr_run
    other = tmp_path / "l0"
    extract_main(["--upstream", "hubert_debug", "--layer", "0", "--layer_norm", "--data",
                  str(data["dev"]), "--out", str(other)])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        uasr_infer_main(["--exp", str(exp), "--feats", str(other), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert (f"holds other features than {exp} was trained on (layer: 0 vs 1, "
            "layer_norm: True vs False)") in err


def test_a_chosen_checkpoint_is_named_by_the_posteriorgram_spec(uasr_run, tmp_path):
    root, exp, data, posts = uasr_run
    out = tmp_path / "last"
    uasr_infer_main(["--exp", str(exp), "--feats", str(root / "dump" / "dev"), "--out", str(out),
                     "--checkpoint", "last", "--posteriors"])
    info = read_info(out / "posteriors")
    assert info["upstream"] == str(exp / "checkpoint.pt")
    dump, upstream = Dump(out / "posteriors"), hub.load(info["upstream"])
    utt = dump.utts[0]
    posteriors = _from_audio(upstream, read_table(data["dev"] / "wav.scp")[utt])
    np.testing.assert_allclose(posteriors, dump.matrix(utt), atol=1e-5)


# ---------------------------------------------------------------- alignment diagnostic

def test_alignment_dump_trains_but_cannot_run_on_audio(tmp_path):
    dirs = {}
    for name, n, seed in (("train", 8, 0), ("dev", 4, 1)):
        ddir = tone_corpus(tmp_path / name, n, seed)
        durs = {u: sf.info(w).duration for u, w in read_table(ddir / "wav.scp").items()}
        (ddir / "phones.ctm").write_text("".join(
            f"{u} 1 0.000 {d / 2:.3f} {'a' if i % 2 else 'b'}\n{u} 1 {d / 2:.3f} {d / 2:.3f} c\n"
            for i, (u, d) in enumerate(durs.items())))
        out = tmp_path / "align" / name
        assert alignment_main(["--data", str(ddir), "--out", str(out), "--noise", "0",
                               "--labels", str(tmp_path / "align" / "phones.lst")]) == 0
        dirs[name] = (ddir, out)
    info = read_info(dirs["train"][1])
    assert info["upstream"] is None and info["dim"] == 4 and "phones.ctm" in info["made_from"]
    assert (tmp_path / "align" / "phones.lst").read_text().split() == ["a", "b", "c", "<gap>"]
    first = Dump(dirs["train"][1]).matrix(next(iter(read_table(dirs["train"][0] / "wav.scp"))))
    assert set(np.unique(first)) == {0.0, 1.0} and (first.sum(1) == 1).all()
    res = train("cls", CLS_CONF, dirs["train"][1], dirs["dev"][1], tmp_path / "cls", feats=True,
                overrides=["trainer.max_epochs=1"])
    assert len(res["history"]) == 1
    infer(tmp_path / "cls", dirs["dev"][1], tmp_path / "from_feats")
    assert len(read_table(tmp_path / "from_feats" / "predictions")) == 4
    with pytest.raises(UserError, match="cannot be computed from audio"):
        infer(tmp_path / "cls", dirs["dev"][0], tmp_path / "from_audio")


def test_kaldiio_dumps_of_other_tools_still_read(tmp_path):
    """A dump written before ssltk.data.dump (ark beside feats.scp, old upstream spelling)."""
    d = tmp_path / "old"
    d.mkdir()
    with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
        w("u0", np.zeros((2, 3), np.float32))
    write_table(d / "utt2num_frames", {"u0": "2"})
    (d / "feats_info.yaml").write_text("upstream: uasr:exp/gan_s0\nlayer: null\nweights: null\n"
                                       "layer_norm: false\ndim: 3\nframe_rate: 25.0\n")
    dump = Dump(DataDir(d).path)
    assert dump.spec == FeatureSpec("exp/gan_s0") and dump.matrix("u0").shape == (2, 3)
