"""SLURP data preparation on a hand-written fixture in the real release layout (FLAC audio)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ssltk.corpora import slurp
from ssltk.data.datadir import read_table
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def _record(sid, sentence, annotation, scenario, action, files):
    return {"slurp_id": sid, "sentence": sentence, "sentence_annotation": annotation,
            "intent": f"{scenario}_{action}", "action": action,
            "tokens": [{"surface": w, "id": i, "lemma": w, "pos": "NN"}
                       for i, w in enumerate(sentence.split())],
            "scenario": scenario,
            "recordings": [{"file": f, "wer": 0.0, "ent_wer": 0.0, "status": "correct"}
                           for f in files],
            "entities": []}


def make_slurp(root: Path) -> Path:
    """A miniature SLURP: three splits, headset + far-field files, metadata speakers."""
    records = {
        "train": [_record(4489, "wake me up at eight o'clock",
                          "wake me up at [time : eight] o'clock", "alarm", "set",
                          ["audio-1502099775-headset.flac", "audio-1502099775.flac",
                           "audio--1504194195-headset.flac"]),
                  _record(12, "email john@work.com, please",
                          "email [email_address : john@work.com], please", "email",
                          "sendemail", ["audio-1490000001.flac"])],
        "devel": [_record(77, "what's the weather", "what's the weather", "weather", "query",
                          ["audio-1490000002-headset.flac"])],
        "test": [_record(78, "turn the lights off", "turn the lights [house_place : off]", "iot",
                         "hue_lightoff", ["audio-1490000003.flac", "audio-1490000003-headset.flac",
                                          "audio-1502099775.flac"])],  # listed again: kept once
    }
    speakers = {"audio-1502099775-headset.flac": "FO-460", "audio-1502099775.flac": "FO-460",
                "audio--1504194195-headset.flac": "UNK-323", "audio-1490000001.flac": "ME-001",
                "audio-1490000002-headset.flac": "FE-002"}  # 1490000003 has no metadata
    ddir = root / "dataset" / "slurp"
    ddir.mkdir(parents=True)
    for split, recs in records.items():
        (ddir / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    meta = {str(r["slurp_id"]): {"recordings": {f["file"]: {"usrid": speakers[f["file"]]}
                                                for f in r["recordings"] if f["file"] in speakers}}
            for recs in records.values() for r in recs}
    (ddir / "metadata.json").write_text(json.dumps(meta))
    audio = root / "audio" / "slurp_real"
    audio.mkdir(parents=True)
    t = np.arange(8000) / 16000
    for recs in records.values():
        for r in recs:
            for f in r["recordings"]:
                sf.write(audio / f["file"], 0.3 * np.sin(2 * np.pi * 300 * t), 16000,
                         format="FLAC")
    return root


def test_prepare_reads_the_release_layout(tmp_path):
    root = make_slurp(tmp_path / "slurp")
    counts = slurp.prepare(root, tmp_path / "data")
    assert counts == {"train": 4, "dev": 1, "test": 2}
    train = tmp_path / "data" / "train"
    assert validate_data_dir(train, audio="full") == []
    assert read_table(train / "utt2spk") == {
        "FO-460-1502099775": "FO-460", "FO-460-1502099775-headset": "FO-460",
        "ME-001-1490000001": "ME-001", "UNK-323--1504194195-headset": "UNK-323"}
    text = read_table(train / "text")
    assert text["FO-460-1502099775"] == "wake me up at eight o'clock"
    assert text["ME-001-1490000001"] == "email john at work com please"
    assert read_table(train / "text.annot")["FO-460-1502099775"] == \
        "wake me up at [time : eight] o'clock"
    assert set(read_table(train / "utt2intent").values()) == {"alarm_set", "email_sendemail"}
    assert read_table(train / "utt2scenario")["ME-001-1490000001"] == "email"
    assert read_table(train / "utt2action")["ME-001-1490000001"] == "sendemail"
    assert read_table(tmp_path / "data" / "dev" / "utt2intent") == {
        "FE-002-1490000002-headset": "weather_query"}
    # no metadata: the recording is its own speaker; the repeated listing is dropped
    assert read_table(tmp_path / "data" / "test" / "utt2spk") == {
        "1490000003": "1490000003", "1490000003-headset": "1490000003-headset"}
    wav = read_table(train / "wav.scp")["FO-460-1502099775"]
    assert wav.endswith("audio/slurp_real/audio-1502099775.flac") and Path(wav).is_absolute()
    assert "devel" in (tmp_path / "data" / "README.md").read_text()


def test_microphone_selection(tmp_path):
    root = make_slurp(tmp_path / "slurp")
    slurp.prepare(root, tmp_path / "head", mic="headset")
    assert all(u.endswith("-headset") for u in read_table(tmp_path / "head" / "train" / "text"))
    utts = slurp.read_split(root, "train", mic="far")
    assert [u.utt for u in utts] == ["FO-460-1502099775", "ME-001-1490000001"]
    with pytest.raises(UserError, match="devel.jsonl: no recordings .*'far'"):
        slurp.prepare(root, tmp_path / "far", mic="far")  # devel has headset files only
    with pytest.raises(UserError, match="unknown microphone selection 'near'"):
        slurp.read_split(root, "train", mic="near")


def test_bad_input_is_named(tmp_path):
    with pytest.raises(UserError, match="not a SLURP root"):
        slurp.prepare(tmp_path / "nowhere", tmp_path / "data")
    root = make_slurp(tmp_path / "slurp")
    (root / "audio" / "slurp_real" / "audio-1490000001.flac").unlink()
    with pytest.raises(UserError,
                       match=r"train.jsonl:2: audio file .*audio-1490000001.flac not found"):
        slurp.prepare(root, tmp_path / "data")
    jsonl = root / "dataset" / "slurp" / "devel.jsonl"
    jsonl.write_text('{"slurp_id": 1, "sentence": "hi"}\n{oops\n')
    with pytest.raises(UserError, match="devel.jsonl:1: record lacks scenario, action, recordings"):
        slurp.read_split(root, "devel")
    jsonl.write_text('\n{oops\n')
    with pytest.raises(UserError, match="devel.jsonl:2: not valid JSON"):
        slurp.read_split(root, "devel")
    (root / "dataset" / "slurp" / "test.jsonl").unlink()
    with pytest.raises(UserError, match="test.jsonl: no such file"):
        slurp.read_split(root, "test")


def test_cli(tmp_path):
    root = make_slurp(tmp_path / "slurp")
    cmd = [sys.executable, "-m", "ssltk.bin.prep_slurp", "--slurp", str(root), "--out"]
    proc = subprocess.run(cmd + [str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "train 4, dev 1, test 2" in proc.stderr
    proc = subprocess.run([*cmd[:4], str(tmp_path), "--out", str(tmp_path / "x")], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "not a SLURP root" in proc.stderr
    assert "Traceback" not in proc.stderr
