"""Latency benchmark (not a test): python benchmarks/bench_latency.py [--quick] [--threads N]
[--runtimes keras,xla,litert,openvino,onnxruntime] [--precisions fp32,bf16,int8]

Measures, on this machine, in one run:
1. the machine profile (peak GFLOP/s, DRAM and cache bandwidth), before the
   timings and again after them; the bounds use the best of the two
   (``machine.best``: a busy neighbour only ever lowers them);
2. the harness overhead of ``analysis.speed.latency`` against calling each runtime
   directly (MobileNet 1.0/224, batch 1): rounds that alternate a block of
   bare calls, written here against the runtime's own API, with a block of
   the same number of calls through ``analysis.speed.latency`` (``prepare`` and
   ``time_calls``); the overhead is the median over rounds of the ratio of
   the two blocks' mean times. Alternating cancels the machine's drift, and
   comparing means with means compares like with like (a per-call median
   against a block mean would measure the skew of the times, not the harness);
3. the fraction of the measured matrix-product peak that each runtime reaches
   on VGG16, and of the roofline bound on MobileNet 1.0/224 (batch 1);
4. the latency model's leave-one-out error on the 16 MobileNet variants and
   VGG16, per runtime, the calibration variants (Conv and shallow MobileNets;
   at fp32 also MobileNetV3Small, MobileNetV3Large and EfficientNetV2B0) in
   every fit; all variants timed in 15 interleaved rounds, for 30 calls and
   3 s at least each (a fast network's times spread widely on a shared
   machine: it gets more calls, so its median is as precise as a slow one's);
5. the fit on five networks it never saw (``predict.UNSEEN_NETWORKS``),
   timed at fp32 in the same rounds and predicted by the fit to the study.
Writes reports/tables/latency_*.csv, the shipped ``latency_study``,
``latency_fit_validation`` and ``predict_validation`` (full run only; into
``--results-dir DIR`` where given), and
prints a summary for the README.
"""

import argparse
import statistics
import sys
import time

import numpy as np

from analysis import atomic, paths, results
from analysis.speed import conversions, harness, latency, latency_fit, machine, predict, study
from analysis.speed.latency import Timing
from analysis.speed.memory import describe_levels
from analysis.speed.runtimes import Configuration, configuration, configurations
from analysis.variants import Variant


def direct_call(variant, model, runtime, threads, precision="fp32", hints=True):
    """One synchronised batch-1 call written against the runtime's own API, not the harness.

    The converted copy is the suite's (``conversions.converted``): what is compared is the call.
    ``hints=False`` leaves the runtime's own defaults (threads, OpenVINO's precision hint).
    """
    x = np.random.default_rng(1).uniform(0, 1, (1,) + tuple(model.input_shape[1:])).astype("float32")
    if runtime in ("keras", "xla"):
        import tensorflow as tf

        function = tf.function(lambda t: model(t, training=False), jit_compile=runtime == "xla")
        tensor = tf.constant(x)
        return lambda: function(tensor).numpy()
    calibration = conversions.speed_calibration(variant) if precision == "int8" else None
    path = str(conversions.converted(variant, configuration(runtime, precision), model, calibration=calibration))
    if runtime == "openvino":
        import openvino as ov

        config = {"PERFORMANCE_HINT": "LATENCY"}
        if hints:
            config.update(INFERENCE_NUM_THREADS=threads, INFERENCE_PRECISION_HINT="bf16" if precision == "bf16" else "f32")
        core = ov.Core()
        ir = core.read_model(path)
        ir.reshape([1] + list(x.shape[1:]))  # a static batch, as a deployment compiles it
        request = core.compile_model(ir, "CPU", config).create_infer_request()
        return lambda: request.infer({0: x})[0]
    if runtime == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        if hints:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        return lambda: session.run(None, {"input": x})[0]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path, num_threads=threads if hints else None)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]

    def call():
        interpreter.set_tensor(input_index, x)
        interpreter.invoke()
        return interpreter.get_tensor(output_index)

    return call


def harness_overhead(variant, model, runtime, threads, rounds=31, per_round=10, precision="fp32"):
    """(harness ms, direct ms, overhead): block means alternated over ``rounds``; overhead is
    the median of the per-round ratios minus 1."""
    direct = direct_call(variant, model, runtime, threads, precision)
    config = configuration(runtime, precision)
    calibration = conversions.speed_calibration(variant) if precision == "int8" else None
    harnessed, _ = harness.prepare(variant, config, model, 1, threads, calibration)
    for _ in range(3):
        direct()
        harnessed()
    direct_means, harness_means = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            direct()
        direct_means.append((time.perf_counter() - start) / per_round * 1e3)
        harness_means.append(float(np.mean(latency.time_calls(harnessed, per_round, warmup=0))) * 1e3)
    ratios = [h / d for h, d in zip(harness_means, direct_means)]
    return statistics.median(harness_means), statistics.median(direct_means), statistics.median(ratios) - 1


def _print_profile(title, profile, threads):
    peaks = ", ".join(f"{k} {v:.0f}" for k, v in profile.peaks.items() if v)
    print(f"{title}: {profile.cpu}, {profile.cores} cores, {profile.vector_isa}; peaks {peaks} GFLOP/s (int8 GOP/s) "
          f"({profile.peak_methods}); memory {describe_levels(profile.memory_levels)}; "
          f"theoretical {_theoretical(profile)}; threads {threads}")


def _theoretical(profile):
    peak = profile.theoretical_peak_gflops
    return f"{peak:.0f} GFLOP/s" if peak is not None else f"unknown ({profile.theoretical_note})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runtimes", default="keras,xla,litert")
    parser.add_argument("--precisions", default="fp32")
    parser.add_argument("--overhead-only", action="store_true", help="stop after the harness overhead (step 2)")
    parser.add_argument("--no-overhead", action="store_true", help="skip the harness overhead (step 2)")
    parser.add_argument("--results-dir", default=None,
                        help="where to write the shipped results (default: the package's; a refresh names its own)")
    args = parser.parse_args(argv)
    threads = harness.configure_threads(args.threads)
    configs = configurations(args.runtimes.split(","), args.precisions.split(","))
    profile = machine.measure()
    _print_profile("machine", profile, threads)

    mobile_variant = Variant("mobilenet")
    mobile = mobile_variant.build()
    print("harness overhead (MobileNet 1.0/224, batch 1):")
    for config in ([] if args.no_overhead else configs):
        harnessed, bare, overhead = harness_overhead(mobile_variant, mobile, config.runtime, threads,
                                                     precision=config.precision)
        print(f"  {config.label:16s} harness {harnessed:8.3f} ms, direct {bare:8.3f} ms, "
              f"overhead {100 * overhead:+.2f} %")
    if args.overhead_only:
        return 0

    tables = paths.TABLES_DIR
    tables.mkdir(parents=True, exist_ok=True)
    networks = study.StudyNetworks(
        study.validated_variants(quick=args.quick), study.anchor_variants(quick=args.quick),
        study.zoo_anchor_variants(quick=args.quick), [] if args.quick else predict.unseen_variants(),
        predict.VALIDATION_RUNTIMES)
    timing = Timing(repeats=6, rounds=3) if args.quick else study.STUDY_TIMING
    measurements, validation = study.latency_fit_study(profile, configs, networks, threads, timing)
    atomic.write_csv(measurements, tables / "latency_variants.csv")
    # Measured again after the timings: a neighbour busy during the first profile would
    # otherwise lower the peak and bandwidth every bound is computed from.
    after = machine.measure()
    _print_profile("machine, after the timings", after, threads)
    if machine.best(profile, after) != profile:
        profile = machine.best(profile, after)
        print(f"  bounds from the best of both: peak {profile.peak_gflops:.1f} GFLOP/s, memory "
              f"{describe_levels(profile.memory_levels)}")
        measurements, validation = study.latency_fit_study(profile, configs, networks, threads, timing,
                                                           progress=False, reuse=tables / "latency_variants.csv")
        atomic.write_csv(measurements, tables / "latency_variants.csv")
    atomic.write_csv(validation, tables / "latency_model_validation.csv")
    measurements, held_out = study.split_held_out(measurements)
    if not args.quick:
        given = list(argv if argv is not None else sys.argv[1:])
        if "--results-dir" in given:  # where it was written is not how it was measured
            del given[given.index("--results-dir"):given.index("--results-dir") + 2]
        command = "python benchmarks/bench_latency.py " + " ".join(given)
        out = args.results_dir
        results.write_results("latency_study", measurements, command.strip(), out, threads=threads,
                              peaks=profile.peaks, bandwidth_gbs=profile.bandwidth_gbs, profile=profile.to_dict())
        results.write_results("latency_fit_validation", validation, command.strip(), out, threads=threads)
        # The unseen networks, timed in the study's own rounds, predicted by the fit to the study.
        unseen_errors = predict.prediction_errors(held_out, results.results("latency_study", out))
        results.write_results("predict_validation", unseen_errors, command.strip() + " (held-out networks)", out,
                              threads=threads)
        shown = unseen_errors[["variant", "runtime", "measured_ms", "measured_ms_iqr", "predicted_ms", "error"]]
        print("the latency fit on networks it never saw (timed in the same rounds):")
        print(shown.round(3).to_string(index=False))
        within = (unseen_errors["error"].abs() <= 0.15).groupby(unseen_errors["runtime"], sort=False).agg(["sum", "count"])
        print("within 15 %:", ", ".join(f"{r} {s}/{c}" for r, (s, c) in within.iterrows()))

    vgg = measurements[measurements["variant"] == "VGG16"]
    print("VGG16, batch 1: fraction of the measured matrix-product peak at its precision")
    for _, row in vgg.iterrows():
        print(f"  {Configuration(row['runtime'], row['precision']).label:16s} {row['median_ms']:8.1f} ms  {row['gflops']:6.1f} GFLOP/s  "
              f"{100 * row['gflops'] / profile.peaks[row['precision']]:5.1f} % of peak")
    mobile_rows = measurements[measurements["variant"] == "MobileNet 1.0/224"]
    print("MobileNet 1.0/224, batch 1: roofline bound / measured")
    for _, row in mobile_rows.iterrows():
        print(f"  {Configuration(row['runtime'], row['precision']).label:16s} {row['median_ms']:8.2f} ms  bound {row['bound_ms']:6.2f} ms  "
              f"{100 * row['bound_ms'] / row['median_ms']:5.1f} % of the bound")
    print("latency model, leave-one-out error per variant:")
    for (runtime, precision), group in validation.groupby(["runtime", "precision"], sort=False):
        worst = group.loc[group["error"].abs().idxmax()]
        unstable = measurements.loc[(measurements["runtime"] == runtime) & (measurements["precision"] == precision),
                                    "unstable"]
        print(f"  {Configuration(runtime, precision).label:16s} median |error| {100 * group['error'].abs().median():5.1f} %, "
              f"max {100 * abs(worst['error']):5.1f} % ({worst['variant']}), "
              f"within 10 %: {(group['error'].abs() <= 0.10).sum()}/{len(group)}; "
              f"measurements flagged unstable: {int(unstable.sum())}/{len(unstable)}")
    print(validation.round(3).to_string(index=False))
    print("latency model fitted on every variant (anchors included):")
    for name, fit in latency_fit.fit_by_configuration(measurements).items():
        print(f"  {name:16s} e_matrix {fit.efficiency['Matrix product']:.2f}, e_depthwise {fit.efficiency['Depthwise']:.1f}, "
              f"e_elementwise {fit.efficiency['Element-wise']:.1f}, {fit.unit_ms['layers'] * 1e3:.0f} us/layer, "
              f"{fit.unit_ms['graph_layers'] * 1e3:.0f} us/graph layer, "
              f"{fit.unit_ms['depthwise_positions'] * 1e6:.1f} ns/depthwise position, "
              f"{fit.unit_ms['channels'] * 1e6:.0f} ns/channel, "
              f"{fit.unit_ms['activation_values'] * 1e6:.2f} ns/swish value")
    return 0


if __name__ == "__main__":
    sys.exit(main())
