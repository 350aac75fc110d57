"""onnxruntime: the network exported to ONNX and run by an ``InferenceSession`` on the CPU execution
provider with ``intra_op_num_threads`` set.

The export runs Keras on its PyTorch backend (``torch.onnx``, in a worker
process, ``analysis.speed.onnx_export``), with static shapes so that batch
norm folds: one file per batch size. int8 is
``onnxruntime.quantization.quantize_static`` (QDQ, int8 weights per
channel, uint8 activations).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from analysis.speed.runtimes import Runtime, register
from analysis.speed.conversions import ConversionError

# The folder that holds the ``analysis`` package (a checkout or site-packages), for the export worker.
_PACKAGE_PARENT = Path(__file__).resolve().parents[3]
EXPORT_TIMEOUT_S = 1800


def convert(model, target, precision, calibration, batch, variant):
    """Write ``variant`` with ``model``'s weights as ONNX at ``target``, quantized on ``calibration``
    at int8."""
    if precision != "int8":
        export(variant, model, target, batch)
        return
    float_copy = target.with_name("float.onnx")
    export(variant, model, float_copy, batch)
    quantize(float_copy, target, calibration, batch)
    float_copy.unlink()


def quantize(float_copy, target, calibration, batch):
    """Write the ONNX model at ``float_copy`` quantized by ``quantize_static`` on ``calibration`` at ``target``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target.with_name("prepared.onnx")
    quant_pre_process(str(float_copy), str(prepared), skip_symbolic_shape=True)
    rows = [calibration.images[i:i + batch] for i in range(0, len(calibration.images) - batch + 1, batch)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.rows = iter(rows)

        def get_next(self):
            row = next(self.rows, None)
            return None if row is None else {"input": row}

    quantize_static(str(prepared), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    prepared.unlink()


def export(variant, model, target, batch):
    """Export ``variant`` with ``model``'s weights to ONNX at ``target``, in a worker process running
    Keras on its PyTorch backend (``analysis.speed.onnx_export``)."""
    weights = target.with_name("weights.weights.h5")
    model.save_weights(str(weights))
    request = json.dumps({"variant": variant.to_dict(), "weights": str(weights), "batch": batch,
                          "out": str(target)})
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run([sys.executable, "-m", "analysis.speed.onnx_export", request],
                              capture_output=True, text=True, env=env, timeout=EXPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"onnxruntime export of {variant.label} did not finish within {EXPORT_TIMEOUT_S} s") from None
    finally:
        weights.unlink(missing_ok=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ConversionError(f"onnxruntime export of {variant.label} failed (torch.onnx on Keras' PyTorch backend): "
                     f"{lines[-1] if lines else 'exit ' + str(done.returncode)}")


def _session(path, threads, **settings):
    """An ``InferenceSession`` of the ONNX model at ``path`` on the CPU provider, with
    ``settings`` (``SessionOptions`` attributes) on top of the thread counts."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    for key, value in settings.items():
        setattr(options, key, value)
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load(path, shape, threads, precision):
    """``run(x)``: the batch ``x`` through the ONNX model at ``path`` on the CPU provider."""
    session = _session(path, threads)
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


# Operator types (of the session's optimized graph) and the Keras layer kind each implements
# (``analysis.speed.profile.LAYER_KINDS``); a convolution of more than one group is depthwise, and
# ``Add``, ``Mul`` and ``Concat`` count only between two computed tensors.
_KINDS = {**dict.fromkeys(("Conv", "FusedConv", "NhwcFusedConv", "QLinearConv", "ConvInteger", "NhwcConv"), "conv"),
          **dict.fromkeys(("Gemm", "FusedGemm", "QGemm", "MatMul", "FusedMatMul", "MatMulInteger",
                           "DynamicQuantizeMatMul", "MatMulIntegerToFloat"), "dense"),
          **dict.fromkeys(("MaxPool", "NhwcMaxPool", "AveragePool", "QLinearAveragePool"), "pool"),
          **dict.fromkeys(("GlobalAveragePool", "GlobalMaxPool", "QLinearGlobalAveragePool", "ReduceMean",
                           "ReduceMax"), "global_pool"),
          **dict.fromkeys(("Softmax", "QLinearSoftmax"), "softmax"),
          **dict.fromkeys(("Add", "Sum", "QLinearAdd"), "add"), **dict.fromkeys(("Mul", "QLinearMul"), "multiply"),
          **dict.fromkeys(("Concat", "QLinearConcat"), "concat"),
          **dict.fromkeys(("Relu", "Clip", "QLinearLeakyRelu"), "activation")}
_BETWEEN_TENSORS = ("add", "multiply", "concat")
# Operator types that ready a tensor for the node they feed (a layout change, a padding, a quantization).
_PREPARES = ("Transpose", "Pad", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "ReorderInput", "Cast")
_KERNEL_TIME = "_kernel_time"


def profile(path, x, threads, precision, runs=20, warmup=3):
    """Per-node times of the batch ``x`` through the ONNX model at ``path`` from ONNX Runtime's own
    profiler (``enable_profiling``): the ``dur`` of each node's ``_kernel_time`` event in the
    ``runs`` timed runs, as ms per inference (``Runtime.profile`` says what the frame holds)."""
    from analysis.speed.latency import alternated_times
    from analysis.speed.profile import node_frame

    plain = _session(path, threads)
    name = plain.get_inputs()[0].name
    with tempfile.TemporaryDirectory() as folder:
        session = _session(path, threads, enable_profiling=True, profile_file_prefix=str(Path(folder) / "trace"),
                           optimized_model_filepath=str(Path(folder) / "optimized.onnx"))
        plain_times, profiled_times = alternated_times(
            (lambda: plain.run(None, {name: x}), lambda: session.run(None, {name: x})), runs, warmup)
        trace = Path(session.end_profiling())
        events = json.loads(trace.read_text())
        trace.unlink()
        graph = _graph(Path(folder) / "optimized.onnx")
    durations, types = _timed_nodes(events, runs)
    return node_frame(durations, types, plain_times, profiled_times, graph=graph)


def _timed_nodes(events, runs):
    """({node: [seconds of each run]}, {node: op type}) from the node events inside the last
    ``runs`` runs (the trace holds the warm-up runs too)."""
    windows = [(e["ts"], e["ts"] + e["dur"]) for e in events if e.get("cat") == "Session" and e["name"] == "model_run"]
    windows = windows[-runs:]
    durations, types = {}, {}
    for event in sorted(events, key=lambda e: e.get("ts", 0)):
        if event.get("cat") != "Node" or not event["name"].endswith(_KERNEL_TIME):
            continue
        if not any(start <= event["ts"] <= end for start, end in windows):
            continue
        node = event["name"][:-len(_KERNEL_TIME)]
        durations.setdefault(node, []).append(event["dur"] / 1e6)
        types[node] = event["args"]["op_name"]
    return durations, types


def _graph(optimized):
    """Every node of the session's optimized graph (as ONNX Runtime saved it), in its order, as
    ``Runtime.profile`` describes them; no shapes (ONNX Runtime's blocked layouts pad channels)."""
    import onnx

    graph = onnx.load(str(optimized)).graph
    constants = {tensor.name for tensor in graph.initializer}
    producer = {output: node.name for node in graph.node for output in node.output}
    names = set(producer.values())
    nodes = []
    for node in graph.node:
        computed = [producer.get(i, i) for i in node.input if i and i not in constants]
        kind = _KINDS.get(node.op_type)
        groups = next((a.i for a in node.attribute if a.name == "group"), 1)
        if kind == "conv" and groups > 1:
            kind = "depthwise"
        if kind in _BETWEEN_TENSORS and len(computed) < 2:
            kind = None
        nodes.append({"name": node.name, "kind": kind, "prepares": node.op_type in _PREPARES, "spatial": None,
                      "inputs": tuple(i for i in computed if i in names)})
    return nodes


RUNTIME = register(Runtime(
    name="onnxruntime", precisions=("fp32", "int8"), packages=("tensorflow", "onnxruntime", "onnx", "torch"),
    distribution="onnxruntime", load=load, artifact="model.onnx", convert=convert, quantize=quantize,
    converter="onnxruntime", quantizer="onnxruntime", batch_in_artifact=True,
    summary="ONNX run by ONNX Runtime's CPU provider", profile=profile))
