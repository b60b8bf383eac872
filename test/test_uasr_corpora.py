"""LibriSpeech and SpokenCOCO data preps on tiny fixtures in their real layouts."""

import json
import re

import numpy as np
import pytest
import soundfile as sf

from ssltk.bin import prep_librispeech, prep_spokencoco
from ssltk.data.datadir import read_table
from ssltk.data.validate import validate_data_dir


def _tone(path, seconds=0.3, fmt="FLAC"):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000, format=fmt)


def librispeech_fixture(root):
    trans = {("19", "198"): {"0000": "NORTHANGER ABBEY", "0001": "THIS LITTLE WORK"},
             ("26", "495"): {"0000": "A CHAPTER OF ACCIDENTS"}}
    for (spk, chapter), utts in trans.items():
        d = root / "dev-clean" / spk / chapter
        for utt in utts:
            _tone(d / f"{spk}-{chapter}-{utt}.flac")
        (d / f"{spk}-{chapter}.trans.txt").write_text(
            "".join(f"{spk}-{chapter}-{u} {t}\n" for u, t in utts.items()))
    (root / "SPEAKERS.TXT").write_text("; ID |SEX| SUBSET | MINUTES | NAME\n"
                                       "19   | F | train-clean-100 | 25.19 | Kara\n"
                                       "26   | M | train-clean-100 | 25.08 | Denny\n")
    return root


def test_librispeech_layout(tmp_path):
    root = librispeech_fixture(tmp_path / "LibriSpeech")
    lm = tmp_path / "lm.txt"
    lm.write_text("THIS LITTLE WORK\n\nAN UNSPOKEN SENTENCE\nANOTHER  ONE\n")
    out = tmp_path / "data"
    assert prep_librispeech.main(["--root", str(root), "--subsets", "dev-clean", "--out", str(out),
                                  "--lm_text", str(lm)]) == 0
    ddir = out / "dev_clean"
    assert read_table(ddir / "text") == {"19-198-0000": "NORTHANGER ABBEY",
                                         "19-198-0001": "THIS LITTLE WORK",
                                         "26-495-0000": "A CHAPTER OF ACCIDENTS"}
    assert read_table(ddir / "utt2spk")["26-495-0000"] == "26"
    assert read_table(ddir / "spk2gender") == {"19": "f", "26": "m"}
    assert read_table(ddir / "wav.scp")["19-198-0000"].endswith("dev-clean/19/198/19-198-0000.flac")
    assert validate_data_dir(ddir, audio="full") == []
    # the spoken sentence is left out of the text side
    assert (out / "text_only" / "text.txt").read_text() == "an unspoken sentence\nanother one\n"


@pytest.mark.parametrize("breakage, message", [
    ("no_transcript_line", "no transcript line for '26-495-0000'"),
    ("no_flac", r"26-495\.trans\.txt:1: no audio"),
    ("bad_line", r"19-198\.trans\.txt:2: expected"),
])
def test_librispeech_errors_name_the_file(tmp_path, capsys, breakage, message):
    root = librispeech_fixture(tmp_path / "LibriSpeech")
    chapter = root / "dev-clean" / "26" / "495"
    if breakage == "no_transcript_line":
        (chapter / "26-495.trans.txt").write_text("")
    elif breakage == "no_flac":
        (chapter / "26-495-0000.flac").unlink()
    else:
        (root / "dev-clean" / "19" / "198" / "19-198.trans.txt").write_text(
            "19-198-0000 NORTHANGER ABBEY\nnonsense\n")
    with pytest.raises(SystemExit):
        prep_librispeech.main(["--root", str(root), "--subsets", "dev-clean", "--out",
                               str(tmp_path / "data")])
    assert re.search(message, capsys.readouterr().err)


def spokencoco_fixture(root):
    data = []
    for i in range(3):
        image = f"train2014/COCO_train2014_{i:012d}.jpg"
        caps = []
        for j, spk in enumerate(["A1B", "C2D"]):
            wav = f"wavs/train/{i}/{spk}-{i}-{j}.wav"
            _tone(root / wav, fmt="WAV")
            caps.append({"text": f"A PICTURE NUMBER {i} CAPTION {j}", "speaker": spk,
                         "uttid": f"{spk}_{i}_{j}", "wav": wav})
        data.append({"image": image, "captions": caps})
    (root / "SpokenCOCO_train.json").write_text(json.dumps({"data": data}))
    return root


def test_spokencoco_layout_and_text_side(tmp_path):
    root = spokencoco_fixture(tmp_path / "SpokenCOCO")
    out = tmp_path / "data"
    assert prep_spokencoco.main(["--root", str(root), "--out", str(out), "--splits", "train",
                                 "--text_only_fraction", "0.34", "--seed", "1"]) == 0
    ddir = out / "train"
    utt2image = read_table(ddir / "utt2image")
    assert len(utt2image) == 4 and len(set(utt2image.values())) == 2  # 2 images x 2 captions
    assert all(u.startswith(read_table(ddir / "utt2spk")[u]) for u in utt2image)
    assert validate_data_dir(ddir, audio="full") == []
    held = (out / "text_only" / "text.image").read_text().split()
    assert len(held) == 2 and len(set(held)) == 1 and held[0] not in utt2image.values()
    assert (out / "text_only" / "text.txt").read_text().splitlines()[0].startswith("a picture number")


def test_spokencoco_errors_name_the_entry(tmp_path, capsys):
    root = spokencoco_fixture(tmp_path / "SpokenCOCO")
    meta = json.loads((root / "SpokenCOCO_train.json").read_text())
    del meta["data"][1]["captions"][0]["wav"]
    (root / "SpokenCOCO_train.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit):
        prep_spokencoco.main(["--root", str(root), "--out", str(tmp_path / "d"), "--splits", "train"])
    assert "data[1].captions[0] has no wav" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        prep_spokencoco.main(["--root", str(root), "--out", str(tmp_path / "d"), "--splits", "val"])
    assert "SpokenCOCO_val.json: no such file" in capsys.readouterr().err


@pytest.mark.parametrize("recipe_name", ["librispeech/uasr1", "spokencoco/uasr1"])
def test_recipes_prepare_data_vad_and_text(tmp_path, recipe_name):
    from test_recipes import recipe_copy, run  # test/ is on sys.path

    if recipe_name.startswith("librispeech"):
        root = librispeech_fixture(tmp_path / "LibriSpeech")
        for subset in ("train-clean-100", "test-clean"):
            d = root / subset / "40" / "222"
            _tone(d / "40-222-0000.flac")
            (d / "40-222.trans.txt").write_text("40-222-0000 A SHORT SENTENCE\n")
        (root / "librispeech-lm-norm.txt").write_text("THE CAT SAT\nA DOG RAN HOME\n")
        env = {"LIBRISPEECH": str(root)}
        sets = ("train_clean_100", "dev_clean", "test_clean")
    else:
        root = spokencoco_fixture(tmp_path / "SpokenCOCO")
        (root / "SpokenCOCO_val.json").write_text((root / "SpokenCOCO_train.json").read_text())
        env = {"SPOKENCOCO": str(root)}
        sets = ("train", "val")
    recipe = recipe_copy(tmp_path / "repo", recipe_name)
    run("./run.sh --stop_stage 3 --min_phone_count 1 --nj 1", recipe, **env)
    for s in sets:
        assert validate_data_dir(recipe / "data" / f"{s}_nosil", audio="full") == []
    info = json.loads((recipe / "data" / "text_only_prep" / "text_info.json").read_text())
    assert info["sentences_kept"] >= 2
    assert (recipe / "data" / "text_only_prep" / "lm.phones.4.arpa").is_file()
