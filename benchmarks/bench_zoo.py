"""Benchmark of counting the keras.applications zoo (not a test): python benchmarks/bench_zoo.py

Times, per keras.applications builder at its default resolution (random
weights): ``layer_table`` + ``summarize`` with building excluded, as the
median of repeats (target: under 0.5 s each), and the whole zoo with
building included, each model built, counted once and freed in turn
(target: under 2 minutes). Models are built one at a time and freed
(``keras.backend.clear_session``), so memory stays that of the largest.

Options: ``--repeats N`` (default 5), ``--names A,B`` (default: the whole zoo).
"""

import argparse
import gc
import statistics
import time

from analysis.cost import layer_table, summarize
from analysis.speed.cpu import core_count, cpu_model
from nets.applications import APPLICATION_NAMES, build_application, default_resolution
from nets.backend import keras

COUNT_TARGET_S = 0.5
ZOO_TARGET_S = 120.0


def count(model):
    """The table's row count and the totals: what counting a model gives."""
    table = layer_table(model)
    return len(table), summarize(table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--names", default=",".join(APPLICATION_NAMES))
    args = parser.parse_args()
    names = [n for n in args.names.split(",") if n]
    rows, zoo_start = [], time.perf_counter()
    for name in names:
        start = time.perf_counter()
        model = build_application(name)
        built = time.perf_counter()
        layers, totals = count(model)
        counted = time.perf_counter()
        repeats = []
        for _ in range(args.repeats):
            begin = time.perf_counter()
            count(model)
            repeats.append(time.perf_counter() - begin)
        rows.append((name, default_resolution(name), layers, totals, built - start, counted - built, repeats))
        del model
        keras.backend.clear_session()
        gc.collect()
    # The zoo total counts each model's build and first count only, not the repeats.
    zoo_s = sum(r[4] + r[5] for r in rows)
    elapsed = time.perf_counter() - zoo_start
    print(f"machine: {cpu_model()}, {core_count()} cores (shared: other work may run beside this)")
    print(f"{'model':<20} {'res':>4} {'rows':>5} {'params':>12} {'GMACs':>8} {'build s':>8} "
          f"{'count ms (median, min-max of ' + str(args.repeats) + ')':>36}")
    for name, resolution, layers, totals, build_s, first_s, repeats in rows:
        median = statistics.median(repeats)
        print(f"{name:<20} {resolution:>4} {layers:>5} "
              f"{totals['params']:>12,} {totals['macs'] / 1e9:>8.2f} {build_s:>8.2f} "
              f"{median * 1e3:>12.1f} ({min(repeats) * 1e3:.1f}-{max(repeats) * 1e3:.1f})"
              f"{'' if median < COUNT_TARGET_S else '  OVER TARGET'}")
    slowest = max(rows, key=lambda r: statistics.median(r[6]))
    print(f"slowest count: {slowest[0]} {statistics.median(slowest[6]) * 1e3:.0f} ms "
          f"(target < {COUNT_TARGET_S * 1e3:.0f} ms each, building excluded)")
    print(f"whole zoo, {len(rows)} models, building + one count each: {zoo_s:.1f} s "
          f"(target < {ZOO_TARGET_S:.0f} s); with the repeats {elapsed:.1f} s")


if __name__ == "__main__":
    main()
