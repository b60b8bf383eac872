"""egs2/TEMPLATE (setup.sh, path.sh, cmd.sh, db.sh) and the tools/ stamp."""

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bash(script, cwd, **env):
    return subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env})


def make_tree(tmp_path):
    """A repo-shaped tree: our egs2/TEMPLATE copy, utils/ and tools/ linked to the real ones."""
    shutil.copytree(ROOT / "egs2" / "TEMPLATE", tmp_path / "egs2" / "TEMPLATE", symlinks=True)
    (tmp_path / "utils").symlink_to(ROOT / "utils")
    (tmp_path / "tools").symlink_to(ROOT / "tools")
    return tmp_path


def test_setup_sh_scaffolds_a_recipe(tmp_path):
    tree = make_tree(tmp_path)
    task = tree / "egs2" / "TEMPLATE" / "xyz1"
    task.mkdir()
    (task / "xyz.sh").write_text("#!/usr/bin/env bash\necho stage script\n")
    (task / "xyz.sh").chmod(0o755)
    res = bash("egs2/TEMPLATE/setup.sh egs2/mycorpus/xyz1", tree)
    assert res.returncode == 0, res.stderr
    recipe = tree / "egs2" / "mycorpus" / "xyz1"
    stage_scripts = {p.name for p in (tree / "egs2" / "TEMPLATE").glob("*1/*.sh")}
    assert "xyz.sh" in stage_scripts and "asr.sh" in stage_scripts
    assert {p.name for p in recipe.iterdir()} == {
        "cmd.sh", "path.sh", "db.sh", "utils", "conf", "local", *stage_scripts}
    assert os.readlink(recipe / "utils") == "../../../utils"
    assert os.readlink(recipe / "db.sh") == "../../TEMPLATE/db.sh"
    assert os.readlink(recipe / "xyz.sh") == "../../TEMPLATE/xyz1/xyz.sh"
    assert (recipe / "utils" / "parse_options.sh").is_file()
    assert bash("./xyz.sh", recipe).stdout == "stage script\n"
    again = bash("egs2/TEMPLATE/setup.sh egs2/mycorpus/xyz1", tree)
    assert again.returncode == 1 and "already exists" in again.stderr
    deep = bash("egs2/TEMPLATE/setup.sh egs2/a/b/c1", tree)
    assert deep.returncode == 1 and "two levels below" in deep.stderr
    assert not (tree / "egs2" / "a" / "b" / "c1").exists()


def test_path_sh_activates_tools_venv_and_utils(tmp_path):
    tree = make_tree(tmp_path)
    assert bash("egs2/TEMPLATE/setup.sh egs2/c/asr1", tree).returncode == 0
    res = bash(". ./path.sh && command -v run.pl && python -c 'import ssltk, sys; print(sys.prefix)'"
               " && echo $LC_ALL", tree / "egs2" / "c" / "asr1")
    assert res.returncode == 0, res.stderr
    run_pl, prefix, lc_all = res.stdout.split()
    assert run_pl == f"{tree}/utils/run.pl"
    assert Path(prefix).resolve() == (ROOT / "tools" / "venv").resolve()
    assert lc_all == "C"


def test_cmd_sh_backends(tmp_path):
    template = ROOT / "egs2" / "TEMPLATE"
    res = bash(". ./cmd.sh && echo $train_cmd $cuda_cmd $decode_cmd", template)
    assert res.stdout.split() == ["run.pl"] * 3
    res = bash(". ./cmd.sh", template, cmd_backend="pbs")
    assert res.returncode == 1 and "unknown cmd_backend 'pbs'" in res.stderr


def test_db_sh_variables_are_overridable(tmp_path):
    recipe = tmp_path / "egs2" / "c" / "asr1"
    recipe.mkdir(parents=True)
    shutil.copy(ROOT / "egs2" / "TEMPLATE" / "db.sh", recipe)
    res = bash(". ./db.sh && echo $FSDD", recipe)
    assert res.stdout.strip() == f"{tmp_path.parent}/shared/data/fsdd"  # beside the clone
    res = bash(". ./db.sh && echo $FSDD $SLURP", recipe, FSDD="/corpora/fsdd", SLURP="/c/slurp")
    assert res.stdout.split() == ["/corpora/fsdd", "/c/slurp"]


def test_tools_stamp_is_keyed_to_requirements(tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    shutil.copy(ROOT / "tools" / "Makefile", tools)
    shutil.copy(ROOT / "tools" / "requirements.txt", tools)
    (tmp_path / "setup.py").write_text("# setup\n")
    stamp = bash("make -s show-stamp", tools).stdout.strip()
    (tools / "venv").mkdir()
    (tools / stamp).touch()
    assert bash("make -q", tools).returncode == 0  # up to date: nothing to do
    with open(tools / "requirements.txt", "a") as f:
        f.write("extra-package==1.0\n")
    assert bash("make -s show-stamp", tools).stdout.strip() != stamp
    assert bash("make -q", tools).returncode == 1  # a changed pin means a reinstall


def test_real_tools_venv_is_up_to_date():
    assert bash("make -q", ROOT / "tools").returncode == 0
