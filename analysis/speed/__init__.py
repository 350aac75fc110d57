"""How fast a network runs here, and why.

- ``analysis.speed.machine``: this machine's measured peak and bandwidths.
- ``analysis.speed.runtimes``: the runtimes (keras, xla, litert, torch),
  each made ready to run one batch; LiteRT conversions cached per variant.
- ``analysis.speed.latency``: timing (medians of repeats, interleaved rounds).
- ``analysis.speed.roofline``: per-layer roofline bounds.
- ``analysis.speed.latency_fit``: a network's time predicted from its bounds.
- ``analysis.speed.study``: the latency study that measures and validates a fit.
"""

# The runtime names, here so that the command line can check them before TensorFlow loads.
RUNTIMES = ("keras", "xla", "litert", "torch")
