"""Energy VAD and silence removal on real wav files through the real readers."""

import json

import numpy as np
import pytest
import soundfile as sf

from ssltk.bin import remove_silence
from ssltk.data.datadir import read_table
from ssltk.uasr.vad import VadConfig, read_intervals, to_original_time, voiced_intervals

RATE = 16000


def bursts(spans, total, seed=0):
    """Noise bursts (amplitude 0.3) at ``spans`` seconds over faint noise (amplitude 1e-3)."""
    rng = np.random.default_rng(seed)
    x = 1e-3 * rng.standard_normal(int(total * RATE))
    for start, end in spans:
        first, last = round(start * RATE), round(end * RATE)
        x[first:last] += 0.3 * rng.standard_normal(last - first)
    return x.astype(np.float32)


def test_intervals_match_the_bursts_within_padding():
    x = bursts([(0.5, 1.2), (2.0, 2.6)], 3.0)
    got = [(s / RATE, e / RATE) for s, e in voiced_intervals(x, RATE)]
    assert len(got) == 2
    for (s, e), (ts, te) in zip(got, [(0.5, 1.2), (2.0, 2.6)]):
        assert ts - 0.08 <= s <= ts and te <= e <= te + 0.08  # padding 0.05 s + a frame


def test_short_gaps_are_bridged_and_short_blips_dropped():
    x = bursts([(0.5, 1.0), (1.1, 1.6), (2.5, 2.53)], 3.0)  # 0.1 s gap; a 30 ms blip
    got = voiced_intervals(x, RATE)
    assert len(got) == 1
    assert got[0][0] / RATE == pytest.approx(0.45, abs=0.03)
    assert got[0][1] / RATE == pytest.approx(1.65, abs=0.04)


def test_no_contrast_keeps_everything():
    silent = 1e-3 * np.random.default_rng(1).standard_normal(RATE).astype(np.float32)
    assert voiced_intervals(silent, RATE) == [(0, RATE)]
    loud = bursts([(0.0, 1.0)], 1.0)
    assert voiced_intervals(loud, RATE, VadConfig()) == [(0, RATE)]


def test_to_original_time():
    intervals = [(0.5, 1.0), (2.0, 3.0)]
    assert to_original_time(0.0, intervals) == 0.5
    assert to_original_time(0.25, intervals) == 0.75
    assert to_original_time(0.7, intervals) == pytest.approx(2.2)
    assert to_original_time(9.0, intervals) == 3.0


def test_remove_silence_cli(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    spans = {"a1": [(0.3, 0.9)], "a2": [(0.2, 0.6), (1.4, 1.9)]}
    for i, (utt, s) in enumerate(spans.items()):
        sf.write(tmp_path / f"{utt}.wav", bursts(s, 2.2, seed=i), RATE, subtype="PCM_16")
    (data / "wav.scp").write_text("".join(f"{u} {tmp_path / u}.wav\n" for u in spans))
    (data / "utt2spk").write_text("a1 a\na2 a\n")
    (data / "spk2utt").write_text("a a1 a2\n")
    (data / "text.phn").write_text("a1 x y\na2 y | z\n")
    (data / "utt2dur").write_text("a1 2.200\na2 2.200\n")
    (data / "phones.ctm").write_text("a1 1 0.3 0.6 x\n")
    out = tmp_path / "nosil"
    assert remove_silence.main(["--data", str(data), "--out", str(out), "--wav_dir",
                                str(tmp_path / "wav"), "--nj", "2"]) == 0
    assert read_table(out / "text.phn") == read_table(data / "text.phn")
    assert not (out / "phones.ctm").exists()
    intervals = read_intervals(out / "vad_intervals")
    assert len(intervals["a1"]) == 1 and len(intervals["a2"]) == 2
    for utt, ivs in intervals.items():
        samples, rate = sf.read(read_table(out / "wav.scp")[utt])
        kept = sum(e - s for s, e in ivs)
        assert len(samples) / rate == pytest.approx(kept, abs=2e-3)
        assert float(read_table(out / "utt2dur")[utt]) == pytest.approx(kept, abs=2e-3)
    info = json.loads((out / "vad_info.json").read_text())
    assert info["utterances"] == 2 and info["seconds_out"] < info["seconds_in"] == pytest.approx(4.4)
    stamp = (tmp_path / "wav" / "a1.wav").stat().st_mtime_ns
    assert remove_silence.main(["--data", str(data), "--out", str(out), "--wav_dir",
                                str(tmp_path / "wav")]) == 0
    assert (tmp_path / "wav" / "a1.wav").stat().st_mtime_ns == stamp  # not redone
    assert read_table(out / "utt2spk") == read_table(data / "utt2spk")
    assert remove_silence.main(["--data", str(data), "--out", str(out), "--wav_dir",
                                str(tmp_path / "wav"), "--padding", "0.0"]) == 0
    assert (tmp_path / "wav" / "a1.wav").stat().st_mtime_ns != stamp  # other settings: redone
    samples, rate = sf.read(read_table(out / "wav.scp")["a1"])
    assert len(samples) / rate == pytest.approx(0.6, abs=0.04)  # leading/trailing silence gone


def test_remove_silence_names_a_missing_file(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "wav.scp").write_text(f"u1 {tmp_path}/missing.wav\n")
    (data / "utt2spk").write_text("u1 s\n")
    (data / "spk2utt").write_text("s u1\n")
    with pytest.raises(SystemExit) as exit_:
        remove_silence.main(["--data", str(data), "--out", str(tmp_path / "o"),
                             "--wav_dir", str(tmp_path / "w")])
    assert exit_.value.code != 0
    assert "missing.wav" in capsys.readouterr().err
