"""Generate a synthetic corpus: plan -> audio -> Kaldi data dirs + README.

A kind module (``intent``, ``codeswitch``, ``unpaired``, ``captions``) turns a
seeded random generator into a `Plan`: utterances (text, speaker, split,
segments to speak) plus kind-specific files.  `generate` renders the audio,
writes ``<out>/data/{train,dev,test}`` and ``<out>/README.md``, and moves the
finished corpus into place in one rename, so an interrupted run leaves no
half-written corpus behind.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ssltk.data.datadir import utt2spk_to_spk2utt, write_table, write_text_atomic
from ssltk.corpora.synth.espeak import open_engine
from ssltk.corpora.synth.render import Job, Result, Segment, default_jobs, render_all
from ssltk.corpora.synth.speakers import SPLITS, Speaker
from ssltk.data.validate import validate_data_dir
from ssltk.errors import UserError

WORD_BOUNDARY = "|"  # between words in text.phn
FORMAT_VERSION = 1  # bump when the same settings would give different files
MIN_RMS = 1e-3  # an utterance quieter than this (full scale 1) is a synthesis failure


@dataclass
class Utt:
    """One planned utterance."""

    split: str
    utt: str
    speaker: Speaker
    segments: tuple[Segment, ...]
    text: str
    wav: str  # path relative to the corpus root
    tables: dict[str, str] = field(default_factory=dict)  # extra tables, e.g. utt2intent


@dataclass
class Plan:
    """Everything a kind decides before any audio exists."""

    kind: str
    utts: list[Utt]
    speakers: dict[str, list[Speaker]]
    about: str  # README section: how the corpus was made
    files: str  # README section: the kind's own files
    text_source: str  # README: where the text material comes from
    phonemize: list[Job] = field(default_factory=list)  # text-only sentences to phonemize
    # finish(work_dir, final_root, results by utt, phonemize results): write kind files
    finish: Callable[[Path, Path, dict[str, Result], list[Result]], None] | None = None


def utt_seed(seed: int, index: int) -> int:
    """A per-utterance seed, independent of every other utterance."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def phone_string(words: list[list[str]]) -> str:
    """Phones of each word, space-separated, words separated by ``|``."""
    return f" {WORD_BOUNDARY} ".join(" ".join(w) for w in words if w)


def check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UserError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise UserError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def generate(kind: str, out: str | Path, seed: int, num_utts: int | None = None,
             noise_snr: float | None = None, nj: int | None = None, engine: str = "auto",
             overwrite: bool = False, log=None, **options) -> Path:
    """Generate corpus ``kind`` under ``out``; returns the corpus root.

    Same arguments -> bit-identical files (on the same software stack).  If
    ``out`` already holds a corpus made with the same settings, nothing is
    done; with other settings it is an error unless ``overwrite``.
    """
    from ssltk.corpora.synth import KINDS

    log = log or sys.stderr
    if kind not in KINDS:
        raise UserError(f"unknown corpus kind '{kind}' (choose from {', '.join(KINDS)})")
    module = KINDS[kind]
    seed = check_int("seed", seed, 0)
    num_utts = module.DEFAULT_NUM_UTTS if num_utts is None else check_int(
        "num_utts", num_utts, module.MIN_NUM_UTTS)
    if noise_snr is not None:
        if isinstance(noise_snr, bool) or not isinstance(noise_snr, (int, float)):
            raise UserError(f"noise_snr must be a number of dB, got {noise_snr!r}")
        noise_snr = float(noise_snr)
    nj = default_jobs() if nj is None else check_int("nj", nj, 1)
    eng = open_engine(engine)
    out = Path(out).resolve()
    settings = {"format": FORMAT_VERSION, "kind": kind, "seed": seed, "num_utts": num_utts,
                "noise_snr": noise_snr, "espeak": eng.name, **options}
    if _up_to_date(out, settings, overwrite):
        print(f"synth_corpus: {out} already holds this corpus; nothing to do", file=log)
        return out

    start = time.time()
    plan = module.plan(np.random.default_rng(seed), num_utts, **options)
    jobs = [Job(u.utt, u.segments, utt_seed(seed, i), u.wav, noise_snr)
            for i, u in enumerate(plan.utts)]
    work = out.parent / f".{out.name}.partial"
    if work.exists():
        shutil.rmtree(work)  # left by an interrupted run
    work.mkdir(parents=True)
    print(f"synth_corpus: {kind}: rendering {len(jobs)} utterances with {nj} process(es) "
          f"({eng.name})", file=log)
    try:
        results = render_all(jobs, work, nj=nj, engine=engine)
        silent = [r.utt for r in results if r.rms < MIN_RMS]
        if silent:
            raise RuntimeError(f"espeak-ng produced (almost) no sound for {silent[:5]}")
        text_only = render_all(plan.phonemize, work, nj=nj, engine=engine) if plan.phonemize else []
        by_utt = {r.utt: r for r in results}
        _write_data_dirs(plan, by_utt, work, out)
        if plan.finish:
            plan.finish(work, out, by_utt, text_only)
        write_text_atomic(work / "README.md", _readme(plan, by_utt, settings))
        write_text_atomic(work / "corpus.json",
                          json.dumps(settings, indent=2, sort_keys=True) + "\n")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    work.rename(out)
    for split in SPLITS:
        problems = validate_data_dir(out / "data" / split, audio="header")
        if problems:
            raise RuntimeError(f"generated data dir is invalid: {problems[0]}")
    print(f"synth_corpus: wrote {out} ({len(jobs)} utterances) in {time.time() - start:.1f} s",
          file=log)
    return out


def _up_to_date(out: Path, settings: dict, overwrite: bool) -> bool:
    """Whether ``out`` already holds this corpus; refuse to clobber anything else."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory")
    meta = out / "corpus.json"
    if meta.is_file():
        try:
            existing = json.loads(meta.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            existing = None
        if existing == json.loads(json.dumps(settings)) and not overwrite:
            return True
        if overwrite:
            return False
        raise UserError(f"{out}: holds a corpus made with other settings ({existing}); "
                        "pass --overwrite to replace it")
    if any(out.iterdir()):
        raise UserError(f"{out}: exists, is not empty and is not a generated corpus; "
                        "choose another --out")
    return False


def _write_data_dirs(plan: Plan, results: dict[str, Result], work: Path, root: Path) -> None:
    for split in SPLITS:
        utts = [u for u in plan.utts if u.split == split]
        ddir = work / "data" / split
        utt2spk = {u.utt: u.speaker.id for u in utts}
        write_table(ddir / "wav.scp", {u.utt: str(root / u.wav) for u in utts})
        write_table(ddir / "text", {u.utt: u.text for u in utts})
        write_table(ddir / "utt2spk", utt2spk)
        write_table(ddir / "spk2utt", utt2spk_to_spk2utt(utt2spk))
        write_table(ddir / "spk2gender", {s.id: s.gender for s in plan.speakers[split]
                                          if s.id in set(utt2spk.values())})
        write_table(ddir / "utt2dur", {u.utt: f"{results[u.utt].duration:.3f}" for u in utts})
        write_table(ddir / "text.phn", {u.utt: phone_string(results[u.utt].words) for u in utts})
        for name in sorted({name for u in utts for name in u.tables}):
            write_table(ddir / name, {u.utt: u.tables[name] for u in utts})
        if all(results[u.utt].phones is not None for u in utts):
            write_text_atomic(ddir / "phones.ctm", "".join(
                f"{u.utt} 1 {start:.3f} {end - start:.3f} {label}\n"
                for u in sorted(utts, key=lambda u: u.utt.encode())
                for label, start, end in results[u.utt].phones))


def _readme(plan: Plan, results: dict[str, Result], settings: dict) -> str:
    rows, spk_rows = [], []
    for split in SPLITS:
        utts = [u for u in plan.utts if u.split == split]
        minutes = sum(results[u.utt].duration for u in utts) / 60
        spks = sorted({u.speaker.id for u in utts})
        rows.append(f"| {split} | {len(utts)} | {len(spks)} | {minutes:.1f} |")
        spk_rows += [f"| {s.id} | {split} | {s.variant} | {s.gender} | {s.pitch} | {s.range} | "
                     f"{s.rate} | {s.volume} |" for s in plan.speakers[split] if s.id in spks]
    noise = ("none" if settings["noise_snr"] is None
             else f"white Gaussian noise at {settings['noise_snr']:g} dB SNR "
                  "(seeded per utterance)")
    has_ctm = all(r.phones is not None for r in results.values())
    ctm = ("- `phones.ctm`: phone alignments from espeak-ng's phoneme events, one line per "
           "phone: `<utt> 1 <start s> <duration s> <phone>`; pauses (espeak's and the added "
           "leading/trailing/switch silences) are `sil`.\n" if has_ctm else
           "- no `phones.ctm`: the espeak-ng program gives no phone timings (install "
           "espeakng-loader to get alignments).\n")
    return f"""# Synthetic corpus: {plan.kind}

Generated by `python -m ssltk.bin.synth_corpus --kind {plan.kind} --seed {settings['seed']} \
--num-utts {settings['num_utts']}` (ssltk.corpora.synth) with {settings['espeak']}.
Noise: {noise}. The same command reproduces every file bit for bit on the same
software stack (espeak-ng build, torch/torchaudio); `corpus.json` records the settings.

| split | utterances | speakers | minutes |
|---|---|---|---|
{chr(10).join(rows)}

## How it was made

{plan.about}

Speech: espeak-ng (formant synthesis, 22.05 kHz) resampled to 16 kHz with
torchaudio, written as 16-bit mono WAV, with 0.1-0.3 s of silence before and
after each utterance (an utterance peaking above 0.95 full scale is scaled down,
never clipped). Pseudo-speakers are espeak-ng voice variants with their
own pitch, pitch range, rate (words per minute) and volume; the dev and test
speakers are unseen in training: other ids and other voice variants.

{plan.files}

## Data dirs (`data/train`, `data/dev`, `data/test`)

- `wav.scp` (absolute paths), `text`, `utt2spk`, `spk2utt`, `spk2gender`, `utt2dur`.
- `text.phn`: the phones espeak-ng spoke (IPA, stress marks removed), space-separated,
  words separated by `{WORD_BOUNDARY}`.
{ctm}
Utterance ids start with the speaker id, so tables sorted by id group by speaker.

## Speakers

| speaker | split | espeak variant | gender | pitch | range | rate | volume |
|---|---|---|---|---|---|---|---|
{chr(10).join(spk_rows)}

## Known limitations

- espeak-ng is a formant synthesiser: clear but robotic speech. Pseudo-speakers
  differ in formants, pitch, rate and volume, far less than real speakers do.
- espeak speaks some frequent word pairs ("for the", "of a", "in the") as one unit:
  both words' phones then sit under the first word, and that `text.phn` line has one
  `|`-group fewer than the `text` line has words.
- Alignments are espeak's own timings, except that a plosive or affricate starts at
  its closure: espeak marks it at the burst, and ssltk moves the boundary back over
  the closure silence found in the audio. Variants with espeak's echo (`m2`, `f4`)
  ring on for up to about 70 ms after the last phone.

## Licences

- Text material: {plan.text_source} It is part of ssltk (Apache-2.0), as are the
  generated audio and tables.
- espeak-ng, the synthesiser (and the espeakng-loader wheel that ships it), is
  GPL-3.0-or-later; ssltk calls it at run time and does not include it. The speech
  it produces is not covered by its licence.
"""
