"""litert: the network converted to a .tflite flatbuffer, run by the LiteRT interpreter with XNNPACK
and an explicit thread count.

int8 is LiteRT's full-integer post-training quantization: every operation in
int8 (``TFLITE_BUILTINS_INT8`` only, so a layer it cannot quantize fails the
conversion instead of staying float), with float input and output, so every
precision takes the same batch.
"""

import contextlib
import io
import re

from analysis.speed.runtimes import Runtime, register
from analysis.speed.conversions import ConversionError


def convert(model, target, precision, calibration, batch, variant):
    """Write ``model`` as a .tflite at ``target``: float32, or int8 calibrated on ``calibration``."""
    target.write_bytes(tflite_flatbuffer(model, calibration.images if precision == "int8" else None))


def tflite_flatbuffer(model, calibration_images=None):
    """The ``keras.Model`` ``model`` as a .tflite flatbuffer (bytes): float32, or full-integer
    int8 calibrated on ``calibration_images`` (float input and output kept).

    Raises:
        ConversionError: naming the layer and operation the converter refused.
    """
    import tensorflow as tf  # the converter is TensorFlow's

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if calibration_images is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for image in calibration_images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its signature there
            return converter.convert()
    except Exception as error:
        raise ConversionError(_message(model, error)) from error


def _message(model, error):
    """Name the layer and operation a LiteRT conversion failed on, from the converter's op locations."""
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


def load(path, shape, threads, precision):
    """``run(x)``: the batch ``x`` (of ``shape``) through the .tflite at ``path``."""
    from ai_edge_litert.interpreter import Interpreter

    # LiteRT announces its XNNPACK delegate once per process on stderr; no setting silences it.
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


RUNTIME = register(Runtime(
    name="litert", precisions=("fp32", "int8"), packages=("tensorflow", "ai_edge_litert"),
    distribution="ai-edge-litert", load=load, artifact="model.tflite", convert=convert, converter="tensorflow",
    quantizer="tensorflow", summary="a .tflite run by the LiteRT interpreter with XNNPACK",
    no_profiler="XNNPACK runs the whole network as one delegate node, and LiteRT's Python interpreter has no "
                "per-op profiler (LiteRT's benchmark_model tool, outside this suite, has one)"))
