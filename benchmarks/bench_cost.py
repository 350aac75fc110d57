"""Benchmark of the cost analysis (not a test): python benchmarks/bench_cost.py

Times, as medians of repeats: layer_table of both default networks (model
building excluded) and the 16-variant alpha x resolution sweep (building
included). Targets: under 1 s and under 30 s on the 2-core machine.
"""

import statistics
import time

from analysis.cost import cost_sweep, layer_table
from analysis.speed.machine import core_count, cpu_model
from analysis.variants import Variant


def median_seconds(work, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main():
    vgg, mobile = Variant("vgg16").build(), Variant("mobilenet").build()
    tables = median_seconds(lambda: (layer_table(vgg), layer_table(mobile)), repeats=20)
    sweep = median_seconds(lambda: cost_sweep(progress=False), repeats=3)
    print(f"machine: {cpu_model()}, {core_count()} cores")
    print(f"layer_table(VGG16) + layer_table(MobileNet): median {tables[0] * 1e3:.1f} ms "
          f"(min {tables[1] * 1e3:.1f}, max {tables[2] * 1e3:.1f}; 20 runs; target < 1000 ms)")
    print(f"16-variant sweep, building included: median {sweep[0]:.2f} s "
          f"(min {sweep[1]:.2f}, max {sweep[2]:.2f}; 3 runs; target < 30 s)")


if __name__ == "__main__":
    main()
