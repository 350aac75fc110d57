"""The suite's error taxonomy, one home for ``nets`` and ``analysis`` alike.

- ``BadInput`` (a ``ValueError``): input the user can correct. Exit status 2,
  one line naming the argument and the value received.
- ``Failed``: valid input whose work failed (a converter refused a layer, a
  worker died). Exit status 1, one line naming what and where.
- ``Unavailable``: this environment cannot do it (a missing package, a
  precision the CPU lacks, a folder locked by another run). Exit status 1,
  one line saying what to do.
- Anything else is a bug: exit status 1, one line, the traceback on request.

``report(error, prefix)`` prints that line and returns the exit status, for
the command line and for training workers alike. Pure Python.
"""

import sys
import traceback


class SuiteError(Exception):
    """An expected error: printed as one line; ``exit_status`` is the process's exit status."""

    exit_status = 1


class BadInput(SuiteError, ValueError):
    """Input the user can correct: an unknown name, a value out of range, a missing file."""

    exit_status = 2


class MissingFile(BadInput, FileNotFoundError):
    """A file the user named that does not exist."""


class Failed(SuiteError, RuntimeError):
    """Valid input whose work failed; the message names what failed and where."""


class Unavailable(SuiteError, RuntimeError):
    """Something this environment cannot do; the message says what to do instead."""


def first_line(error):
    """The first line of ``error``'s message (its class name where it has none)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def report(error, prefix, debug=False, stream=None, debug_flag="--debug"):
    """Print ``error`` as one line on ``stream`` (default stderr); return its exit status.

    A ``SuiteError`` prints ``PREFIX: error: MESSAGE`` (the message alone where ``prefix`` is
    empty); anything else is reported as a bug, with the traceback where ``debug`` is set.
    """
    stream = sys.stderr if stream is None else stream
    if debug:
        traceback.print_exception(error, file=stream)
    if isinstance(error, SuiteError):
        message = first_line(error)
        print(message if not prefix or message.startswith(prefix) else f"{prefix}: error: {message}",
              file=stream, flush=True)
        return error.exit_status
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    hint = "" if debug else f"; rerun with {debug_flag} for the traceback"
    print(f"{prefix + ': ' if prefix else ''}bug: {type(error).__name__}: {detail} (a bug in the suite, not in your input{hint})",
          file=stream, flush=True)
    return 1
