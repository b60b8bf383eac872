"""Classification accuracies, with SLURP-style intent / scenario / action accuracy."""

from __future__ import annotations

from ssltk.metrics.edit_distance import check_same_utts


def accuracy(refs: dict[str, str], hyps: dict[str, str]) -> tuple[int, int]:
    """``(correct, total)`` over the utterances of ``refs`` (``hyps`` must cover them)."""
    check_same_utts(refs, hyps, "reference", "hypothesis")
    return sum(hyps[u] == label for u, label in refs.items()), len(refs)


def split_intent(intent: str) -> tuple[str, str]:
    """``"scenario_action"`` -> ``(scenario, action)``, split at the first underscore.

    SLURP intents look like ``alarm_set`` or ``play_music``; an action may hold
    further underscores (``calendar_query_x`` -> ``("calendar", "query_x")``).
    A label without an underscore is a scenario with an empty action.
    """
    scenario, _, action = intent.partition("_")
    return scenario, action


def intent_accuracies(refs: dict[str, str], hyps: dict[str, str]) -> dict[str, tuple[int, int]]:
    """``{"intent"|"scenario"|"action": (correct, total)}``.

    The action counts as correct when the action parts are equal, whatever the
    scenarios (SLURP's evaluation treats them as separate label sets).
    """
    check_same_utts(refs, hyps, "reference", "hypothesis")
    out = {"intent": [0, len(refs)], "scenario": [0, len(refs)], "action": [0, len(refs)]}
    for utt, ref in refs.items():
        hyp = hyps[utt]
        (rs, ra), (hs, ha) = split_intent(ref), split_intent(hyp)
        out["intent"][0] += ref == hyp
        out["scenario"][0] += rs == hs
        out["action"][0] += ra == ha
    return {k: (c, n) for k, (c, n) in out.items()}
