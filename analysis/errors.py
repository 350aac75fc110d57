"""The suite's two kinds of expected error; anything else is a bug.

- ``BadInput`` (a ``ValueError``, from ``nets.checks``): input the user can
  correct. The command line prints one line and exits with status 2.
- ``Failed``: valid input, but the work could not be done (a converter
  refused a layer, a notebook cell failed, a worker died); its message says
  where. The command line prints one line and exits with status 1.

Pure Python: the command line imports it before TensorFlow loads.
"""

from nets.checks import BadInput, MissingFile


class Failed(RuntimeError):
    """Valid input whose work failed; the message names what failed and where."""


__all__ = ["BadInput", "Failed", "MissingFile"]
