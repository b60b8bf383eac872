"""Phone n-gram LM: modified Kneser-Ney by hand, normalisation, ARPA round trip, errors."""

from __future__ import annotations

import math
import random

import pytest

from ssltk.uasr.lm import ArpaLM, LMError, train_ngram, write_arpa


def _corpus(seed: int, n: int, phones: str = "a b c d e f"):
    r = random.Random(seed)
    ph = phones.split()
    return [[r.choice(ph) for _ in range(r.randint(1, 9))] for _ in range(n)]


def test_hand_computed_bigram():
    # corpus: "a b", "a"  ->  <s> a b </s>, <s> a </s>
    lm = train_ngram([["a", "b"], ["a"]], order=2)
    # bigram (raw) counts: <s> a:2, a b:1, b </s>:1, a </s>:1 -> n1=3, n2=1, n3=n4=0
    # Y = 3/(3+2*1) = 0.6; D1 = 1 - 2*0.6*1/3 = 0.6; D2 = 2 - 3*0.6*0/1 = 2; D3: n3=0 -> fallback 1.5
    # unigram continuation counts: a:1 (<s>), b:1 (a), </s>:2 (a, b) -> n1=2, n2=1
    # Y = 2/(2+2) = 0.5; D1 = 1 - 2*0.5*1/2 = 0.5; D2 = 2 - 0 = 2; D3 fallback 1.5
    assert lm.discounts[0] == pytest.approx((0.5, 2.0, 1.5))
    assert lm.discounts[1] == pytest.approx((0.6, 2.0, 1.5))
    # unigrams: total 4, gamma = (0.5*2 + 2*1)/4 = 0.75, uniform over {</s>, <unk>, a, b} = 1/4
    p1 = {"a": 0.5 / 4 + 0.75 / 4, "b": 0.5 / 4 + 0.75 / 4, "</s>": 0 / 4 + 0.75 / 4, "<unk>": 0.75 / 4}
    assert p1 == pytest.approx({"a": 0.3125, "b": 0.3125, "</s>": 0.1875, "<unk>": 0.1875})
    for w, p in p1.items():
        assert 10 ** lm.logprob(w) == pytest.approx(p, abs=1e-12)
    # context <s>: c(<s> a)=2 -> D2=2, total 2, gamma = 2*1/2 = 1
    p_a_bos = (2 - 2.0) / 2 + 1.0 * p1["a"]  # 0.3125
    # context a: c(a b)=c(a </s>)=1, total 2, gamma = 0.6*2/2 = 0.6
    p_b_a = (1 - 0.6) / 2 + 0.6 * p1["b"]  # 0.3875
    p_eos_a = (1 - 0.6) / 2 + 0.6 * p1["</s>"]  # 0.3125
    # context b: c(b </s>)=1, total 1, gamma = 0.6
    p_eos_b = (1 - 0.6) / 1 + 0.6 * p1["</s>"]  # 0.5125
    p_c_b = 0.6 * p1["<unk>"]  # unseen phone c -> <unk>
    assert 10 ** lm.logprob("a", ["<s>"]) == pytest.approx(p_a_bos, abs=1e-12)
    assert 10 ** lm.logprob("b", ["a"]) == pytest.approx(p_b_a, abs=1e-12)
    assert lm.score(["a", "b"]) == pytest.approx(math.log10(p_a_bos * p_b_a * p_eos_b), abs=1e-12)
    assert lm.score(["a"]) == pytest.approx(math.log10(p_a_bos * p_eos_a), abs=1e-12)
    assert lm.score(["b", "c"], eos=False) == pytest.approx(math.log10(1.0 * p1["b"] * p_c_b), abs=1e-12)


def test_probabilities_sum_to_one():
    lm = train_ngram(_corpus(0, 40), order=4)
    predicted = [w for w in lm.vocab if w != "<s>"]
    for ctx in [(), ("a",), ("<s>",), ("<s>", "a", "b"), ("a", "b", "c"), ("zz", "a", "c"),
                ("f", "f", "f"), ("<unk>", "<unk>", "a")]:
        total = sum(10 ** lm.logprob(w, ctx) for w in predicted)
        assert total == pytest.approx(1.0, abs=1e-6), ctx


def test_arpa_matches_direct_model(tmp_path):
    train = _corpus(1, 60)
    lm = train_ngram(train, order=4)
    path = tmp_path / "lm.arpa"
    write_arpa(lm, path)
    arpa = ArpaLM.read(path)
    assert sorted(arpa.vocab) == sorted(lm.vocab)
    text = path.read_text()
    assert text.startswith("\n\\data\\\nngram 1=") and text.rstrip().endswith("\\end\\")
    assert "-99\t<s>\t" in text
    held_out = _corpus(2, 20, "a b c d e f g") + [["x", "a", "y"], ["f", "e", "d", "c", "b", "a"]]
    assert any("g" in s for s in held_out)  # an unknown phone
    for s in held_out:
        for bos, eos in [(True, True), (False, False), (True, False)]:
            # ARPA stores 7 significant digits per entry: sums of ~10 entries agree to ~1e-5
            assert arpa.score(s, bos, eos) == pytest.approx(lm.score(s, bos, eos), abs=1e-4)
    ppl = arpa.perplexity(held_out)
    total = sum(lm.score(s) for s in held_out)
    assert ppl == pytest.approx(10 ** (-total / sum(len(s) + 1 for s in held_out)), rel=1e-4)


def test_training_errors():
    with pytest.raises(LMError, match="order must be >= 1"):
        train_ngram([["a"]], order=0)
    with pytest.raises(LMError, match="empty training corpus"):
        train_ngram([], order=2)
    with pytest.raises(LMError, match=r"sentence 2: token '</s>'"):
        train_ngram([["a"], ["a", "</s>"]], order=2)


def test_unigram_model(tmp_path):
    lm = train_ngram([["a", "b"], ["a"]], order=1)
    write_arpa(lm, tmp_path / "u.arpa")
    arpa = ArpaLM.read(tmp_path / "u.arpa")
    assert arpa.score(["a", "q"]) == pytest.approx(lm.score(["a", "q"]), abs=1e-5)


@pytest.mark.parametrize("body, match", [
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\t<unk>\n-0.5\n\\end\\\n", r"bad\.arpa:6: expected 'log10prob 1 words"),
    ("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\t<unk>\nx\ta\n\\end\\\n", r"bad\.arpa:6: non-numeric"),
    ("\\data\\\nngram 1=x\n", r"bad\.arpa:2: expected 'ngram N=count'"),
    ("\\data\\\nngram 1=1\n\\2-grams:\n", r"bad\.arpa:3: section '\\\\2-grams:' not declared"),
    ("\\data\\\nngram 1=1\n\\1-grams:\n-1\t<unk>\n", r"missing \\end\\ \(truncated"),
    ("\\data\\\nngram 1=2\n\\1-grams:\n-1\t<unk>\n\\end\\\n", r"declares ngram 1=2 but the file has 1"),
    ("\\data\\\nngram 1=2\n\\1-grams:\n-1\t<unk>\n-1\t<unk>\n\\end\\\n", r"bad\.arpa:5: duplicate n-gram"),
    ("hello\n", r"bad\.arpa:1: unexpected line"),
])
def test_bad_arpa(tmp_path, body, match):
    path = tmp_path / "bad.arpa"
    path.write_text(body)
    with pytest.raises(LMError, match=match):
        ArpaLM.read(path)


def test_matches_kenlm(tmp_path):
    kenlm = pytest.importorskip("kenlm", reason="kenlm Python module not installed (pip install kenlm)")
    lm = train_ngram(_corpus(3, 60), order=4)
    write_arpa(lm, tmp_path / "lm.arpa")
    model = kenlm.Model(str(tmp_path / "lm.arpa"))
    for s in _corpus(4, 10, "a b c d e f g"):
        assert model.score(" ".join(s), bos=True, eos=True) == pytest.approx(lm.score(s), abs=1e-4)
