"""The runtimes a network is timed on, each made ready to run one batch.

- ``keras``: ``model(x, training=False)`` inside a ``tf.function`` (not
  ``predict``, whose per-call overhead dominates small models).
- ``xla``: the same with ``jit_compile=True``.
- ``litert``: the variant converted to a .tflite flatbuffer and run by the
  LiteRT interpreter with XNNPACK and an explicit ``num_threads``.
- ``torch``: Keras 3 on its PyTorch backend (``KERAS_BACKEND=torch``), on the
  GPU where PyTorch sees one; for machines without TensorFlow.
- ``openvino``: the variant converted to OpenVINO IR, compiled for the CPU
  with the latency hint, an explicit thread count and an explicit
  inference precision hint (f32 or bf16; int8 copies run their quantized
  operations in int8 and the rest in f32).
- ``onnxruntime``: the variant exported to ONNX and run by an
  ``InferenceSession`` on the CPU execution provider, with
  ``intra_op_num_threads`` set.

Converted copies (and their int8 quantizations) come from
``analysis.speed.conversions``, cached under ``reports/cache/``.

A process runs Keras on one backend, and a machine may have only that one
(the GPU machines have PyTorch and no TensorFlow): TensorFlow, PyTorch and
LiteRT are each optional here, and ``check_runtime`` says which is missing.
"""


import numpy as np

from nets.errors import BadInput
from analysis.speed import RuntimeUnavailable, check_installed, check_precision, conversions
from analysis.speed.machine import bf16_supported, core_count
from analysis.versions import installed_version
from nets import checks
from nets.backend import keras, quiet_native_stderr

# After Keras (nets.backend), so that TensorFlow starts quietly.
try:
    import tensorflow as tf
except ImportError:  # Keras on PyTorch alone
    tf = None
try:
    import torch
except ImportError:  # Keras on TensorFlow alone
    torch = None
try:
    from ai_edge_litert.interpreter import Interpreter
except ImportError:  # no LiteRT: check_runtime reports it
    Interpreter = None
try:
    import openvino
except ImportError:
    openvino = None
try:
    import onnxruntime
except ImportError:
    onnxruntime = None

_RUNTIME_BACKENDS = {"keras": "tensorflow", "xla": "tensorflow", "litert": "tensorflow", "torch": "torch",
                     "openvino": "tensorflow", "onnxruntime": "tensorflow"}
_DISTRIBUTIONS = {"keras": "tensorflow-cpu", "xla": "tensorflow-cpu", "litert": "ai-edge-litert", "torch": "torch",
                  "openvino": "openvino", "onnxruntime": "onnxruntime"}


def check_runtime(runtime):
    """Raise a clear error for an unknown runtime or one whose package or backend is missing."""
    check_installed(runtime)
    backend = keras.backend.backend()
    if backend != _RUNTIME_BACKENDS[runtime]:
        raise RuntimeUnavailable(
            f"Runtime {runtime!r} needs Keras on the {_RUNTIME_BACKENDS[runtime]} backend; "
            f"this process runs Keras on {backend!r} (set KERAS_BACKEND before starting Python)")


def runtime_version(runtime):
    """The runtime's package and version, e.g. ``ai-edge-litert 2.3.0``."""
    name, version = installed_version(_DISTRIBUTIONS[runtime])
    return f"{name} {version}" if version else "unknown"


def configure_threads(threads):
    """Ask TensorFlow and PyTorch for ``threads`` intra-op threads; return what is in force.

    TensorFlow accepts this only before its runtime starts (before the first
    model is built): call it first. ``None`` keeps the default (all cores).
    """
    if threads is None:
        return core_count()
    threads = checks.positive_int("threads", threads)
    if keras.backend.backend() == "tensorflow":
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            current = tf.config.threading.get_intra_op_parallelism_threads() or core_count()
            if current != threads:
                raise BadInput(
                    f"TensorFlow already runs with {current} threads; set threads before building a model "
                    f"(in a fresh process). Received threads={threads}") from None
    else:
        torch.set_num_threads(threads)
    return threads


def input_batch(model, batch, seed=0):
    """A batch of ``batch`` random images in [0, 1) of ``model``'s input shape (float32)."""
    shape = (batch,) + tuple(int(d) for d in model.input_shape[1:])
    return np.random.default_rng(seed).uniform(0, 1, shape).astype("float32")


class PrecisionUnsupported(Exception):
    """A precision that the runtime offers but this machine cannot run (bf16 without CPU support)."""


def prepare(variant, runtime, batch, threads, model=None, precision="fp32", calibration=None):
    """Return (call, device): ``call()`` runs one synchronised batch of ``variant`` on ``runtime``
    at ``precision``.

    ``model`` is the variant's built ``keras.Model``, if the caller has one (else it is built);
    its weights are the ones converted. ``calibration``: the int8 calibration set (default: the
    digits resized to the variant's input, ``conversions.calibration_set``).

    Raises:
        PrecisionUnsupported: bf16 on a CPU without bf16 instructions.
    """
    check_runtime(runtime)
    check_precision(runtime, precision)
    if precision == "bf16" and not bf16_supported():
        raise PrecisionUnsupported("bf16 is not supported by this CPU (no avx512_bf16 or amx_bf16)")
    model = variant.build() if model is None else model
    x = input_batch(model, batch)
    if runtime in ("keras", "xla"):
        function = tf.function(lambda t: model(t, training=False), jit_compile=runtime == "xla")
        tensor = tf.constant(x)
        return (lambda: function(tensor).numpy()), "cpu"
    if runtime == "torch":
        return _torch_call(model, x)
    path = conversions.converted(variant, runtime, precision, model, batch=batch, calibration=calibration)
    run = deployed_runner(runtime, path, x.shape, threads, precision)
    return (lambda: run(x)), "cpu"


def litert_runner(path, shape, threads):
    """``run(x)``: the batch ``x`` (of ``shape``) through the .tflite at ``path`` with LiteRT."""
    with quiet_native_stderr():  # LiteRT announces its XNNPACK delegate on stderr
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(shape))
    interpreter.allocate_tensors()
    output = interpreter.get_output_details()[0]["index"]

    def run(x):
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return interpreter.get_tensor(output)

    return run


def openvino_runner(path, shape, threads, precision):
    """``run(x)``: the batch ``x`` through the OpenVINO IR at ``path``, compiled for the CPU with
    the latency hint, ``threads`` threads and the inference precision of ``precision`` (f32 for
    int8's unquantized operations)."""
    core = openvino.Core()
    ir = core.read_model(str(path))
    ir.reshape({ir.inputs[0].any_name: list(shape)})
    compiled = core.compile_model(ir, "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"})
    request = compiled.create_infer_request()
    return lambda x: request.infer({0: x})[0]


def onnxruntime_runner(path, shape, threads):
    """``run(x)``: the batch ``x`` through the ONNX model at ``path`` on ONNX Runtime's CPU provider."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def deployed_runner(runtime, path, shape, threads, precision):
    """``run(x)`` for a converted copy at ``path`` on ``runtime`` (litert, openvino or onnxruntime)."""
    if runtime == "litert":
        return litert_runner(path, shape, threads)
    if runtime == "openvino":
        return openvino_runner(path, shape, threads, precision)
    return onnxruntime_runner(path, shape, threads)


def _torch_call(model, x):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tensor = keras.ops.convert_to_tensor(x)

    def call():
        with torch.inference_mode():
            out = model(tensor, training=False)
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return call, torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
