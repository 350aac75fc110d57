"""The latency fit on networks it was never fitted on (not a test):
python benchmarks/bench_predict.py [--runtimes keras,litert,openvino] [--threads N]

Fits each runtime on this machine's last latency study (the shipped ``latency_study``),
measures MobileNetV2, ResNet50, EfficientNetB0, DenseNet121 and Xception (keras.applications,
random weights, default resolution, batch 1), timed as the study times its variants (30 calls
and 3 s at least, in 15 interleaved rounds), and prints each prediction's error; writes the
shipped result ``predict_validation``.
"""

import argparse
import sys

from analysis import shipped
from analysis.speed import runtimes as runtime_setup
from analysis.speed.predict import validate_predictions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", default="keras,litert,openvino")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    threads = runtime_setup.configure_threads(args.threads)
    table = validate_predictions(runtimes=tuple(args.runtimes.split(",")), threads=threads)
    command = "python benchmarks/bench_predict.py " + " ".join(argv if argv is not None else sys.argv[1:])
    shipped.write_results("predict_validation", table, command.strip(), threads=threads)
    shown = table[["variant", "runtime", "measured_ms", "measured_ms_iqr", "predicted_ms", "error"]]
    print(shown.round(3).to_string(index=False))
    within = (table["error"].abs() <= 0.15).groupby(table["runtime"]).agg(["sum", "count"])
    print("within 15 %:", ", ".join(f"{r} {s}/{c}" for r, (s, c) in within.iterrows()))


if __name__ == "__main__":
    main()
