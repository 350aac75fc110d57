"""Analysis of the networks in ``nets``: costs, cross-checks, latency, training, figures.

``analysis`` never defines a network; it builds them through ``nets`` (see
``analysis.variants``). The command line (``python -m analysis``) and the
notebooks call the same functions. Submodules load on first use, so the
command line answers bad arguments before TensorFlow starts.
"""

import importlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_EXPORTS = {"layer_table": "analysis.cost", "summarize": "analysis.cost", "MAC_CONVENTION": "analysis.cost"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
