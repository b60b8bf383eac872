"""egs2/ssltk_mini/ssl1 (the recipe of the shipped upstream): its pre-training data holds
synthetic speech and the real training recordings, and never an evaluation set's test audio."""

import os
import subprocess
from pathlib import Path

import pytest
from test_recipes import recipe_copy, run  # test/ is on sys.path (pytest's default import mode)

from ssltk.data.datadir import read_table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FSDD = Path(os.environ.get("FSDD", SHARED / "fsdd"))
AN4 = Path(os.environ.get("AN4", SHARED / "an4"))
pytestmark = pytest.mark.skipif(not ((FSDD / "recordings").is_dir() and (AN4 / "etc").is_dir()),
                                reason=f"needs the FSDD ({FSDD}) and AN4 ({AN4}) corpora")


def test_data_combines_synthetic_and_real_training_audio_only(tmp_path):
    recipe = recipe_copy(tmp_path, "ssltk_mini/ssl1")
    run("local/data.sh --num_utts 30", recipe, FSDD=str(FSDD), AN4=str(AN4))
    train = read_table(recipe / "data" / "train" / "wav.scp")
    dev = read_table(recipe / "data" / "dev" / "wav.scp")
    synth = {u for u in train if u.startswith("spk")}
    fsdd = {u for u in train if "/recordings/" in train[u]}
    an4_test = set(read_table(recipe / "data" / "local" / "an4" / "test" / "wav.scp"))
    an4_train = set(read_table(recipe / "data" / "local" / "an4" / "train_nodev" / "wav.scp")) | set(
        read_table(recipe / "data" / "local" / "an4" / "train_dev" / "wav.scp"))
    assert len(synth) == 28 and an4_train <= set(train) and not an4_test & set(train)
    # FSDD: takes 10-49 of the five speakers other than the held-out theo (utt: speaker-digit-take)
    assert len(fsdd) == 5 * 10 * 40
    assert all(not u.startswith("theo-") and int(u.rsplit("-", 1)[1]) >= 10 for u in fsdd)
    assert set(train) == synth | fsdd | an4_train
    # dev: the synthetic dev split, with the phone alignments that score PNMI
    assert len(dev) == 1 and all(u.startswith("spk") for u in dev)
    ctm_utts = {line.split()[0] for line in (recipe / "data" / "dev" / "phones.ctm").read_text().splitlines()}
    assert ctm_utts == set(dev)
    rerun = run("local/data.sh --num_utts 30", recipe, FSDD=str(FSDD), AN4=str(AN4))
    assert "exist" in rerun.stderr


def test_missing_corpus_is_named(tmp_path):
    recipe = recipe_copy(tmp_path, "ssltk_mini/ssl1")
    res = subprocess.run(["bash", "-c", "local/data.sh --num_utts 30"], cwd=recipe, text=True,
                         capture_output=True, env={**os.environ, "FSDD": str(tmp_path / "nowhere"),
                                                   "AN4": str(AN4)})
    assert res.returncode != 0 and f"FSDD={tmp_path / 'nowhere'}: no recordings/" in res.stderr
    assert not (recipe / "data" / "train").exists()
