"""Keras, imported with TensorFlow's start-up log silenced.

``from nets.backend import keras`` is how the suite loads Keras: TensorFlow
2.21 logs through absl before absl is initialised, which ignores
``TF_CPP_MIN_LOG_LEVEL``; without this its start-up lines would precede
every one-line error of the command line.
"""

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def quiet_native_stderr():
    """Silence native-code stderr for a block, if TF_CPP_MIN_LOG_LEVEL asks for quiet (3)."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        yield
        return
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with quiet_native_stderr():
    import keras  # noqa: E402  (loads the backend, TensorFlow by default)

__all__ = ["keras", "quiet_native_stderr"]
