"""Fused layers timed alone against the network timed whole (not a test):
python benchmarks/bench_kernels_alone.py [--variants "VGG16,MobileNet 1.0/224"] [--runtimes keras,litert]

Why a kernel-level latency predictor (nn-Meter's route) cannot be built from Python timings of
isolated kernels on this machine: each fused layer (a convolution with the batch norm and
activation after it, ``analysis.speed.roofline.FUSED_INTO_PREVIOUS``) is cut out of a sequential
variant as a model of its own, with the network's weights, timed on ``runtime`` (batch 1, at
least 30 calls and 0.3 s each), and the medians are summed. The sum is set beside the network
timed whole, in the same round, over 3 rounds. Keras runs each one as a ``tf.function`` on a
constant input; LiteRT through its Interpreter (XNNPACK), input copied in as in the study.
Prints one line per round; writes nothing.
"""

import argparse
import statistics
import tempfile
from pathlib import Path

from analysis.speed import harness
from analysis.speed.runtimes import configuration
from analysis.speed.runtimes.litert import load as litert_load, tflite_flatbuffer
from analysis.speed.latency import time_calls
from analysis.speed.roofline import FUSED_INTO_PREVIOUS
from analysis.variants import Variant
from nets.backend import keras

ROUNDS = 3


def fused_units(model):
    """The layers of a sequential ``model`` grouped as a runtime fuses them: lists of layers."""
    units = []
    for layer in model.layers[1:]:
        if units and type(layer).__name__ in FUSED_INTO_PREVIOUS:
            units[-1].append(layer)
        else:
            units.append([layer])
    return units


def unit_model(layers):
    """``layers`` (consecutive, single input each) as a model of their own, sharing their weights."""
    inputs = keras.Input(shape=tuple(layers[0].input.shape[1:]), batch_size=1)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


def call_of(variant, model, runtime, threads, folder):
    """``call()``: one batch-1 run of ``model`` (``variant``'s network or a piece of it) on
    ``runtime``: keras as the study runs it, litert from a .tflite written to ``folder`` (uncached:
    the conversion cache is keyed on the variant, not on the piece)."""
    if runtime == "keras":
        return harness.prepare(variant, configuration(runtime), model, 1, threads)[0]
    x = harness.input_batch(model, 1)
    path = Path(folder) / f"{model.name}.tflite"
    path.write_bytes(tflite_flatbuffer(model))
    run = litert_load(path, x.shape, threads, "fp32")
    return lambda: run(x)


def median_ms(call, min_seconds):
    return 1e3 * statistics.median(time_calls(call, repeats=30, min_seconds=min_seconds))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="VGG16,MobileNet 1.0/224")
    parser.add_argument("--runtimes", default="keras,litert")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = harness.configure_threads(args.threads)
    for label in args.variants.split(","):
        variant = Variant.parse(label)
        model = variant.build()
        units = [unit_model(layers) for layers in fused_units(model)]
        for runtime in args.runtimes.split(","):
            with tempfile.TemporaryDirectory() as folder:
                whole = call_of(variant, model, runtime, threads, folder)
                calls = [call_of(variant, unit, runtime, threads, folder) for unit in units]
                for round_index in range(ROUNDS):
                    whole_ms = median_ms(whole, 3.0)
                    alone_ms = sum(median_ms(call, 0.3) for call in calls)
                    print(f"{label}, {runtime}, round {round_index + 1}: whole {whole_ms:.2f} ms, its {len(units)} "
                          f"fused layers alone {alone_ms:.2f} ms, {alone_ms / whole_ms:.2f}x", flush=True)


if __name__ == "__main__":
    main()
