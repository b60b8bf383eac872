"""wav2vec-U text side: silence insertion, pruning, phone inventory, the uasr_text CLI, espeak."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ssltk.corpora.synth.corpus import phone_string
from ssltk.corpora.synth.espeak import STRESS_MARKS, Voice, find_library, open_engine
from ssltk.uasr.lm import ArpaLM
from ssltk.uasr.text import (SIL, TextError, insert_silences, phonemize, prune_rare_phones,
                             read_phone_inventory, read_phone_lines, write_phone_inventory)


def test_insert_silences_statistics():
    rng = np.random.default_rng(0)
    words = [["a", "b"], ["c"], ["d", "e", "f"], ["g"], ["h", "i"]]  # 4 gaps
    n, between = 2000, 0
    for _ in range(n):
        out = insert_silences(words, 0.5, rng)
        assert out[0] == SIL and out[-1] == SIL
        assert [p for p in out if p != SIL] == [p for w in words for p in w]
        for w in words:  # phones of a word stay together
            i = out.index(w[0])
            assert out[i:i + len(w)] == w
        between += out.count(SIL) - 2
    rate = between / (4 * n)  # binomial sd = sqrt(.25/8000) = 0.0056
    assert abs(rate - 0.5) < 0.025
    assert insert_silences(words, 0.0, rng) == [SIL, "a", "b", "c", "d", "e", "f", "g", "h", "i", SIL]
    assert insert_silences(words, 1.0, rng) == [SIL, "a", "b", SIL, "c", SIL, "d", "e", "f", SIL, "g",
                                                 SIL, "h", "i", SIL]
    assert insert_silences([["a"]], 1.0, rng) == [SIL, "a", SIL]
    with pytest.raises(TextError, match="sil_prob"):
        insert_silences(words, 1.5, rng)


def test_prune_rare_phones():
    sents = [[["a", "b"], ["c"]], [["a", "z"]], [["b", "a"]], [["y"], ["a"]]]
    kept, counts, pruned, dropped = prune_rare_phones(sents, 2)
    assert pruned == ["c", "y", "z"]
    assert kept == [[["b", "a"]]] and dropped == 3
    assert counts == {"a": 1, "b": 1}
    kept, counts, pruned, dropped = prune_rare_phones(sents, 1)
    assert kept == sents and pruned == [] and dropped == 0 and counts["a"] == 4


def test_phone_inventory_round_trip_and_errors(tmp_path):
    path = tmp_path / "phones.txt"
    write_phone_inventory(path, {"b": 3, "a": 3, SIL: 7, "ə": 1, "Z": 3})
    assert path.read_text() == f"{SIL} 7\nZ 3\na 3\nb 3\nə 1\n"
    assert read_phone_inventory(path) == [SIL, "Z", "a", "b", "ə"]
    path.write_text("a 3\nb 2\na 1\n")
    with pytest.raises(TextError, match=r"phones\.txt:3: duplicate phone 'a' \(first on line 1\)"):
        read_phone_inventory(path)
    path.write_text("a 3\nb\n")
    with pytest.raises(TextError, match=r"phones\.txt:2: expected '<phone> <count>'"):
        read_phone_inventory(path)
    path.write_text("")
    with pytest.raises(TextError, match="empty phone inventory"):
        read_phone_inventory(path)


def test_read_phone_lines(tmp_path):
    path = tmp_path / "text.phn"
    path.write_text("ð ə | k æ t\nd ɑ ɡ\n")
    assert read_phone_lines(path) == [[["ð", "ə"], ["k", "æ", "t"]], [["d", "ɑ", "ɡ"]]]
    path.write_text("utt1 ð ə | k æ t\nutt2 d ɑ ɡ\n")
    assert read_phone_lines(path, with_utt=True) == [[["ð", "ə"], ["k", "æ", "t"]], [["d", "ɑ", "ɡ"]]]
    path.write_text("a b\nutt2\n")
    with pytest.raises(TextError, match=r"text\.phn:2: empty phone sentence"):
        read_phone_lines(path, with_utt=True)


PHONES = "ð ə | k æ t | s æ t\nð ə | d ɑ ɡ | s l ɛ p t\nð ə | k æ t | s l ɛ p t\nʒ ə | d ɑ ɡ\n"


def _run_cli(args):
    from ssltk.bin.uasr_text import main
    return main(args)


def test_cli_end_to_end(tmp_path, capsys):
    phn = tmp_path / "text.phn"
    phn.write_text(PHONES)
    out = tmp_path / "out"
    args = ["--phones", str(phn), "--sil_prob", "1", "--min_phone_count", "2", "--lm_order", "3",
            "--out", str(out)]
    assert _run_cli(args) == 0
    # ʒ is seen once: its sentence (the 4th) is dropped
    assert (out / "words.phn").read_text() == "".join(PHONES.splitlines(True)[:3])
    lm_lines = (out / "lm.phones.txt").read_text().splitlines()
    assert lm_lines == [f"{SIL} ð ə {SIL} k æ t {SIL} s æ t {SIL}",
                        f"{SIL} ð ə {SIL} d ɑ ɡ {SIL} s l ɛ p t {SIL}",
                        f"{SIL} ð ə {SIL} k æ t {SIL} s l ɛ p t {SIL}"]
    assert (out / "phones.txt").read_text() == (  # count desc, then C (byte) order
        f"{SIL} 12\nt 5\ns 3\næ 3\nð 3\nə 3\nk 2\nl 2\np 2\nɛ 2\nd 1\nɑ 1\nɡ 1\n")
    arpa = ArpaLM.read(out / "lm.phones.3.arpa")
    assert set(arpa.vocab) == {"<s>", "</s>", "<unk>"} | {line.split()[0] for line in
                                                           (out / "phones.txt").read_text().splitlines()}
    info = json.loads((out / "text_info.json").read_text())
    ppl = arpa.perplexity([line.split() for line in lm_lines])
    assert info == {"sentences_in": 4, "sentences_kept": 3, "sentences_dropped": 1, "pruned_phones": ["ʒ"],
                    "min_phone_count": 2, "inventory_size": 13, "seed": 0, "sil_prob": 1.0, "lm_order": 3,
                    "lm_train_perplexity": round(ppl, 4)}
    # deterministic re-run (sil_prob 0.5 so the seed matters), no temp files left
    args[args.index("--sil_prob") + 1] = "0.5"
    assert _run_cli(args) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _run_cli(args) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert sorted(first) == ["lm.phones.3.arpa", "lm.phones.txt", "phones.txt", "text_info.json", "words.phn"]


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        _run_cli(["--out", str(tmp_path / "o")])
    assert e.value.code == 1 and "give --text and/or --phones" in capsys.readouterr().err
    phn = tmp_path / "p.phn"
    phn.write_text("a b\n\n")
    with pytest.raises(SystemExit):
        _run_cli(["--phones", str(phn), "--out", str(tmp_path / "o")])
    assert "p.phn:2: empty phone sentence" in capsys.readouterr().err


@pytest.mark.skipif(find_library() is None and shutil.which("espeak-ng") is None,
                    reason="espeak-ng not installed (pip install espeakng-loader)")
def test_phonemize_agrees_with_synth():
    sentences = ["The old man  painted the blue door", "my sister slept"]
    got = phonemize(["  " + sentences[0].upper() + " ", sentences[1]])
    engine = open_engine()
    for s, words in zip(sentences, got):
        ref = [w for w in engine.synthesize(s.lower(), Voice("en-us"), seed=0).words if w]
        assert words == ref and len(words) == len(s.split())
        assert not any(ch in STRESS_MARKS for w in words for p in w for ch in p)
        assert phone_string(words).count("|") == len(words) - 1
