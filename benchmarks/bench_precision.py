"""Deployment-precision benchmark (not a test): python benchmarks/bench_precision.py [--quick] [--threads N]

Measures, on this machine, in one run:
1. the machine profile with its fp32, bf16 and int8 peaks;
2. MobileNet 1.0/224 and VGG16 on every CPU runtime at every precision it
   offers (batch 1; 5 interleaved rounds, 20 calls and 3 s at least each),
   with each precision's roofline bound (``analysis.speed.deployment``);
3. the best that the runtimes' own APIs reach, in the same interleaved
   rounds: each runtime's converted copies called directly, with the
   runtime's own defaults (no thread or precision hint: OpenVINO then picks
   bf16 on a CPU that has it), to set beside the suite's fastest;
4. int8 (and bf16) accuracy of the digits networks (MobileNet 0.5/32 and
   VGG16/32), trained with their recommended settings, on every runtime;
5. with ``--digits-latency-only``, those trained networks timed on every
   configuration (their accuracy from step 4's shipped result).

Writes the results shipped with the package (analysis/data/results/, or
``--results-dir DIR``: deployment_latency, deployment_direct,
quantized_accuracy; quantized_latency with ``--digits-latency-only``) and
prints a summary for the README.
"""

import argparse
import sys

import pandas as pd

from bench_latency import direct_call

from analysis import results
from analysis.accuracy import training
from analysis.datasets import load_dataset
from analysis.accuracy.settings import TrainingSettings
from analysis.speed import deployment, harness, latency, machine, runtimes
from analysis.speed.latency import Timing
from analysis.variants import Variant

COMMAND = "python benchmarks/bench_precision.py"
DIGITS_NETWORKS = (Variant("mobilenet", alpha=0.5, resolution=32), Variant("vgg16", resolution=32, fc6_kernel_size="auto"))


def direct_best(variants, models, threads, repeats, rounds, min_seconds):
    """Every converted copy called by its runtime's own API with the runtime's defaults, timed in
    interleaved rounds: a DataFrame of variant, configuration, ms_per_image and iqr_ms."""
    jobs = [(v, c.runtime, c.precision) for v in variants
            for c in runtimes.configurations(runtimes.deployed_names(), ("fp32", "int8"))]
    calls = {job: direct_call(job[0], models[job[0]], job[1], threads, job[2], hints=False) for job in jobs}
    for call in calls.values():
        for _ in range(3):
            call()
    times = {job: [] for job in jobs}
    for _ in range(rounds):
        for job in jobs:
            times[job].extend(latency.time_calls(calls[job], max(1, repeats // rounds), warmup=1,
                                                 min_seconds=min_seconds / rounds))
    rows = []
    for (variant, runtime, precision), seconds in times.items():
        stats = latency.summarize_times(seconds, 1, 0)
        hint = " (OpenVINO's default precision hint)" if runtime == "openvino" else ""
        rows.append({"variant": variant.label, "configuration": runtimes.Configuration(runtime, precision).label + hint,
                     "ms_per_image": stats["ms_per_image"], "iqr_ms": stats["iqr_ms"], "calls": len(seconds)})
    return pd.DataFrame(rows)


def quantized_accuracy(quick):
    """The digits networks trained and converted: fp32 accuracy and each runtime's int8 and bf16."""
    data = load_dataset("digits", image_size=32)
    rows = []
    for variant in DIGITS_NETWORKS:
        result = training.train(variant, data, TrainingSettings(epochs=3 if quick else None),
                                quantize=("int8", "bf16"), record=False)
        for row in result.quantized:
            rows.append({"variant": result.variant, "fp32_accuracy": result.accuracy, **row,
                         "drop_points": None if row["accuracy"] is None else 100 * (result.accuracy - row["accuracy"])})
    return pd.DataFrame(rows)


def digits_latency(profile, accuracy, threads, out=None):
    """Step 5: the trained digits networks timed on every configuration, for notebook 05's
    accuracy against latency (shipped as quantized_latency)."""
    variants = [Variant.parse(label) for label in accuracy["variant"].unique()]
    measurements = deployment.deployment_study(profile, variants, threads=threads,
                                               timing=Timing(repeats=20, rounds=5, min_seconds=2.0))
    print(measurements[["variant", "configuration", "ms_per_image", "iqr_ms"]].round(3).to_string(index=False))
    results.write_results("quantized_latency", measurements, COMMAND + " --digits-latency-only", out,
                          threads=threads)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--digits-latency-only", action="store_true",
                        help="only time the digits networks of the shipped quantized_accuracy (step 5)")
    parser.add_argument("--results-dir", default=None,
                        help="where to write the shipped results, and read quantized_accuracy first "
                             "(default: the package's; a refresh names its own)")
    args = parser.parse_args(argv)
    threads = harness.configure_threads(args.threads)
    profile = machine.measure()
    if args.digits_latency_only:
        return digits_latency(profile, results.results("quantized_accuracy", first=args.results_dir), threads,
                              args.results_dir)
    print(f"machine: {profile.cpu}, {profile.cores} cores; peaks {profile.peaks}; {profile.peak_methods}")
    print(f"  theoretical {profile.theoretical_peaks}: {profile.theoretical_note}")
    variants = [Variant("mobilenet", alpha=0.25, resolution=128), Variant("mobilenet")] if args.quick \
        else list(deployment.DEPLOYMENT_VARIANTS)
    repeats, rounds, min_seconds = (6, 2, 0.0) if args.quick else (20, 5, 3.0)
    measurements = deployment.deployment_study(profile, variants, threads=threads,
                                               timing=Timing(repeats=repeats, rounds=rounds, min_seconds=min_seconds))
    small, large = variants[0].label, variants[-1].label
    table = deployment.deployment_table(measurements, small=small, large=large)
    print(table.round(3).to_string(index=False))
    fastest = deployment.fastest_configurations(measurements)
    print(fastest.round(3).to_string(index=False))
    models = {v: v.build() for v in variants}
    direct = direct_best(variants, models, threads, repeats, rounds, min_seconds)
    print("the runtimes' own APIs, their defaults:")
    print(direct.round(3).to_string(index=False))
    for _, row in fastest.iterrows():
        best = direct[direct["variant"] == row["variant"]]["ms_per_image"].min()
        print(f"  {row['variant']}: suite fastest {row['fastest']} {row['ms_per_image']:.2f} ms, best direct "
              f"{best:.2f} ms, suite / direct {row['ms_per_image'] / best:.3f}")
    accuracy = quantized_accuracy(args.quick)
    print(accuracy.round(4).to_string(index=False))
    if not args.quick:
        details = {"peaks": profile.peaks, "peak_methods": profile.peak_methods,
                   "theoretical_peaks": profile.theoretical_peaks, "threads": threads}
        results.write_results("deployment_latency", measurements, COMMAND, args.results_dir, **details)
        results.write_results("deployment_direct", direct, COMMAND, args.results_dir, threads="runtime default")
        results.write_results("quantized_accuracy", accuracy, COMMAND, args.results_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
