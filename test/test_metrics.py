"""Edit-distance rates, accuracies and code-switching rates against hand-computed values,
and the score CLI."""

import json
import random

import pytest

from ssltk.bin.score import main as score_main
from ssltk.data.datadir import write_table
from ssltk.metrics import (accuracy, align, corpus_errors, count_errors, intent_accuracies,
                           language_errors, split_intent, tokenize_for_scoring)
from ssltk.metrics.edit_distance import ErrorCounts
from ssltk.metrics.report import format_alignment


def counts(c: ErrorCounts):
    return c.corr, c.sub, c.dele, c.ins


# ---------------------------------------------------------------- edit distance

def test_hand_computed_alignments():
    c = count_errors("a b c d".split(), "a x c d e".split())
    assert counts(c) == (3, 1, 0, 1) and c.ref_len == 4 and c.rate == 0.5
    c = count_errors("the cat sat on the mat".split(), "the cat sat mat".split())
    assert counts(c) == (4, 0, 2, 0) and c.rate == pytest.approx(2 / 6)
    ops = align("the cat sat on the mat".split(), "the cat sat mat".split()).ops
    assert [op for op, _, _ in ops] == ["C", "C", "C", "D", "D", "C"]
    assert counts(count_errors("a b".split(), [])) == (0, 0, 2, 0)
    empty = count_errors([], ["x"])
    assert counts(empty) == (0, 0, 0, 1) and empty.rate == float("inf")
    assert count_errors([], []).rate == 0.0


def test_units():
    assert tokenize_for_scoring("ab  cd", "char") == ["a", "b", "<space>", "c", "d"]
    assert tokenize_for_scoring("a b | c", "phone") == ["a", "b", "c"]
    assert tokenize_for_scoring(" x  y ", "word") == ["x", "y"]
    c = count_errors(tokenize_for_scoring("ab cd", "char"), tokenize_for_scoring("ab d", "char"))
    assert counts(c) == (4, 0, 1, 0) and c.rate == pytest.approx(1 / 5)


def reference_distance(a, b):
    """Textbook dynamic programme, for comparison."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return d[-1][-1]


def test_random_alignments_are_minimal_and_consistent():
    rng = random.Random(0)
    for _ in range(200):
        ref = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        hyp = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        a = align(ref, hyp)
        assert a.counts().errors == reference_distance(ref, hyp)
        assert [r for _, r, _ in a.ops if r is not None] == ref
        assert [h for _, _, h in a.ops if h is not None] == hyp


def test_corpus_totals_and_sentence_errors():
    refs = {"u1": "a b c", "u2": "d e"}
    hyps = {"u1": "a b c", "u2": "d"}
    total, per_utt = corpus_errors(refs, hyps)
    assert counts(total) == (4, 0, 1, 0) and (total.sents, total.sent_err) == (2, 1)
    s = total.summary()
    assert s["err_pct"] == 20.0 and s["s_err_pct"] == 50.0 and s["wrd"] == 5
    assert format_alignment("u1", align("the cat sat".split(), "the bat sat on".split())) == (
        "id: (u1)\nScores: (#C #S #D #I) 2 1 0 1\n"
        "REF:  the cat sat ***\nHYP:  the bat sat on\nEval:     S       I\n")


# ---------------------------------------------------------------- accuracy, intents

def test_accuracy_and_intents():
    refs = {"u1": "alarm_set", "u2": "play_music", "u3": "alarm_query", "u4": "weather_query"}
    hyps = {"u1": "alarm_set", "u2": "play_radio", "u3": "alarm_set", "u4": "calendar_query"}
    assert accuracy(refs, hyps) == (1, 4)
    assert intent_accuracies(refs, hyps) == {"intent": (1, 4), "scenario": (3, 4), "action": (2, 4)}
    assert split_intent("calendar_query_x") == ("calendar", "query_x")
    assert split_intent("hello") == ("hello", "")


# ---------------------------------------------------------------- code-switching

CS_REFS = {"u1": "ke batla computer e ntsha", "u2": "hello dumela", "u3": "ke a go rata"}
CS_TAGS = {"u1": "tn tn en tn tn", "u2": "en tn", "u3": "tn tn tn tn"}
CS_HYPS = {"u1": "ke batla compute e ntsha now", "u2": "oh hello dumela", "u3": "ke go rata"}


def test_language_attribution_by_hand():
    u1 = language_errors(CS_REFS["u1"].split(), CS_HYPS["u1"].split(), CS_TAGS["u1"].split())
    assert counts(u1["tn"]) == (4, 0, 0, 1)  # the final insertion follows a Setswana word
    assert counts(u1["en"]) == (0, 1, 0, 0)
    u2 = language_errors(CS_REFS["u2"].split(), CS_HYPS["u2"].split(), CS_TAGS["u2"].split())
    assert counts(u2["en"]) == (1, 0, 0, 1)  # a leading insertion goes to the next word's language
    assert counts(u2["tn"]) == (1, 0, 0, 0)
    u3 = language_errors(CS_REFS["u3"].split(), CS_HYPS["u3"].split(), CS_TAGS["u3"].split())
    assert counts(u3["tn"]) == (3, 0, 1, 0) and "en" not in u3
    assert counts(language_errors([], ["x"], [])["<none>"]) == (0, 0, 0, 1)
    with pytest.raises(ValueError, match="utterance 'z': 2 reference words but 1 language tags"):
        language_errors(["a", "b"], ["a"], ["en"], utt="z")


def write_tables(tmp_path, **tables):
    for name, table in tables.items():
        write_table(tmp_path / name, table)
    return tmp_path


def test_score_cli_codeswitch(tmp_path):
    write_tables(tmp_path, text=CS_REFS, hyp=CS_HYPS, **{"text.lang": CS_TAGS})
    p = str(tmp_path)
    assert score_main(["--task", "cs", "--ref", f"{p}/text", "--hyp", f"{p}/hyp",
                       "--lang-tags", f"{p}/text.lang", "--out", f"{p}/result.txt"]) == 0
    numbers = json.loads((tmp_path / "result.json").read_text())
    m = numbers["metrics"]
    assert m["mer"] == m["wer"] == round(100 * 4 / 11, 2)
    assert m["wer_tn"] == round(100 * 2 / 9, 2) and m["wer_en"] == 100.0
    assert numbers["languages"]["tn"]["wrd"] == 9 and numbers["languages"]["en"]["ins"] == 1
    report = (tmp_path / "result.txt").read_text()
    assert "|all (MER)|3|11|81.8|9.1|9.1|18.2|36.4|100.0|" in report
    assert "|tn|3|9|" in report and "id: (u1)" in report


def test_score_cli_asr_cls_and_errors(tmp_path, capsys):
    write_tables(tmp_path, text={"u1": "a b c", "u2": "d e"}, hyp={"u1": "a b c", "u2": "d"},
                 phn={"u1": "a b | c"}, phyp={"u1": "a c"},
                 cat={"u1": "alarm_set", "u2": "play_music"}, pred={"u1": "alarm_set", "u2": "play_radio"})
    p = str(tmp_path)
    score_main(["--task", "asr", "--ref", f"{p}/text", "--hyp", f"{p}/hyp", "--out", f"{p}/r1.txt"])
    r1 = json.loads((tmp_path / "r1.json").read_text())
    assert r1["metrics"] == {"wer": 20.0, "cer": 25.0}  # 8 characters; "d e" -> "d": e and <space>
    assert r1["word"]["del"] == 1 and r1["char"]["del"] == 2
    score_main(["--task", "asr", "--units", "phone", "--ref", f"{p}/phn", "--hyp", f"{p}/phyp",
                "--out", f"{p}/r2.txt"])
    assert json.loads((tmp_path / "r2.json").read_text())["metrics"] == {"per": round(100 / 3, 2)}
    score_main(["--task", "cls", "--intent", "--ref", f"{p}/cat", "--hyp", f"{p}/pred",
                "--out", f"{p}/r3.txt"])
    assert json.loads((tmp_path / "r3.json").read_text())["metrics"] == {
        "acc": 50.0, "scenario_acc": 100.0, "action_acc": 50.0}
    assert "u2 ref=play_music hyp=play_radio" in (tmp_path / "r3.txt").read_text()

    with pytest.raises(SystemExit) as e:
        score_main(["--task", "asr", "--ref", f"{p}/text", "--hyp", f"{p}/phyp", "--out", f"{p}/r4.txt"])
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert "phyp: no hypothesis for 1 utterance(s)" in err and "(first: 'u2')" in err
    assert "Traceback" not in err
