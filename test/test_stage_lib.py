"""utils/stage_lib.sh: the helpers the egs2/TEMPLATE stage scripts share."""

import json
import subprocess
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "utils" / "stage_lib.sh"


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"set -euo pipefail; . {LIB}; {script}"], cwd=cwd,
                          capture_output=True, text=True)


@pytest.mark.parametrize("ngpu, expected", [
    (0, "python -m ssltk.bin.train --x"),
    (1, "python -m ssltk.bin.train --x"),
    (4, "python -m torch.distributed.run --standalone --nproc_per_node 4 -m ssltk.bin.train --x"),
])
def test_set_launcher(tmp_path, ngpu, expected):
    res = bash(f'set_launcher {ngpu} ssltk.bin.train; echo "${{launcher[@]}}" --x', tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == expected


def test_set_launcher_rejects_a_bad_gpu_count(tmp_path):
    res = bash("set_launcher two ssltk.bin.train", tmp_path)
    assert res.returncode == 1 and "--ngpu must be a non-negative integer, not 'two'" in res.stderr


def test_trained_reads_the_top_level_finished_flag(tmp_path):
    def write(name, results):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    write("done", {"epochs": 2, "finished": True, "history": [{"finished": False}]})
    write("stopped", {"epochs": 1, "finished": False, "history": [{"finished": True}]})
    (tmp_path / "empty").mkdir()
    res = bash("for e in done stopped empty missing; do trained $e && echo $e; done; true", tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["done"]


def test_fresh(tmp_path):
    res = bash("touch in; sleep 0.01; touch out; fresh out in && echo a; touch -d '+1 minute' in; "
               "fresh out in || echo b; fresh nothing || echo c", tmp_path)
    assert res.stdout.split() == ["a", "b", "c"], res.stderr
