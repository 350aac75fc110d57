"""Analysis of the networks in ``nets``: what they cost, how fast they run, what accuracy they buy.

``analysis`` never defines a network; it builds them through ``nets`` from a
``analysis.variants.Variant``, the one value that names a network variant.
Subpackages follow the story:

- ``analysis.cost``: per-layer parameters, MACs and memory, the separable
  convolution's closed form, the published figures, the cross-check against
  fvcore and the TensorFlow profiler;
- ``analysis.speed``: the machine, the runtimes, latency, roofline bounds and
  a latency fit;
- ``analysis.accuracy``: datasets, training and accuracy against cost;
- ``analysis.plots``: the figures; ``analysis.report``: the report.

The command line (``python -m analysis``, ``analysis.cli``) and the
notebooks call the same functions. The command line answers bad arguments
before TensorFlow loads: ``analysis``, ``analysis.variants`` and
``analysis.cli`` import neither Keras nor TensorFlow. Errors follow the
taxonomy of ``nets.errors``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
