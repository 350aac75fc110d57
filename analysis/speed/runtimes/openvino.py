"""openvino: the network converted to OpenVINO IR (``openvino.convert_model``), compiled for the CPU
with the latency hint, an explicit thread count and an explicit inference precision hint.

fp32 and bf16 are one IR compiled with two precision hints; int8 is
``nncf.quantize`` (static post-training quantization) of that IR, its
quantized operations in int8 and the rest in f32.
"""

import contextlib
import io
import logging
import warnings

from analysis.speed.runtimes import Runtime, register


def convert(model, target, precision, calibration, batch, variant):
    """Write ``model`` as OpenVINO IR at ``target`` (``model.xml`` and its ``.bin``), quantized by
    NNCF on ``calibration`` at int8."""
    import openvino as ov

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # Keras warns that the traced input's structure differs by name
        ir = ov.convert_model(model)
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


def load(path, shape, threads, precision):
    """``run(x)``: the batch ``x`` through the IR at ``path``, compiled for ``threads`` threads at
    ``precision`` (f32 for int8's unquantized operations)."""
    import openvino

    core = openvino.Core()
    ir = core.read_model(str(path))
    ir.reshape({ir.inputs[0].any_name: list(shape)})
    compiled = core.compile_model(ir, "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"})
    request = compiled.create_infer_request()
    return lambda x: request.infer({0: x})[0]


RUNTIME = register(Runtime(
    name="openvino", precisions=("fp32", "bf16", "int8"), packages=("tensorflow", "openvino", "nncf"),
    distribution="openvino", load=load, artifact="model.xml", convert=convert, quantize=quantize,
    converter="openvino",
    quantizer="nncf", summary="OpenVINO IR compiled for the CPU"))
