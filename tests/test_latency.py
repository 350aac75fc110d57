"""Timing works and is well-formed (never how fast it is), on every CPU runtime."""

import json
import os
import time

from nets.backend import keras
import numpy as np
import pytest
import tensorflow as tf

from analysis.cli import main
from analysis.speed import conversions, harness, latency, runtimes
from analysis.speed.cpu import bf16_supported
from analysis.speed.latency import Timing
from analysis.speed.runtimes import configuration
from analysis.variants import Variant

SMALL = Variant("mobilenet", alpha=0.25, resolution=32, num_classes=10)


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(0)
    return SMALL.build()


def test_summary_statistics_closed_form():
    times = np.array([0.010, 0.012, 0.011, 0.013, 0.050])  # seconds
    stats = latency.summarize_times(times, batch=2, flops_per_image=1e9)
    assert stats["median_ms"] == pytest.approx(12.0)
    assert stats["iqr_ms"] == pytest.approx(np.percentile(times * 1e3, 75) - np.percentile(times * 1e3, 25))
    assert stats["min_ms"] == pytest.approx(10.0) and stats["max_ms"] == pytest.approx(50.0)
    assert stats["ms_per_image"] == pytest.approx(6.0)
    assert stats["images_per_s"] == pytest.approx(2 / 0.012)
    assert stats["gflops"] == pytest.approx(2e9 / 0.012 / 1e9)
    assert stats["unstable"] is True  # IQR 2 ms > 10 % of the 12 ms median
    assert latency.summarize_times(np.array([1.0, 1.01, 1.02, 1.03, 9.0]), 1, 1)["unstable"] is False


# Slow tier: the ONNX exports, and the int8 conversions tests/test_precision.py checks fast.
@pytest.mark.parametrize("runtime, precision", [
    ("keras", "fp32"), ("xla", "fp32"), ("litert", "fp32"), pytest.param("litert", "int8", marks=pytest.mark.slow),
    ("openvino", "fp32"), ("openvino", "bf16"), pytest.param("openvino", "int8", marks=pytest.mark.slow),
    pytest.param("onnxruntime", "fp32", marks=pytest.mark.slow),
    pytest.param("onnxruntime", "int8", marks=pytest.mark.slow)])
def test_measure_is_well_formed(small_model, runtime, precision, tmp_path, monkeypatch):
    if precision == "bf16" and not bf16_supported():
        pytest.skip("this CPU has no bf16 instructions (tests/test_precision.py covers the row it gives)")
    monkeypatch.setattr(conversions.paths, "CACHE_DIR", tmp_path)
    result = latency.time_network(SMALL, configuration(runtime, precision), batch=3, threads=1,
                                  timing=Timing(repeats=4, warmup=1), model=small_model)
    assert result.runtime == runtime and result.precision == precision
    assert result.batch == 3 and result.repeats == 4
    assert bool(result.calibration) == (precision == "int8")
    assert 0 < result.min_ms <= result.median_ms <= result.max_ms
    assert result.ms_per_image == pytest.approx(result.median_ms / 3)
    assert result.flops_per_image > 0
    assert result.gflops == pytest.approx(result.flops_per_image * 3 / (result.median_ms / 1e3) / 1e9)
    assert result.runtime_version and result.device == "cpu"


def test_litert_conversion_is_cached_and_computes_the_same(small_model, tmp_path):
    path = conversions.converted(SMALL, configuration("litert"), small_model, cache_dir=tmp_path)
    stamp = os.stat(path).st_mtime_ns
    assert conversions.converted(SMALL, configuration("litert"), small_model, cache_dir=tmp_path) == path
    assert os.stat(path).st_mtime_ns == stamp  # not converted twice
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    x = np.random.default_rng(1).uniform(size=(1, 32, 32, 3)).astype("float32")
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, small_model(x, training=False), atol=1e-5)


def test_failed_conversion_names_the_layer(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Lambda(lambda t: tf.linalg.svd(t)[0], name="svd_layer")(x)
    with pytest.raises(conversions.ConversionError, match="layer 'svd_layer'.*tf.Svd"):
        conversions.converted(SMALL, configuration("litert"), keras.Model(inputs, x, name="odd"), cache_dir=tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written, no partial folder left


def test_bad_runtime_and_batch(small_model):
    with pytest.raises(ValueError, match="Received runtime='onnx'"):
        configuration("onnx")
    with pytest.raises(runtimes.RuntimeUnavailable, match="torch backend"):
        harness.check_runnable(configuration("torch"))
    with pytest.raises(ValueError, match="Received batch=0"):
        latency.time_network(SMALL, configuration("keras"), batch=0, model=small_model)
    with pytest.raises(ValueError, match="Received repeats=0"):
        Timing(repeats=0)
    with pytest.raises(ValueError, match="Received min_seconds=-1"):
        Timing(repeats=1, min_seconds=-1)
    with pytest.raises(ValueError, match="Received min_seconds='2'"):
        Timing(min_seconds="2")
    with pytest.raises(ValueError, match="Received threads=0"):
        harness.configure_threads(0)


def test_time_calls_runs_repeats_and_then_until_min_seconds():
    calls = []
    sleep = lambda: (calls.append(1), time.sleep(0.002))  # noqa: E731
    times = latency.time_calls(sleep, repeats=3, warmup=2)
    assert len(times) == 3 and len(calls) == 5
    times = latency.time_calls(sleep, repeats=3, warmup=0, min_seconds=0.05)
    # Each call sleeps 2 ms at least, so 0.05 s takes 25 calls at most, and stops as soon as it is reached.
    assert 3 <= len(times) <= 25 and times.sum() >= 0.05 and times[:-1].sum() < 0.05


def test_interleaved_benchmark_honours_min_seconds(small_model):
    table = latency.benchmark([SMALL], [configuration("keras")], models={SMALL: small_model}, progress=False,
                              timing=Timing(repeats=2, warmup=1, rounds=2, min_seconds=0.2))
    # At least 0.1 s per round of calls that take a few ms: more than the 2 repeats asked, and
    # (no call longer than the longest) enough of them to fill the 0.2 s.
    assert table.loc[0, "repeats"] > 2
    assert table.loc[0, "repeats"] * table.loc[0, "max_ms"] / 1e3 >= 0.2


def test_benchmark_table(small_model):
    table = latency.benchmark([SMALL], [configuration("keras")], models={SMALL: small_model}, batches=(1, 2),
                              progress=False, timing=Timing(repeats=3, warmup=1))
    assert list(table["batch"]) == [1, 2]
    assert list(table["variant"]) == [SMALL.label] * 2 and list(table["repeats"]) == [3, 3]


def test_benchmark_reuses_earlier_measurements(small_model, tmp_path):
    earlier = latency.benchmark([SMALL], [configuration("keras")], models={SMALL: small_model}, batches=(1,),
                                progress=False, timing=Timing(repeats=4, warmup=1))
    path = tmp_path / "earlier.csv"
    earlier.to_csv(path, index=False)
    table = latency.benchmark([SMALL], [configuration("keras")], models={SMALL: small_model}, batches=(1, 2),
                              progress=False, reuse=path, timing=Timing(repeats=4, warmup=1))
    assert list(table["batch"]) == [1, 2]
    assert table.loc[0, "median_ms"] == pytest.approx(earlier.loc[0, "median_ms"], rel=1e-12)  # reused
    assert table.loc[1, "repeats"] == 4 and table.loc[1, "median_ms"] > 0  # measured
    more = latency.benchmark([SMALL], [configuration("keras")], models={SMALL: small_model}, batches=(1,),
                             progress=False, reuse=path, timing=Timing(repeats=6, warmup=1))
    assert more.loc[0, "repeats"] == 6  # the earlier run had too few repeats: measured again
    missing = latency.benchmark([SMALL], [configuration("keras")], models={SMALL: small_model}, batches=(1,),
                                progress=False, reuse=tmp_path / "none.csv", timing=Timing(repeats=4, warmup=1))
    assert len(missing) == 1


def test_reuse_never_hands_one_networks_latency_to_another(small_model, tmp_path):
    # Two networks that differ only in their depthwise multiplier: an earlier row for one of them
    # (a median no real run gives) must be reused for it and never for the other.
    other = SMALL.replace(depth_multiplier=2)
    assert other.label != SMALL.label
    earlier = latency.benchmark([SMALL], [configuration("keras")], models={SMALL: small_model}, progress=False,
                                threads=1, timing=Timing(repeats=2, warmup=1))
    earlier["median_ms"] = 12345.0
    path = tmp_path / "earlier.csv"
    earlier.to_csv(path, index=False)
    again = latency.benchmark([SMALL], [configuration("keras")], progress=False, threads=1, reuse=path,
                              timing=Timing(repeats=2))
    assert again.loc[0, "median_ms"] == 12345.0
    measured = latency.benchmark([other], [configuration("keras")], progress=False, threads=1,
                                 reuse=path, timing=Timing(repeats=2, warmup=1))
    assert measured.loc[0, "variant"] == other.label and measured.loc[0, "median_ms"] != 12345.0


def test_bench_command_json(capsys):
    status = main(["bench", "mobilenet", "--alpha", "0.25", "--resolution", "32", "--runtimes", "keras",
                   "--batch", "1,2", "--repeats", "2", "--format", "json"])
    out = capsys.readouterr().out
    assert status == 0
    results = json.loads(out)["results"]
    assert [r["batch"] for r in results] == [1, 2]
    assert all(r["variant"] == "MobileNet 0.25/32" and r["median_ms"] > 0 for r in results)


@pytest.mark.parametrize("argv, fragment", [
    (["bench", "mobilenet", "--runtimes", "onnx"], "Received runtime='onnx'"),
    (["bench", "mobilenet", "--batch", "0"], "Received batch=0"),
    (["bench", "mobilenet", "--batch", "one"], "'one'"),
    (["bench", "mobilenet", "--precision", "fp64"], "Received precision='fp64'"),
    (["bench", "mobilenet", "--runtimes", "onnxruntime", "--precision", "bf16"], "does not offer bf16"),
    (["bench", "mobilenet", "--runtimes", "keras,xla", "--precision", "int8"], "'keras' does not offer int8"),
])
def test_bench_bad_input(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and fragment in err


def test_bench_on_a_runtime_this_process_cannot_run_exits_1(capsys):
    """An environment that cannot do it (Keras runs on TensorFlow here) is not bad input."""
    assert main(["bench", "vgg16", "--runtimes", "torch"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "needs Keras on the torch backend" in err
