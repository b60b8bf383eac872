"""Remove silences from a data dir's audio (energy VAD, ``ssltk.uasr.vad``).

    python -m ssltk.bin.remove_silence --data data/train --out data/train_nosil \\
        --wav_dir dump/nosil/train [--nj 2] [--threshold 0.3 --min_silence 0.3 ...]

Writes the voiced parts of every utterance, concatenated, as 16-bit wav files under
``--wav_dir`` (same rate), and a data dir ``--out`` whose ``wav.scp`` points at them; every
other utterance table (``text``, ``text.phn``, ``utt2spk``, ``utt2scene`` ...) is copied,
except those that the new timing invalidates (``segments``, ``utt2dur``,
``utt2num_frames``, ``*.ctm``); a new ``utt2dur`` is written.  ``vad_intervals`` keeps the
kept parts in seconds of the original audio (``ssltk.uasr.vad.to_original_time`` maps
times back), ``vad_info.json`` a summary and the VAD settings.  A rerun with the same
settings reuses the wav files already written; other settings rewrite them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ssltk.errors import cli_main
from ssltk.uasr.vad import VadConfig, remove_silence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="remove_silence", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="input data dir")
    p.add_argument("--out", required=True, help="output data dir")
    p.add_argument("--wav_dir", required=True, help="where the silence-free wav files go")
    p.add_argument("--nj", type=int, default=1, help="parallel processes")
    for f in dataclasses.fields(VadConfig):
        p.add_argument(f"--{f.name}", type=float, default=f.default, help=f"VAD {f.name} ({f.default})")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = VadConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(VadConfig)})
    info = remove_silence(args.data, args.out, args.wav_dir, cfg, args.nj)
    print(f"remove_silence: {info['utterances']} utterances, {info['seconds_in']:.1f} s -> "
          f"{info['seconds_out']:.1f} s ({100 * info['kept_fraction']:.1f}% kept; "
          f"{info['kept_whole']} kept whole) -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
