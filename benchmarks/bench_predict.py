"""The latency fit on networks it was never fitted on (not a test):
python benchmarks/bench_predict.py [--runtimes keras,litert,openvino] [--threads N]

Fits each runtime on this machine's last latency study (the shipped ``latency_study``),
measures MobileNetV2, ResNet50, EfficientNetB0, DenseNet121 and Xception (keras.applications,
random weights, default resolution, batch 1), timed as the study times its variants (30 calls
and 3 s at least, in 15 interleaved rounds), and prints each prediction's error.

It prints only. The shipped ``predict_validation`` comes from ``bench_latency.py``, which times
these networks in the study's own rounds: timed minutes apart from the study, the same networks
came out 15-20 % slower than the study's machine had been (docs/measurements.md), so these
errors mix the fit's error with the machine's drift.
"""

import argparse

from analysis.speed import harness
from analysis.speed.runtimes import configurations
from analysis.speed.predict import validate_predictions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", default="keras,litert,openvino")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = harness.configure_threads(args.threads)
    table = validate_predictions(configs=configurations(args.runtimes.split(","), ["fp32"]), threads=threads)
    shown = table[["variant", "runtime", "measured_ms", "measured_ms_iqr", "predicted_ms", "error"]]
    print(shown.round(3).to_string(index=False))
    within = (table["error"].abs() <= 0.15).groupby(table["runtime"]).agg(["sum", "count"])
    print("within 15 %:", ", ".join(f"{r} {s}/{c}" for r, (s, c) in within.iterrows()))


if __name__ == "__main__":
    main()
