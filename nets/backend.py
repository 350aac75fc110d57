"""Keras, imported with TensorFlow's start-up log silenced by TensorFlow's own setting.

``from nets.backend import keras`` is how the suite loads Keras. Unless the
user set it, ``TF_CPP_MIN_LOG_LEVEL`` is 3 (errors only) before TensorFlow
loads, which silences its start-up lines. Standard error is never redirected
at import, so a native crash still prints its message.
"""

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402  (after the log level; loads the backend, TensorFlow by default)


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


__all__ = ["keras", "quiet_native_stderr"]
