"""Scoring: edit-distance error rates, accuracies, per-language code-switching rates.

Pure Python on token lists and ``{utt: str}`` tables; the score CLI
(`ssltk.bin.score`) and the task models' validation both use it.
"""

from ssltk.metrics.accuracy import accuracy, intent_accuracies, split_intent
from ssltk.metrics.codeswitch import language_errors
from ssltk.metrics.edit_distance import (ErrorCounts, Alignment, align, corpus_errors, count_errors,
                                         tokenize_for_scoring)

__all__ = [
    "Alignment", "ErrorCounts", "accuracy", "align", "corpus_errors", "count_errors",
    "intent_accuracies", "language_errors", "split_intent", "tokenize_for_scoring",
]
