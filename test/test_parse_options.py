"""Tests for utils/parse_options.sh, sourced by small bash scripts."""

import subprocess
from pathlib import Path

import pytest

PARSE_OPTIONS = Path(__file__).resolve().parents[1] / "utils" / "parse_options.sh"

# A caller in the usual style: strict mode, declared defaults, then sourcing.
CALLER = """\
#!/usr/bin/env bash
set -euo pipefail
foo_bar=3
use_gpu=false
name="default name"
empty=
{extra}
. "{parse_options}"
echo "foo_bar=[$foo_bar]"
echo "use_gpu=[$use_gpu]"
echo "name=[$name]"
echo "empty=[$empty]"
echo "nargs=$#"
for a in "$@"; do echo "arg=[$a]"; done
"""


def run_caller(tmp_path, *args, extra='help_message="Usage: caller.sh [options] <in>"'):
    script = tmp_path / "caller.sh"
    script.write_text(CALLER.format(extra=extra, parse_options=PARSE_OPTIONS))
    return subprocess.run(
        ["bash", str(script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


def parsed(result):
    """The caller's output as a dict of settings plus the list of its args."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    values, args = {}, []
    for line in result.stdout.splitlines():
        key, _, rest = line.partition("=")
        if key == "arg":
            args.append(rest[1:-1])
        elif key == "nargs":
            values[key] = int(rest)
        else:
            values[key] = rest[1:-1]
    assert values.pop("nargs") == len(args)
    return values, args


def assert_error(result, *fragments):
    """Exit 1 with an error naming every fragment, before the body ran."""
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("parse_options.sh: ")
    for fragment in fragments:
        assert fragment in result.stderr


def write_config(tmp_path, text, name="my.conf"):
    path = tmp_path / name
    path.write_text(text)
    return name


# --- plain options ---------------------------------------------------------


def test_defaults_kept_without_options(tmp_path):
    values, args = parsed(run_caller(tmp_path))
    assert values == {
        "foo_bar": "3",
        "use_gpu": "false",
        "name": "default name",
        "empty": "",
    }
    assert args == []


@pytest.mark.parametrize(
    "opts",
    [
        ["--foo-bar", "5"],
        ["--foo_bar", "5"],
        ["--foo-bar=5"],
        ["--foo_bar=5"],
    ],
)
def test_option_forms_set_variable(tmp_path, opts):
    values, args = parsed(run_caller(tmp_path, *opts))
    assert values["foo_bar"] == "5"
    assert values["use_gpu"] == "false"
    assert args == []


def test_values_are_kept_verbatim(tmp_path):
    values, _ = parsed(
        run_caller(
            tmp_path,
            "--name", "two  words $HOME *",
            "--foo-bar=a=b",
            "--empty", "--not-an-option",
        )
    )
    assert values["name"] == "two  words $HOME *"
    assert values["foo_bar"] == "a=b"
    assert values["empty"] == "--not-an-option"


def test_empty_value(tmp_path):
    values, _ = parsed(run_caller(tmp_path, "--name=", "--foo-bar", ""))
    assert values["name"] == ""
    assert values["foo_bar"] == ""


def test_variable_with_empty_default_is_an_option(tmp_path):
    values, _ = parsed(run_caller(tmp_path, "--empty", "x"))
    assert values["empty"] == "x"


def test_last_occurrence_wins(tmp_path):
    values, _ = parsed(run_caller(tmp_path, "--foo-bar", "1", "--foo-bar=2"))
    assert values["foo_bar"] == "2"


def test_positional_args_remain(tmp_path):
    values, args = parsed(
        run_caller(tmp_path, "--foo-bar", "5", "in dir", "out", "--use-gpu", "true")
    )
    assert values["foo_bar"] == "5"
    # Parsing stops at the first non-option: later --options are arguments.
    assert values["use_gpu"] == "false"
    assert args == ["in dir", "out", "--use-gpu", "true"]


def test_double_dash_ends_options(tmp_path):
    values, args = parsed(run_caller(tmp_path, "--foo-bar", "5", "--", "--name", "x"))
    assert values["foo_bar"] == "5"
    assert values["name"] == "default name"
    assert args == ["--name", "x"]


def test_single_dash_args_are_positional(tmp_path):
    _, args = parsed(run_caller(tmp_path, "-", "-x"))
    assert args == ["-", "-x"]


# --- errors ----------------------------------------------------------------


def test_unknown_option(tmp_path):
    result = run_caller(tmp_path, "--unknown-opt", "x", "arg")
    assert_error(result, "unknown option --unknown-opt")


def test_unknown_option_equals_form(tmp_path):
    assert_error(run_caller(tmp_path, "--unknown-opt=x"), "--unknown-opt")


def test_unknown_option_without_value_is_named(tmp_path):
    assert_error(run_caller(tmp_path, "--unknown-opt"), "unknown option --unknown-opt")


@pytest.mark.parametrize("opt", ["--foo.bar", "--9lives", "--=x", "--_po_names"])
def test_invalid_option_names(tmp_path, opt):
    # Not a shell variable name, or one of parse_options.sh's own variables.
    assert_error(run_caller(tmp_path, opt, "1"), f"unknown option {opt.split('=')[0]}")


@pytest.mark.parametrize("value", ["true", "false"])
def test_boolean_accepts_true_false(tmp_path, value):
    values, _ = parsed(run_caller(tmp_path, "--use-gpu", value))
    assert values["use_gpu"] == value


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_boolean_rejects_other_values(tmp_path, value):
    result = run_caller(tmp_path, "--use-gpu", value)
    assert_error(result, "--use-gpu", f"'{value}'")


def test_boolean_rejects_equals_form(tmp_path):
    assert_error(run_caller(tmp_path, "--use_gpu=yes"), "--use_gpu", "'yes'")


def test_non_boolean_takes_any_value(tmp_path):
    values, _ = parsed(run_caller(tmp_path, "--foo-bar", "yes"))
    assert values["foo_bar"] == "yes"


def test_missing_value(tmp_path):
    result = run_caller(tmp_path, "--name", "x", "--foo-bar")
    assert_error(result, "--foo-bar", "needs a value")


def test_missing_config_value(tmp_path):
    assert_error(run_caller(tmp_path, "--config"), "--config", "needs a value")


def test_nothing_assigned_when_a_later_option_fails(tmp_path):
    script = tmp_path / "partial.sh"
    script.write_text(
        f"""\
foo_bar=3
trap 'echo "foo_bar=$foo_bar"' EXIT
. "{PARSE_OPTIONS}"
"""
    )
    result = subprocess.run(
        ["bash", str(script), "--foo-bar", "9", "--bogus", "1"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout == "foo_bar=3\n"


# --- config files ----------------------------------------------------------


def test_config_applies(tmp_path):
    conf = write_config(
        tmp_path,
        "# a comment\n"
        "\n"
        "foo_bar=7\n"
        "  use_gpu=true   # trailing comment\n"
        'name="from config"\n'
        "empty='single $quoted'\n",
    )
    values, args = parsed(run_caller(tmp_path, "--config", conf, "pos"))
    assert values == {
        "foo_bar": "7",
        "use_gpu": "true",
        "name": "from config",
        "empty": "single $quoted",
    }
    assert args == ["pos"]


def test_config_equals_form_and_missing_final_newline(tmp_path):
    conf = write_config(tmp_path, "foo_bar=8\nname=last")
    values, _ = parsed(run_caller(tmp_path, f"--config={conf}"))
    assert values["foo_bar"] == "8"
    assert values["name"] == "last"


def test_command_line_overrides_config(tmp_path):
    conf = write_config(tmp_path, "foo_bar=7\nname=conf\n")
    values, _ = parsed(run_caller(tmp_path, "--config", conf, "--foo-bar", "9"))
    assert values["foo_bar"] == "9"
    assert values["name"] == "conf"


def test_command_line_before_config_still_wins(tmp_path):
    # Config files are applied first, whatever their position.
    conf = write_config(tmp_path, "foo_bar=7\n")
    values, _ = parsed(run_caller(tmp_path, "--foo-bar", "9", "--config", conf))
    assert values["foo_bar"] == "9"


def test_several_configs_apply_in_order(tmp_path):
    first = write_config(tmp_path, "foo_bar=1\nname=first\n", "a.conf")
    second = write_config(tmp_path, "foo_bar=2\n", "b.conf")
    values, _ = parsed(run_caller(tmp_path, "--config", first, "--config", second))
    assert values["foo_bar"] == "2"
    assert values["name"] == "first"


def test_config_with_undeclared_key(tmp_path):
    conf = write_config(tmp_path, "foo_bar=1\nbogus_key=2\n", "bad.conf")
    result = run_caller(tmp_path, "--config", conf)
    assert_error(result, "bogus_key", "bad.conf", "line 2")


def test_missing_config_file(tmp_path):
    result = run_caller(tmp_path, "--config", "conf/nowhere.conf")
    assert_error(result, "conf/nowhere.conf", "not found")


def test_config_boolean_validated(tmp_path):
    conf = write_config(tmp_path, "use_gpu=yes\n")
    assert_error(run_caller(tmp_path, "--config", conf), "use_gpu", "'yes'", conf)


def test_config_line_without_assignment(tmp_path):
    conf = write_config(tmp_path, "foo_bar=1\necho hello\n")
    assert_error(run_caller(tmp_path, "--config", conf), conf, "line 2", "echo hello")


@pytest.mark.parametrize(
    "line",
    [
        "name=$(touch pwned)",
        "name=`touch pwned`",
        'name="$(touch pwned)"',
        "name=$HOME",
        "name=a;touch pwned",
        "name=two words",
        "name=~/x",
    ],
)
def test_config_is_not_executed(tmp_path, line):
    # Values that bash would expand or run are refused, never evaluated.
    conf = write_config(tmp_path, line + "\n")
    assert_error(run_caller(tmp_path, "--config", conf), conf, "name")
    assert not (tmp_path / "pwned").exists()


def test_config_rejects_internal_names(tmp_path):
    conf = write_config(tmp_path, "_po_names=x\n")
    assert_error(run_caller(tmp_path, "--config", conf), "_po_names", conf)


# --- help ------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_message_and_exits_zero(tmp_path, flag):
    result = run_caller(tmp_path, "--foo-bar", "5", flag, "--unknown-later")
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == "Usage: caller.sh [options] <in>\n"


def test_help_without_help_message(tmp_path):
    result = run_caller(tmp_path, "--help", extra="")
    assert result.returncode == 0
    assert result.stdout == ""
    assert "Usage:" in result.stderr
    assert "caller.sh" in result.stderr


def test_help_after_positional_is_an_argument(tmp_path):
    _, args = parsed(run_caller(tmp_path, "in", "--help"))
    assert args == ["in", "--help"]


# --- the caller's shell is left as it was -----------------------------------


def test_no_helpers_leak_and_strict_mode_kept(tmp_path):
    conf = write_config(tmp_path, "foo_bar=1\n")
    extra = "set -o | grep -E '^(errexit|nounset|pipefail) ' > before.txt"
    script = tmp_path / "leak.sh"
    script.write_text(
        f"""\
#!/usr/bin/env bash
set -euo pipefail
foo_bar=3
{extra}
. "{PARSE_OPTIONS}"
set -o | grep -E '^(errexit|nounset|pipefail) ' > after.txt
compgen -v | grep '^_po_' || echo "no variables"
declare -F | grep '_po_' || echo "no functions"
"""
    )
    result = subprocess.run(
        ["bash", str(script), "--config", conf, "--foo-bar", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "no variables\nno functions\n"
    before = (tmp_path / "before.txt").read_text()
    assert before == (tmp_path / "after.txt").read_text()
    assert [line.split()[-1] for line in before.splitlines()] == ["on"] * 3


def test_works_without_strict_mode_and_inside_function(tmp_path):
    script = tmp_path / "func.sh"
    script.write_text(
        f"""\
main() {{
  local nj=4
  . "{PARSE_OPTIONS}"
  echo "nj=$nj args=$*"
}}
main "$@"
"""
    )
    result = subprocess.run(
        ["bash", str(script), "--nj", "8", "a", "b"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "nj=8 args=a b\n"


def test_syntax_check():
    result = subprocess.run(
        ["bash", "-n", str(PARSE_OPTIONS)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
