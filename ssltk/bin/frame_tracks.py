"""Compute frame-level tracks (one value per frame) for data directories.

    python -m ssltk.bin.frame_tracks --track log_energy --data data/train data/dev [--frame_rate 100]
    python -m ssltk.bin.frame_tracks --track pitch --data data/train data/dev

Writes ``DATA/<track>.scp`` + ``.ark`` + ``.yaml`` (see `ssltk.data.tracks`): the
targets of the ``frame_reg`` and ``frame_cls`` tasks (``frame_reg.target: <track>``).
Tracks: log_energy; pitch writes two, vuv (1 voiced, 0 unvoiced) and log_f0 (log Hz, filled
on unvoiced frames: mask them with ``frame_reg.mask: vuv``); ``--track vuv`` or
``--track log_f0`` writes both too.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frame_tracks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--track", required=True, help="track to compute (log_energy, pitch)")
    p.add_argument("--data", required=True, nargs="+", help="data directories")
    p.add_argument("--frame_rate", type=float, default=100.0, help="frames per second")
    p.add_argument("--window", type=float, default=0.025, help="frame length in seconds")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.data.tracks import write_tracks

    for data in args.data:
        for track, scp in write_tracks(data, args.track, args.frame_rate, args.window).items():
            print(f"frame_tracks: {track} at {args.frame_rate:g} Hz -> {scp}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
