"""Features made from a phone alignment: a diagnostic, not an upstream.

    python -m ssltk.bin.alignment_feats --data data/train --out dump/oracle/train \\
        [--ctm phones.ctm] [--frame_rate 50] [--noise 0.3] [--labels dump/oracle/labels]

Each frame is the one-hot vector of the phone that ``phones.ctm`` puts there, plus
Gaussian noise of standard deviation ``--noise``, written as a feature dump
(``feats.scp``, ``utt2num_frames``, ``feats_info.yaml``) like ``ssltk.bin.extract_feats``.
Perfectly phonetic features tell whether a method fails because of the features or of
itself: an unsupervised ASR GAN must learn a phone mapping from them alone (the phone
identities are not given to it, only which frames share a phone).  Uses labels: never
report it as an unsupervised result.  ``--labels`` fixes the phone order (a file of phones,
one per line; written on the first set and reused for the others).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssltk.errors import UserError, cli_main

GAP = "<gap>"  # the class of frames that no segment covers


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="alignment_feats", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="data dir with the alignment")
    p.add_argument("--out", required=True, help="output feature dump dir")
    p.add_argument("--ctm", default="phones.ctm", help="alignment file in the data dir")
    p.add_argument("--frame_rate", type=float, default=50.0)
    p.add_argument("--noise", type=float, default=0.3, help="std of the added Gaussian noise")
    p.add_argument("--labels", default=None, help="phone list file (read if it exists, else written)")
    p.add_argument("--seed", type=int, default=0)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import kaldiio
    import numpy as np
    import yaml

    from ssltk.data.ctm import frame_labels, read_ctm
    from ssltk.data.datadir import read_table, write_table, write_text_atomic

    data, out = Path(args.data), Path(args.out)
    ctm_path = data / args.ctm
    if not ctm_path.is_file():
        raise UserError(f"{ctm_path}: no such alignment")
    ctm = read_ctm(ctm_path)
    durations = {u: float(d) for u, d in read_table(data / "utt2dur").items()}
    labels_path = Path(args.labels) if args.labels else None
    if labels_path is not None and labels_path.is_file():
        phones = labels_path.read_text(encoding="utf-8").split()
    else:
        phones = sorted({seg[2] for segs in ctm.values() for seg in segs}) + [GAP]
        if labels_path is not None:
            write_text_atomic(labels_path, "".join(p + "\n" for p in phones))
    index = {p: i for i, p in enumerate(phones)}
    rng = np.random.default_rng(args.seed)
    out.mkdir(parents=True, exist_ok=True)
    frames = {}
    with kaldiio.WriteHelper(f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}") as writer:
        for utt in sorted(durations, key=str.encode):
            if utt not in ctm:
                raise UserError(f"{ctm_path}: no alignment for '{utt}'")
            n = int(durations[utt] * args.frame_rate)
            ids = [index.get(p or GAP) for p in frame_labels(ctm[utt], n, args.frame_rate)]
            if None in ids:
                raise UserError(f"{ctm_path}: '{utt}' has a phone missing from {labels_path}")
            x = np.zeros((n, len(phones)), np.float32)
            x[np.arange(n), ids] = 1.0
            x += args.noise * rng.standard_normal(x.shape).astype(np.float32)
            writer(utt, x)
            frames[utt] = str(n)
    write_table(out / "utt2num_frames", frames)
    info = {"upstream": f"alignment:{ctm_path}", "layer": None, "weights": None,
            "layer_norm": False, "dim": len(phones), "frame_rate": args.frame_rate,
            "noise": args.noise}
    write_text_atomic(out / "feats_info.yaml", yaml.safe_dump(info, sort_keys=False))
    print(f"alignment_feats: {len(frames)} utterances, {len(phones)} phones -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
