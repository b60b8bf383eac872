"""User-facing errors.

Anything a user can cause (a bad data dir, unreadable audio, a misspelt config
key, an unknown model name) raises a `UserError` whose message names the file,
line or utterance.  Command-line entry points print it without a traceback.
"""

import functools
import sys
from pathlib import Path


class UserError(ValueError):
    """A mistake in the user's input; the message says what and where."""


def cli_main(func):
    """Decorate a CLI ``main``: print `UserError` as ``prog: error: msg`` and exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except UserError as e:
            prog = Path(sys.argv[0]).stem if func.__module__ == "__main__" else func.__module__.rsplit(".", 1)[-1]
            print(f"{prog}: error: {e}", file=sys.stderr)
            sys.exit(1)

    return wrapper
