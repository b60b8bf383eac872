"""CMU AN4: data preparation against the corpus files, and the egs2/an4/asr1 recipe on a
small AN4-layout copy (a few speakers of the real corpus)."""

import os
import subprocess
from pathlib import Path

import pytest

from ssltk.corpora import an4
from ssltk.data.datadir import read_table
from ssltk.errors import UserError
from test_recipes import recipe_copy, run

ROOT = Path(__file__).resolve().parents[1]
AN4 = Path(os.environ.get("AN4", ROOT.parent / "shared" / "data" / "an4"))
needs_an4 = pytest.mark.skipif(not (AN4 / "etc").is_dir(), reason=f"AN4 corpus not at {AN4}")


@needs_an4
def test_prepare_matches_the_corpus(tmp_path):
    counts = an4.prepare(AN4, tmp_path)
    assert counts == {"train_nodev": 848, "train_dev": 100, "test": 130}  # 948 training utterances
    spk = {s: set(read_table(tmp_path / s / "utt2spk").values()) for s in counts}
    assert len(spk["train_nodev"] | spk["train_dev"]) == 74 and len(spk["test"]) == 10
    assert not spk["test"] & (spk["train_nodev"] | spk["train_dev"])
    assert not spk["train_dev"] & spk["train_nodev"]  # the dev set holds whole speakers
    text = read_table(tmp_path / "test" / "text")
    assert text["fcaw-an406-b"] == "RUBOUT G M E F THREE NINE"
    assert read_table(tmp_path / "train_dev" / "text")["fash-an251-b"] == "YES"  # no <s> </s>
    assert all(Path(p).is_file() for p in read_table(tmp_path / "test" / "wav.scp").values())


def small_an4(dst: Path, train_speakers=3, test_speakers=1) -> Path:
    """An AN4-layout directory with the first few speakers of each part (audio linked)."""
    for part, folder in an4.PARTS.items():
        lines = (AN4 / "etc" / f"an4_{part}.transcription").read_text().splitlines()
        speakers = sorted({line.rsplit("-", 2)[1] for line in lines})[:train_speakers if part == "train"
                                                                      else test_speakers]
        kept = [line for line in lines if line.rsplit("-", 2)[1] in speakers]
        (dst / "etc").mkdir(parents=True, exist_ok=True)
        (dst / "etc" / f"an4_{part}.transcription").write_text("\n".join(kept) + "\n")
        for s in speakers:
            (dst / "wav" / folder).mkdir(parents=True, exist_ok=True)
            (dst / "wav" / folder / s).symlink_to(AN4 / "wav" / folder / s)
    return dst


@needs_an4
def test_bad_transcript_line_and_missing_audio_are_named(tmp_path):
    root = small_an4(tmp_path / "an4", 1, 1)
    trans = root / "etc" / "an4_test.transcription"
    trans.write_text(trans.read_text() + "HELLO WORLD\n")
    with pytest.raises(UserError, match=r"an4_test.transcription:\d+: expected 'WORDS \(prefix-speaker-suffix\)'"):
        an4.prepare(root, tmp_path / "data")
    trans.write_text("YES (an999-fcaw-b)\n")
    with pytest.raises(UserError, match="no audio for an999-fcaw-b"):
        an4.prepare(root, tmp_path / "data")


@needs_an4
def test_an4_asr1_debug_recipe_end_to_end(tmp_path):
    root = small_an4(tmp_path / "an4")
    recipe = recipe_copy(tmp_path / "tree", "an4/asr1")
    run("./run.sh --upstreams fbank --train_config conf/tuning/train_debug.yaml --dev_utts 10 --test_sets test "
        "--espnet_config conf/espnet/tuning/train_asr_debug.yaml "
        "--espnet_ssltk_config conf/espnet/tuning/train_asr_ssltk_debug.yaml --espnet_upstream hubert_debug",
        recipe, AN4=str(root))
    results = (recipe / "RESULTS.md").read_text()
    assert results.index("## test") < results.index("## Published: ESPnet's own AN4 result")  # the notes
    test = results.split("## test")[1].split("## The set-ups")[0]
    assert ("| experiment | toolkit | upstream | featurizer | config | trainable params | train time (s) "
            "| steps/s | peak memory (MiB) | wer | cer | cer / espnet_train_asr_debug |") in test
    assert "| asr_fbank_weighted_sum_train_debug | ssltk | fbank | weighted_sum | conf/tuning/train_debug.yaml |" in test
    assert ("| espnet_train_asr_debug | ESPnet 202511 | default (ESPnet) | - "
            "| conf/espnet/tuning/train_asr_debug.yaml |") in test
    assert "1.00 |" in test.split("| espnet_train_asr_debug |")[1].splitlines()[0]  # the reference
    assert ("| espnet_train_asr_ssltk_debug_hubert_debug | ESPnet 202511 | hubert_debug (random init) "
            "| weighted_sum | conf/espnet/tuning/train_asr_ssltk_debug.yaml |") in test
    refs = read_table(recipe / "data" / "test" / "text")
    for exp in ("asr_fbank_weighted_sum_train_debug", "espnet_train_asr_debug",
                "espnet_train_asr_ssltk_debug_hubert_debug"):
        assert read_table(recipe / "exp" / exp / "decode_test" / "hyp", strict=False).keys() <= refs.keys()
    hyp = read_table(recipe / "exp" / "asr_fbank_weighted_sum_train_debug" / "decode_test" / "hyp")
    assert len(hyp) == len(refs)
    # ESPnet's training set: the speed-perturbed copies (0.9, 1.1) beside the originals
    train = read_table(recipe / "data" / "train_nodev" / "wav.scp")
    assert len(read_table(recipe / "dump" / "espnet" / "train_nodev_sp" / "wav.scp")) == 3 * len(train)


def test_missing_an4_location_is_named(tmp_path):
    recipe = recipe_copy(tmp_path, "an4/asr1")
    res = subprocess.run(
        ["bash", "-c", "./run.sh --train_config conf/tuning/train_debug.yaml"], cwd=recipe,
        capture_output=True, text=True, env={**os.environ, "AN4": str(tmp_path / "no_an4")})
    assert res.returncode != 0
    assert f"{tmp_path / 'no_an4'}: AN4 directory not found" in res.stderr
    assert "AN4 variable in db.sh" in res.stderr
