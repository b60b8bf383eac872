"""Durations and length-sorted batches."""

import numpy as np
import soundfile as sf
import torch

from ssltk.data.batching import (UtteranceDataset, batch_loader, collate_audio,
                                 length_sorted_batches, utt_durations)
from ssltk.data.datadir import DataDir, read_table, write_table


def test_batches_bound_padded_seconds_longest_first():
    durs = {"a": 10.0, "b": 2.0, "c": 9.0, "d": 3.0, "e": 1.0, "f": 30.0}
    batches = length_sorted_batches(durs, max_seconds=20)
    assert batches == [["f"], ["a", "c"], ["d", "b", "e"]]
    for batch in batches[1:]:
        assert len(batch) * max(durs[u] for u in batch) <= 20
    assert length_sorted_batches(durs, 1000, max_batch=4) == [["f", "a", "c", "d"], ["b", "e"]]


def test_utt_durations_measured_then_cached(tmp_path):
    (tmp_path / "d").mkdir()
    sf.write(tmp_path / "a.wav", np.zeros(8000, dtype=np.float32), 16000)
    sf.write(tmp_path / "b.wav", np.zeros(4000, dtype=np.float32), 8000)
    write_table(tmp_path / "d" / "wav.scp", {"u1": str(tmp_path / "a.wav"),
                                             "u2": f"cat {tmp_path / 'b.wav'} |"})
    ddir = DataDir(tmp_path / "d")
    assert utt_durations(ddir) == {"u1": 0.5, "u2": 0.5}
    assert read_table(tmp_path / "d" / "utt2dur") == {"u1": "0.5000", "u2": "0.5000"}
    write_table(tmp_path / "d" / "utt2dur", {"u1": "7", "u2": "8"})
    assert utt_durations(ddir) == {"u1": 7.0, "u2": 8.0}  # the cached table is used


def test_dataset_resamples_and_collates(tmp_path):
    (tmp_path / "d").mkdir()
    sf.write(tmp_path / "a.wav", 0.1 * np.ones(800, dtype=np.float32), 8000)
    sf.write(tmp_path / "b.wav", 0.2 * np.ones(1200, dtype=np.float32), 16000)
    write_table(tmp_path / "d" / "wav.scp", {"u1": str(tmp_path / "a.wav"),
                                             "u2": str(tmp_path / "b.wav")})
    ds = UtteranceDataset(tmp_path / "d", sample_rate=16000)  # u1 resampled 8 -> 16 kHz
    utts, wavs, lens = next(iter(batch_loader(ds, [["u2", "u1"]])))
    assert utts == ["u2", "u1"] and lens.tolist() == [1200, 1600]
    assert wavs.shape == (2, 1600)
    assert torch.all(wavs[0, 1200:] == 0)


def test_collate_pads_with_zeros():
    utts, wavs, lens = collate_audio([("x", torch.ones(3)), ("y", torch.ones(5))])
    assert utts == ["x", "y"] and lens.tolist() == [3, 5]
    assert wavs.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
