"""Keras, imported with TensorFlow's start-up log silenced by TensorFlow's own setting.

``from nets.backend import keras`` is how the suite loads Keras. Unless the
user set it, ``TF_CPP_MIN_LOG_LEVEL`` is 3 (errors only) before TensorFlow
loads, which silences its start-up lines. Standard error is never
redirected, so a native crash still prints its message.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402  (after the log level; loads the backend, TensorFlow by default)

__all__ = ["keras"]
