"""GPU latency on Keras 3's PyTorch backend (a machine with PyTorch but no TensorFlow).

    KERAS_BACKEND=torch python benchmarks/bench_gpu.py [--out FILE.csv] [--results-dir DIR] [--quick]

Runs the same ``analysis.speed.latency.benchmark`` as ``python -m analysis bench``,
runtime ``torch``, float32, on the GPU PyTorch sees (else the CPU), and
writes one CSV row per (variant, batch) with the device and versions: by
default (not with ``--quick``) as the shipped result ``gpu_latency`` (``analysis.results``, with the
machine, date, command and versions; in ``--results-dir``, default the package's results), else to
``--out``. Notebook 04 draws it.
"""

import argparse
import os
import platform
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from analysis import atomic, results  # noqa: E402
from analysis.speed import latency  # noqa: E402
from analysis.speed.runtimes import configuration  # noqa: E402
from analysis.variants import Variant  # noqa: E402

VARIANTS = (Variant("vgg16"), Variant("mobilenet"), Variant("mobilenet", alpha=0.5, resolution=160),
            Variant("mobilenet", alpha=0.25, resolution=128))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="a CSV file (default: the shipped result gpu_latency)")
    parser.add_argument("--results-dir", default=None, help="where to ship gpu_latency (default: the package's)")
    parser.add_argument("--quick", action="store_true", help="batch 1 and few repeats, for a smoke test")
    args = parser.parse_args(argv)
    import torch

    batches = (1,) if args.quick else (1, 8, 32, 64)
    timing = latency.Timing(repeats=5, warmup=2) if args.quick else latency.Timing(repeats=50, warmup=10)
    table = latency.benchmark(VARIANTS, [configuration("torch")], batches, timing=timing)
    table["cudnn_allow_tf32"] = torch.backends.cudnn.allow_tf32
    table["matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
    table["keras_backend"] = "torch"
    table["python"] = platform.python_version()
    if args.out:
        atomic.write_csv(table, args.out)
        written = args.out
    elif not args.quick:  # a smoke test ships nothing
        written = results.write_results("gpu_latency", table, "KERAS_BACKEND=torch python benchmarks/bench_gpu.py",
                                        args.results_dir,
                                        device=str(table["device"].iloc[0]), repeats=50)
    else:
        written = "nowhere (--quick without --out)"
    print(table[["variant", "batch", "median_ms", "iqr_ms", "ms_per_image", "images_per_s", "gflops", "device"]]
          .to_string(index=False))
    print(f"written to {written}")


if __name__ == "__main__":
    main()
