"""Write an upstream in ssltk's own checkpoint format, optionally in half precision.

    python -m ssltk.bin.export_upstream SRC DEST [--dtype float16] [--no-pretraining-heads] \
        [--reference REF.npz]

SRC is anything ``ssltk.hub.load`` reads (a fairseq, Hugging Face, s3prl or ssltk
checkpoint, or a registry name); DEST loads back with ``ssltk.hub.load(DEST)`` in float32.
The export is checked: DEST's hidden states on a test signal must match SRC's (to
float16 rounding when storing in float16). ``--reference`` also writes DEST's hidden
states on that signal (a fingerprint that tests compare a shipped checkpoint against).
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


@cli_main
def main(argv: list[str] | None = None) -> int:
    from ssltk.upstream.export import export_upstream

    parser = argparse.ArgumentParser(prog="python -m ssltk.bin.export_upstream",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("src", help="checkpoint path or registry name")
    parser.add_argument("dest", help="output .pt file")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="storage precision of the weights (default float32)")
    parser.add_argument("--no-pretraining-heads", dest="heads", action="store_false",
                        help="leave out the heads only continued pre-training uses")
    parser.add_argument("--reference", metavar="NPZ", help="also write DEST's reference hidden states")
    args = parser.parse_args(argv)
    report = export_upstream(args.src, args.dest, args.dtype, args.heads)
    if args.reference:
        from ssltk import hub
        from ssltk.upstream.export import write_reference

        write_reference(hub.load(args.dest), args.reference)
    print(f"export_upstream: {args.src} -> {args.dest}: {report['params']:,} parameters, "
          f"{report['bytes'] / 1e6:.2f} MB, max |difference| of the hidden states "
          f"{report['max_diff']:.2e} (relative {report['rel_diff']:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
