"""Tests for utils/run.pl, run as a real perl process in a temporary dir."""

import re
import subprocess
from pathlib import Path

import pytest

RUN_PL = Path(__file__).resolve().parents[1] / "utils" / "run.pl"

STARTED = re.compile(r"# Started at \S.*\S$")
ACCOUNTING = re.compile(r"# Accounting: time=(\d+) threads=(\d+)$")
ENDED = re.compile(r"# Ended \(code (\d+)\) at \S.*\S, elapsed time (\d+) seconds$")

# Appends "<start> <end>" (seconds since the epoch) of a 1 s sleep to a file.
TIMED_SLEEP = 's=$(date +%s.%N); sleep 1; echo "$s $(date +%s.%N)" > times/JOB'


def run_pl(tmp_path, *args):
    return subprocess.run(
        [str(RUN_PL), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def read_log(path):
    """Split a log into (command, output lines, exit code, footer matches)."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# ")
    assert STARTED.match(lines[1]), lines
    # Optional "# Note: ..." lines, then a lone "#" ends the header.
    body = lines.index("#") + 1
    assert all(line.startswith("# Note: ") for line in lines[2 : body - 1]), lines
    accounting = ACCOUNTING.match(lines[-2])
    ended = ENDED.match(lines[-1])
    assert accounting and ended, lines
    assert accounting.group(1) == ended.group(2)
    return lines[0][2:], lines[body:-2], int(ended.group(1)), accounting


def intervals(tmp_path):
    """The (start, end) times the timed jobs wrote, ordered by start."""
    found = []
    for path in (tmp_path / "times").iterdir():
        start, end = path.read_text().split()
        found.append((float(start), float(end)))
    return sorted(found)


def max_overlap(spans):
    """The most intervals that are open at the same moment."""
    events = [(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans]
    depth = best = 0
    for _, step in sorted(events, key=lambda ev: (ev[0], ev[1])):
        depth += step
        best = max(best, depth)
    return best


def nproc():
    return int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)


# --- success and failure ---------------------------------------------------

FAIL_ON_3 = "if [ JOB -eq 3 ]; then exit 1; fi; echo job JOB"


def test_one_failed_job(tmp_path):
    result = run_pl(tmp_path, "JOB=1:4", "log/t.JOB.log", FAIL_ON_3)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "run.pl: 1 / 4 failed, log is in log/t.3.log\n"
    for job in (1, 2, 4):
        _, output, code, _ = read_log(tmp_path / f"log/t.{job}.log")
        assert (output, code) == ([f"job {job}"], 0)
    cmd, output, code, _ = read_log(tmp_path / "log/t.3.log")
    assert cmd == "if [ 3 -eq 3 ]; then exit 1; fi; echo job 3"
    assert (output, code) == ([], 1)


def test_several_failed_jobs_are_all_named(tmp_path):
    result = run_pl(tmp_path, "JOB=1:5", "log/t.JOB.log", "exit $(( JOB % 2 ))")
    assert result.returncode == 1
    assert result.stderr == (
        "run.pl: 3 / 5 failed, log is in log/t.1.log log/t.3.log log/t.5.log\n"
    )


def test_all_jobs_succeed(tmp_path):
    result = run_pl(tmp_path, "JOB=1:4", "log/t.JOB.log", "echo job JOB")
    assert result.returncode == 0
    assert result.stdout == result.stderr == ""
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == [
        f"t.{job}.log" for job in range(1, 5)
    ]
    for job in range(1, 5):
        cmd, output, code, accounting = read_log(tmp_path / f"log/t.{job}.log")
        assert cmd == f"echo job {job}"
        assert output == [f"job {job}"]
        assert code == 0
        assert accounting.group(2) == "1"


def test_exit_code_and_stderr_are_logged(tmp_path):
    result = run_pl(tmp_path, "log/e.log", "echo out; echo err >&2; exit 7")
    assert result.returncode == 1
    assert result.stderr == "run.pl: 1 / 1 failed, log is in log/e.log\n"
    _, output, code, _ = read_log(tmp_path / "log/e.log")
    assert output == ["out", "err"]
    assert code == 7


def test_killed_job_fails(tmp_path):
    result = run_pl(tmp_path, "log/k.log", "echo before; kill -9 $$")
    assert result.returncode == 1
    _, output, code, _ = read_log(tmp_path / "log/k.log")
    assert output == ["before"]
    assert code == 128 + 9


def test_single_job_without_spec(tmp_path):
    result = run_pl(tmp_path, "exp/a/b/single.log", "echo", "JOB", "stays")
    assert result.returncode == 0, result.stderr
    cmd, output, code, _ = read_log(tmp_path / "exp/a/b/single.log")
    assert cmd == "echo JOB stays"
    assert output == ["JOB stays"]
    assert code == 0


def test_log_is_overwritten(tmp_path):
    (tmp_path / "log").mkdir()
    (tmp_path / "log/o.log").write_text("old contents\n")
    assert run_pl(tmp_path, "log/o.log", "echo new").returncode == 0
    _, output, _, _ = read_log(tmp_path / "log/o.log")
    assert output == ["new"]


def test_multiline_command_header_stays_commented(tmp_path):
    assert run_pl(tmp_path, "log/m.log", "echo one\necho two").returncode == 0
    lines = (tmp_path / "log/m.log").read_text().splitlines()
    assert lines[:2] == ["# echo one", "# echo two"]
    assert lines[4:6] == ["one", "two"]


# --- substitution and quoting ----------------------------------------------


def test_job_substituted_in_every_arg_and_log_dir(tmp_path):
    (tmp_path / "data").mkdir()
    for job in (1, 2):
        (tmp_path / f"data/in.{job}").write_text(f"content {job}\n")
    result = run_pl(
        tmp_path, "JOB=1:2", "log/JOB/cat.JOB.log",
        "cat", "data/in.JOB", "&&", "echo", "id=JOB",
    )
    assert result.returncode == 0, result.stderr
    for job in (1, 2):
        cmd, output, _, _ = read_log(tmp_path / f"log/{job}/cat.{job}.log")
        assert cmd == f"cat data/in.{job} && echo id={job}"
        assert output == [f"content {job}", f"id={job}"]


def test_custom_array_variable_and_range(tmp_path):
    result = run_pl(tmp_path, "SPLIT=3:5", "log/s.SPLIT.log", "echo part SPLIT JOB")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "log").iterdir()) == [
        "s.3.log", "s.4.log", "s.5.log",
    ]
    _, output, _, _ = read_log(tmp_path / "log/s.4.log")
    assert output == ["part 4 JOB"]


def test_single_number_spec(tmp_path):
    result = run_pl(tmp_path, "JOB=7", "log/x.JOB.log", "echo JOB")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in (tmp_path / "log").iterdir()] == ["x.7.log"]


def test_pipe_in_quoted_arg(tmp_path):
    result = run_pl(tmp_path, "log/p.log", "echo a | tr a b")
    assert result.returncode == 0, result.stderr
    cmd, output, _, _ = read_log(tmp_path / "log/p.log")
    assert cmd == "echo a | tr a b"
    assert output == ["b"]


def test_redirect_and_escaped_pipe_args(tmp_path):
    # Kaldi style: shell operators passed as separate (escaped) arguments.
    result = run_pl(
        tmp_path, "JOB=1:2", "log/r.JOB.log",
        "echo", "x-JOB", "|", "tr", "x", "y", ">", "out.JOB",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.2").read_text() == "y-2\n"


def test_several_args_are_requoted_as_kaldi_does(tmp_path):
    # The example: sh gets its -c script as one argument, so job 2 exits 1.
    result = run_pl(tmp_path, "JOB=1:2", "log/t.JOB.log", "sh", "-c", "echo a b JOB; exit $((JOB==2))")
    assert result.returncode == 1
    assert result.stderr == "run.pl: 1 / 2 failed, log is in log/t.2.log\n"
    for job in (1, 2):
        cmd, output, code, _ = read_log(tmp_path / f"log/t.{job}.log")
        assert cmd == f"sh -c 'echo a b {job}; exit $(({job}==2))'"
        assert (output, code) == ([f"a b {job}"], job - 1)
    # A quote inside a quoted argument, an empty argument, spacing kept.
    result = run_pl(tmp_path, "log/q.log", "echo", "it's  here", "", "end")
    assert result.returncode == 0, result.stderr
    cmd, output, _, _ = read_log(tmp_path / "log/q.log")
    assert cmd == "echo 'it'\\''s  here' '' end"
    assert output == ["it's  here  end"]


def test_failure_inside_pipeline_is_bash_semantics(tmp_path):
    # Only the last command of a pipeline decides, as with bash -c.
    assert run_pl(tmp_path, "log/a.log", "false | true").returncode == 0
    assert run_pl(tmp_path, "log/b.log", "set -o pipefail; false | true").returncode == 1


# --- concurrency -------------------------------------------------------------


def test_jobs_run_in_parallel(tmp_path):
    (tmp_path / "times").mkdir()
    result = run_pl(tmp_path, "--max-jobs-run", "4", "JOB=1:4", "log/s.JOB.log", TIMED_SLEEP)
    assert result.returncode == 0, result.stderr
    spans = intervals(tmp_path)
    assert len(spans) == 4
    # Every job started before any job ended: all four ran at once.
    assert max(s for s, _ in spans) < min(e for _, e in spans)


def test_max_jobs_run_1_serialises(tmp_path):
    (tmp_path / "times").mkdir()
    result = run_pl(tmp_path, "--max-jobs-run", "1", "JOB=1:3", "log/s.JOB.log", TIMED_SLEEP)
    assert result.returncode == 0, result.stderr
    spans = intervals(tmp_path)
    assert len(spans) == 3
    for (_, end), (next_start, _) in zip(spans, spans[1:]):
        assert end <= next_start
    assert max_overlap(spans) == 1


def test_max_jobs_run_limits_concurrency(tmp_path):
    (tmp_path / "times").mkdir()
    result = run_pl(tmp_path, "--max-jobs-run=2", "JOB=1:4", "log/s.JOB.log", TIMED_SLEEP)
    assert result.returncode == 0, result.stderr
    assert max_overlap(intervals(tmp_path)) == 2


def test_num_threads_lowers_default_concurrency(tmp_path):
    # With as many threads per job as there are cores, one job runs at a time.
    (tmp_path / "times").mkdir()
    threads = str(nproc())
    result = run_pl(tmp_path, "--num-threads", threads, "JOB=1:2", "log/s.JOB.log", TIMED_SLEEP)
    assert result.returncode == 0, result.stderr
    assert max_overlap(intervals(tmp_path)) == 1
    _, _, _, accounting = read_log(tmp_path / "log/s.1.log")
    assert accounting.group(2) == threads


# --- options ---------------------------------------------------------------


def test_queue_options_accepted(tmp_path):
    result = run_pl(
        tmp_path, "--mem", "4G", "--gpu", "1", "--config", "conf/queue.conf",
        "--num_threads", "2", "JOB=1:2", "log/q.JOB.log", "echo ok",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = (tmp_path / "log/q.1.log").read_text().splitlines()
    assert lines[2] == "# Note: --gpu 1 requested; run.pl does not allocate GPUs"
    _, output, code, accounting = read_log(tmp_path / "log/q.1.log")
    assert (output, code, accounting.group(2)) == (["ok"], 0, "2")


def test_gpu_zero_adds_no_note(tmp_path):
    assert run_pl(tmp_path, "--gpu", "0", "log/g.log", "true").returncode == 0
    assert "gpu" not in (tmp_path / "log/g.log").read_text()


@pytest.mark.parametrize("opt", ["--unknown-opt", "--max-jobs", "--tc"])
def test_unknown_option(tmp_path, opt):
    result = run_pl(tmp_path, opt, "2", "log/x.log", "true")
    assert result.returncode == 1
    assert f"run.pl: unknown option {opt}\n" in result.stderr
    assert "Usage:" in result.stderr
    assert not (tmp_path / "log").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--max-jobs-run", "0", "log/x.log", "true"], "--max-jobs-run needs a positive integer"),
        (["--num-threads", "two", "log/x.log", "true"], "--num-threads needs a positive integer"),
        (["--gpu", "-1", "log/x.log", "true"], "--gpu needs a non-negative integer"),
        (["--max-jobs-run"], "option --max-jobs-run needs a value"),
    ],
)
def test_bad_option_values(tmp_path, args, message):
    result = run_pl(tmp_path, *args)
    assert result.returncode == 1
    assert message in result.stderr


# --- bad usage ---------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "missing log file"),
        (["JOB=1:4"], "missing log file"),
        (["log/x.log"], "missing command"),
        (["JOB=3:1", "log/x.JOB.log", "true"], "bad job array spec 'JOB=3:1'"),
        (["JOB=a:b", "log/x.JOB.log", "true"], "bad job array spec 'JOB=a:b'"),
        (["JOB=1:", "log/x.JOB.log", "true"], "bad job array spec 'JOB=1:'"),
        (["JOB=1:4", "log/x.log", "true"], "put JOB in its name"),
    ],
)
def test_bad_usage(tmp_path, args, message):
    result = run_pl(tmp_path, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Usage:" in result.stderr
    assert not (tmp_path / "log").exists()


def test_perl_syntax_check():
    result = subprocess.run(
        ["perl", "-c", str(RUN_PL)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
