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


def load(path, shape, threads, precision):
    """``run(x)``: the batch ``x`` through the ONNX model at ``path`` on the CPU provider."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


RUNTIME = register(Runtime(
    name="onnxruntime", precisions=("fp32", "int8"), packages=("tensorflow", "onnxruntime", "onnx", "torch"),
    distribution="onnxruntime", load=load, artifact="model.onnx", convert=convert, quantize=quantize,
    converter="onnxruntime",
    quantizer="onnxruntime", batch_in_artifact=True, summary="ONNX run by ONNX Runtime's CPU provider"))
