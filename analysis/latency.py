"""Timing a model on several runtimes: medians of repeats, with their spread.

Runtimes:

- ``keras``: ``model(x, training=False)`` inside a ``tf.function`` (not
  ``predict``, whose per-call overhead dominates small models).
- ``xla``: the same with ``jit_compile=True``.
- ``litert``: the model converted to a .tflite flatbuffer (cached under
  ``reports/cache/``) and run by the LiteRT interpreter with XNNPACK and an
  explicit ``num_threads``.
- ``torch``: Keras 3 on its PyTorch backend (``KERAS_BACKEND=torch``), on the
  GPU where PyTorch sees one; for machines without TensorFlow.

Each measurement warms up, then times ``repeats`` calls of one batch, each
call synchronised (its output brought to the host or the device
synchronised). Results give median, interquartile range, min and max in ms
per batch, ms per image, images/s and achieved GFLOP/s (2 FLOPs per
multiply-add, MACs from ``analysis.cost``). A run whose IQR exceeds
``SPREAD_LIMIT`` of its median is flagged ``unstable``.
"""

import contextlib
import hashlib
import importlib.metadata
import io
import os
import re
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np

import nets  # noqa: F401  (starts Keras quietly)
from analysis import paths

RUNTIMES = ("keras", "xla", "litert", "torch")
_RUNTIME_PACKAGES = {"keras": "tensorflow", "xla": "tensorflow", "litert": "ai_edge_litert", "torch": "torch"}
_RUNTIME_BACKENDS = {"keras": "tensorflow", "xla": "tensorflow", "litert": "tensorflow", "torch": "torch"}
SPREAD_LIMIT = 0.10


class RuntimeUnavailable(ValueError):
    """A runtime that cannot run here (its package or Keras backend is missing)."""


class ConversionError(RuntimeError):
    """A model that the LiteRT converter could not convert; names the layer or operation."""


@dataclass
class LatencyResult:
    """One (model, runtime, batch, threads) measurement; times in ms."""

    model: str
    runtime: str
    batch: int
    threads: int
    repeats: int
    median_ms: float
    iqr_ms: float
    min_ms: float
    max_ms: float
    ms_per_image: float
    images_per_s: float
    gflops: float
    flops_per_image: int
    unstable: bool
    runtime_version: str
    device: str

    def to_dict(self):
        return asdict(self)


def check_runtime(runtime):
    """Raise a clear error for an unknown runtime or one whose package or backend is missing."""
    import keras

    if runtime not in RUNTIMES:
        raise ValueError(f"Unknown runtime: expected one of {', '.join(RUNTIMES)}. Received runtime={runtime!r}")
    package = _RUNTIME_PACKAGES[runtime]
    try:
        importlib.import_module(package) if package != "tensorflow" else None
    except ImportError:
        raise RuntimeUnavailable(
            f"Runtime {runtime!r} needs the package {package!r}, which is not installed") from None
    backend = keras.backend.backend()
    if backend != _RUNTIME_BACKENDS[runtime]:
        raise RuntimeUnavailable(
            f"Runtime {runtime!r} needs Keras on the {_RUNTIME_BACKENDS[runtime]} backend; "
            f"this process runs Keras on {backend!r} (set KERAS_BACKEND before starting Python)")


def runtime_version(runtime):
    package = {"keras": "tensorflow-cpu", "xla": "tensorflow-cpu", "litert": "ai-edge-litert", "torch": "torch"}[runtime]
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
    from analysis.machine import core_count

    if threads is None:
        return core_count()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer. Received threads={threads!r}")
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            current = tf.config.threading.get_intra_op_parallelism_threads() or core_count()
            if current != threads:
                raise ValueError(
                    f"TensorFlow already runs with {current} threads; set threads before building a model "
                    f"(in a fresh process). Received threads={threads}") from None
    else:
        import torch

        torch.set_num_threads(threads)
    return threads


def _model_key(model):
    """A cache key for a model's architecture (weights do not change latency)."""
    import tensorflow as tf

    digest = hashlib.sha1((model.to_json() + tf.__version__).encode()).hexdigest()[:12]
    return f"{model.name}-{digest}"


def tflite_path(model, cache_dir=None):
    """Convert ``model`` to a .tflite flatbuffer once and return its cached path."""
    cache_dir = paths.CACHE_DIR if cache_dir is None else cache_dir
    os.makedirs(cache_dir, exist_ok=True)
    path = os.path.join(cache_dir, f"{_model_key(model)}.tflite")
    if os.path.isfile(path):
        return path
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its signature
            flatbuffer = converter.convert()
    except Exception as error:
        raise ConversionError(_conversion_message(model, error)) from None
    partial = path + ".partial"
    with open(partial, "wb") as f:
        f.write(flatbuffer)
    os.replace(partial, path)
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


def prepare(model, runtime, batch, threads):
    """Return (call, device): ``call()`` runs one synchronised batch on ``runtime``."""
    check_runtime(runtime)
    x = _input_batch(model, batch)
    if runtime in ("keras", "xla"):
        import tensorflow as tf

        function = tf.function(lambda t: model(t, training=False), jit_compile=runtime == "xla")
        tensor = tf.constant(x)
        return (lambda: function(tensor).numpy()), "cpu"
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=tflite_path(model), num_threads=threads)
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, list(x.shape))
        interpreter.allocate_tensors()
        output = interpreter.get_output_details()[0]["index"]

        def call():
            interpreter.set_tensor(index, x)
            interpreter.invoke()
            return interpreter.get_tensor(output)

        return call, "cpu"
    import keras
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tensor = keras.ops.convert_to_tensor(x)

    def call():
        with torch.inference_mode():
            out = model(tensor, training=False)
        if device == "cuda":
            torch.cuda.synchronize()
        return out

    return call, torch.cuda.get_device_name(0) if device == "cuda" else "cpu"


def time_calls(call, repeats, warmup=3, min_seconds=0.0):
    """Seconds taken by each timed call, after ``warmup`` untimed ones: ``repeats`` calls, then
    more until the timed calls add up to ``min_seconds`` (a fast call gets more samples, so its
    median is as precise as a slow one's)."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive integer. Received repeats={repeats!r}")
    _check_min_seconds(min_seconds)
    for _ in range(warmup):
        call()
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return np.array(times)


def _check_min_seconds(min_seconds):
    if isinstance(min_seconds, bool) or not isinstance(min_seconds, (int, float)) or not min_seconds >= 0:
        raise ValueError(f"min_seconds must be a number of seconds >= 0. Received min_seconds={min_seconds!r}")


def summarize_times(times_s, batch, flops_per_image):
    """Median, IQR, min, max (ms per batch), per-image figures and achieved GFLOP/s."""
    ms = np.asarray(times_s) * 1e3
    median = float(statistics.median(ms))
    q1, q3 = np.percentile(ms, [25, 75])
    return {
        "median_ms": median, "iqr_ms": float(q3 - q1), "min_ms": float(ms.min()), "max_ms": float(ms.max()),
        "ms_per_image": median / batch, "images_per_s": 1e3 * batch / median,
        "gflops": flops_per_image * batch / (median / 1e3) / 1e9,
        "unstable": bool((q3 - q1) > SPREAD_LIMIT * median),
    }


def measure(model, runtime, batch=1, threads=None, repeats=20, warmup=3, name=None, min_seconds=0.0):
    """Time ``model`` on ``runtime`` for one batch size (``repeats`` calls at least, and at least
    ``min_seconds`` of them); return a ``LatencyResult``."""
    from analysis.cost import summarize

    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive integer. Received batch={batch!r}")
    from analysis.machine import core_count

    threads = threads or core_count()
    call, device = prepare(model, runtime, batch, threads)
    flops = summarize(model)["flops"]
    return _result(name or model.name, runtime, batch, threads, device, flops,
                   time_calls(call, repeats, warmup, min_seconds))


def _result(name, runtime, batch, threads, device, flops_per_image, times_s):
    """The ``LatencyResult`` of the timed calls ``times_s`` (seconds, one batch each)."""
    return LatencyResult(model=name, runtime=runtime, batch=batch, threads=threads, repeats=len(times_s),
                         flops_per_image=flops_per_image, runtime_version=runtime_version(runtime),
                         device=device, **summarize_times(times_s, batch, flops_per_image))


def benchmark(models, runtimes=("keras", "xla", "litert"), batches=(1,), threads=None, repeats=20,
              warmup=3, progress=True, reuse=None, rounds=1, min_seconds=0.0):
    """Every (model, runtime, batch) measured; ``models`` maps a label to a built model.

    Each is timed for ``repeats`` calls at least, and more until its timed
    calls add up to ``min_seconds`` (spread evenly over the rounds).

    ``rounds`` > 1 interleaves the measurements: every job is prepared and
    warmed up first, then each round times ``repeats / rounds`` calls of
    every job in turn (after one untimed call), and each job's statistics
    pool its calls of all rounds. A shared machine drifts by tens of per
    cent over minutes; interleaving spreads the drift over all jobs alike
    instead of letting it tilt the comparison between them.

    ``reuse``: a CSV of earlier measurements (rows of ``LatencyResult``
    fields, as ``benchmark`` writes them); a (model, runtime, batch, threads)
    found there with at least ``repeats`` repeats is taken from it, not
    measured again. A missing file reuses nothing.

    Returns:
        A DataFrame, one row per measurement (the ``LatencyResult`` fields),
        in the order of ``models``, ``runtimes`` and ``batches``.
    """
    import pandas as pd

    from analysis.machine import core_count

    for runtime in runtimes:
        check_runtime(runtime)
    for batch in batches:
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive integer. Received batch={batch!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer. Received rounds={rounds!r}")
    _check_min_seconds(min_seconds)
    threads = threads or core_count()
    earlier = earlier_measurements(reuse, repeats)
    jobs = [(label, runtime, batch) for label in models for runtime in runtimes for batch in batches]
    rows = {job: earlier[job + (threads,)] for job in jobs if job + (threads,) in earlier}
    missing = [job for job in jobs if job not in rows]
    rows.update(_measure_jobs(models, missing, threads, repeats, warmup, rounds, progress, min_seconds))
    return pd.DataFrame([rows[job] for job in jobs], columns=list(LatencyResult.__dataclass_fields__))


def _measure_jobs(models, jobs, threads, repeats, warmup, rounds, progress, min_seconds):
    """{job: LatencyResult dict} for (label, runtime, batch) jobs, over ``rounds`` interleaved rounds."""
    from tqdm.auto import tqdm

    from analysis.cost import summarize

    if not jobs:
        return {}
    if rounds == 1:
        return {(label, runtime, batch): measure(models[label], runtime, batch, threads, repeats, warmup,
                                                 name=label, min_seconds=min_seconds).to_dict()
                for label, runtime, batch in tqdm(jobs, desc="latency", disable=not progress)}
    rounds = min(rounds, repeats)
    per_round = [repeats // rounds + (i < repeats % rounds) for i in range(rounds)]
    order = sorted(jobs, key=lambda job: RUNTIMES.index(job[1]))  # one runtime at a time within a round
    bar = tqdm(total=len(jobs) * (rounds + 1), desc="latency (interleaved)", disable=not progress)
    prepared, flops = {}, {}
    for label, runtime, batch in order:
        call, device = prepare(models[label], runtime, batch, threads)
        for _ in range(warmup):
            call()
        prepared[(label, runtime, batch)] = (call, device)
        if label not in flops:
            flops[label] = summarize(models[label])["flops"]
        bar.update(1)
    times = {job: [] for job in jobs}
    for count in per_round:
        for job in order:
            times[job].extend(time_calls(prepared[job][0], count, warmup=1, min_seconds=min_seconds / rounds))
            bar.update(1)
    bar.close()
    return {(label, runtime, batch): _result(label, runtime, batch, threads, prepared[(label, runtime, batch)][1],
                                             flops[label], times[(label, runtime, batch)]).to_dict()
            for label, runtime, batch in jobs}


def earlier_measurements(path, repeats):
    """Rows of an earlier measurement CSV with at least ``repeats`` repeats, as dicts keyed by
    (model, runtime, batch, threads); empty if ``path`` is None or missing."""
    import pandas as pd

    if path is None or not os.path.isfile(path):
        return {}
    fields = list(LatencyResult.__dataclass_fields__)
    table = pd.read_csv(path)
    if not set(fields) <= set(table.columns):
        return {}
    table = table[table["repeats"] >= repeats]
    return {(row["model"], row["runtime"], int(row["batch"]), int(row["threads"])): row
            for row in table[fields].to_dict("records")}
