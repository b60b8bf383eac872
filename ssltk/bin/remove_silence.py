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
import json
import shutil
import sys
from multiprocessing import Pool
from pathlib import Path

from ssltk.errors import cli_main

DROPPED = {"wav.scp", "segments", "utt2dur", "utt2num_frames", "reco2dur", "vad_intervals",
           "vad_info.json"}


def build_parser() -> argparse.ArgumentParser:
    from ssltk.uasr.vad import VadConfig

    p = argparse.ArgumentParser(prog="remove_silence", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="input data dir")
    p.add_argument("--out", required=True, help="output data dir")
    p.add_argument("--wav_dir", required=True, help="where the silence-free wav files go")
    p.add_argument("--nj", type=int, default=1, help="parallel processes")
    for f in dataclasses.fields(VadConfig):
        p.add_argument(f"--{f.name}", type=float, default=f.default, help=f"VAD {f.name} ({f.default})")
    return p


def _one(job):
    """Trim one utterance; returns ``(utt, intervals, rate, seconds in, seconds out)``."""
    import numpy as np
    import soundfile as sf

    from ssltk.data.audio import load_audio
    from ssltk.uasr.vad import voiced_intervals

    utt, spec, path, cfg, redo = job
    samples, rate = load_audio(spec, utt=utt)
    intervals = voiced_intervals(samples, rate, cfg)
    kept = np.concatenate([samples[s:e] for s, e in intervals])
    path = Path(path)
    if redo or not path.is_file():
        tmp = path.with_name(path.name + ".tmp.wav")
        sf.write(tmp, kept, rate, subtype="PCM_16")
        tmp.replace(path)
    return utt, intervals, rate, len(samples) / rate, len(kept) / rate


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ssltk.data.datadir import DataDir, DataDirError, write_json, write_table
    from ssltk.data.validate import validate_data_dir
    from ssltk.uasr.vad import VadConfig, format_intervals

    cfg = VadConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(VadConfig)})
    src = DataDir(args.data)
    specs = src.audio_specs()
    wav_dir = Path(args.wav_dir).resolve()
    wav_dir.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    # files of an earlier run are reused only if it had the same VAD settings
    old = out / "vad_info.json"
    redo = not old.is_file() or json.loads(old.read_text(encoding="utf-8")).get("vad") != \
        dataclasses.asdict(cfg)
    jobs = [(utt, spec, str(wav_dir / f"{utt}.wav"), cfg, redo) for utt, spec in specs.items()]
    if args.nj > 1:
        with Pool(args.nj) as pool:
            results = pool.map(_one, jobs, chunksize=8)
    else:
        results = [_one(j) for j in jobs]

    out.mkdir(parents=True, exist_ok=True)
    for name in src.utt_tables() + ["spk2utt", "spk2gender"]:
        if name not in DROPPED and not name.endswith(".ctm") and src.has(name):
            shutil.copyfile(src.path / name, out / name)
    write_table(out / "wav.scp", {u: str(wav_dir / f"{u}.wav") for u, *_ in results})
    write_table(out / "utt2dur", {u: f"{kept:.3f}" for u, _, _, _, kept in results})
    write_table(out / "vad_intervals", {u: format_intervals(iv, rate) for u, iv, rate, _, _ in results})
    seconds_in = sum(r[3] for r in results)
    seconds_out = sum(r[4] for r in results)
    whole = sorted(u for u, iv, rate, dur, _ in results if len(iv) == 1 and iv[0][0] == 0
                   and abs(iv[0][1] / rate - dur) < 1e-6)
    info = {"utterances": len(results), "seconds_in": round(seconds_in, 3),
            "seconds_out": round(seconds_out, 3), "kept_fraction": round(seconds_out / max(seconds_in, 1e-9), 4),
            "kept_whole": len(whole), "kept_whole_examples": whole[:10], "vad": dataclasses.asdict(cfg)}
    problems = validate_data_dir(out, audio="header")
    if problems:
        raise DataDirError(f"{out}: the written data dir is invalid: {problems[0]}")
    write_json(out / "vad_info.json", info)
    print(f"remove_silence: {len(results)} utterances, {seconds_in:.1f} s -> {seconds_out:.1f} s "
          f"({100 * info['kept_fraction']:.1f}% kept; {len(whole)} kept whole) -> {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
