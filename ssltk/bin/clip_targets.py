"""Train the small scene CLIP of the synthetic corpus and write CLIP targets.

    python -m ssltk.bin.clip_targets --corpus downloads/corpus --phones data/text_prep/phones.txt \\
        --data data/train data/dev data/test --out exp/clip [--steps 300] [--dim 64] [--seed 0]

Trains on the corpus's text-only side (``text_only/text.phn`` + ``text_only/text.scene``;
10% held out for a retrieval check), with ``<SIL>`` inserted as in the GAN's text
(probability 0.5 between words, always at the ends).  Writes ``OUT/text_encoder.pt``
(frozen, vocabulary = ``--phones``), ``OUT/scene_encoder.pt``, ``OUT/<set>/targets.scp``
(the scene embedding of each utterance's ``utt2scene``) and ``OUT/clip_info.json``:
training loss, held-out text->scene recall, and, for evaluation only, the recall of
each speech set's reference phones (``text.phn``: what a perfect generator could get).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ssltk.errors import UserError, cli_main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clip_targets", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help="synthetic corpus root (text_only/)")
    p.add_argument("--phones", required=True, help="phone inventory (phones.txt)")
    p.add_argument("--data", nargs="+", required=True, help="speech data dirs with utt2scene")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--sil_prob", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import numpy as np
    import torch

    from ssltk.data.datadir import read_table, write_json
    from ssltk.uasr.clip import save_text_encoder, write_targets
    from ssltk.uasr.scenes import recall, scene_ids, train_clip
    from ssltk.uasr.text import insert_silences, read_phone_inventory, read_phone_lines

    log = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    torch.set_num_threads(1)
    corpus, out = Path(args.corpus), Path(args.out)
    vocab = read_phone_inventory(args.phones)
    index = {p: i for i, p in enumerate(vocab)}
    scene_file = corpus / "text_only" / "text.scene"
    if not scene_file.is_file():
        raise UserError(f"{scene_file}: no such file (a corpus made by ssltk.bin.synth_corpus "
                        "--kind unpaired has it; regenerate an older one)")
    words = read_phone_lines(corpus / "text_only" / "text.phn")
    scenes = scene_file.read_text(encoding="utf-8").split()
    if len(words) != len(scenes):
        raise UserError(f"{scene_file}: {len(scenes)} scenes for {len(words)} sentences")
    rng = np.random.default_rng(args.seed)
    texts, pairs = [], []
    for w, s in zip(words, scenes):
        phones = insert_silences(w, args.sil_prob, rng)
        if all(p in index for p in phones):  # sentences with pruned phones are left out
            texts.append([index[p] for p in phones])
            pairs.append(scene_ids(s))
    order = rng.permutation(len(texts))
    held = set(order[:max(1, len(texts) // 10)].tolist())
    train = [i for i in range(len(texts)) if i not in held]
    text_enc, scene_enc, loss = train_clip([texts[i] for i in train], [pairs[i] for i in train],
                                           vocab, steps=args.steps, dim=args.dim, seed=args.seed,
                                           log=log)
    info = {"train_pairs": len(train), "loss": round(loss, 4), "steps": args.steps,
            "heldout_text": recall(text_enc, scene_enc, [texts[i] for i in sorted(held)],
                                   [pairs[i] for i in sorted(held)])}
    save_text_encoder(text_enc, out / "text_encoder.pt")
    torch.save({"config": scene_enc.config, "state_dict": scene_enc.state_dict()},
               out / "scene_encoder.pt")
    for ddir in map(Path, args.data):
        utt2scene = read_table(ddir / "utt2scene")
        with torch.no_grad():
            emb = scene_enc(torch.tensor([scene_ids(s) for s in utt2scene.values()])).numpy()
        write_targets(out / ddir.name / "targets.scp", dict(zip(utt2scene, emb)))
        refs = read_phone_lines(ddir / "text.phn", with_utt=True) if (ddir / "text.phn").is_file() else []
        ref_texts = [[index[p] for w in r for p in w if p in index] for r in refs]
        if ref_texts:
            info[f"{ddir.name}_reference_phones"] = recall(
                text_enc, scene_enc, ref_texts, [scene_ids(s) for s in utt2scene.values()])
    write_json(out / "clip_info.json", info)
    log(f"clip_targets: held-out text->scene r@1 {info['heldout_text']['r@1']:.3f}; "
        f"targets for {', '.join(Path(d).name for d in args.data)} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
