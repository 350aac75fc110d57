"""The two networks, defined as the source notes do.

``nets`` knows nothing of ``analysis``: it builds Keras 3 models (with
``keras`` and ``keras.ops``, never ``tf.*``) and loads weight files into them.
``nets.checks`` holds the argument checks of the whole suite.

The builders load on first use, so ``import nets.checks`` (which the
command line needs to answer bad input) does not start TensorFlow.
"""

import importlib

_EXPORTS = {
    "vgg16": "nets.vgg",
    "mobilenet": "nets.mobilenet_v1",
    "load_weights": "nets.weights",
    "WeightFileError": "nets.weights",
}
NETWORK_NAMES = ("vgg16", "mobilenet")
__all__ = ["NETWORK_NAMES", *sorted(_EXPORTS)]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nets' has no attribute {name!r}")
