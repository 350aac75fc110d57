"""How fast a network runs here, and why.

- ``analysis.speed.machine``: this machine's measured peaks and bandwidths
  (``analysis.speed.cpu``: what the CPU says of itself and its theoretical
  peaks; ``analysis.speed.kernels``: the bf16 and int8 matrix products).
- ``analysis.speed.runtimes``: the runtimes (keras, xla, litert, torch,
  openvino, onnxruntime), each made ready to run one batch at a precision.
- ``analysis.speed.conversions``: the deployable copies those runtimes run
  (.tflite, OpenVINO IR, ONNX), quantized to int8 by each runtime's own
  tool, cached per variant, precision and calibration set.
- ``analysis.speed.latency``: timing (medians of repeats, interleaved rounds).
- ``analysis.speed.roofline``: per-layer roofline bounds.
- ``analysis.speed.latency_fit``: a network's time predicted from its bounds.
- ``analysis.speed.study``: the latency study that measures and validates a fit.
- ``analysis.speed.deployment``: both networks per runtime and precision,
  against the MAC ratio and each precision's roofline bound.
- ``analysis.speed.tables``: the tables notebook 04 shows (speed ratios,
  roofline grades).
"""

import importlib.util

from nets import checks  # TF-free

# Names only, here so that the command line can check them before TensorFlow loads.
RUNTIMES = ("keras", "xla", "litert", "torch", "openvino", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "int8")
# What each runtime offers on a CPU. int8 is post-training static quantization by the
# runtime's own tool; bf16 is OpenVINO's inference precision hint (ONNX Runtime's CPU
# provider and LiteRT's XNNPACK have no bf16 path on x86).
RUNTIME_PRECISIONS = {
    "keras": ("fp32",),
    "xla": ("fp32",),
    "litert": ("fp32", "int8"),
    "torch": ("fp32",),
    "openvino": ("fp32", "bf16", "int8"),
    "onnxruntime": ("fp32", "int8"),
}
# The runtimes that run a converted copy (keras, xla and torch run the Keras network itself).
DEPLOYED_RUNTIMES = ("litert", "openvino", "onnxruntime")

# The packages each runtime imports (the ONNX export runs on Keras' PyTorch backend).
RUNTIME_PACKAGES = {
    "keras": ("tensorflow",),
    "xla": ("tensorflow",),
    "litert": ("tensorflow", "ai_edge_litert"),
    "torch": ("torch",),
    "openvino": ("tensorflow", "openvino", "nncf"),
    "onnxruntime": ("tensorflow", "onnxruntime", "onnx", "torch"),
}


class RuntimeUnavailable(checks.BadInput):
    """A runtime that cannot run here (its package or Keras backend is missing)."""


def check_installed(runtime):
    """Raise ``BadInput`` naming the missing package where ``runtime`` cannot be imported here.
    Looks the packages up without importing them, so it answers at once."""
    for package in RUNTIME_PACKAGES[checks.one_of("runtime", runtime, RUNTIMES)]:
        if importlib.util.find_spec(package) is None:
            raise RuntimeUnavailable(f"Runtime {runtime!r} needs the package {package!r}, which is not installed "
                                  f"(pip install {package.replace('_', '-')})")
    return runtime


def check_precision(runtime, precision):
    """Raise ``BadInput`` for an unknown precision or one that ``runtime`` does not offer."""
    checks.one_of("precision", precision, PRECISIONS)
    checks.one_of("runtime", runtime, RUNTIMES)
    offered = RUNTIME_PRECISIONS[runtime]
    if precision not in offered:
        raise checks.BadInput(f"Runtime {runtime!r} does not offer {precision} (it offers {', '.join(offered)}). "
                              f"Received runtime={runtime!r}, precision={precision!r}")
    return precision


def runtime_precision_pairs(runtimes, precisions):
    """The (runtime, precision) pairs to time: each runtime at each asked precision it offers.

    Raises ``BadInput`` where a runtime offers none of the precisions asked, or a precision is
    offered by none of the runtimes asked (the message says what each offers).
    """
    precisions = [checks.one_of("precision", p, PRECISIONS) for p in precisions]
    runtimes = [checks.one_of("runtime", r, RUNTIMES) for r in runtimes]
    pairs = [(r, p) for r in runtimes for p in precisions if p in RUNTIME_PRECISIONS[r]]
    for runtime in runtimes:
        if not any(r == runtime for r, _ in pairs):
            check_precision(runtime, precisions[0])
    for precision in precisions:
        if not any(p == precision for _, p in pairs):
            check_precision(runtimes[0], precision)
    return pairs


def deployment_pairs(precisions):
    """The (runtime, precision) pairs that deploy each of ``precisions`` on a converted copy:
    every runtime of ``DEPLOYED_RUNTIMES`` that offers it (bad input where none does)."""
    precisions = [checks.one_of("precision", p, PRECISIONS) for p in precisions]
    offering = [r for r in DEPLOYED_RUNTIMES if any(p in RUNTIME_PRECISIONS[r] for p in precisions)]
    return runtime_precision_pairs(offering or DEPLOYED_RUNTIMES, precisions)


def configuration(runtime, precision="fp32"):
    """The name of a runtime at a precision, as tables and figures show it: ``litert`` (fp32)
    or ``litert int8``."""
    return runtime if precision == "fp32" else f"{runtime} {precision}"
