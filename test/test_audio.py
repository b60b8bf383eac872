"""Audio reading: files, pipes, ark offsets, segments, resampling, errors."""

from pathlib import Path

import kaldiio
import numpy as np
import pytest
import soundfile as sf

from ssltk.data.audio import AudioError, AudioSpec, load_audio
from ssltk.data.datadir import DataDir, write_table

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"


def test_int16_wav_reads_as_float_in_range(tmp_path):
    pcm = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    sf.write(tmp_path / "a.wav", pcm, 16000, subtype="PCM_16")
    samples, rate = load_audio(str(tmp_path / "a.wav"))
    assert rate == 16000 and samples.dtype == np.float32
    np.testing.assert_allclose(samples, [0.0, 0.5, -1.0, 32767 / 32768])


def test_resample_8k_to_16k_keeps_a_tone(tmp_path):
    t = np.arange(8000) / 8000
    sf.write(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    with pytest.warns(UserWarning, match="audio at 8000 Hz resampled to 16000 Hz"):
        samples, rate = load_audio(str(tmp_path / "a.wav"), target_rate=16000)
    assert rate == 16000 and len(samples) == 16000
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 Hz bins over 1 s


def test_pipe_and_ark_entries_equal_the_file(tmp_path):
    x = (0.1 * np.random.default_rng(0).standard_normal(3200)).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    direct, _ = load_audio(str(tmp_path / "a.wav"))
    piped, _ = load_audio(f"cat {tmp_path / 'a.wav'} |")
    np.testing.assert_array_equal(direct, piped)
    pcm = (x * 32768).astype(np.int16)
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/a.ark,{tmp_path}/a.scp") as w:
        w["utt"] = (16000, pcm)
    entry = (tmp_path / "a.scp").read_text().split()[1]
    from_ark, rate = load_audio(entry)
    assert rate == 16000
    np.testing.assert_allclose(from_ark, pcm / 32768.0, atol=1e-7)


def test_segments_cut_the_recording(tmp_path):
    x = np.arange(16000, dtype=np.float32) / 16000
    sf.write(tmp_path / "rec.wav", x, 16000, subtype="FLOAT")
    (tmp_path / "d").mkdir()
    write_table(tmp_path / "d" / "wav.scp", {"rec": str(tmp_path / "rec.wav")})
    write_table(tmp_path / "d" / "segments", {"u1": "rec 0.25 0.5", "u2": "rec 0.5 -1"})
    specs = DataDir(tmp_path / "d").audio_specs()
    u1, _ = load_audio(specs["u1"])
    u2, _ = load_audio(specs["u2"])
    np.testing.assert_array_equal(u1, x[4000:8000])
    np.testing.assert_array_equal(u2, x[8000:])


def test_errors_name_the_utterance(tmp_path):
    with pytest.raises(AudioError, match=r"utterance 'u7': .*nope.wav: audio file not found"):
        load_audio(AudioSpec("u7", str(tmp_path / "nope.wav")))
    with pytest.raises(AudioError, match=r"utterance 'u8': false \|: command exited with 1"):
        load_audio(AudioSpec("u8", "false |"))
    sf.write(tmp_path / "st.wav", np.zeros((100, 2), dtype=np.float32), 16000)
    with pytest.raises(AudioError, match=r"utterance 'u9': .*st.wav: has 2 channels; mono expected"):
        load_audio(AudioSpec("u9", str(tmp_path / "st.wav")))
    (tmp_path / "bad.wav").write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioError, match=r"unreadable or corrupt audio"):
        load_audio(AudioSpec("u10", str(tmp_path / "bad.wav")))


@pytest.mark.skipif(not FSDD.is_dir(), reason=f"the shared FSDD corpus is not at {FSDD}")
def test_real_fsdd_recording_reads_at_16k():
    path = FSDD / "7_jackson_32.wav"
    info = sf.info(path)
    assert info.samplerate == 8000 and info.channels == 1
    with pytest.warns(UserWarning, match="resampled"):
        samples, rate = load_audio(str(path), target_rate=16000)
    assert rate == 16000
    assert len(samples) == 2 * info.frames
    assert 0.01 < float(np.sqrt(np.mean(samples ** 2))) < 1.0
