"""Latency benchmark (not a test): python benchmarks/bench_latency.py [--quick] [--threads N]

Measures, on this machine, in one run:
1. the machine profile (peak GFLOP/s, DRAM and cache bandwidth);
2. the harness overhead of ``analysis.latency`` against calling each runtime
   directly (MobileNet 1.0/224, batch 1): median per-call time in the
   harness over the median of block means of a bare loop;
3. the fraction of the measured matrix-product peak that each runtime reaches
   on VGG16, and of the roofline bound on MobileNet 1.0/224 (batch 1);
4. the latency model's leave-one-out error on the 16 MobileNet variants and
   VGG16, per runtime.
Writes reports/tables/latency_*.csv and prints a summary for the README.
"""

import argparse
import statistics
import sys
import time

from analysis import latency, machine, paths, roofline, variants


def direct_ms(call, blocks=7, per_block=10):
    """Median over blocks of the mean time of ``per_block`` bare calls, in ms."""
    for _ in range(3):
        call()
    means = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(per_block):
            call()
        means.append((time.perf_counter() - start) / per_block * 1e3)
    return statistics.median(means)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--runtimes", default="keras,xla,litert")
    args = parser.parse_args(argv)
    threads = latency.configure_threads(args.threads)
    runtimes = tuple(args.runtimes.split(","))
    profile = machine.measure()
    print(f"machine: {profile.cpu}, {profile.cores} cores, {profile.vector_isa}; peak {profile.peak_gflops:.1f} GFLOP/s "
          f"({profile.peak_by_library}); DRAM {profile.bandwidth_gbs:.1f} GB/s, cache {profile.cache_bandwidth_gbs:.1f} GB/s; "
          f"theoretical {profile.theoretical_peak_gflops:.0f} GFLOP/s; threads {threads}")

    mobile = variants.build("mobilenet")
    print("harness overhead (MobileNet 1.0/224, batch 1):")
    for runtime in runtimes:
        call, _ = latency.prepare(mobile, runtime, 1, threads)
        bare = direct_ms(call)
        harness = statistics.median(latency.time_calls(call, repeats=70, warmup=3)) * 1e3
        print(f"  {runtime:7s} harness {harness:8.3f} ms, direct {bare:8.3f} ms, overhead {100 * (harness / bare - 1):+.2f} %")

    tables = paths.TABLES_DIR
    tables.mkdir(parents=True, exist_ok=True)
    measurements, validation = roofline.latency_model_study(
        profile, runtimes, roofline.variant_specs(quick=args.quick), threads=threads,
        repeats=5 if args.quick else 15)
    measurements.to_csv(tables / "latency_variants.csv", index=False)
    validation.to_csv(tables / "latency_model_validation.csv", index=False)

    vgg = measurements[measurements["model"] == "VGG16"]
    print("VGG16, batch 1: fraction of the measured matrix-product peak")
    for _, row in vgg.iterrows():
        print(f"  {row['runtime']:7s} {row['median_ms']:8.1f} ms  {row['gflops']:6.1f} GFLOP/s  "
              f"{100 * row['gflops'] / profile.peak_gflops:5.1f} % of peak")
    mobile_rows = measurements[measurements["model"] == "MobileNet 1.0/224"]
    print("MobileNet 1.0/224, batch 1: roofline bound / measured")
    for _, row in mobile_rows.iterrows():
        print(f"  {row['runtime']:7s} {row['median_ms']:8.2f} ms  bound {row['bound_ms']:6.2f} ms  "
              f"{100 * row['bound_ms'] / row['median_ms']:5.1f} % of the bound")
    print("latency model, leave-one-out error per variant:")
    for runtime, group in validation.groupby("runtime", sort=False):
        worst = group.loc[group["error"].abs().idxmax()]
        print(f"  {runtime:7s} median |error| {100 * group['error'].abs().median():5.1f} %, "
              f"max {100 * abs(worst['error']):5.1f} % ({worst['variant']}), "
              f"within 10 %: {(group['error'].abs() <= 0.10).sum()}/{len(group)}")
    print(validation.round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
