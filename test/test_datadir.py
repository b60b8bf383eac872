"""Kaldi data directories: tables, validation, fix/combine/subset/split/filter."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ssltk.data import ops
from ssltk.data.datadir import DataDir, DataDirError, read_table, utt2spk_to_spk2utt, write_table
from ssltk.data.validate import validate_data_dir

ROOT = Path(__file__).resolve().parents[1]


def tone(seconds=0.5, rate=16000, freq=220.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_data_dir(root: Path, speakers=("spkA", "spkB"), per_speaker=3, rate=16000) -> Path:
    """A valid data dir with real 16-bit WAV files: utt ids '<spk>-<n>'."""
    ddir, wavs = root / "data", root / "wav"
    ddir.mkdir(parents=True)
    wavs.mkdir()
    wav_scp, text, utt2spk = {}, {}, {}
    for s, spk in enumerate(speakers):
        for n in range(per_speaker):
            utt = f"{spk}-{n}"
            path = wavs / f"{utt}.wav"
            sf.write(path, tone(0.3 + 0.1 * n, rate, 200 + 50 * s), rate, subtype="PCM_16")
            wav_scp[utt], text[utt], utt2spk[utt] = str(path), f"word{n} word{s}", spk
    write_table(ddir / "wav.scp", wav_scp)
    write_table(ddir / "text", text)
    write_table(ddir / "utt2spk", utt2spk)
    DataDir(ddir).write_spk2utt()
    return ddir


def lines(path):
    return Path(path).read_text().splitlines()


def set_lines(path, new_lines):
    Path(path).write_text("".join(line + "\n" for line in new_lines))


# --- tables ---------------------------------------------------------------

def test_write_table_sorts_in_c_locale_order_and_round_trips(tmp_path):
    write_table(tmp_path / "t", {"b": "2", "B": "1", "a": "x y  z", "_c": ""})
    assert lines(tmp_path / "t") == ["B 1", "_c", "a x y  z", "b 2"]
    assert read_table(tmp_path / "t") == {"B": "1", "_c": "", "a": "x y  z", "b": "2"}


def test_read_table_names_duplicate_and_unsorted_lines(tmp_path):
    set_lines(tmp_path / "t", ["a 1", "b 2", "a 3"])
    with pytest.raises(DataDirError, match=r"t:3: duplicate id 'a' \(first at line 1\)"):
        read_table(tmp_path / "t")
    set_lines(tmp_path / "t", ["b 1", "a 2"])
    with pytest.raises(DataDirError, match=r"t:2: ids not sorted: 'a' after 'b'"):
        read_table(tmp_path / "t")
    assert read_table(tmp_path / "t", strict=False) == {"b": "1", "a": "2"}


def test_utt2spk_to_spk2utt():
    assert utt2spk_to_spk2utt({"s2-1": "s2", "s1-2": "s1", "s1-1": "s1"}) == {
        "s2": "s2-1", "s1": "s1-1 s1-2"}


# --- validation -----------------------------------------------------------

def test_valid_dir_has_no_problems(tmp_path):
    ddir = make_data_dir(tmp_path)
    for audio in ("none", "header", "full"):
        assert validate_data_dir(ddir, audio=audio) == []


def test_missing_audio_file_is_named(tmp_path):
    ddir = make_data_dir(tmp_path)
    (tmp_path / "wav" / "spkA-1.wav").unlink()
    problems = validate_data_dir(ddir)
    assert len(problems) == 1
    assert f"{ddir}/wav.scp:2: utterance 'spkA-1'" in problems[0]
    assert "audio file not found" in problems[0]


def test_duplicate_utterance_is_named(tmp_path):
    ddir = make_data_dir(tmp_path)
    set_lines(ddir / "text", lines(ddir / "text")[:2] + [lines(ddir / "text")[1]]
              + lines(ddir / "text")[2:])
    assert validate_data_dir(ddir) == [
        f"{ddir}/text:3: duplicate id 'spkA-1' (first at line 2)"]


def test_unsorted_wav_scp_is_named(tmp_path):
    ddir = make_data_dir(tmp_path)
    wav = lines(ddir / "wav.scp")
    set_lines(ddir / "wav.scp", [wav[1], wav[0]] + wav[2:])
    problems = validate_data_dir(ddir)
    assert problems == [f"{ddir}/wav.scp:2: ids not sorted: 'spkA-0' after 'spkA-1' "
                        "(sort with LC_ALL=C, or run utils/fix_data_dir.sh)"]


def test_empty_transcript_is_named(tmp_path):
    ddir = make_data_dir(tmp_path)
    text = lines(ddir / "text")
    text[4] = "spkB-1"
    set_lines(ddir / "text", text)
    assert validate_data_dir(ddir) == [f"{ddir}/text:5: empty transcript for utterance 'spkB-1'"]


def test_utterance_missing_from_text_and_utt2spk(tmp_path):
    ddir = make_data_dir(tmp_path)
    set_lines(ddir / "text", lines(ddir / "text")[1:])
    set_lines(ddir / "utt2spk", lines(ddir / "utt2spk")[:-1])
    problems = validate_data_dir(ddir, audio="none")
    assert f"{ddir}/wav.scp:1: utterance 'spkA-0' missing from {ddir}/text" in problems
    assert f"{ddir}/wav.scp:6: utterance 'spkB-2' missing from {ddir}/utt2spk" in problems


def test_extra_utterance_and_stale_spk2utt(tmp_path):
    ddir = make_data_dir(tmp_path)
    set_lines(ddir / "utt2spk", lines(ddir / "utt2spk") + ["zz-9 zz"])
    problems = validate_data_dir(ddir, audio="none")
    assert problems == [f"{ddir}/utt2spk:7: utterance 'zz-9' not in {ddir}/wav.scp"]
    set_lines(ddir / "utt2spk", lines(ddir / "utt2spk")[:-1])
    set_lines(ddir / "spk2utt", ["spkA spkA-0", "spkB spkB-0"])
    assert "does not match utt2spk" in validate_data_dir(ddir, audio="none")[0]


def test_missing_required_file_and_dir(tmp_path):
    assert "data directory not found" in validate_data_dir(tmp_path / "nope")[0]
    ddir = make_data_dir(tmp_path)
    (ddir / "utt2spk").unlink()
    assert validate_data_dir(ddir) == [f"{ddir}/utt2spk: required file missing"]


@pytest.mark.parametrize("kind, message", [
    ("corrupt", "unreadable or corrupt audio"),
    ("empty", "empty audio (0 samples)"),
    ("stereo", "has 2 channels; mono expected"),
])
def test_bad_audio_is_named(tmp_path, kind, message):
    ddir = make_data_dir(tmp_path)
    bad = tmp_path / "wav" / "spkB-0.wav"
    if kind == "corrupt":
        bad.write_bytes(b"RIFF\x00\x00garbage that is no wave file" * 3)
    elif kind == "empty":
        sf.write(bad, np.zeros(0, dtype=np.float32), 16000)
    else:
        sf.write(bad, np.stack([tone(), tone()], axis=1), 16000)
    for audio in ("header", "full"):
        problems = validate_data_dir(ddir, audio=audio)
        assert len(problems) == 1, problems
        assert problems[0].startswith(f"{ddir}/wav.scp:4: utterance 'spkB-0': {bad}: {message}")


def test_full_check_runs_pipes(tmp_path):
    ddir = make_data_dir(tmp_path)
    wav = read_table(ddir / "wav.scp")
    wav["spkA-0"] = f"cat {wav['spkA-0']} |"
    wav["spkA-1"] = "exit 3 |"
    write_table(ddir / "wav.scp", wav)
    assert validate_data_dir(ddir, audio="header") == []  # pipes are not run
    problems = validate_data_dir(ddir, audio="full")
    assert problems == [f"{ddir}/wav.scp:2: utterance 'spkA-1': exit 3 |: command exited with 3: "]


def test_segments_are_checked(tmp_path):
    ddir = make_data_dir(tmp_path)
    reco = tmp_path / "wav" / "spkA-0.wav"  # 0.3 s
    write_table(ddir / "wav.scp", {"rec1": str(reco)})
    write_table(ddir / "segments", {"spkA-0": "rec1 0.0 0.1", "spkA-1": "rec1 0.1 0.3",
                                    "spkA-2": "rec1 0.5 0.9"})
    for name in ("text", "utt2spk"):
        write_table(ddir / name, {u: v for u, v in read_table(ddir / name).items()
                                  if u.startswith("spkA")})
    DataDir(ddir).write_spk2utt()
    assert validate_data_dir(ddir) == [
        f"{ddir}/segments:3: utterance 'spkA-2': segment starts at 0.5s, after the end of "
        f"{reco} (0.300s)"]


# --- fix / combine / subset ---------------------------------------------------

def test_fix_data_dir_sorts_drops_and_keeps_backup(tmp_path, capsys):
    ddir = make_data_dir(tmp_path)
    original_text = (ddir / "text").read_text()
    text = lines(ddir / "text")
    set_lines(ddir / "text", [text[3], text[0], text[2], "spkB-2"])  # unsorted, 2 missing, 1 empty
    wav = lines(ddir / "wav.scp")
    set_lines(ddir / "wav.scp", wav[::-1] + [wav[0]])  # unsorted, with a duplicate
    kept, dropped = ops.fix_data_dir(ddir)
    assert (kept, dropped) == (3, 3)
    err = capsys.readouterr().err
    assert "kept 3 of 6 utterances, dropped 3 (2 missing from text; 1 with an empty transcript)" in err
    assert "dropping duplicate of 'spkA-0'" in err
    assert list(read_table(ddir / "wav.scp")) == ["spkA-0", "spkA-2", "spkB-0"]
    assert read_table(ddir / "spk2utt") == {"spkA": "spkA-0 spkA-2", "spkB": "spkB-0"}
    assert validate_data_dir(ddir) == []
    assert (ddir / ".backup" / "utt2spk").read_text().count("\n") == 6
    assert (ddir / ".backup" / "text").read_text() != original_text  # the pre-fix copy


def test_combine_data(tmp_path, capsys):
    a = make_data_dir(tmp_path / "a", speakers=("spkA",))
    b = make_data_dir(tmp_path / "b", speakers=("spkB",))
    write_table(a / "utt2lang", {u: "en" for u in read_table(a / "wav.scp")})
    n = ops.combine_data(tmp_path / "ab", [b, a])
    assert n == 6
    assert "leaving out utt2lang: missing from" in capsys.readouterr().err
    assert validate_data_dir(tmp_path / "ab") == []
    assert not (tmp_path / "ab" / "utt2lang").exists()
    with pytest.raises(DataDirError, match=f"id 'spkA-0' in both {a}/text and {a}/text"):
        ops.combine_data(tmp_path / "aa", [a, a])


def test_speed_perturbed_copy_is_a_valid_dir_of_faster_audio(tmp_path):
    src = make_data_dir(tmp_path / "a", speakers=("spkA",), per_speaker=2)
    write_table(src / "utt2dur", {"spkA-0": "0.3", "spkA-1": "0.4"})  # stale after perturbation
    assert ops.speed_perturb_data_dir(src, tmp_path / "sp", 1.1) == 2
    out = DataDir(tmp_path / "sp")
    assert validate_data_dir(out.path) == []
    assert out.table("text") == {"sp1.1-spkA-0": "word0 word0", "sp1.1-spkA-1": "word1 word0"}
    assert out.table("utt2spk") == {"sp1.1-spkA-0": "sp1.1-spkA", "sp1.1-spkA-1": "sp1.1-spkA"}
    assert not out.has("utt2dur")
    faster, rate = sf.read(out.table("wav.scp")["sp1.1-spkA-1"])
    assert rate == 16000 and abs(len(faster) - 0.4 * 16000 / 1.1) <= 1
    # the tone's pitch rises by the factor: 200 Hz -> 220 Hz
    spectrum = np.abs(np.fft.rfft(faster))
    assert abs(np.argmax(spectrum) * rate / len(faster) - 220) < 3
    with pytest.raises(DataDirError, match=r"factors must lie in \[0.5, 2\], got \[3.0\]"):
        ops.speed_perturb_data_dir(src, tmp_path / "sp3", 3.0)


def test_subset_data_dir(tmp_path):
    src = make_data_dir(tmp_path, per_speaker=5)
    assert ops.subset_data_dir(src, tmp_path / "first", first=3) == 3
    assert list(read_table(tmp_path / "first" / "text")) == ["spkA-0", "spkA-1", "spkA-2"]
    assert ops.subset_data_dir(src, tmp_path / "even", num=5) == 5
    assert list(read_table(tmp_path / "even" / "wav.scp")) == [
        "spkA-0", "spkA-2", "spkA-4", "spkB-1", "spkB-3"]
    (tmp_path / "spk").write_text("spkB\n")
    ops.subset_data_dir(src, tmp_path / "b", spk_list=tmp_path / "spk")
    assert read_table(tmp_path / "b" / "spk2utt") == {"spkB": "spkB-0 spkB-1 spkB-2 spkB-3 spkB-4"}
    for d in ("first", "even", "b"):
        assert validate_data_dir(tmp_path / d) == []
    with pytest.raises(DataDirError, match="asked for 11 utterances"):
        ops.subset_data_dir(src, tmp_path / "x", last=11)


def test_subset_per_label_is_a_seeded_few_shot_set(tmp_path):
    src = make_data_dir(tmp_path, per_speaker=5)
    utts = list(read_table(src / "wav.scp"))
    write_table(src / "utt2category", {u: "odd" if int(u[-1]) % 2 else "even" for u in utts})
    picks = {}
    for seed in (0, 0, 1):
        dest = tmp_path / f"shot{seed}"
        assert ops.subset_data_dir(src, dest, per_label=("utt2category", 2), seed=seed) == 4
        cats = read_table(dest / "utt2category")
        assert sorted(cats.values()) == ["even", "even", "odd", "odd"]
        assert validate_data_dir(dest) == []
        picks.setdefault(seed, []).append(sorted(cats))
    assert picks[0][0] == picks[0][1] and picks[0][0] != picks[1][0]
    with pytest.raises(DataDirError, match="label 'odd' has 4 utterances, fewer than the 5 asked for"):
        ops.subset_data_dir(src, tmp_path / "x", per_label=("utt2category", 5))
    with pytest.raises(DataDirError, match="no utt2lang table"):
        ops.subset_data_dir(src, tmp_path / "x", per_label=("utt2lang", 1))


# --- split / filter ------------------------------------------------------------

def test_split_lines_balanced_and_contiguous():
    parts = ops.split_lines([str(i) for i in range(10)], 3)
    assert parts == [["0", "1", "2"], ["3", "4", "5"], ["6", "7", "8", "9"]]
    with pytest.raises(DataDirError, match="cannot split 2 lines into 3 parts"):
        ops.split_lines(["a", "b"], 3)


def test_split_by_speaker_keeps_speakers_whole():
    utt2spk = {f"s{s}-{i}": f"s{s}" for s, n in enumerate([5, 1, 1, 4, 2]) for i in range(n)}
    utts = sorted(utt2spk)
    parts = ops.split_by_speaker(utts, utt2spk, 3)
    assert sum(parts, []) == utts
    assert all(parts)
    speakers = [{utt2spk[u] for u in p} for p in parts]
    assert all(not (a & b) for i, a in enumerate(speakers) for b in speakers[i + 1:])
    with pytest.raises(DataDirError, match="cannot split 5 speakers into 6 parts"):
        ops.split_by_speaker(utts, utt2spk, 6)


def test_split_data_dir_parts_are_valid_and_reused(tmp_path):
    src = make_data_dir(tmp_path, per_speaker=4)
    parts = ops.split_data_dir(src, 3)
    assert [p.name for p in parts] == ["1", "2", "3"]
    assert sum(len(read_table(p / "wav.scp")) for p in parts) == 8
    for p in parts:
        assert validate_data_dir(p) == []
    stamp = (parts[0] / ".done").stat().st_mtime_ns
    assert ops.split_data_dir(src, 3) == parts
    assert (parts[0] / ".done").stat().st_mtime_ns == stamp  # up to date: not rewritten
    by_spk = ops.split_data_dir(src, 2, per_speaker=True)
    assert [set(read_table(p / "spk2utt")) for p in by_spk] == [{"spkA"}, {"spkB"}]


def test_filter_lines():
    rows = ["a 1", "b 2", "c 3"]
    assert ops.filter_lines({"a", "c"}, rows) == ["a 1", "c 3"]
    assert ops.filter_lines({"a", "c"}, rows, exclude=True) == ["b 2"]
    assert ops.filter_lines({"2"}, rows, field=2) == ["b 2"]


# --- the utils/ wrappers ---------------------------------------------------------

def run_util(name, *args, stdin=None):
    # the wrappers call python3: make it this interpreter, as an activated venv would
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run([str(ROOT / "utils" / name), *map(str, args)], input=stdin,
                          capture_output=True, text=True, env=env)


def test_validate_wrapper_exit_status_names_line(tmp_path):
    ddir = make_data_dir(tmp_path)
    ok = run_util("validate_data_dir.sh", ddir)
    assert ok.returncode == 0 and "OK" in ok.stderr
    (tmp_path / "wav" / "spkB-2.wav").unlink()
    bad = run_util("validate_data_dir.sh", ddir)
    assert bad.returncode == 1
    assert f"{ddir}/wav.scp:6: utterance 'spkB-2'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_fix_and_filter_and_spk2utt_wrappers(tmp_path):
    ddir = make_data_dir(tmp_path)
    set_lines(ddir / "text", lines(ddir / "text")[1:])
    res = run_util("fix_data_dir.sh", ddir)
    assert res.returncode == 0 and "kept 5 of 6 utterances" in res.stderr
    res = run_util("utt2spk_to_spk2utt.sh", stdin="a-1 a\nb-1 b\na-2 a\n")
    assert res.stdout == "a a-1 a-2\nb b-1\n"
    (tmp_path / "ids").write_text("spkA-1\nspkB-0 extra\n")
    res = run_util("filter_scp.sh", tmp_path / "ids", ddir / "utt2spk")
    assert res.stdout == "spkA-1 spkA\nspkB-0 spkB\n"
    res = run_util("filter_scp.sh", tmp_path / "missing", ddir / "utt2spk")
    assert res.returncode == 1 and f"{tmp_path}/missing: no such file" in res.stderr


def test_split_scp_wrapper_by_speaker(tmp_path):
    ddir = make_data_dir(tmp_path, speakers=("a", "b", "c"), per_speaker=2)
    outs = [tmp_path / f"wav.{i}.scp" for i in (1, 2, 3)]
    res = run_util("split_scp.sh", "--utt2spk", ddir / "utt2spk", ddir / "wav.scp", *outs)
    assert res.returncode == 0, res.stderr
    assert [[line.split()[0] for line in lines(o)] for o in outs] == [
        ["a-0", "a-1"], ["b-0", "b-1"], ["c-0", "c-1"]]
    res = run_util("split_scp.sh", ddir / "wav.scp", *[tmp_path / f"x{i}" for i in range(7)])
    assert res.returncode == 1 and "cannot split 6 lines into 7 parts" in res.stderr


def test_clear_data_dir_removes_stale_tables(tmp_path):
    from ssltk.data.datadir import clear_data_dir

    ddir = make_data_dir(tmp_path)
    (ddir / ".backup").mkdir()
    assert clear_data_dir(ddir) == ddir
    assert list(ddir.iterdir()) == []
    assert clear_data_dir(tmp_path / "new" / "train").is_dir()
