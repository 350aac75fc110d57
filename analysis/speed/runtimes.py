"""The runtimes a network is timed on, each made ready to run one batch.

- ``keras``: ``model(x, training=False)`` inside a ``tf.function`` (not
  ``predict``, whose per-call overhead dominates small models).
- ``xla``: the same with ``jit_compile=True``.
- ``litert``: the variant converted to a .tflite flatbuffer (cached under
  ``reports/cache/``, keyed on the variant) and run by the LiteRT interpreter
  with XNNPACK and an explicit ``num_threads``.
- ``torch``: Keras 3 on its PyTorch backend (``KERAS_BACKEND=torch``), on the
  GPU where PyTorch sees one; for machines without TensorFlow.

A process runs Keras on one backend, and a machine may have only that one
(the GPU machines have PyTorch and no TensorFlow): TensorFlow, PyTorch and
LiteRT are each optional here, and ``check_runtime`` says which is missing.
"""

import contextlib
import hashlib
import importlib.metadata
import io
import os
import re

import numpy as np

from analysis import atomic, paths
from analysis.errors import BadInput, Failed
from analysis.speed import RUNTIMES
from analysis.speed.machine import core_count
from nets import checks
from nets.backend import keras

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

_RUNTIME_PACKAGES = {"keras": "tensorflow", "xla": "tensorflow", "litert": "ai_edge_litert", "torch": "torch"}
_RUNTIME_BACKENDS = {"keras": "tensorflow", "xla": "tensorflow", "litert": "tensorflow", "torch": "torch"}
_DISTRIBUTIONS = {"keras": "tensorflow-cpu", "xla": "tensorflow-cpu", "litert": "ai-edge-litert", "torch": "torch"}


class RuntimeUnavailable(BadInput):
    """A runtime that cannot run here (its package or Keras backend is missing)."""


class ConversionError(Failed):
    """A network that a runtime's converter could not convert; names the layer or operation."""


def check_runtime(runtime):
    """Raise a clear error for an unknown runtime or one whose package or backend is missing."""
    checks.one_of("runtime", runtime, RUNTIMES)
    package = _RUNTIME_PACKAGES[runtime]
    if {"tensorflow": tf, "torch": torch, "ai_edge_litert": Interpreter}[package] is None:
        raise RuntimeUnavailable(f"Runtime {runtime!r} needs the package {package!r}, which is not installed")
    backend = keras.backend.backend()
    if backend != _RUNTIME_BACKENDS[runtime]:
        raise RuntimeUnavailable(
            f"Runtime {runtime!r} needs Keras on the {_RUNTIME_BACKENDS[runtime]} backend; "
            f"this process runs Keras on {backend!r} (set KERAS_BACKEND before starting Python)")


def runtime_version(runtime):
    """The runtime's package and version, e.g. ``ai-edge-litert 2.3.0``."""
    package = _DISTRIBUTIONS[runtime]
    for name in (package, package.replace("-cpu", "")):
        try:
            return f"{name} {importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


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


def tflite_path(variant, model=None, cache_dir=None):
    """The cached .tflite flatbuffer of ``variant`` (converted from ``model``, or a fresh build, once).

    The cache is keyed on the variant's label and the TensorFlow version:
    latency does not depend on the weights.
    """
    cache_dir = paths.CACHE_DIR if cache_dir is None else cache_dir
    digest = hashlib.sha1(f"{variant.label}|tensorflow {tf.__version__}".encode()).hexdigest()[:12]
    path = os.path.join(cache_dir, f"{variant.network}-{digest}.tflite")
    if not os.path.isfile(path):
        convert_to_tflite(variant.build() if model is None else model, path)
    return path


def convert_to_tflite(model, path):
    """Convert the ``keras.Model`` ``model`` to a .tflite file at ``path``, written atomically.

    Raises:
        ConversionError: naming the layer and operation the converter refused.
    """
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its signature
            flatbuffer = converter.convert()
    except Exception as error:
        raise ConversionError(_conversion_message(model, error)) from error
    atomic.write_bytes(path, flatbuffer)
    return path


def _conversion_message(model, error):
    """Name the layer and operation a conversion failed on, from the converter's op locations."""
    text = str(error)
    ops = sorted(set(re.findall(r"'(tf\.[A-Za-z0-9_]+|tfl\.[A-Za-z0-9_]+)'", text)))
    # Locations look like fused["Svd:", "functional_1/svd_layer_1/Svd@__inference..."]:
    # the path components are Keras layer names, with a numeric suffix added by tracing.
    components = {c for path in re.findall(r'fused\["[^"]*", "([^"@]+)', text) for c in path.split("/")}
    names = {layer.name for layer in model.layers}
    layers = sorted({re.sub(r"_\d+$", "", c) if c not in names else c for c in components} & names)
    where = f"layer {', '.join(repr(n) for n in layers)}" if layers else "an unnamed layer"
    first_line = text.strip().splitlines()[0][:200] if text.strip() else type(error).__name__
    what = f"operation {', '.join(ops)} is not supported" if ops else first_line
    return f"LiteRT conversion of {model.name!r} failed at {where}: {what}"


def _input_batch(model, batch, seed=0):
    shape = (batch,) + tuple(int(d) for d in model.input_shape[1:])
    return np.random.default_rng(seed).uniform(0, 1, shape).astype("float32")


def prepare(variant, runtime, batch, threads, model=None):
    """Return (call, device): ``call()`` runs one synchronised batch of ``variant`` on ``runtime``.

    ``model`` is the variant's built ``keras.Model``, if the caller has one (else it is built).
    """
    check_runtime(runtime)
    model = variant.build() if model is None else model
    x = _input_batch(model, batch)
    if runtime in ("keras", "xla"):
        function = tf.function(lambda t: model(t, training=False), jit_compile=runtime == "xla")
        tensor = tf.constant(x)
        return (lambda: function(tensor).numpy()), "cpu"
    if runtime == "litert":
        interpreter = Interpreter(model_path=tflite_path(variant, model), num_threads=threads)
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, list(x.shape))
        interpreter.allocate_tensors()
        output = interpreter.get_output_details()[0]["index"]

        def call():
            interpreter.set_tensor(index, x)
            interpreter.invoke()
            return interpreter.get_tensor(output)

        return call, "cpu"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tensor = keras.ops.convert_to_tensor(x)

    def call():
        with torch.inference_mode():
            out = model(tensor, training=False)
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return call, torch.cuda.get_device_name(0) if device == "cuda" else "cpu"

