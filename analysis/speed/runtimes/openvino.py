"""openvino: the network converted to OpenVINO IR (``openvino.convert_model``), compiled for the CPU
with the latency hint, an explicit thread count and an explicit inference precision hint.

fp32 and bf16 are one IR compiled with two precision hints; int8 is
``nncf.quantize`` (static post-training quantization) of that IR, its
quantized operations in int8 and the rest in f32.
"""

import contextlib
import io
import logging
import re
import time
import warnings

from analysis.speed.conversions import ConversionError
from analysis.speed.runtimes import Runtime, register


def convert(model, target, precision, calibration, batch, variant):
    """Write ``model`` as OpenVINO IR at ``target`` (``model.xml`` and its ``.bin``), quantized by
    NNCF on ``calibration`` at int8."""
    import openvino as ov

    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # Keras warns that the traced input's structure differs by name
            ir = ov.convert_model(model)
    except Exception as error:
        unconverted = re.search(r"No conversion rule found for operations: ([^\n]+)", str(error))
        if unconverted is None:
            raise
        ops = [op.strip() for op in unconverted.group(1).split(",") if op.strip()]
        layers = _layers_with_ops(model, ops)
        where = f"layer {', '.join(repr(n) for n in layers)}" if layers else "an unnamed layer"
        raise ConversionError(f"openvino {precision} conversion of {model.name!r} failed at {where}: operation "
                              f"{', '.join(ops)} is not supported") from error
    ov.save_model(_quantized(ir, calibration) if precision == "int8" else ir, str(target), compress_to_fp16=False)


def quantize(float_copy, target, calibration, batch):
    """Write the IR at ``float_copy`` quantized by NNCF on ``calibration`` at ``target``."""
    import openvino as ov

    ov.save_model(_quantized(ov.Core().read_model(str(float_copy)), calibration), str(target), compress_to_fp16=False)


def _quantized(ir, calibration):
    """``ir`` quantized by ``nncf.quantize`` (static, post-training) on the calibration images."""
    import nncf

    nncf.set_log_level(logging.ERROR)
    samples = [image[None] for image in calibration.images]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return nncf.quantize(ir, nncf.Dataset(samples), subset_size=len(samples))


def _compile(path, shape, threads, precision, perf_count=False):
    """The IR at ``path`` compiled for the CPU (``PERF_COUNT`` on where asked)."""
    import openvino

    core = openvino.Core()
    ir = core.read_model(str(path))
    ir.reshape({ir.inputs[0].any_name: list(shape)})
    return core.compile_model(ir, "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32", "PERF_COUNT": perf_count})


def _layers_with_ops(model, op_types):
    """The layers of ``model`` whose TensorFlow ops (its traced graph) include one of ``op_types``."""
    import tensorflow as tf

    from analysis.speed.profile import layer_of_scope

    specs = [tf.TensorSpec((1,) + tuple(t.shape[1:]), t.dtype) for t in model.inputs]
    function = tf.function(lambda *t: model(t[0] if len(t) == 1 else list(t), training=False))
    names = [layer.name for layer in model.layers]
    ops = function.get_concrete_function(*specs).graph.get_operations()
    return sorted({layer_of_scope(op.name, names) for op in ops if op.type in op_types} - {None})


def load(path, shape, threads, precision):
    """``run(x)``: the batch ``x`` through the IR at ``path``, compiled for ``threads`` threads at
    ``precision`` (f32 for int8's unquantized operations)."""
    request = _compile(path, shape, threads, precision).create_infer_request()
    return lambda x: request.infer({0: x})[0]


# CPU node types (``ProfilingInfo.node_type``) and the Keras layer kind each implements
# (``analysis.speed.profile.LAYER_KINDS``); ``Add``, ``Multiply`` and ``Concat`` count only between
# two computed tensors (a constant operand is a bias or a scale).
_KINDS = {"Convolution": "conv", "GroupConvolution": "depthwise", "FullyConnected": "dense", "MatMul": "dense",
          "MaxPool": "pool", "AvgPool": "pool", "ReduceMean": "global_pool", "ReduceMax": "global_pool",
          "Softmax": "softmax", "SoftMax": "softmax", "Add": "add", "Multiply": "multiply", "Concat": "concat",
          "Clamp": "activation", "Relu": "activation"}
_BETWEEN_TENSORS = ("add", "multiply", "concat")
# Node types that ready a tensor for the node they feed (a layout change, a quantization).
_PREPARES = ("Reorder", "Transpose", "FakeQuantize", "Convert", "Pad")


def profile(path, x, threads, precision, runs=20, warmup=3):
    """Per-node times of the batch ``x`` through the IR at ``path`` from OpenVINO's own counters
    (``PERF_COUNT``, ``get_profiling_info``): ``real_time`` of every EXECUTED node summed over
    ``runs`` inferences, as ms per inference (``Runtime.profile`` says what the frame holds)."""
    from analysis.speed.latency import alternated_times
    from analysis.speed.profile import node_frame

    plain = _compile(path, x.shape, threads, precision).create_infer_request()
    compiled = _compile(path, x.shape, threads, precision, perf_count=True)
    request = compiled.create_infer_request()
    for _ in range(warmup):
        plain.infer({0: x})
        request.infer({0: x})
    times, durations, types = [], {}, {}

    def profiled():  # the counters hold the last inference only: read them after each, untimed
        times.append(_seconds(lambda: request.infer({0: x})))
        for info in request.get_profiling_info():
            types[info.node_name] = info.node_type
            if info.status == info.Status.EXECUTED:
                durations.setdefault(info.node_name, []).append(info.real_time.total_seconds())

    plain_times, _ = alternated_times((lambda: plain.infer({0: x}), profiled), runs, warmup=0)
    return node_frame(durations, types, plain_times, times, graph=_graph(compiled, types))


def _seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _graph(compiled, types):
    """Every node of the compiled (runtime) model but its constants, in execution order, as
    ``Runtime.profile`` describes them."""
    nodes = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        if op.get_rt_info()["layerType"].astype(str) == "Const":
            continue
        sources = [i.get_source_output().get_node() for i in op.inputs()]
        computed = [s.get_friendly_name() for s in sources if s.get_rt_info()["layerType"].astype(str) != "Const"]
        node_type = types.get(op.get_friendly_name(), op.get_rt_info()["layerType"].astype(str))
        kind = _KINDS.get(node_type)
        if kind in _BETWEEN_TENSORS and len(computed) < 2:
            kind = None
        shape = op.get_output_partial_shape(0) if op.get_output_size() else None
        spatial = tuple(d.get_length() for d in shape)[2:] if shape is not None and shape.is_static else None
        nodes.append({"name": op.get_friendly_name(), "kind": kind, "prepares": node_type in _PREPARES,
                      "spatial": spatial, "inputs": tuple(computed)})
    return nodes


RUNTIME = register(Runtime(
    name="openvino", precisions=("fp32", "bf16", "int8"), packages=("tensorflow", "openvino", "nncf"),
    distribution="openvino", load=load, artifact="model.xml", convert=convert, quantize=quantize,
    converter="openvino", quantizer="nncf", summary="OpenVINO IR compiled for the CPU", profile=profile))
