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


SRUN = ("srun --kill-on-bad-exit=1 --nodes {n} --ntasks-per-node 1 --cpus-per-task {p} bash -c "
        'exec python -m torch.distributed.run --nnodes "${{SLURM_NNODES}}" --node_rank "${{SLURM_NODEID}}" '
        "--nproc_per_node {p} "
        '--master_addr "$(scontrol show hostnames "${{SLURM_JOB_NODELIST}}" | head -n 1)" '
        '--master_port $((29500 + SLURM_JOB_ID % 10000)) -m "$@" ddp ssltk.bin.train --x')


@pytest.mark.parametrize("backend, args, opts, expected", [
    ("local", "0 ssltk.bin.train 1 2", "--gpu 0 --num-threads 2",
     "python -m torch.distributed.run --standalone --nproc_per_node 2 -m ssltk.bin.train --x"),
    ("local", "1 ssltk.bin.train 1", "--gpu 1", "python -m ssltk.bin.train --x"),
    ("slurm", "0 ssltk.bin.train 1 ''", "--gpu 0", "python -m ssltk.bin.train --x"),
    ("slurm", "0 ssltk.bin.train 1 2", "--gpu 0 --num-threads 2", SRUN.format(n=1, p=2)),
    ("slurm", "4 ssltk.bin.train", "--gpu 4 --num-threads 4", SRUN.format(n=1, p=4)),
    ("slurm", "2 ssltk.bin.train 3", "--gpu 2 --num-threads 2 --num-nodes 3", SRUN.format(n=3, p=2)),
])
def test_set_launcher_processes_and_nodes(tmp_path, backend, args, opts, expected):
    res = bash(f'cmd_backend={backend}; set_launcher {args}; echo "${{launch_opts[*]}}"; '
               'echo "${launcher[@]}" --x', tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [opts, expected]


@pytest.mark.parametrize("backend, args, message", [
    ("local", "0 m 2", "--num_nodes 2 needs cmd_backend=slurm (cmd.sh), not 'local'"),
    ("slurm", "0 m 0", "--num_nodes must be a positive integer, not '0'"),
    ("slurm", "0 m 1 x", "--num_procs must be a positive integer, not 'x'"),
    ("slurm", "2 m 1 3", "--num_procs 3 with --ngpu 2: one process per GPU (leave --num_procs empty)"),
])
def test_set_launcher_rejects_bad_counts(tmp_path, backend, args, message):
    res = bash(f"cmd_backend={backend}; set_launcher {args}", tmp_path)
    assert res.returncode == 1 and message in res.stderr


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
