"""ssltk.bin.plot_layer_weights: learned layer weights of an exp dir's experiments in one PNG."""

from ssltk.bin import plot_layer_weights
from ssltk.results.layer_weights import find_weights


def test_plots_weighted_sum_experiments_and_skips_one_state_features(tmp_path, capsys):
    (tmp_path / "cls_ssl").mkdir()
    (tmp_path / "cls_ssl" / "featurizer_weights.txt").write_text("0.1\n0.6\n0.3\n")
    (tmp_path / "cls_fbank").mkdir()
    (tmp_path / "cls_fbank" / "featurizer_weights.txt").write_text("1\n")
    (tmp_path / "no_weights").mkdir()
    found = find_weights(tmp_path)
    assert list(found) == ["cls_ssl"]
    assert all(abs(a - b) < 1e-6 for a, b in zip(found["cls_ssl"], [0.1, 0.6, 0.3]))
    out = tmp_path / "plots" / "layer_weights.png"
    assert plot_layer_weights.main(["--expdir", str(tmp_path), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 2000
    assert "cls_ssl: heaviest hidden state 1 (0.600)" in capsys.readouterr().out


def test_nothing_to_plot_is_said_not_an_error(tmp_path, capsys):
    (tmp_path / "cls_fbank").mkdir()
    (tmp_path / "cls_fbank" / "featurizer_weights.txt").write_text("1\n")
    assert plot_layer_weights.main(["--expdir", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 0
    assert "nothing plotted" in capsys.readouterr().out and not (tmp_path / "x.png").exists()
