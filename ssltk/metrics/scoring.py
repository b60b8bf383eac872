"""Score hypothesis tables against reference tables (what ``ssltk.bin.score`` writes).

Each function returns ``(report_text, numbers)``; ``numbers["metrics"]`` holds
the headline values in percent (``wer``, ``cer``, ``per``, ``mer``,
``wer_<lang>``, ``acc``, ...) for RESULTS.md tables.
"""

from __future__ import annotations

from ssltk.data.datadir import read_table
from ssltk.errors import UserError
from ssltk.metrics.accuracy import accuracy, intent_accuracies
from ssltk.metrics.codeswitch import language_errors
from ssltk.metrics.edit_distance import (ErrorCounts, check_same_utts, corpus_errors,
                                         tokenize_for_scoring)
from ssltk.metrics.report import error_table, format_alignment

RATE_NAMES = {"word": "wer", "char": "cer", "phone": "per"}


def _pct(c: ErrorCounts) -> float:
    return round(100.0 * c.rate, 2)


def score_asr(refs: dict[str, str], hyps: dict[str, str], units: list[str],
              header: str = "") -> tuple[str, dict]:
    """Error rates in each unit (``word``, ``char``, ``phone``) with per-utterance alignments."""
    numbers: dict = {"utterances": len(refs), "metrics": {}}
    rows, alignments = [], {}
    for unit in units:
        total, alignments[unit] = corpus_errors(refs, hyps, unit)
        name = RATE_NAMES[unit]
        rows.append((f"{unit} ({name.upper()})", total))
        numbers[unit] = total.summary()
        numbers["metrics"][name] = _pct(total)
    text = header + error_table(rows, "unit")
    for unit in units:
        text += f"\n## Alignments ({unit})\n\n"
        text += "\n".join(format_alignment(u, a) for u, a in alignments[unit].items())
    return text, numbers


def score_codeswitch(refs: dict[str, str], hyps: dict[str, str], tags: dict[str, str],
                     header: str = "") -> tuple[str, dict]:
    """Mixed error rate (WER over all words), CER, and the WER of each language.

    Errors are attributed to languages by `ssltk.metrics.codeswitch.language_errors`.
    """
    text, numbers = score_asr(refs, hyps, ["word", "char"])
    numbers["metrics"]["mer"] = numbers["metrics"]["wer"]
    per_lang: dict[str, ErrorCounts] = {}
    for utt, ref in refs.items():
        if utt not in tags:
            raise UserError(f"utterance '{utt}' has no language tags")
        counts = language_errors(tokenize_for_scoring(ref, "word"), tokenize_for_scoring(hyps[utt], "word"),
                                 tags[utt].split(), utt)
        for lang, c in counts.items():
            per_lang[lang] = per_lang.get(lang, ErrorCounts()) + c
    mixed = sum(per_lang.values(), ErrorCounts())
    mixed.sents, mixed.sent_err = numbers["word"]["snt"], numbers["word"]["s_err"]
    rows = [("all (MER)", mixed)] + [(lang, per_lang[lang]) for lang in sorted(per_lang)]
    numbers["languages"] = {lang: per_lang[lang].summary() for lang in sorted(per_lang)}
    for lang in sorted(per_lang):
        numbers["metrics"][f"wer_{lang}"] = _pct(per_lang[lang])
    rule = ("Errors per language: substitutions and deletions count for the language of the "
            "reference word; an insertion for the language of the reference word before it "
            "(at the start of a sentence: after it).\n\n")
    lang_text = "## Code-switching: word errors per language\n\n" + rule + error_table(rows, "language")
    return header + lang_text + "\n## All words\n\n" + text, numbers


def score_classification(refs: dict[str, str], hyps: dict[str, str], intent: bool = False,
                         header: str = "") -> tuple[str, dict]:
    """Accuracy (and with ``intent`` scenario / action accuracy) with the misclassified utterances."""
    correct, total = accuracy(refs, hyps)
    numbers: dict = {"utterances": total, "correct": correct, "metrics": {"acc": _rate(correct, total)}}
    lines = ["|metric|correct|total|accuracy (%)|", "|---|---|---|---|",
             f"|acc|{correct}|{total}|{_rate(correct, total):.2f}|"]
    if intent:
        for name, (c, n) in intent_accuracies(refs, hyps).items():
            if name != "intent":
                numbers["metrics"][f"{name}_acc"] = _rate(c, n)
                lines.append(f"|{name}_acc|{c}|{n}|{_rate(c, n):.2f}|")
    wrong = [f"{u} ref={r} hyp={hyps[u]}" for u, r in refs.items() if hyps[u] != r]
    text = header + "\n".join(lines) + "\n\n## Errors\n\n" + "".join(f"{w}\n" for w in wrong)
    return text, numbers


def _rate(correct: int, total: int) -> float:
    return round(100.0 * correct / total, 2) if total else 0.0


def read_scored_tables(ref, hyp) -> tuple[dict[str, str], dict[str, str]]:
    """Reference and hypothesis text tables, with the same utterances (an error otherwise)."""
    refs, hyps = read_table(ref), read_table(hyp)
    check_same_utts(refs, hyps, str(ref), str(hyp))
    return refs, hyps


def score_header(task: str, ref, hyp) -> str:
    return f"# ssltk score ({task})\n\nref: {ref}\nhyp: {hyp}\n\n"
