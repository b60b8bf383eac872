"""Synthetic corpora: validity, determinism, audible speech, alignments, layouts, errors.

Tiny corpora (30 utterances) keep this fast; the 1,000-utterance timing lives
in the issue notes, not in an assert.
"""

import hashlib
import io
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ssltk.corpora import slurp
from ssltk.data.datadir import read_table
from ssltk.corpora.synth import KINDS, generate
from ssltk.corpora.synth.espeak import EspeakError, Voice, find_library, open_engine
from ssltk.corpora.synth.speakers import VARIANTS
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("train", "dev", "test")
NUM = 30
STOPS = set("pbtdkɡgqcɟʔʈɖ")
pytestmark = pytest.mark.skipif(find_library() is None and shutil.which("espeak-ng") is None,
                                reason="espeak-ng not installed (pip install espeakng-loader)")
needs_library = pytest.mark.skipif(find_library() is None,
                                   reason="libespeak-ng not found (pip install espeakng-loader)")


def make(kind, out, seed=1, **kw):
    kw.setdefault("num_utts", NUM)
    kw.setdefault("nj", 1)
    return generate(kind, out, seed=seed, log=io.StringIO(), **kw)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    return {kind: make(kind, base / kind, num_text=20) if kind == "unpaired"
            else make(kind, base / kind) for kind in KINDS}


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file, with the corpus root in text files made neutral."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.suffix != ".wav":
            data = data.replace(str(root).encode(), b"<ROOT>")
        out[str(path.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def ctm(ddir: Path) -> dict[str, list[tuple[str, float, float]]]:
    phones = defaultdict(list)
    for line in open(ddir / "phones.ctm", encoding="utf-8"):
        utt, _, start, dur, label = line.split()
        phones[utt].append((label, float(start), float(start) + float(dur)))
    return phones


def frame_db(samples: np.ndarray, hop: int = 80) -> np.ndarray:
    """5 ms frame energies in dB relative to the loudest frame."""
    n = len(samples) // hop
    e = (samples[: n * hop].astype(np.float64) ** 2).reshape(n, hop).mean(axis=1)
    db = 10 * np.log10(np.maximum(e, 1e-12))
    return db - db.max()


# --- the engine -----------------------------------------------------------

@needs_library
def test_library_engine_is_deterministic_and_times_every_phone():
    eng = open_engine("library")
    text = "wake me up at seven tomorrow"
    a = eng.synthesize(text, Voice("en-us+m3", pitch=40), seed=5)
    b = eng.synthesize(text, Voice("en-us+m3", pitch=40), seed=5)
    other = eng.synthesize(text, Voice("en-us+f1", pitch=60), seed=5)
    assert np.array_equal(a.samples, b.samples) and not np.array_equal(a.samples, other.samples)
    assert len(a.words) == 6 and all(a.words)
    assert a.phones[0].start == 0 and a.phones[-1].end == len(a.samples)
    assert all(p.end == q.start for p, q in zip(a.phones, a.phones[1:]))
    assert not any(ch in p.label for p in a.phones for ch in "ˈˌ")
    assert [p.label for p in a.phones if p.word is not None] == [x for w in a.words for x in w]


def test_engine_choice_errors():
    with pytest.raises(EspeakError, match="unknown espeak engine 'bogus'"):
        open_engine("bogus")
    if find_library():
        with pytest.raises(EspeakError, match="no voice 'xx-nope'"):
            open_engine("library").synthesize("hello", Voice("xx-nope"))


# --- every kind -----------------------------------------------------------

def test_corpora_validate_with_full_audio(corpora):
    for kind, root in corpora.items():
        assert (root / "README.md").is_file() and (root / "corpus.json").is_file()
        total = 0
        for split in SPLITS:
            ddir = root / "data" / split
            assert validate_data_dir(ddir, audio="full") == [], (kind, split)
            wav = read_table(ddir / "wav.scp")
            total += len(wav)
            for utt, path in wav.items():
                info = sf.info(path)
                assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
                assert Path(path).is_relative_to(root) and utt.startswith(
                    read_table(ddir / "utt2spk")[utt] + "-")
            assert set(read_table(ddir / "text.phn")) == set(wav)
            assert set(read_table(ddir / "spk2gender").values()) <= {"m", "f"}
        assert total == NUM, kind


def test_same_seed_is_bit_identical_and_another_seed_differs(corpora, tmp_path):
    for kind, root in corpora.items():
        extra = {"num_text": 20} if kind == "unpaired" else {}
        again = make(kind, tmp_path / f"{kind}-again", nj=2, **extra)  # other process count too
        assert digest(again) == digest(root), kind
        other = make(kind, tmp_path / f"{kind}-seed2", seed=2, **extra)
        a, b = digest(root), digest(other)
        wavs = [k for k in a if k.endswith(".wav")]
        assert a["data/train/text"] != b["data/train/text"], kind
        assert sum(a[k] != b.get(k) for k in wavs) > len(wavs) // 2, kind


def test_no_silent_utterances(corpora):
    for kind, root in corpora.items():
        for split in SPLITS:
            for utt, path in read_table(root / "data" / split / "wav.scp").items():
                samples, _ = sf.read(path)
                rms = float(np.sqrt(np.mean(samples ** 2)))
                assert rms > 0.01, (kind, utt, rms)
                assert np.abs(samples).max() < 1.0  # no clipping


def test_speakers_are_unseen_across_splits(corpora):
    for kind, root in corpora.items():
        spk = {s: set(read_table(root / "data" / s / "utt2spk").values()) for s in SPLITS}
        assert not spk["train"] & spk["dev"] and not spk["train"] & spk["test"]
        assert not spk["dev"] & spk["test"]
    readme = (corpora["intent"] / "README.md").read_text()
    for split in SPLITS:
        rows = [line.split("|") for line in readme.splitlines() if f"| {split} |" in line]
        assert {r[3].strip() for r in rows if len(r) > 8} <= set(VARIANTS[split])


@needs_library
def test_phone_alignments_match_the_audio(corpora):
    """Alignments vs an energy detector (clean audio, 5 ms frames, -45 dB):

    speech starts where the first phone starts and ends where the last phone
    ends (within an echo tail for variants with espeak's echo), pauses are
    quiet, and no speech phone other than a stop holds a long silence.
    """
    start_dev, end_dev, quiet_inside = [], [], []
    for kind, root in corpora.items():
        for split in SPLITS:
            ddir = root / "data" / split
            phones = ctm(ddir)
            durations = read_table(ddir / "utt2dur")
            for utt, path in read_table(ddir / "wav.scp").items():
                samples, rate = sf.read(path)
                db = frame_db(samples)
                active = np.nonzero(db > -45)[0]
                spoken = [p for p in phones[utt] if p[0] != "sil"]
                start_dev.append(active[0] * 0.005 - spoken[0][1])
                end_dev.append((active[-1] + 1) * 0.005 - spoken[-1][2])
                assert phones[utt][0][1] == 0
                assert abs(phones[utt][-1][2] - float(durations[utt])) < 1e-3
                assert all(abs(p[2] - q[1]) < 1e-6 for p, q in zip(phones[utt], phones[utt][1:]))
                for label, s, e in phones[utt][1:-1]:
                    frames = db[int(s / 0.005) + 2:int(e / 0.005) - 2]
                    if label == "sil" and e - s >= 0.05 and len(frames):
                        assert frames.mean() < -30, (utt, label, s, e)  # pauses are quiet
                    elif label != "sil" and label[0] not in STOPS and len(frames):
                        run = longest = 0
                        for q in frames < -45:
                            run = run + 1 if q else 0
                            longest = max(longest, run)
                        quiet_inside.append(longest * 0.005)
    start_dev, end_dev = np.abs(start_dev), np.abs(end_dev)
    assert start_dev.max() < 0.010 and np.median(start_dev) < 0.005
    assert np.median(end_dev) < 0.010 and end_dev.max() < 0.100  # echo tails (m2, f4)
    assert max(quiet_inside) < 0.040


# --- kind specifics -------------------------------------------------------

def test_intent_slurp_layout_reads_back_through_the_slurp_loader(corpora, tmp_path):
    root = corpora["intent"]
    counts = slurp.prepare(root, tmp_path / "data")
    assert sum(counts.values()) == NUM
    for split in SPLITS:
        direct, loaded = root / "data" / split, tmp_path / "data" / split
        for name in ("wav.scp", "text", "utt2spk", "spk2utt", "utt2intent", "utt2scenario",
                     "utt2action", "text.annot"):
            assert read_table(loaded / name) == read_table(direct / name), (split, name)
    records = [json.loads(line) for s in ("train", "devel", "test")
               for line in open(root / "dataset" / "slurp" / f"{s}.jsonl")]
    assert len({r["sentence"] for r in records}) == len(records)  # distinct sentences
    for r in records:
        assert r["intent"] == f"{r['scenario']}_{r['action']}"
        assert [t["surface"] for t in r["tokens"]] == r["sentence"].split()
        for e in r["entities"]:
            filler = " ".join(r["sentence"].split()[i] for i in e["span"])
            assert f"[{e['type']} : {filler}]" in r["sentence_annotation"]


def test_intent_material_is_rich_enough():
    from ssltk.corpora.synth import intent_text

    assert len(intent_text.TEMPLATES) >= 10
    assert all(len(actions) >= 3 for actions in intent_text.TEMPLATES.values())
    assert intent_text.count_sentences() >= 200
    rng = np.random.default_rng(0)
    made = {intent_text.fill(t, rng)[0] for actions in intent_text.TEMPLATES.values()
            for ts in actions.values() for t in ts for _ in range(3)}
    assert len(made) >= 200


def test_codeswitch_tags_and_switch_pauses(corpora):
    root = corpora["codeswitch"]
    langs = set()
    for split in SPLITS:
        ddir = root / "data" / split
        text, tags = read_table(ddir / "text"), read_table(ddir / "text.lang")
        utt2lang, phones = read_table(ddir / "utt2lang"), ctm(ddir)
        for utt, lang in utt2lang.items():
            word_tags = tags[utt].split()
            assert len(word_tags) == len(text[utt].split()) and set(word_tags) <= {"tn", "en"}
            assert lang == ("cs" if len(set(word_tags)) == 2 else word_tags[0])
            switches = sum(a != b for a, b in zip(word_tags, word_tags[1:]))
            pauses = [p for p in phones[utt][1:-1] if p[0] == "sil" and p[2] - p[1] >= 0.05]
            assert len(pauses) >= switches, utt
            langs.add(lang)
    assert langs == {"cs", "tn", "en"}
    assert "text.lang" in (root / "README.md").read_text()


def test_unpaired_pools_are_disjoint_and_phonemised_alike(corpora):
    root = corpora["unpaired"]
    text_only = (root / "text_only" / "text.txt").read_text().splitlines()
    text_phn = (root / "text_only" / "text.phn").read_text().splitlines()
    assert len(text_only) == len(text_phn) == 20
    spoken = {t for s in SPLITS for t in read_table(root / "data" / s / "text").values()}
    assert not spoken & set(text_only)
    speech_phones = {p for s in SPLITS for v in read_table(root / "data" / s / "text.phn").values()
                     for p in v.split()}
    text_phones = {p for line in text_phn for p in line.split()}
    assert "|" in text_phones and len(text_phones - speech_phones) <= 2
    for line, sentence in zip(text_phn, text_only):  # word boundaries recoverable
        assert 1 <= len(line.split(" | ")) <= len(sentence.split())
    lexicon = (root / "lexicon.txt").read_text().splitlines()
    assert lexicon and all(len(line.split()) >= 2 for line in lexicon)


def test_captions_scenes(corpora):
    root = corpora["captions"]
    scenes = json.loads((root / "scenes.json").read_text())
    by_scene = defaultdict(list)
    for split in SPLITS:
        ddir = root / "data" / split
        text, utt2scene = read_table(ddir / "text"), read_table(ddir / "utt2scene")
        for utt, sid in utt2scene.items():
            assert scenes[sid]["split"] == split
            by_scene[sid].append((text[utt], read_table(ddir / "utt2spk")[utt]))
    assert set(by_scene) == set(scenes)
    for sid, caps in by_scene.items():
        assert len(caps) >= 3 and len({c for c, _ in caps}) == len(caps)
        for obj in scenes[sid]["objects"]:
            assert all(obj["name"] in c and obj["attributes"][0] in c for c, _ in caps)


def test_noise_at_the_requested_snr(tmp_path):
    clean = make("codeswitch", tmp_path / "clean", num_utts=10)
    noisy = make("codeswitch", tmp_path / "noisy", num_utts=10, noise_snr=10)
    for split in SPLITS:
        a, b = (read_table(r / "data" / split / "wav.scp") for r in (clean, noisy))
        for utt in a:
            x, _ = sf.read(a[utt])
            y, _ = sf.read(b[utt])
            frames = (x[: len(x) // 320 * 320].reshape(-1, 320) ** 2).mean(axis=1)
            speech = frames[frames > frames.max() * 1e-3].mean()
            snr = 10 * np.log10(speech / np.mean((y - x) ** 2))
            assert abs(snr - 10) < 0.5, (utt, snr)
    assert "10 dB SNR" in (noisy / "README.md").read_text()


# --- reruns and bad input -------------------------------------------------

def test_rerun_is_a_noop_and_other_settings_need_overwrite(tmp_path):
    root = make("captions", tmp_path / "c", num_utts=27)
    wav = next((root / "wav").rglob("*.wav"))
    stamp = wav.stat().st_mtime_ns
    make("captions", root, num_utts=27)
    assert wav.stat().st_mtime_ns == stamp
    with pytest.raises(UserError, match="other settings.*--overwrite"):
        make("captions", root, num_utts=27, seed=3)
    make("captions", root, num_utts=27, seed=3, overwrite=True)
    assert json.loads((root / "corpus.json").read_text())["seed"] == 3
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a generated corpus"):
        make("intent", tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_bad_arguments_are_clear(tmp_path):
    with pytest.raises(UserError, match="unknown corpus kind 'speech'.*intent"):
        generate("speech", tmp_path / "x", seed=0)
    for seed in ("7", 1.5, True, None):
        with pytest.raises(UserError, match="seed must be an integer"):
            generate("intent", tmp_path / "x", seed=seed)
    with pytest.raises(UserError, match="seed must be >= 0"):
        generate("intent", tmp_path / "x", seed=-1)
    with pytest.raises(UserError, match="num_utts must be >= 10"):
        generate("intent", tmp_path / "x", seed=0, num_utts=3)
    with pytest.raises(UserError, match="noise_snr must be a number"):
        generate("intent", tmp_path / "x", seed=0, noise_snr="loud")
    with pytest.raises(UserError, match="exceed the .* sentences"):
        generate("unpaired", tmp_path / "x", seed=0, num_utts=10, num_text=10**6)
    assert not (tmp_path / "x").exists()


def test_cli(tmp_path):
    cmd = [sys.executable, "-m", "ssltk.bin.synth_corpus"]
    out = tmp_path / "cs"
    proc = subprocess.run(cmd + ["--kind", "codeswitch", "--out", str(out), "--seed", "4",
                                 "--num_utts", "10", "--noise-snr", "20", "--nj", "1"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert validate_data_dir(out / "data" / "train", audio="header") == []
    for args, code, message in [
            (["--kind", "speech", "--out", "x"], 2, "invalid choice: 'speech'"),
            (["--kind", "intent", "--out", "x", "--seed", "abc"], 2, "invalid int value: 'abc'"),
            (["--kind", "intent", "--out", "x", "--num-text", "5"], 1,
             "--num-text applies to --kind unpaired only"),
            (["--kind", "intent", "--out", "x", "--num-utts", "2"], 1, "num_utts must be >= 10")]:
        proc = subprocess.run(cmd + args, cwd=tmp_path, capture_output=True, text=True)
        assert proc.returncode == code and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng program not installed")
def test_program_fallback(tmp_path):
    a = make("codeswitch", tmp_path / "a", num_utts=10, engine="program")
    b = make("codeswitch", tmp_path / "b", num_utts=10, engine="program", nj=2)
    assert digest(a) == digest(b)
    for split in SPLITS:
        ddir = a / "data" / split
        assert validate_data_dir(ddir, audio="full") == []
        assert not (ddir / "phones.ctm").exists() and (ddir / "text.phn").is_file()
    assert "no `phones.ctm`" in (a / "README.md").read_text()


def test_pretrain_kind_is_multilingual_with_training_voices_only(corpora):
    from ssltk.corpora.synth import pretrain

    root = corpora["pretrain"]
    langs = {}
    for split in SPLITS:
        langs.update(read_table(root / "data" / split / "utt2lang"))
    assert len(langs) == NUM and len(set(langs.values())) >= 5
    assert set(langs.values()) <= {*pretrain.ENGLISH_ACCENTS, *pretrain.NUMBER_LANGUAGES, "tn", "tn+en"}
    readme = (root / "README.md").read_text()
    variants = {r.split("|")[3].strip() for r in readme.splitlines()
                if r.startswith("| spk") and len(r.split("|")) > 8}
    assert variants and variants <= set(VARIANTS["train"])  # never a dev/test voice of another kind
    sizes = pretrain.split_sizes(6000)
    assert sizes == {"train": 5820, "dev": 120, "test": 60}
