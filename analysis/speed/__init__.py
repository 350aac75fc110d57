"""How fast a network runs here, and why.

- ``analysis.speed.runtimes``: the registry of runtimes (keras, xla, litert,
  torch, openvino, onnxruntime), one module each, and ``Configuration``, a
  runtime at a precision.
- ``analysis.speed.conversions``: the deployable copies those runtimes run,
  quantized to int8 by each runtime's own tool, cached.
- ``analysis.speed.harness``: a network made ready to run one batch.
- ``analysis.speed.latency``: timing (medians of repeats, interleaved rounds).
- ``analysis.speed.machine``: this machine's measured peaks and bandwidths
  (``cpu``: what the CPU says of itself; ``kernels``: the bf16 and int8
  matrix products).
- ``analysis.speed.roofline``: per-layer roofline bounds.
- ``analysis.speed.latency_fit``: a network's time predicted from its bounds;
  ``study``: the latency study that measures and validates it; ``predict``:
  the fit applied to any network.
- ``analysis.speed.deployment``: both networks per runtime and precision.
- ``analysis.speed.tables``, ``story``: the tables and summaries notebook 04 shows.
"""
