"""Deployable copies of a network, one per runtime and precision, converted once and cached.

- ``litert``: ``TFLiteConverter.from_keras_model``. int8 is LiteRT's
  full-integer post-training quantization: every operation in int8
  (``TFLITE_BUILTINS_INT8`` only, so a layer it cannot quantize fails the
  conversion instead of staying float), with float input and output, so
  the harness feeds every precision the same batch.
- ``openvino``: ``openvino.convert_model`` of the ``keras.Model``, saved as
  IR. fp32 and bf16 are one IR compiled with two precision hints; int8 is
  ``nncf.quantize`` (static post-training quantization) of that IR.
- ``onnxruntime``: the variant exported on Keras' PyTorch backend
  (``torch.onnx``, a subprocess), because the TensorFlow route (tf2onnx)
  was killed for memory on VGG16 on a 24 GiB machine; the weights travel
  in a ``.weights.h5`` file. int8 is
  ``onnxruntime.quantization.quantize_static`` (QDQ, int8 weights per
  channel, uint8 activations).

Every int8 copy is calibrated on real images (``Calibration``): the
variant's training images where it was trained, otherwise scikit-learn's
digits resized to its input. The cache key holds the variant's label, the
runtime, the precision, the calibration set, the weights (``"any"`` where
only the latency matters: it does not depend on the weights) and the
converter's version. Each copy is written into a temporary folder that is
renamed whole, so an interrupted conversion is never read back.
"""

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from analysis import atomic, paths
from analysis.accuracy.datasets import load_dataset
from nets.errors import Failed
from analysis.speed import check_precision
from analysis.versions import installed_version
from nets.backend import quiet_native_stderr

CALIBRATION_IMAGES = 64
ANY_WEIGHTS = "any"
# The folder that holds the ``analysis`` package (a checkout or site-packages), for the export worker.
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]
_CONVERTERS = {"litert": "tensorflow", "openvino": "openvino", "onnxruntime": "onnxruntime"}
_QUANTIZERS = {"litert": "tensorflow", "openvino": "nncf", "onnxruntime": "onnxruntime"}
_FILES = {"litert": "model.tflite", "openvino": "model.xml", "onnxruntime": "model.onnx"}


class ConversionError(Failed):
    """A conversion or quantization that failed; names the runtime and the layer or operation."""


@dataclass(frozen=True)
class Calibration:
    """The images a post-training quantization is calibrated on; ``source`` says which."""

    source: str
    digest: str
    images: np.ndarray = field(repr=False, compare=False, hash=False)


def calibration_set(variant, images=None, count=CALIBRATION_IMAGES):
    """``count`` calibration images for ``variant``: the first of ``images`` (its training
    images) where given, otherwise scikit-learn's digits resized to its input."""
    if images is None:
        images = load_dataset("digits", image_size=variant.resolution).x_train[:count]
        source = f"digits resized to {variant.resolution} px ({len(images)} images)"
    else:
        images = np.asarray(images, dtype="float32")[:count]
        source = f"training images ({len(images)})"
    return Calibration(source, hashlib.sha1(images.tobytes()).hexdigest()[:12], images)


def weights_digest(model):
    """A short digest of ``model``'s weights (a cache key for copies whose values matter)."""
    digest = hashlib.sha1()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:12]


def _version(distribution):
    return installed_version(distribution)[1] or "unknown"


def artifact_key(variant, runtime, precision, calibration=None, weights=ANY_WEIGHTS, batch=None):
    """The cache key of a converted copy: what it was made from, and by which converter version."""
    check_precision(runtime, precision)
    parts = [variant.fingerprint(), runtime, precision if precision == "int8" else "float",
             f"{_CONVERTERS[runtime]} {_version(_CONVERTERS[runtime])}", f"weights {weights}"]
    if precision == "int8":
        parts += [f"calibration {calibration.digest}", f"{_QUANTIZERS[runtime]} {_version(_QUANTIZERS[runtime])}"]
    if runtime == "onnxruntime":
        parts.append(f"batch {batch}")  # exported with static shapes, so that batch norm folds
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def converted(variant, runtime, precision, model, batch=1, calibration=None, weights=ANY_WEIGHTS,
              cache_dir=None, progress=False):
    """The path of ``variant`` converted for ``runtime`` at ``precision``, converting it once.

    Args:
        model: the variant's built ``keras.Model`` (its weights are the ones converted).
        batch: the batch size (ONNX copies are exported for one batch size).
        calibration: a ``Calibration`` for int8 (default: ``calibration_set(variant)``).
        weights: ``weights_digest(model)`` where the values matter (accuracy), or
            ``ANY_WEIGHTS`` where only the speed does.

    Raises:
        ConversionError: naming the runtime and the layer or operation that failed.
    """
    check_precision(runtime, precision)
    if precision == "int8" and calibration is None:
        calibration = calibration_set(variant)
    cache_dir = Path(paths.CACHE_DIR if cache_dir is None else cache_dir)
    key = artifact_key(variant, runtime, precision, calibration, weights, batch)
    folder = cache_dir / f"{variant.slug[:60]}-{runtime}-{precision if precision == 'int8' else 'float'}-{key}"
    path = folder / _FILES[runtime]
    if path.is_file():
        return path
    bar = tqdm(total=1, desc=f"converting {variant.label} for {runtime} {precision}", disable=not progress)
    with atomic.directory(folder) as partial:
        target = Path(partial) / _FILES[runtime]
        try:
            _CONVERT[runtime](variant, model, target, precision, calibration, batch)
        except ConversionError:
            raise
        except Exception as error:
            raise ConversionError(_failure(runtime, precision, model, error)) from error
        (Path(partial) / "source.json").write_text(json.dumps(
            {"variant": variant.label, "runtime": runtime, "precision": precision, "batch": batch,
             "calibration": calibration.source if calibration else None, "weights": weights}, indent=1))
    bar.update(1)
    bar.close()
    return path


def _failure(runtime, precision, model, error):
    """One line naming the runtime, the precision and the layer (where the error names one)."""
    text = str(error).strip()
    layers = [layer.name for layer in model.layers if layer.name in text]
    where = f" at layer {layers[-1]!r}" if layers else ""
    first = text.splitlines()[0][:240] if text else type(error).__name__
    return f"{runtime} {precision} conversion of {model.name!r} failed{where}: {first}"


def _litert(variant, model, target, precision, calibration, batch):
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
        # The exporter prints its signature on stdout and the quantizer its settings on stderr.
        with contextlib.redirect_stdout(io.StringIO()), quiet_native_stderr():
            return converter.convert()
    except Exception as error:
        raise ConversionError(_litert_message(model, error)) from error


def _litert_message(model, error):
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


def _openvino(variant, model, target, precision, calibration, batch):
    import openvino as ov

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # Keras warns that the traced input's structure differs by name
        ir = ov.convert_model(model)
    if precision == "int8":
        import nncf

        nncf.set_log_level(logging.ERROR)
        samples = [image[None] for image in calibration.images]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            ir = nncf.quantize(ir, nncf.Dataset(samples), subset_size=len(samples))
    ov.save_model(ir, str(target), compress_to_fp16=False)


def _onnxruntime(variant, model, target, precision, calibration, batch):
    if precision != "int8":
        _export_onnx(variant, model, target, batch)
        return
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    float_copy = target.with_name("float.onnx")
    _export_onnx(variant, model, float_copy, batch)
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
    float_copy.unlink()
    prepared.unlink()


_CONVERT = {"litert": _litert, "openvino": _openvino, "onnxruntime": _onnxruntime}


def _export_onnx(variant, model, target, batch, timeout=1800):
    """Export ``variant`` with ``model``'s weights to ONNX at ``target``, in a worker process
    running Keras on its PyTorch backend (``analysis.speed.onnx_export``)."""
    weights = target.with_name("weights.weights.h5")
    model.save_weights(str(weights))
    request = json.dumps({"variant": variant.to_dict(), "weights": str(weights), "batch": batch,
                          "out": str(target)})
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run([sys.executable, "-m", "analysis.speed.onnx_export", request],
                              capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ConversionError(f"onnxruntime export of {variant.label} did not finish within {timeout} s") from None
    finally:
        weights.unlink(missing_ok=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ConversionError(f"onnxruntime export of {variant.label} failed (torch.onnx on Keras' PyTorch "
                              f"backend): {lines[-1] if lines else 'exit ' + str(done.returncode)}")
