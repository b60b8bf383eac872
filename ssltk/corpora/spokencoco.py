"""SpokenCOCO (Hsu et al. 2021; spoken MSCOCO captions) -> Kaldi data dirs with the
image of each caption, and the unpaired text side for unsupervised ASR with a CLIP loss.

Layout: ``<root>/SpokenCOCO_{train,val}.json``, each ``{"data": [{"image":
"train2014/COCO_train2014_....jpg", "captions": [{"text", "speaker", "uttid", "wav":
"wavs/train/..."}, ...]}, ...]}``, audio (16 kHz wav) under ``<root>`` at the ``wav``
paths.  Data dirs ``<out>/{train,val}``: ``wav.scp``, ``text`` (the caption as given),
``utt2spk``, ``spk2utt``, ``utt2image`` (the image path: the key of its CLIP image
embedding).  Utterance ids are ``<speaker>-<uttid>`` (Kaldi: speaker first).  With
``text_only_fraction`` F, a fraction F of the train images (seeded) is held out of the
speech side and their captions (lower-cased) become the unpaired text,
``<out>/text_only/text.txt`` with ``text.image`` line-aligned: no image, hence no
caption, is on both sides.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ssltk.data.datadir import clear_data_dir, utt2spk_to_spk2utt, write_table, write_text_atomic
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

CAPTION_KEYS = ("text", "speaker", "uttid", "wav")


def read_split(root: str | Path, split: str) -> list[dict]:
    """The entries of ``SpokenCOCO_<split>.json``, checked: ``[{"image", "captions"}]``."""
    path = Path(root) / f"SpokenCOCO_{split}.json"
    if not path.is_file():
        raise UserError(f"{path}: no such file (SpokenCOCO metadata)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise UserError(f"{path}: expected an object with a 'data' list")
    for i, entry in enumerate(data["data"]):
        if "image" not in entry or not isinstance(entry.get("captions"), list):
            raise UserError(f"{path}: data[{i}] needs 'image' and a 'captions' list")
        for j, cap in enumerate(entry["captions"]):
            missing = [k for k in CAPTION_KEYS if k not in cap]
            if missing:
                raise UserError(f"{path}: data[{i}].captions[{j}] has no {', '.join(missing)}")
    return data["data"]


def _utt(cap: dict) -> str:
    return f"{cap['speaker']}-{cap['uttid']}" if not cap["uttid"].startswith(cap["speaker"]) \
        else cap["uttid"]


def prepare(root: str | Path, out_dir: str | Path, splits: list[str], max_images: int | None = None,
            text_only_fraction: float = 0.0, seed: int = 0) -> dict[str, int]:
    root, out = Path(root), Path(out_dir)
    if not 0 <= text_only_fraction < 1:
        raise UserError(f"text_only_fraction must be in [0, 1), got {text_only_fraction}")
    counts = {}
    for split in splits:
        entries = read_split(root, split)[:max_images]
        held: set[int] = set()
        if split == "train" and text_only_fraction:
            n = int(round(len(entries) * text_only_fraction))
            held = set(np.random.default_rng(seed).permutation(len(entries))[:n].tolist())
        wav, text, utt2spk, utt2image, side = {}, {}, {}, {}, []
        for i, entry in enumerate(entries):
            for cap in entry["captions"]:
                if i in held:
                    side.append((" ".join(cap["text"].lower().split()), entry["image"]))
                    continue
                path = root / cap["wav"]
                if not path.is_file():
                    raise UserError(f"{root / f'SpokenCOCO_{split}.json'}: audio of "
                                    f"'{cap['uttid']}' not found: {path}")
                utt = _utt(cap)
                wav[utt], text[utt] = str(path.resolve()), " ".join(cap["text"].split())
                utt2spk[utt], utt2image[utt] = cap["speaker"], entry["image"]
        ddir = clear_data_dir(out / split)
        write_table(ddir / "wav.scp", wav)
        write_table(ddir / "text", text)
        write_table(ddir / "utt2spk", utt2spk)
        write_table(ddir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
        write_table(ddir / "utt2image", utt2image)
        problems = validate_data_dir(ddir, audio="header")
        if problems:
            raise UserError(f"{ddir}: invalid data dir: {problems[0]}")
        counts[split] = len(wav)
        if side:
            write_text_atomic(out / "text_only" / "text.txt", "".join(t + "\n" for t, _ in side))
            write_text_atomic(out / "text_only" / "text.image", "".join(i + "\n" for _, i in side))
            counts["text_only"] = len(side)
    return counts
