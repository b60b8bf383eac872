"""Run an ESPnet entry point with ``frontend: ssltk`` available.

ESPnet picks a frontend by name from its task module's ``frontend_choices``
(``espnet2.train.class_choices.ClassChoices``), which takes no dotted class paths.
Importing this module adds ``ssltk`` -> `SSLTKFrontend` to the frontend choices of
every ESPnet task (``espnet2.tasks.asr``, ``slu``, ``st``, ...) as it is imported;
:func:`main` then runs the entry point as ``__main__``, like ``python`` does::

    python -m ssltk.espnet.run espnet2.bin.asr_train --config conf/train.yaml ...
    python -m ssltk.espnet.run -m espnet2.bin.asr_inference ...   # python's spelling
    ssltk-espnet-python -m espnet2.bin.asr_train ...              # console script
    ssltk-espnet-python pyscripts/utils/score_ser.py ...          # scripts run too

The console script is a stand-in for ``python`` in ESPnet recipes: ``asr.sh
--python ssltk-espnet-python`` routes every ``${python} -m espnet2.bin.X`` call
through it (training, decoding and packing all need the name, since the model's
config.yaml says ``frontend: ssltk``).  Multi-GPU training spawns workers that
re-import the main module, i.e. this one, so they register too.
"""

from __future__ import annotations

import difflib
import importlib.machinery
import importlib.util
import os
import pkgutil
import runpy
import sys

from ssltk.errors import UserError

FRONTEND_NAME = "ssltk"
TASKS_PREFIX = "espnet2.tasks."
USAGE = "usage: python -m ssltk.espnet.run [-m] MODULE [ARGS...] | SCRIPT.py [ARGS...]"


def register(module) -> bool:
    """Add ``ssltk`` to a task module's ``frontend_choices``; False if it has none."""
    choices = getattr(module, "frontend_choices", None)
    if choices is None:
        return False
    from espnet2.asr.frontend.abs_frontend import AbsFrontend

    if getattr(choices, "base_type", None) is not AbsFrontend:  # another kind of "frontend"
        return False
    from ssltk.espnet.frontend import SSLTKFrontend

    choices.classes[FRONTEND_NAME] = SSLTKFrontend
    return True


class _RegisterOnImport:
    """Meta-path finder: lets the normal finders find ``espnet2.tasks.*`` modules and
    calls `register` on each right after it has executed."""

    def find_spec(self, name, path=None, target=None):
        if not name.startswith(TASKS_PREFIX):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            register(module)

        spec.loader.exec_module = exec_and_register  # this loader object serves this module only
        return spec


def install() -> None:
    """Register in task modules already imported and in those imported later."""
    if not any(isinstance(finder, _RegisterOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
    for name, module in list(sys.modules.items()):
        if name.startswith(TASKS_PREFIX) and module is not None:
            register(module)


def _module_spec(name: str):
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a parent package is missing, or an empty name
        spec = None
    if spec is None:
        known = ""
        if name.startswith("espnet2.bin."):
            import espnet2.bin

            entries = [m.name for m in pkgutil.iter_modules(espnet2.bin.__path__)]
            close = difflib.get_close_matches(name.rsplit(".", 1)[-1], entries, n=3)
            known = f"; did you mean {', '.join('espnet2.bin.' + c for c in close)}?" if close else ""
        raise UserError(f"unknown entry point {name!r}: no such module{known}")
    if spec.submodule_search_locations is not None:
        raise UserError(f"entry point {name!r} is a package, not a module (e.g. espnet2.bin.asr_train)")
    return spec


def main(argv: list[str] | None = None) -> None:
    """Run ``[-m] MODULE ARGS`` or ``SCRIPT.py ARGS``; a `UserError` (a bad entry point,
    or one raised by the frontend in ESPnet's run) exits 1 with its message."""
    try:
        _run(list(sys.argv[1:] if argv is None else argv))
    except UserError as err:
        sys.exit(f"ssltk.espnet.run: error: {err}")


def _run(args: list[str]) -> None:
    as_module = bool(args) and args[0] == "-m"
    if as_module:
        args = args[1:]
        if not args:
            raise UserError(f"-m needs a module name\n{USAGE}")
    elif not args or args[0].startswith("-"):
        raise UserError(f"give an ESPnet entry point, e.g. espnet2.bin.asr_train\n{USAGE}")
    target, rest = args[0], args[1:]
    install()
    if not as_module and (target.endswith(".py") or os.sep in target):
        if not os.path.isfile(target):
            raise UserError(f"script {target}: no such file")
        sys.argv = [target, *rest]
        sys.path.insert(0, os.path.dirname(os.path.abspath(target)))  # as `python SCRIPT` does
        runpy.run_path(target, run_name="__main__")
        return
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does (the console script lacks it)
    spec = _module_spec(target)
    sys.argv = [spec.origin, *rest]
    # alter_sys=False keeps this module as sys.modules["__main__"]: workers that ESPnet
    # spawns re-import it (as __mp_main__) and so register the frontend as well.
    runpy.run_module(target, run_name="__main__", alter_sys=False)


install()

if __name__ == "__main__":
    main()
