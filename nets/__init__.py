"""The two networks, defined as the source notes do.

``nets`` knows nothing of ``analysis``: it only builds Keras 3 models (with
``keras`` and ``keras.ops``, never ``tf.*``) and loads weight files into them.
"""

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence native-code stderr while TensorFlow loads, if TF_CPP_MIN_LOG_LEVEL asks for quiet.

    TensorFlow 2.21 logs through absl before absl is initialised, which
    ignores TF_CPP_MIN_LOG_LEVEL; without this its start-up lines would
    precede every one-line error of the command line.
    """
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


with _quiet_native_stderr():
    import keras  # noqa: F401  (loads the backend, TensorFlow by default)

from nets.mobilenet import mobilenet  # noqa: E402
from nets.vgg import vgg16  # noqa: E402
from nets.weights import WeightFileError, load_weights  # noqa: E402

MODEL_BUILDERS = {"vgg16": vgg16, "mobilenet": mobilenet}

__all__ = ["MODEL_BUILDERS", "WeightFileError", "load_weights", "mobilenet", "vgg16"]
