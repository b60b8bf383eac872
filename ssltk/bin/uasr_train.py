"""Train a wav2vec-U 2.0 style GAN (unsupervised ASR) on unpaired speech features and text.

    python -m ssltk.bin.uasr_train --config conf/train_gan.yaml \\
        --train dump/fbank/train_nosil --valid dump/fbank/dev_nosil --text data/text_prep \\
        --km exp/km/train --exp exp/gan_s0 [--valid_ref data/dev] \\
        [--clip_targets exp/clip/train/targets.scp] [--override trainer.seed=1 gan.clip_weight=1]

``--train``/``--valid``: feature dumps (``ssltk.bin.extract_feats``); ``--text``: the
output of ``ssltk.bin.uasr_text`` (phone inventory, SIL-inserted phone text, ARPA LM);
``--km``: k-means labels of the training set for the auxiliary loss (``ssltk.bin.kmeans
label``); ``--valid_ref``: a data dir with ``text.phn``, for a PER that is logged but never
used to choose checkpoints (that is ``valid/weighted_lm_ppl``).  Rerunning continues from
``EXP/checkpoint.pt``.  Config sections and defaults: ``ssltk.uasr.gan`` (fairseq's
``w2vu2.yaml``).
"""

from __future__ import annotations

import argparse
import sys

from ssltk.errors import cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uasr_train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="YAML config (trainer, gan, data sections)")
    p.add_argument("--train", required=True, help="training feature dump")
    p.add_argument("--valid", required=True, help="validation feature dump")
    p.add_argument("--text", required=True, help="text preparation dir (ssltk.bin.uasr_text)")
    p.add_argument("--exp", required=True, help="experiment directory")
    p.add_argument("--km", default=None, help="k-means label dir of the training set")
    p.add_argument("--clip_targets", default=None, help="CLIP targets of the training set")
    p.add_argument("--valid_ref", default=None, help="data dir with text.phn (PER, logged only)")
    p.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. trainer.seed=1 gan.clip_weight=1.0")
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.uasr.gan import train

    results = train(args.config, args.train, args.valid, args.text, args.exp, km_dir=args.km,
                    clip_targets=args.clip_targets, valid_ref=args.valid_ref,
                    overrides=args.override)
    print(f"uasr_train: {results['stop_reason']} after {results['steps']} updates; best "
          f"{results['best_metric']} = {results['best_value']} (epoch {results['best_epoch']})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
