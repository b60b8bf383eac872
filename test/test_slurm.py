"""utils/slurm.pl, cmd_backend=slurm and multi-process training on a real Slurm.

The tests that submit jobs need a running Slurm (SLURM_CONF, or the one of
tools/slurm_local.sh); without one they skip and say how to start it."""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from test_run_pl import read_log

ROOT = Path(__file__).resolve().parents[1]
SLURM_PL = ROOT / "utils" / "slurm.pl"
RUN_PL = ROOT / "utils" / "run.pl"
TEMPLATE_CONF = ROOT / "egs2" / "TEMPLATE" / "conf" / "slurm.conf"
LOCAL_CONF = Path(os.environ.get("SSLTK_SLURM_DIR", "/tmp/ssltk-slurm")) / "slurm.conf"
FSDD = Path(os.environ.get("FSDD") or ROOT.parent / "shared/data/fsdd")
HOW = ("no Slurm to submit to: run tools/slurm_local.sh start (needs apt-get install slurm-wlm "
       "munge, as root) or set SLURM_CONF to a cluster's")


def _slurm_env():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if "SLURM_CONF" not in env and LOCAL_CONF.exists():
        pid = LOCAL_CONF.parent / "slurmctld.pid"
        if not (pid.exists() and Path(f"/proc/{pid.read_text().strip()}").exists()):
            return None  # stopped (sinfo would retry for seconds)
        env["SLURM_CONF"] = str(LOCAL_CONF)
    if shutil.which("sinfo") is None:
        return None
    try:
        probe = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True,
                               timeout=15)
    except subprocess.TimeoutExpired:
        return None
    return env if probe.returncode == 0 and re.search(r"idle|mixed|alloc", probe.stdout) else None


@pytest.fixture(scope="module")
def slurm():
    env = _slurm_env()
    if env is None:
        pytest.skip(HOW)
    return env


@pytest.fixture
def start():
    """``start(args, cwd, env)``: a Popen of ``args`` (stderr piped), terminated if still running at
    the end of the test: slurm.pl then cancels its Slurm job."""
    procs = []

    def popen(args, cwd, env):
        procs.append(subprocess.Popen(list(map(str, args)), cwd=cwd, env=env, stderr=subprocess.PIPE,
                                      text=True))
        return procs[-1]

    yield popen
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def launch(cwd, env, *args, launcher=SLURM_PL, timeout=120):
    return subprocess.run([str(launcher), *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def job_id(stderr):
    return re.search(r"slurm\.pl: Slurm job (\d+) ", stderr).group(1)


# ------------------------------------------------------------- jobs and their logs

def test_quoting_and_a_failed_job_named_as_run_pl_does(tmp_path, slurm):
    # The example: the -c script stays one argument of sh, so job 2 exits 1.
    example = ["JOB=1:2", "log/t.JOB.log", "sh", "-c", "echo a b JOB; exit $((JOB==2))"]
    res = launch(tmp_path, slurm, *example)
    job = job_id(res.stderr)
    assert res.returncode == 1
    assert res.stderr.splitlines()[-1] == (
        f"slurm.pl: 1 / 2 failed (Slurm job {job}_2 exit code 1), log is in log/t.2.log")
    (tmp_path / "local").mkdir()
    local = launch(tmp_path / "local", slurm, *example, launcher=RUN_PL)
    assert local.returncode == 1
    for n in (1, 2):
        cmd, output, code, _ = read_log(tmp_path / f"log/t.{n}.log")
        assert cmd == f"sh -c 'echo a b {n}; exit $(({n}==2))'"
        assert (output, code) == ([f"a b {n}"], n - 1)
        assert f"# Note: Slurm job {job}_{n} on node " in (tmp_path / f"log/t.{n}.log").read_text()
        assert read_log(tmp_path / f"local/log/t.{n}.log")[:3] == (cmd, output, code)


def test_options_become_sbatch_options(tmp_path, slurm):
    show = ('echo cpus=$SLURM_CPUS_PER_TASK mem=$SLURM_MEM_PER_NODE; '
            'scontrol show job $SLURM_JOB_ID | grep -o "TimeLimit=[^ ]*\\|ArrayTaskThrottle=[^ ]*"')
    res = launch(tmp_path, slurm, "--mem", "100M", "--num-threads", "2", "--time", "7",
                 "--max-jobs-run", "1", "--gpu", "0", "SPLIT=1:2", "log/o.SPLIT.log", show)
    assert res.returncode == 0, res.stderr
    _, output, code, accounting = read_log(tmp_path / "log/o.2.log")
    assert code == 0
    assert output[0] == "cpus=2 mem=100"
    assert set(output[1:]) == {"TimeLimit=00:07:00", "ArrayTaskThrottle=1"}
    assert accounting.group(2) == "2"


def test_cancelled_job_is_reported_as_cancelled(tmp_path, slurm, start):
    proc = start([SLURM_PL, "JOB=1:2", "log/c.JOB.log", "echo started; sleep 60"], tmp_path, slurm)
    log = tmp_path / "log/c.1.log"
    deadline = time.time() + 60
    while not (log.exists() and "\nstarted\n" in log.read_text()) and time.time() < deadline:
        time.sleep(0.2)
    job = re.search(r"Slurm job (\d+)", log.read_text()).group(1)
    subprocess.run(["scancel", job], env=slurm, check=True)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"slurm.pl: job {job}_1 (log/c.1.log) was cancelled (scancel, or an administrator)" in err
    assert err.splitlines()[-1] == (f"slurm.pl: 2 / 2 failed (Slurm job {job}_1 CANCELLED, {job}_2 "
                                    "CANCELLED), log is in log/c.1.log log/c.2.log")
    text = log.read_text()
    assert f"# slurm.pl: Slurm job {job}_1 was cancelled" in text and "CANCELLED AT" in text


def test_job_lost_with_its_node_is_reported(tmp_path, slurm, start):
    if Path(slurm["SLURM_CONF"]).resolve() != LOCAL_CONF.resolve():
        pytest.skip("takes a node down: only on the Slurm of tools/slurm_local.sh")
    node = subprocess.run(["sinfo", "-h", "-o", "%N"], env=slurm, capture_output=True, text=True).stdout.strip()
    proc = start([SLURM_PL, "log/n.log", "echo started; sleep 60"], tmp_path, slurm)
    log = tmp_path / "log/n.log"
    try:
        deadline = time.time() + 60
        while not (log.exists() and "\nstarted\n" in log.read_text()) and time.time() < deadline:
            time.sleep(0.2)
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=down", "reason=ssltk-test"],
                       env=slurm, check=True)
        _, err = proc.communicate(timeout=60)
    finally:
        subprocess.run(["scontrol", "update", f"nodename={node}", "state=resume"], env=slurm,
                       capture_output=True)
        while "idle" not in subprocess.run(["sinfo", "-h", "-o", "%T"], env=slurm, capture_output=True,
                                           text=True).stdout and time.time() < deadline:
            time.sleep(0.5)
    assert proc.returncode == 1
    assert re.search(r"slurm\.pl: job \d+_1 \(log/n\.log\) was lost with its node \(NODE_FAIL\)", err), err
    assert "DUE TO NODE FAILURE" in log.read_text()


def test_sbatch_rejecting_a_config_option_names_it(tmp_path, slurm):
    conf = tmp_path / "bad.conf"
    conf.write_text("command sbatch\noption mem=* --memory=$0\n")
    res = launch(tmp_path, slurm, "--config", conf, "--mem", "1G", "log/x.log", "true")
    assert res.returncode == 1
    assert f"submitting log/x.log failed (sbatch options from {conf} and the stage)" in res.stderr
    assert "--memory=1G" in res.stderr and "unrecognized option" in res.stderr


def test_config_and_option_errors_name_the_culprit(tmp_path):
    # Found before anything is submitted: no Slurm needed.
    res = launch(tmp_path, None, "--config", TEMPLATE_CONF, "--qos", "high", "log/x.log", "true")
    assert res.returncode == 1
    assert res.stderr.startswith(f"slurm.pl: option --qos: {TEMPLATE_CONF} has no 'option qos=...' "
                                 "line (known: gpu mem num_nodes num_threads partition time)")
    conf = tmp_path / "slurm.conf"
    conf.write_text("command sbatch\n# fine\noption mem=* --mem=$0\nmem 4G\n")
    res = launch(tmp_path, None, "--config", conf, "log/x.log", "true")
    assert res.returncode == 1
    assert res.stderr.startswith(f"slurm.pl: {conf}:4: cannot parse 'mem 4G'")
    conf.write_text("command sbatch\ndefault partition=gpu\n")
    res = launch(tmp_path, None, "--config", conf, "log/x.log", "true")
    assert "default partition=gpu: " in res.stderr and "no 'option partition=...' line" in res.stderr
    assert not (tmp_path / "log").exists() or not list((tmp_path / "log").glob("*.log"))


def test_cmd_sh_selects_the_backend(tmp_path):
    cmd_sh = ROOT / "egs2" / "TEMPLATE" / "cmd.sh"
    recipe = tmp_path / "recipe"
    (recipe / "conf").mkdir(parents=True)
    (recipe / "cmd.sh").symlink_to(cmd_sh)

    def train_cmd(backend):
        return subprocess.run(["bash", "-c", '. ./cmd.sh && echo "${train_cmd}|${cuda_cmd}"'], cwd=recipe,
                              env={**os.environ, "cmd_backend": backend}, capture_output=True, text=True)

    assert train_cmd("local").stdout.strip() == "run.pl|run.pl"
    slurm = f"slurm.pl --config {TEMPLATE_CONF}"
    assert train_cmd("slurm").stdout.strip() == f"{slurm}|{slurm}"
    (recipe / "conf" / "slurm.conf").write_text("command sbatch\n")
    assert train_cmd("slurm").stdout.strip() == "slurm.pl --config conf/slurm.conf|" \
        "slurm.pl --config conf/slurm.conf"  # the recipe's own
    res = train_cmd("sge")
    assert res.returncode == 1 and "unknown cmd_backend 'sge' (choose: local, slurm)" in res.stderr


# ------------------------------------------------------------- DDP training under Slurm

DDP_OVERRIDES = ["trainer.max_epochs=40", "trainer.log_interval=1", "data.max_batch=6"]


def _tones(root):
    from test_tasks_common import tone_corpus

    return tone_corpus(root / "train", 48, 0), tone_corpus(root / "dev", 8, 1)


def _ddp_stage(start, tmp_path, env):
    """The training stage as downstream.sh runs it with --num_procs 2 and cmd_backend=slurm."""
    from ssltk.tasks import CONF_DIR

    script = (f'cmd_backend=slurm; . {ROOT}/utils/stage_lib.sh; set_launcher 0 ssltk.bin.train 1 2; '
              f'exec {SLURM_PL} "${{launch_opts[@]}}" exp/ddp/log/train.log "${{launcher[@]}}" --task cls '
              f'--config {CONF_DIR / "cls_debug.yaml"} --train train --valid dev --exp exp/ddp '
              f'--override {" ".join(DDP_OVERRIDES)}')
    return start(["bash", "-c", script], tmp_path, env)


def _wait_for(path, pattern, proc, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and re.search(pattern, path.read_text()):
            return
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not in {path} (stage exited {proc.poll()})")


def _rank_pid(cwd, rank):
    """The pid of the training process of ``rank`` running in ``cwd``."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes().split(b"\0")
            here = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"ssltk.bin.train" in cmdline and here == str(cwd) and f"RANK={rank}".encode() in environ:
            return int(proc.name)
    raise AssertionError(f"no rank {rank} training process in {cwd}")


def _grad_norms(train_log):
    return re.findall(r"step (\d+): loss=\S+ acc=\S+ grad_norm=(\S+)", train_log.read_text())


def test_ddp_training_under_slurm_matches_one_process_and_resumes(tmp_path, slurm, start, one_thread):
    from ssltk.bin.train import main as train_main
    from ssltk.tasks import CONF_DIR

    _tones(tmp_path)
    exp, log = tmp_path / "exp" / "ddp", tmp_path / "exp" / "ddp" / "log" / "train.log"

    # 1. Rank 1 killed after the first epoch: the job fails, torchrun names the rank.
    stage = _ddp_stage(start, tmp_path, slurm)
    _wait_for(exp / "train.log", r"epoch 1/40 \|", stage)
    os.kill(_rank_pid(tmp_path, 1), signal.SIGKILL)
    _, err = stage.communicate(timeout=120)
    assert stage.returncode == 1
    assert re.search(r"slurm\.pl: 1 / 1 failed \(Slurm job \d+_1 exit code 1\), log is in "
                     r"exp/ddp/log/train.log$", err.strip()), err
    text = log.read_text()
    assert "ChildFailedError" in text and "rank      : 1 " in text and "SIGKILL" in text, text[-3000:]
    assert "[Gloo]" in text  # gloo on CPU

    # 2. Rerun: resumes from the last checkpoint; cancelled with scancel: reported as such.
    stage = _ddp_stage(start, tmp_path, slurm)
    _wait_for(exp / "train.log", r"resumed from .*\n(.*\n)*.*epoch \d+/40 \|", stage)
    job = job_id(stage.stderr.readline())
    subprocess.run(["scancel", job], env=slurm, check=True)
    _, err = stage.communicate(timeout=120)
    assert stage.returncode == 1
    assert f"slurm.pl: job {job}_1 (exp/ddp/log/train.log) was cancelled" in err, err

    # 3. Rerun: resumes again and finishes.
    stage = _ddp_stage(start, tmp_path, slurm)
    _, err = stage.communicate(timeout=180)
    assert stage.returncode == 0, err + log.read_text()[-3000:]
    assert (exp / "train.log").read_text().count("resumed from") == 2
    assert "# Note: Slurm job " in log.read_text()

    # One process accumulating two batches a step (the same global batch) takes the same steps.
    assert train_main(["--task", "cls", "--config", str(CONF_DIR / "cls_debug.yaml"), "--train",
                       str(tmp_path / "train"), "--valid", str(tmp_path / "dev"), "--exp",
                       str(tmp_path / "exp" / "single"), "--override", *DDP_OVERRIDES,
                       "trainer.accum_grad=2"]) == 0
    ddp = json.loads((exp / "results.json").read_text())
    single = json.loads((tmp_path / "exp" / "single" / "results.json").read_text())
    assert ddp["steps"] == single["steps"] == 160
    for a, b in zip(ddp["history"], single["history"]):
        for key in ("train/loss", "valid/loss", "train/grad_norm"):
            assert a[key] == pytest.approx(b[key], rel=1e-4), (a["epoch"], key)
    # per step, the gradient norm (the loss logged is rank 0's or the last micro-batch's)
    steps = dict(_grad_norms(tmp_path / "exp" / "single" / "train.log"))
    assert steps and all(steps[s] == g for s, g in _grad_norms(exp / "train.log"))
    a = torch.load(exp / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "exp" / "single" / "checkpoint.pt", weights_only=False)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------- a whole recipe

TINY = """\
trainer: {seed: 0, max_epochs: 2, optim: {name: adam, lr: 2.0e-3}, best_metric: valid/acc, best_mode: max}
frontend: {upstream: fbank, featurizer: layer, layer: -1}
data: {batch_seconds: 60, max_batch: 32}
cls: {label_table: utt2category, proj_dim: 16, pooling: mean}
"""


@pytest.mark.skipif(not (FSDD / "recordings").is_dir(), reason=f"FSDD not found at {FSDD} (set FSDD=)")
def test_fsdd_recipe_on_slurm_equals_local(tmp_path, slurm):
    from test_recipes import recipe_copy

    # FSDD takes 0 (test), 5 (dev), 10 and 11 (train) of every speaker and digit
    fsdd = tmp_path / "fsdd" / "recordings"
    fsdd.mkdir(parents=True)
    for wav in (FSDD / "recordings").glob("*.wav"):
        if int(wav.stem.split("_")[2]) in (0, 5, 10, 11):
            (fsdd / wav.name).symlink_to(wav)
    # both backends at once (one process at a time each, mostly): the same RESULTS.md
    runs, results = {}, {}
    for backend in ("local", "slurm"):
        recipe = recipe_copy(tmp_path / backend, "fsdd/cls1")
        (recipe / "conf" / "tiny.yaml").write_text(TINY)
        with (tmp_path / f"{backend}.err").open("w") as err:
            runs[backend] = recipe, subprocess.Popen(
                ["./cls.sh", "--train_set", "train", "--valid_set", "dev", "--test_sets", "test",
                 "--upstream", "fbank", "--featurizer", "layer", "--layer", "-1", "--feats_type", "dump",
                 "--nj", "2", "--train_config", "conf/tiny.yaml", "--exp_tag", "digit_fbank_tiny"],
                cwd=recipe, env={**slurm, "cmd_backend": backend, "FSDD": str(fsdd.parent)},
                stdout=subprocess.DEVNULL, stderr=err)
    for backend, (recipe, proc) in runs.items():
        proc.wait(timeout=600)
        err = (tmp_path / f"{backend}.err").read_text()
        assert proc.returncode == 0, err[-3000:]
        # train time, steps/s and peak memory are measurements: equal up to them
        results[backend] = re.sub(r"\| (\d+) \| \d+ \| [\d.]+ \| [\d.]+ \| ([\d.]+) \|$", r"| \1 | T | S | M | \2 |",
                                  (recipe / "RESULTS.md").read_text(), flags=re.M)
        assert "| T | S | M |" in results[backend]
        submitted = re.findall(r"slurm\.pl: Slurm job \d+ \((\d) (?:array )?tasks?\) for (\S+)", err)
        if backend == "slurm":
            assert ("2", "dump/fbank_layer-1/train/log/extract.JOB.log") in submitted
            assert ("1", "exp/digit_fbank_tiny/log/train.log") in submitted
            assert "# Note: Slurm job " in (recipe / "dump/fbank_layer-1/train/log/extract.2.log").read_text()
        else:
            assert submitted == []
    assert "| digit_fbank_tiny | fbank | layer -1 |" in results["local"]
    assert results["slurm"] == results["local"]
