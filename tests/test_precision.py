"""Deployment precisions: every converted copy computes what the Keras network computes, its
precision is the one asked (read back through each runtime's own API), and the cache never
hands back a copy of something else or a half-written one."""

import importlib.util

import numpy as np
import onnx
import onnxruntime as ort
import openvino as ov
import pytest
from ai_edge_litert.interpreter import Interpreter

import dataclasses

from analysis.accuracy import training
from analysis.datasets import load_dataset
from analysis.accuracy.settings import TrainingSettings
from analysis.cli import main
from analysis.paths import quick_mode
from analysis.speed import conversions, harness, latency, runtimes
from analysis.speed.cpu import bf16_supported
from analysis.speed.latency import Timing
from analysis.speed.runtimes import configuration
from analysis.variants import Variant
from nets.backend import keras

# Logits (no softmax), so that outputs are compared where they vary most.
SMALL = Variant("mobilenet", alpha=0.25, resolution=32, num_classes=10, logits=True)
SMALL_VGG = Variant("vgg16", resolution=32, num_classes=10, logits=True, fc6_kernel_size="auto")
FLOAT_RUNTIMES = ("litert", "openvino", "onnxruntime")
DIGITS_CALIBRATION = conversions.calibration_set(SMALL)
# ONNX Runtime's copies come from an ONNX export (torch.onnx in a worker): the slow tier.
COPIED_RUNTIMES = [pytest.param(r, marks=pytest.mark.slow) if r == "onnxruntime" else r for r in FLOAT_RUNTIMES]


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", image_size=32)


@pytest.fixture(scope="module")
def small_model(digits):
    """Trained for two epochs: with random weights, the logits of 13 blocks fade to 1e-18."""
    keras.utils.set_random_seed(0)
    model = SMALL.build()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(digits.x_train, digits.y_train, epochs=2, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def images(digits):
    return digits.x_test[:32]


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(conversions.paths, "CACHE_DIR", tmp_path)
    return tmp_path


def run_copy(runtime, precision, path, x):
    """``x`` through a converted copy, by the runtime's own API (not the suite's harness)."""
    if runtime == "litert":
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(x.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    if runtime == "openvino":
        hint = "bf16" if precision == "bf16" else "f32"
        compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": hint})
        return compiled(x)[0]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("runtime", COPIED_RUNTIMES)
def test_fp32_copies_compute_what_keras_computes(small_model, images, cache, runtime):
    path = conversions.converted(SMALL, configuration(runtime, "fp32"), small_model, batch=1)
    for image in images[:4]:
        expected = keras.ops.convert_to_numpy(small_model(image[None], training=False))
        np.testing.assert_allclose(run_copy(runtime, "fp32", path, image[None]), expected, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("runtime", [r if r == "litert" else pytest.param(r, marks=pytest.mark.slow)
                                     for r in FLOAT_RUNTIMES])  # NNCF's int8 also runs fast below
def test_int8_copies_stay_close_to_float(small_model, images, cache, runtime):
    calibration = conversions.calibration_set(SMALL, images)
    path = conversions.converted(SMALL, configuration(runtime, "int8"), small_model, calibration=calibration)
    got = np.concatenate([run_copy(runtime, "int8", path, image[None]) for image in images])
    expected = keras.ops.convert_to_numpy(small_model(images, training=False))
    # 8-bit steps over each tensor's range: a few per cent of the logits' spread, and the same answers.
    assert np.abs(got - expected).max() < 0.1 * np.ptp(expected)
    assert np.mean(got.argmax(1) == expected.argmax(1)) >= 0.9


def test_litert_int8_is_full_integer(small_model, cache):
    path = conversions.converted(SMALL, configuration("litert", "int8"), small_model, calibration=DIGITS_CALIBRATION)
    interpreter = Interpreter(model_path=str(path))
    dtypes = [detail["dtype"] for detail in interpreter.get_tensor_details()]
    # Only the float input and output (and their quantize/dequantize ends) stay float32.
    assert dtypes.count(np.float32) == 2 and dtypes.count(np.int8) > 20


def test_openvino_int8_and_bf16_run_in_that_precision(small_model, cache):
    core = ov.Core()

    def convolution_precisions(path, hint):
        runtime_model = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": hint}).get_runtime_model()
        return {op.get_rt_info()["runtimePrecision"].astype(str) for op in runtime_model.get_ops()
                if op.get_rt_info()["layerType"].astype(str) == "Convolution"}

    int8 = conversions.converted(SMALL, configuration("openvino", "int8"), small_model, calibration=DIGITS_CALIBRATION)
    assert convolution_precisions(int8, "f32") <= {"i8", "u8"}
    if bf16_supported():
        fp = conversions.converted(SMALL, configuration("openvino", "bf16"), small_model)
        assert convolution_precisions(fp, "bf16") == {"bf16"}
        assert convolution_precisions(fp, "f32") == {"f32"}


@pytest.mark.slow  # an ONNX export
def test_onnxruntime_int8_runs_integer_convolutions(small_model, cache, tmp_path):
    path = conversions.converted(SMALL, configuration("onnxruntime", "int8"), small_model, calibration=DIGITS_CALIBRATION)
    graph = onnx.load(str(path)).graph
    weights = {t.name: t.data_type for t in graph.initializer}
    quantized = [n for n in graph.node if n.op_type == "DequantizeLinear" and weights.get(n.input[0]) == onnx.TensorProto.INT8]
    assert len(quantized) == sum(n.op_type == "Conv" for n in graph.node)  # every convolution's weights
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    optimized = [n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node]
    assert optimized.count("QLinearConv") == len(quantized) and "Conv" not in optimized


@pytest.mark.slow  # an ONNX export
def test_onnx_export_folds_batch_norm(small_model, cache):
    graph = onnx.load(str(conversions.converted(SMALL, configuration("onnxruntime"), small_model))).graph
    kinds = [n.op_type for n in graph.node]
    convolutions = sum(isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
                       for layer in small_model.layers)
    assert kinds.count("Conv") == convolutions
    assert "Sub" not in kinds and "Div" not in kinds  # batch norm folded into the convolutions


@pytest.mark.slow  # an ONNX export
def test_onnx_export_of_vgg16(cache):
    keras.utils.set_random_seed(0)
    model = SMALL_VGG.build()
    path = conversions.converted(SMALL_VGG, configuration("onnxruntime"), model, batch=2)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(run_copy("onnxruntime", "fp32", path, x),
                               keras.ops.convert_to_numpy(model(x, training=False)), rtol=1e-3, atol=1e-4)


@pytest.mark.skipif(quick_mode(), reason="exporting VGG16's 138M parameters takes about 30 s; QUICK=0 runs it")
@pytest.mark.slow  # an ONNX export
def test_onnx_export_of_full_vgg16_fits(cache):
    variant = Variant.parse("VGG16/224")
    path = conversions.converted(variant, configuration("onnxruntime"), variant.build())
    graph = onnx.load(str(path), load_external_data=False).graph
    parameters = sum(int(np.prod(t.dims)) for t in graph.initializer)
    assert parameters == keras.applications.VGG16(weights=None).count_params()


@pytest.mark.slow  # three conversions; test_latency checks the cache fast
def test_copies_are_cached_per_precision_and_calibration(small_model, images, cache, monkeypatch):
    first = conversions.converted(SMALL, configuration("litert", "int8"), small_model, calibration=DIGITS_CALIBRATION)
    litert = runtimes.get("litert")
    monkeypatch.setitem(runtimes._REGISTRY, "litert",
                        dataclasses.replace(litert, convert=lambda *a: pytest.fail("converted twice")))
    assert conversions.converted(SMALL, configuration("litert", "int8"), small_model, calibration=DIGITS_CALIBRATION) == first
    monkeypatch.undo()
    monkeypatch.setattr(conversions.paths, "CACHE_DIR", cache)
    other = conversions.converted(SMALL, configuration("litert", "int8"), small_model,
                                  calibration=conversions.calibration_set(SMALL, images[::-1]))
    fp32 = conversions.converted(SMALL, configuration("litert"), small_model)
    assert len({first, other, fp32}) == 3


def test_interrupted_conversion_is_never_read_back(small_model, cache, monkeypatch):
    def interrupted(model, target, *rest):
        target.write_bytes(b"half a flatbuffer")
        raise KeyboardInterrupt

    monkeypatch.setitem(runtimes._REGISTRY, "litert", dataclasses.replace(runtimes.get("litert"), convert=interrupted))
    with pytest.raises(KeyboardInterrupt):
        conversions.converted(SMALL, configuration("litert"), small_model)
    assert not list(cache.iterdir())  # no folder, no partial folder
    monkeypatch.undo()
    monkeypatch.setattr(conversions.paths, "CACHE_DIR", cache)
    path = conversions.converted(SMALL, configuration("litert"), small_model)
    assert path.read_bytes()[4:8] == b"TFL3"  # a real flatbuffer's identifier


def test_bf16_without_cpu_support_gives_a_row_that_says_so(small_model, cache, monkeypatch):
    monkeypatch.setattr(harness, "bf16_supported", lambda: False)
    row = latency.time_network(SMALL, configuration("openvino", "bf16"), threads=1, timing=Timing(repeats=2),
                               model=small_model)
    assert row.precision == "bf16" and row.repeats == 0 and np.isnan(row.median_ms)
    assert "not supported by this CPU" in row.note


def test_calibration_says_which_images():
    assert "digits resized to 32 px" in conversions.calibration_set(SMALL, count=8).source
    trained = conversions.calibration_set(SMALL, np.zeros((5, 32, 32, 3)))
    assert trained.source == "training images (5)"


def test_pairs_and_bad_precisions():
    chosen = runtimes.configurations(["litert", "openvino"], ["fp32", "bf16"])
    assert [(c.runtime, c.precision) for c in chosen] == [
        ("litert", "fp32"), ("openvino", "fp32"), ("openvino", "bf16")]
    with pytest.raises(ValueError, match="'onnxruntime' does not offer bf16"):
        runtimes.configurations(["onnxruntime"], ["bf16"])
    with pytest.raises(ValueError, match="Received precision='int4'"):
        configuration("litert", "int4")


def test_missing_runtime_package_exits_1_saying_what_to_install(capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    assert main(["bench", "mobilenet", "--runtimes", "openvino"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs the package 'openvino'" in err


@pytest.mark.slow  # training, then every conversion, ONNX's included
def test_train_quantize_measures_accuracy_on_each_converted_copy(digits, cache, monkeypatch):
    monkeypatch.setattr(training.paths, "TABLES_DIR", cache)
    result = training.train(SMALL, digits.subset(300), TrainingSettings(epochs=3), quantize=("fp32", "int8"),
                            progress=False)
    pairs = [(row["runtime"], row["precision"]) for row in result.quantized]
    assert pairs == [("litert", "fp32"), ("litert", "int8"), ("openvino", "fp32"), ("openvino", "int8"),
                     ("onnxruntime", "fp32"), ("onnxruntime", "int8")]
    one_image = 1 / len(digits.x_test)
    for row in result.quantized:
        if row["precision"] == "fp32":  # the same network, converted: the same answers, but for a near tie
            assert abs(row["accuracy"] - result.accuracy) <= one_image + 1e-9
        else:
            assert row["calibration"] == "training images (64)" and abs(row["accuracy"] - result.accuracy) < 0.05


def test_atomic_writes_are_ordinary_files(tmp_path):
    import os
    import stat

    from analysis import atomic

    mask = os.umask(0o022)
    try:
        path = atomic.write_text(tmp_path / "table.csv", "a,b\n")
        with atomic.directory(tmp_path / "copy") as folder:
            (folder / "model.onnx").write_bytes(b"x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by others, as open() would make it
    assert stat.S_IMODE((tmp_path / "copy").stat().st_mode) == 0o755
