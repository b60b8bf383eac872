"""``bench/RESULTS.md``: each benchmark owns one section between its begin/end markers."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def write_section(name: str, section: str, title: str) -> None:
    """Replace benchmark ``name``'s section (``section`` includes its markers), or append
    it under ``## title``."""
    begin, end = markers(name)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    if begin in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {title}\n\n" + section + "\n"
    RESULTS.write_text(text)
