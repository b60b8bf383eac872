"""Distortions (ssltk.distort): SNRs on real noise, reverberation, channel effects, seeding
across processes and batch orders, distorted data-dir copies, and the errors."""

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from ssltk.bin import distort_data
from ssltk.data.datadir import DataDir, write_table
from ssltk.distort import (KINDS, Distorter, DistortionConfig, DistortionSetConfig, distort_data_dir,
                           load_distortions, utterance_rng)
from ssltk.distort import dsp
from ssltk.errors import UserError
from ssltk.train.config import ConfigError, FieldError, config_from_dict

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
NOISE = ROOT.parent / "shared" / "data" / "noise" / "speech_commands_bg"
needs_noise = pytest.mark.skipif(not NOISE.is_dir(), reason=f"the shared noise corpus is not at {NOISE}")
RATE = 16000


def speechlike(seed: int, seconds: float = 0.5) -> np.ndarray:
    """A voiced-sounding test signal: harmonics of a gliding pitch under a syllable envelope,
    with silence at both ends."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 110 + 60 * rng.random() + 30 * np.sin(2 * np.pi * 2 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(np.pi * np.linspace(-0.1, 1.1, n)), 0, None) ** 2
    return (0.2 * x * envelope + 1e-3 * rng.standard_normal(n)).astype(np.float32)


def measured_snr(clean: np.ndarray, noisy: np.ndarray) -> float:
    clean = clean.astype(np.float64)
    return dsp.snr_db(clean, noisy - clean)


def write_ir(path: Path, samples) -> str:
    sf.write(path, np.asarray(samples, dtype=np.float32), RATE, subtype="FLOAT")
    return str(path)


def small_rooms(**extra) -> DistortionConfig:
    return DistortionConfig(kind="reverb", rt60=[0.2, 0.3], room=[[3, 4], [3, 4], [2.5, 3]],
                            distance=[0.5, 1], rooms=2, **extra)


def every_kind(noise_dir: str, ir_dir: str) -> dict[str, DistortionConfig]:
    """One configuration of each registered kind (babble draws from the batch)."""
    return {"clean": DistortionConfig(kind="clean"),
            "noise": DistortionConfig(kind="noise", snr=[0, 20], files=noise_dir),
            "babble": DistortionConfig(kind="babble", snr=[0, 10], talkers=[1, 2]),
            "reverb": small_rooms(),
            "reverb_ir": DistortionConfig(kind="reverb", name="reverb_ir", files=ir_dir),
            "telephone": DistortionConfig(kind="telephone"),
            "clip": DistortionConfig(kind="clip"),
            "gain": DistortionConfig(kind="gain"),
            "pitch": DistortionConfig(kind="pitch"),
            "speed": DistortionConfig(kind="speed")}


def distort_every_kind(noise_dir: str, ir_dir: str, seed: int = 7) -> dict[str, np.ndarray]:
    """Three utterances through every kind: ``{kind/utt: samples}`` (run here and in a child process)."""
    utts = ["spk1-a", "spk1-b", "spk2-c"]
    lens = torch.tensor([8000, 6400, 7200])
    wavs = torch.zeros(3, 8000)
    for i, n in enumerate(lens.tolist()):
        wavs[i, :n] = torch.from_numpy(speechlike(i, n / RATE))
    out = {}
    for name, cfg in every_kind(noise_dir, ir_dir).items():
        y, new_lens = Distorter([cfg], seed=seed).batch(wavs, lens, utts, epoch=2)
        for i, utt in enumerate(utts):
            out[f"{name}/{utt}"] = y[i, :new_lens[i]].numpy()
    return out


# ---------------------------------------------------------------- additive distortions


@needs_noise
@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 20.0])
def test_noise_hits_the_snr_on_every_real_noise_file(snr):
    x = speechlike(0)
    for path in sorted(NOISE.glob("*.flac")):
        d = Distorter([DistortionConfig(kind="noise", snr=snr, files=str(path))], seed=1)
        y = d.utterance(x, "utt1")
        assert len(y) == len(x)
        assert abs(measured_snr(x, y) - snr) < 0.5, path.name
        assert abs(measured_snr(x, y) - snr) < 1e-6  # exact by construction


@needs_noise
def test_noise_snr_range_is_drawn_per_utterance_from_the_directory():
    d = Distorter([DistortionConfig(kind="noise", snr=[0, 20], files=str(NOISE))], seed=3)
    x = speechlike(1)
    snrs = [measured_snr(x, d.utterance(x, f"utt{i}")) for i in range(12)]
    assert all(0 <= s <= 20 for s in snrs)
    assert len({round(s, 3) for s in snrs}) == 12


def test_noise_shorter_than_the_utterance_is_looped(tmp_path):
    noise = np.random.default_rng(0).standard_normal(800).astype(np.float32) * 0.1  # 50 ms
    sf.write(tmp_path / "short.wav", noise, RATE)
    x = speechlike(2)
    y = Distorter([DistortionConfig(kind="noise", snr=3, files=str(tmp_path))]).utterance(x, "u")
    added = y - x
    assert abs(measured_snr(x, y) - 3) < 1e-6
    np.testing.assert_allclose(added[:800] / added[800:1600], added[0] / added[800], rtol=1e-6)


@needs_noise
def test_babble_hits_the_snr_from_a_batch_and_from_a_data_dir(tmp_path):
    utts = ["a", "b", "c", "d"]
    wavs = torch.stack([torch.from_numpy(speechlike(i)) for i in range(4)])
    lens = torch.full((4,), wavs.shape[1])
    d = Distorter([DistortionConfig(kind="babble", snr=4, talkers=2)], seed=0)
    y, _ = d.batch(wavs, lens, utts)
    for i in range(4):
        assert abs(measured_snr(wavs[i].numpy(), y[i].numpy()) - 4) < 0.5
    ddir = make_data_dir(tmp_path / "data", 4)
    d = Distorter([DistortionConfig(kind="babble", snr=-2, talkers=[2, 3], data_dir=str(ddir))], seed=0)
    x = speechlike(9)
    assert abs(measured_snr(x, d.utterance(x, "spk1-u0")) - -2) < 0.5
    with pytest.raises(UserError, match="holds no other utterance"):
        Distorter([DistortionConfig(kind="babble")]).batch(wavs[:1], lens[:1], ["a"])


# ---------------------------------------------------------------- reverberation


def test_reverb_with_a_unit_impulse_is_the_identity(tmp_path):
    x = speechlike(3)
    for name, ir in (("unit", [1.0]), ("delayed", [0, 0, 0, 0, 1.0, 0, 0])):
        d = Distorter([DistortionConfig(kind="reverb", files=write_ir(tmp_path / f"{name}.wav", ir))])
        np.testing.assert_allclose(d.utterance(x, "u"), x, atol=1e-6)


def test_simulated_room_keeps_length_level_and_alignment():
    x = speechlike(4).astype(np.float64)
    y = Distorter([small_rooms()], seed=5).utterance(x, "u")
    assert len(y) == len(x)
    assert abs(dsp.power(y) / dsp.power(x) - 1) < 1e-9  # levelled to the input's RMS
    assert not np.allclose(y, x, atol=1e-3)
    lags = np.arange(-200, 201)
    xcorr = [np.dot(x[max(0, -k):len(x) - max(0, k)], y[max(0, k):len(y) - max(0, -k)]) for k in lags]
    assert abs(lags[int(np.argmax(xcorr))]) <= 2  # direct path at lag 0


# ---------------------------------------------------------------- channel and level


def test_telephone_removes_energy_outside_the_band():
    x = np.random.default_rng(0).standard_normal(RATE) * 0.1
    y = Distorter([DistortionConfig(kind="telephone")]).utterance(x, "u")
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / RATE)
    inside = spec[(freqs >= 300) & (freqs <= 3400)].sum()
    assert spec[freqs < 300].sum() < 1e-6 * inside
    assert spec[freqs > 3400].sum() < 1e-6 * inside
    assert inside > 0.2 * (np.abs(np.fft.rfft(x)) ** 2).sum()  # the band is kept (about 39% of white noise)
    wide = Distorter([DistortionConfig(kind="telephone", narrowband=False, mu_law=False, low_hz=100,
                                       high_hz=7000)]).utterance(x, "u")
    spec = np.abs(np.fft.rfft(wide)) ** 2
    assert spec[freqs < 100].sum() < 1e-6 * spec.sum() and spec[freqs > 7000].sum() < 1e-6 * spec.sum()


def test_clip_bounds_the_peak_and_gain_changes_the_rms_by_its_db():
    x = speechlike(5).astype(np.float64)
    y = Distorter([DistortionConfig(kind="clip", fraction=0.3)]).utterance(x, "u")
    assert np.max(np.abs(y)) == pytest.approx(0.3 * np.max(np.abs(x)), rel=1e-12)
    assert np.sum(np.abs(y) < np.abs(x)) > 0
    for db in (-12.5, 6.0):
        y = Distorter([DistortionConfig(kind="gain", db=db)]).utterance(x, "u")
        assert 10 * np.log10(dsp.power(y) / dsp.power(x)) == pytest.approx(db, abs=1e-9)


def test_pitch_shift_keeps_the_length_and_moves_a_tone():
    t = np.arange(RATE) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    for semitones in (-3.0, 2.5):
        y = Distorter([DistortionConfig(kind="pitch", semitones=semitones)]).utterance(tone, "u")
        assert len(y) == len(tone)
        peak_hz = np.argmax(np.abs(np.fft.rfft(y))) * RATE / len(y)
        assert abs(peak_hz - 440 * 2 ** (semitones / 12)) < 2
        assert 0.9 < dsp.power(y[2000:-2000]) / dsp.power(tone) < 1.1
    x = speechlike(6)
    assert len(Distorter([DistortionConfig(kind="pitch")]).utterance(x, "u")) == len(x)


def test_speed_reuses_change_speed():
    x = speechlike(7)
    y = Distorter([DistortionConfig(kind="speed", factor=1.25)]).utterance(x, "u")
    assert abs(len(y) - len(x) / 1.25) <= 1
    wavs = torch.zeros(2, 8000)
    wavs[0], wavs[1, :4000] = torch.from_numpy(x), torch.from_numpy(x[:4000])
    y, lens = Distorter([DistortionConfig(kind="speed", factor=0.8)]).batch(wavs, torch.tensor([8000, 4000]),
                                                                            ["a", "b"])
    assert lens.tolist() == [10000, 5000] and y.shape == (2, 10000) and not y[1, 5000:].any()


# ---------------------------------------------------------------- determinism


@needs_noise
def test_same_seed_gives_the_same_audio_in_another_process(tmp_path):
    ir_dir = tmp_path / "irs"
    ir_dir.mkdir()
    write_ir(ir_dir / "a.wav", [0, 0.2, 1.0, 0.5, -0.3, 0.1])
    write_ir(ir_dir / "b.wav", [1.0, 0, 0.4, 0, 0.1])
    here = distort_every_kind(str(NOISE), str(ir_dir))
    script = textwrap.dedent(f"""
        import sys
        import numpy as np, torch
        torch.set_num_threads(1)
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_distort import distort_every_kind
        np.savez({str(tmp_path / 'child.npz')!r}, **distort_every_kind({str(NOISE)!r}, {str(ir_dir)!r}))
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    there = np.load(tmp_path / "child.npz")
    assert sorted(there.files) == sorted(here)
    for key, y in here.items():
        np.testing.assert_array_equal(there[key], y, err_msg=key)
    assert not np.array_equal(here["noise/spk1-a"], here["clean/spk1-a"])


@needs_noise
def test_batch_order_does_not_change_an_utterance_but_ids_and_epochs_do(tmp_path):
    ir = write_ir(tmp_path / "ir.wav", [1.0, 0.3, 0.0, 0.2])
    kinds = every_kind(str(NOISE), ir)
    d = Distorter([kinds[k] for k in ("noise", "reverb_ir", "telephone", "clip", "gain", "pitch")], seed=11)
    utts = [f"utt{i}" for i in range(6)]
    lens = torch.tensor([8000, 7000, 6000, 7500, 5000, 8000])
    wavs = torch.zeros(6, 8000)
    for i, n in enumerate(lens.tolist()):
        wavs[i, :n] = torch.from_numpy(speechlike(i, n / RATE))
    y, _ = d.batch(wavs, lens, utts, epoch=1)
    order = [4, 2, 0, 5, 1]  # another order, one utterance fewer
    y2, _ = d.batch(wavs[order], lens[order], [utts[i] for i in order], epoch=1)
    for j, i in enumerate(order):
        assert torch.equal(y2[j, :lens[i]], y[i, :lens[i]])
        assert not y2[j, lens[i]:].any()
    x = speechlike(0)
    noise = Distorter([kinds["noise"]], seed=11)
    same = noise.utterance(x, "utt0", epoch=1)
    np.testing.assert_array_equal(same, noise.utterance(x, "utt0", epoch=1))
    assert not np.array_equal(same, noise.utterance(x, "utt1", epoch=1))  # other id
    assert not np.array_equal(same, noise.utterance(x, "utt0", epoch=2))  # other epoch
    assert not np.array_equal(same, Distorter([kinds["noise"]], seed=12).utterance(x, "utt0", epoch=1))
    a, b = utterance_rng(0, "x", 0).random(4), utterance_rng(0, "x", 0).random(4)
    np.testing.assert_array_equal(a, b)


def test_prob_leaves_some_utterances_clean():
    d = Distorter([DistortionConfig(kind="gain", db=6)], prob=0.5)
    x = speechlike(1)
    clean = [np.array_equal(d.utterance(x, f"u{i}"), x) for i in range(40)]
    assert 5 < sum(clean) < 35


# ---------------------------------------------------------------- data dir copies


def make_data_dir(path: Path, n: int = 3) -> Path:
    (path / "audio").mkdir(parents=True)
    utts = [f"spk{i % 2}-u{i}" for i in range(n)]
    for i, utt in enumerate(utts):
        sf.write(path / "audio" / f"{utt}.flac", speechlike(i), RATE, subtype="PCM_16")
    write_table(path / "wav.scp", {u: str(path / "audio" / f"{u}.flac") for u in utts})
    write_table(path / "text", {u: f"word{i}" for i, u in enumerate(utts)})
    write_table(path / "utt2spk", {u: u.split("-")[0] for u in utts})
    write_table(path / "utt2category", {u: "yes" for u in utts})
    write_table(path / "utt2dur", {u: "0.5" for u in utts})
    DataDir(path).write_spk2utt()
    return path


def snapshot(path: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(path)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(path.rglob("*")) if p.is_file()}


@needs_noise
def test_distort_data_writes_a_copy_once_and_resumes(tmp_path, capsys):
    src = make_data_dir(tmp_path / "test")
    dest = tmp_path / "test_noise_snr5"
    argv = ["--kind", "noise", "--snr", "5", "--files", str(NOISE), str(src), str(dest)]
    assert distort_data.main(argv) == 0
    out = DataDir(dest)
    for table in ("text", "utt2spk", "spk2utt", "utt2category"):
        assert (dest / table).read_bytes() == (src / table).read_bytes()
    assert not out.has("utt2dur")  # describes the source audio
    settings = yaml.safe_load((dest / "distortion.yaml").read_text())
    assert settings["seed"] == 0 and settings["distortion"]["snr"] == 5
    assert settings["distortion"]["files"] == [str(NOISE.resolve())]
    for utt, path in out.table("wav.scp").items():
        y, rate = sf.read(path)
        assert rate == RATE and sf.info(path).subtype == "PCM_16" and path.endswith(f"wav/{utt}.flac")
        x, _ = sf.read(src / "audio" / f"{utt}.flac")
        assert abs(measured_snr(x, y) - 5) < 0.5
    before = snapshot(dest)
    assert distort_data.main(argv) == 0  # same settings: nothing written
    assert snapshot(dest) == before
    assert "up to date" in capsys.readouterr().err

    # an interrupted run: wav.scp (written last) and one file missing
    (dest / "wav.scp").unlink()
    (dest / "wav" / "spk1-u1.flac").unlink()
    assert distort_data.main(argv) == 0
    after = snapshot(dest)
    assert after.keys() == before.keys()
    assert all(after[k][0] == before[k][0] for k in after)  # same bytes
    assert after["wav/spk0-u0.flac"][1] == before["wav/spk0-u0.flac"][1]  # kept, not rewritten
    assert "kept 2 written before" in capsys.readouterr().err

    # other settings: an error naming what differs, then --force
    with pytest.raises(SystemExit) as e:
        distort_data.main(argv[:3] + ["6"] + argv[4:])
    assert e.value.code == 1
    assert "distortion.snr differ" in capsys.readouterr().err
    assert snapshot(dest) == after
    assert distort_data.main(["--force"] + argv[:3] + ["6"] + argv[4:]) == 0
    x, _ = sf.read(src / "audio" / "spk0-u0.flac")
    y, _ = sf.read(out.table("wav.scp")["spk0-u0"])
    assert abs(measured_snr(x, y) - 6) < 0.5


def test_distort_data_from_a_config_entry_with_babble_from_the_source(tmp_path):
    src = make_data_dir(tmp_path / "test", 4)
    conf = tmp_path / "distort.yaml"
    conf.write_text("seed: 3\ndistortions:\n  - {name: cafe, kind: babble, snr: 10, talkers: 2}\n"
                    "seen: [gain]\nunseen: [cafe, telephone]\n")
    assert distort_data.main(["--config", str(conf), "--name", "cafe", str(src), str(tmp_path / "out")]) == 0
    settings = yaml.safe_load((tmp_path / "out" / "distortion.yaml").read_text())
    assert settings["seed"] == 3 and settings["distortion"]["name"] == "cafe"
    x, _ = sf.read(src / "audio" / "spk0-u0.flac")
    y, _ = sf.read(tmp_path / "out" / "wav" / "spk0-u0.flac")
    assert abs(measured_snr(x, y) - 10) < 0.5
    # a clean copy is bit-exact 16-bit audio
    assert distort_data.main(["--kind", "clean", str(src), str(tmp_path / "clean")]) == 0
    x, _ = sf.read(src / "audio" / "spk1-u3.flac", dtype="int16")
    y, _ = sf.read(tmp_path / "clean" / "wav" / "spk1-u3.flac", dtype="int16")
    np.testing.assert_array_equal(x, y)


def test_distort_data_refuses_a_directory_it_did_not_write(tmp_path):
    src = make_data_dir(tmp_path / "test")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="other: exists and was not written by distort_data"):
        distort_data_dir(src, tmp_path / "other", DistortionConfig(kind="gain"))
    assert (tmp_path / "other" / "keep.txt").read_text() == "mine"
    with pytest.raises(UserError, match="must differ from the source"):
        distort_data_dir(src, src, DistortionConfig(kind="gain"))


# ---------------------------------------------------------------- bad noise files


def test_missing_stereo_corrupt_and_empty_noise_sources_are_errors(tmp_path):
    def noise(files):
        return Distorter([DistortionConfig(kind="noise", files=files)])

    with pytest.raises(UserError, match=f"noise file {tmp_path / 'gone.wav'}: no such file"):
        noise(str(tmp_path / "gone.wav"))
    sf.write(tmp_path / "stereo.wav", np.zeros((1600, 2), np.float32) + 0.1, RATE)
    with pytest.raises(UserError, match=f"noise file {tmp_path / 'stereo.wav'}: has 2 channels; mono"):
        noise([str(tmp_path / "stereo.wav")])
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(UserError, match=f"noise file {tmp_path / 'bad.wav'}: unreadable"):
        noise(str(tmp_path / "bad.wav"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty: directory holds no audio files"):
        noise(str(tmp_path / "empty"))
    with pytest.raises(UserError, match="impulse response .*gone.flac: no such file"):
        Distorter([DistortionConfig(kind="reverb", files=str(tmp_path / "gone.flac"))])


def test_noise_at_another_rate_is_resampled_with_a_warning(tmp_path):
    noise = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    sf.write(tmp_path / "n8k.wav", noise, 8000)
    with pytest.warns(UserWarning, match=f"noise file {tmp_path / 'n8k.wav'}: 8000 Hz, resampled to 16000"):
        d = Distorter([DistortionConfig(kind="noise", snr=2, files=str(tmp_path / "n8k.wav"))])
    x = speechlike(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert abs(measured_snr(x, d.utterance(x, "u")) - 2) < 0.5


# ---------------------------------------------------------------- config errors


def test_unknown_kinds_and_parameters_are_named():
    with pytest.raises(FieldError, match="kind: unknown distortion 'echo'; known: clean, noise, babble"):
        DistortionConfig(kind="echo")
    with pytest.raises(FieldError, match=r"snr: not a parameter of 'gain' \(its parameters: db\)"):
        DistortionConfig(kind="gain", snr=5)
    with pytest.raises(FieldError, match="files: 'noise' needs files"):
        DistortionConfig(kind="noise")
    with pytest.raises(FieldError, match=r"fraction: must lie in \[0.001, 1\], got 1.5"):
        DistortionConfig(kind="clip", fraction=1.5)
    with pytest.raises(FieldError, match=r"snr: low end above high end: \[20, 0\]"):
        DistortionConfig(kind="noise", files="x", snr=[20, 0])
    with pytest.raises(FieldError, match="rt60: does not apply with files"):
        DistortionConfig(kind="reverb", files="ir.wav", rt60=0.5)
    with pytest.raises(FieldError, match="high_hz: must be above low_hz"):
        DistortionConfig(kind="telephone", low_hz=3000, high_hz=300)
    with pytest.raises(UserError, match="high_hz 7000 is above 4000 Hz, the Nyquist frequency of 8 kHz"):
        Distorter([DistortionConfig(kind="telephone", high_hz=7000)])
    with pytest.raises(ConfigError, match="command line: snr: expected a number or a list"):
        config_from_dict({"kind": "noise", "files": "x", "snr": "loud"}, DistortionConfig, "command line")


def test_distortion_file_errors_name_the_line(tmp_path):
    def load(text):
        (tmp_path / "d.yaml").write_text(text)
        return load_distortions(tmp_path / "d.yaml")

    with pytest.raises(ConfigError, match=r"d.yaml:3: distortions\[0\].snrr: unknown key.*mean 'snr'"):
        load("distortions:\n  - kind: gain\n    snrr: 5\n")
    with pytest.raises(ConfigError, match=r"d.yaml:2: distortions\[0\].kind: unknown distortion 'nois'"):
        load("distortions:\n  - kind: nois\n")
    with pytest.raises(ConfigError, match="seen: no distortion named 'cafe'; defined: phone; kinds: clean"):
        load("distortions:\n  - {name: phone, kind: telephone}\nseen: [cafe]\n")
    with pytest.raises(ConfigError, match="unseen: also seen in training: gain"):
        load("seen: [gain, clip]\nunseen: [gain]\n")
    with pytest.raises(ConfigError, match="seen: 'noise' with its defaults: files: 'noise' needs files"):
        load("seen: [noise]\n")
    with pytest.raises(ConfigError, match="distortions: names used twice: gain"):
        load("distortions:\n  - {kind: gain}\n  - {kind: gain, db: 3}\n")
    cfg = load("seed: 4\nprob: 0.5\ndistortions:\n  - {kind: gain, db: [-3, 3]}\n"
               "  - {name: far, kind: reverb}\nseen: [gain, far]\nunseen: [telephone]\n")
    assert isinstance(cfg, DistortionSetConfig) and cfg.entry("telephone").params()["high_hz"] == 3400
    seen = Distorter.from_config(cfg, "seen")
    assert [c.label for c in seen.configs] == ["gain", "far"] and seen.seed == 4 and seen.prob == 0.5
    assert [c.kind for c in Distorter.from_config(cfg, "unseen").configs] == ["telephone"]


def test_cli_names_an_unknown_kind(tmp_path, capsys):
    src = make_data_dir(tmp_path / "test", 1)
    with pytest.raises(SystemExit):
        distort_data.main(["--kind", "echo", str(src), str(tmp_path / "out")])
    assert f"unknown distortion 'echo'; known: {', '.join(KINDS)}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        distort_data.main(["--kind", "gain", "--snr", "5", str(src), str(tmp_path / "out")])
    assert "snr: not a parameter of 'gain'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_registry_and_config_fields_agree():
    fields = set(DistortionConfig.__dataclass_fields__) - {"kind", "name"}
    used = {p for kind in KINDS.values() for p in kind.params}
    assert used == fields
    for name, kind in KINDS.items():
        required = {k for k, v in kind.params.items() if v == "<required>"}
        cfg = DistortionConfig(kind=name, **{k: "x" for k in required})
        assert cfg.label == name
