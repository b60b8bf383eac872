"""Compute a frame-level track (one value per frame) for data directories.

    python -m ssltk.bin.frame_tracks --track log_energy --data data/train data/dev [--frame_rate 100]

Writes ``DATA/<track>.scp`` + ``.ark`` + ``.yaml`` (see `ssltk.data.tracks`): the
targets of the ``frame_reg`` task (``frame_reg.target: <track>``).  Tracks: log_energy.
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="frame_tracks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--track", required=True, help="track to compute (log_energy)")
    p.add_argument("--data", required=True, nargs="+", help="data directories")
    p.add_argument("--frame_rate", type=float, default=100.0, help="frames per second")
    p.add_argument("--window", type=float, default=0.025, help="frame length in seconds")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.data.tracks import write_track

    for data in args.data:
        scp = write_track(data, args.track, args.frame_rate, args.window)
        print(f"frame_tracks: {args.track} at {args.frame_rate:g} Hz -> {scp}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
