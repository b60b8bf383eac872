"""FSDD data preparation on the real recordings: split, tables, validation, 16 kHz reading."""

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ssltk.corpora import fsdd
from ssltk.data.audio import load_audio
from ssltk.data.datadir import DataDir, read_table
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
FSDD = Path(os.environ.get("FSDD") or Path(__file__).resolve().parents[2] / "shared/data/fsdd")
needs_fsdd = pytest.mark.skipif(not (FSDD / "recordings").is_dir(),
                                reason=f"FSDD not found at {FSDD} (set FSDD=/path/to/fsdd)")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    out = tmp_path_factory.mktemp("fsdd") / "data"
    counts = fsdd.prepare(FSDD, out)
    return out, counts


@needs_fsdd
def test_official_split_counts_and_tables(prepared):
    out, counts = prepared
    assert counts == {"train": 2400, "dev": 300, "test": 300}
    takes = {"train": range(10, 50), "dev": range(5, 10), "test": range(0, 5)}
    all_utts = set()
    for split, n in counts.items():
        d = DataDir(out / split)
        assert validate_data_dir(d.path, audio="header") == []
        wav, text = d.table("wav.scp"), d.table("text")
        cat, utt2spk = d.table("utt2category"), d.table("utt2spk")
        assert len(wav) == len(text) == len(cat) == len(utt2spk) == n
        assert len(set(utt2spk.values())) == 6
        for utt, path in wav.items():
            spk, digit, take = utt.split("-")
            name = Path(path).name
            assert Path(path).is_absolute() and name == f"{digit}_{spk}_{int(take)}.wav"
            assert int(take) in takes[split] and utt2spk[utt] == spk and cat[utt] == digit
            assert text[utt] == fsdd.DIGIT_WORDS[int(digit)]
        all_utts |= set(wav)
    assert len(all_utts) == 3000  # every recording, each in exactly one split
    readme = (out / "README.md").read_text()
    assert "CC BY-SA 4.0" in readme and "Jakobovski/free-spoken-digit-dataset" in readme
    assert "target_rate=16000" in readme and "takes 0-4" in readme


@needs_fsdd
def test_audio_reads_at_16k(prepared):
    out, _ = prepared
    wav = read_table(out / "test" / "wav.scp")
    for utt in list(wav)[::75]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the 8 -> 16 kHz resampling notice
            samples, rate = load_audio(wav[utt], target_rate=16000, utt=utt)
        native, native_rate = load_audio(wav[utt])
        assert rate == 16000 and native_rate == 8000
        assert abs(len(samples) - 2 * len(native)) <= 1
        assert samples.std() > 1e-3


@needs_fsdd
def test_heldout_speaker_variant(tmp_path):
    counts = fsdd.prepare(FSDD, tmp_path, heldout_speaker="theo")
    assert counts == {"train": 2000, "dev": 250, "test": 500}
    test_spk = set(read_table(tmp_path / "test" / "utt2spk").values())
    train_spk = set(read_table(tmp_path / "train" / "utt2spk").values())
    dev_spk = set(read_table(tmp_path / "dev" / "utt2spk").values())
    assert test_spk == {"theo"} and "theo" not in train_spk | dev_spk and len(train_spk) == 5
    assert dev_spk == train_spk
    takes = {int(u.split("-")[2]) for u in read_table(tmp_path / "test" / "text")}
    assert takes == set(range(50))
    for split in counts:
        assert validate_data_dir(tmp_path / split, audio="none") == []
    assert "`theo`" in (tmp_path / "README.md").read_text()


def _mini_fsdd(root: Path, names: list[str]) -> Path:
    (root / "recordings").mkdir(parents=True)
    src = next((FSDD / "recordings").glob("*.wav"))
    for name in names:
        shutil.copy(src, root / "recordings" / name)
    return root


@needs_fsdd
def test_bad_input_is_named(tmp_path):
    with pytest.raises(UserError, match="FSDD directory not found"):
        fsdd.prepare(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(UserError, match="no recordings/ directory"):
        fsdd.prepare(tmp_path, tmp_path / "out")
    (tmp_path / "empty" / "recordings").mkdir(parents=True)
    with pytest.raises(UserError, match="no .wav recordings"):
        fsdd.prepare(tmp_path / "empty", tmp_path / "out")
    bad = _mini_fsdd(tmp_path / "bad", ["0_theo_0.wav", "x_theo_1.wav"])
    with pytest.raises(UserError, match="x_theo_1.wav: malformed FSDD file name"):
        fsdd.prepare(bad, tmp_path / "out")
    with pytest.raises(UserError, match="unknown held-out speaker 'bob'.*george"):
        fsdd.prepare(FSDD, tmp_path / "out", heldout_speaker="bob")


@needs_fsdd
def test_cli_accepts_both_option_spellings_and_reports_errors(tmp_path):
    mini = _mini_fsdd(tmp_path / "mini", [f"{d}_{s}_{t}.wav" for d in (1, 2)
                                          for s in ("ann", "bo") for t in (0, 7, 20)])
    for flag in ("--heldout_speaker", "--heldout-speaker"):
        out = tmp_path / flag
        proc = subprocess.run([sys.executable, "-m", "ssltk.bin.prep_fsdd", "--fsdd", str(mini),
                               "--out", str(out), flag, "bo"], cwd=ROOT, capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
        assert len(read_table(out / "test" / "text")) == 6  # all of bo's takes
        assert len(read_table(out / "train" / "text")) == 2
        assert len(read_table(out / "dev" / "text")) == 2
    proc = subprocess.run([sys.executable, "-m", "ssltk.bin.prep_fsdd", "--fsdd",
                           str(tmp_path / "nope"), "--out", str(tmp_path / "o")], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "FSDD directory not found" in proc.stderr
    assert "Traceback" not in proc.stderr
