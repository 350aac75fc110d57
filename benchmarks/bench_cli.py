"""Command-line start-up benchmark (not a test): python benchmarks/bench_cli.py [--repeats 7]

Times, as medians of repeats in fresh processes: a bad argument answered by
``python -m analysis count resnet50`` (exit 2, before TensorFlow loads)
against ``python -c "import tensorflow"``, and a valid ``count`` for scale.
The promise: a one-line error comes back in a small fraction of a
TensorFlow import.
"""

import argparse
import statistics
import subprocess
import sys
import time

from analysis.speed.machine import core_count, cpu_model

COMMANDS = {
    "bad argument (count resnet50)": [sys.executable, "-m", "analysis", "count", "resnet50"],
    "import tensorflow": [sys.executable, "-c", "import tensorflow"],
    "count mobilenet (valid)": [sys.executable, "-m", "analysis", "count", "mobilenet"],
}


def seconds(command, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": ""}, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"machine: {cpu_model()}, {core_count()} cores; median of {args.repeats} fresh processes")
    results = {name: seconds(command, args.repeats) for name, command in COMMANDS.items()}
    for name, (median, low, high) in results.items():
        print(f"  {name:32s} {median:6.2f} s (min {low:.2f}, max {high:.2f})")
    bad, tensorflow = results["bad argument (count resnet50)"][0], results["import tensorflow"][0]
    print(f"a bad argument takes {100 * bad / tensorflow:.0f} % of a TensorFlow import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
