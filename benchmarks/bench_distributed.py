"""Multi-worker benchmark (not a test): python benchmarks/bench_distributed.py [--epochs 30] [--target 0.9]

Trains the same tiny network (MobileNet 0.25 on digits at 32x32, seed 0,
global batch 32, its recommended augmented schedule) with 1 and then 2 local
``MultiWorkerMirroredStrategy`` workers (``Placement(workers=N)``: N processes
on 127.0.0.1, each with cores // N threads), and prints, from each run
folder's training log:

- images per second: training images over the seconds of the training steps
  (``fit_seconds``, validation excluded), median over the epochs after the
  first (which traces and compiles);
- the time to a given validation accuracy (``--target``): the run's training
  seconds at the end of the first epoch that reaches it;
- the held-out test accuracy at the end.

No target: the figures depend on the machine (on 2 cores, two workers share
the cores that one worker uses alone and pay for the all-reduce).
"""

import argparse
import csv
import math
import statistics
import sys
import tempfile
from pathlib import Path

from analysis import datasets
from analysis.accuracy import training
from analysis.accuracy.pipeline import VALIDATION_FRACTION
from analysis.accuracy.settings import Checkpointing, Placement, TrainingSettings
from analysis.speed.machine import core_count, cpu_model
from analysis.variants import Variant

VARIANT = Variant("mobilenet", alpha=0.25)


def run(workers, epochs, target, folder, seed):
    result = training.train(VARIANT, "digits", TrainingSettings(image_size=32, epochs=epochs, seed=seed),
                            Placement(workers=workers), Checkpointing(Path(folder) / f"workers-{workers}"),
                            record=False, progress=False)
    with open(Path(result.run_dir) / "log.csv") as f:
        log = list(csv.DictReader(f))
    train_images = len(datasets.load_dataset("digits", image_size=32).x_train)
    images = train_images - math.ceil(VALIDATION_FRACTION * train_images)  # the validation tenth held out
    throughput = [images / float(row["fit_seconds"]) for row in log[1:]] or [images / float(log[0]["fit_seconds"])]
    reached = next((row for row in log if float(row["val_accuracy"]) >= target), None)
    return {"workers": workers, "replicas": result.replicas, "images_per_s": statistics.median(throughput),
            "images_per_s_range": (min(throughput), max(throughput)), "epochs": len(log),
            "time_to_target_s": float(reached["seconds"]) if reached else None,
            "epochs_to_target": int(reached["epoch"]) if reached else None, "accuracy": result.accuracy,
            "train_seconds": result.train_seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--target", type=float, default=0.9, help="validation accuracy to reach (default 0.9)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"machine: {cpu_model()}, {core_count()} cores; MobileNet alpha={VARIANT.alpha} on digits at 32x32 "
          f"(augmented), seed {args.seed}, global batch 32, {args.epochs} epochs at most")
    with tempfile.TemporaryDirectory() as folder:
        rows = [run(workers, args.epochs, args.target, folder, args.seed) for workers in (1, 2)]
    for row in rows:
        low, high = row["images_per_s_range"]
        reached = (f"{row['time_to_target_s']:.1f} s (epoch {row['epochs_to_target']})"
                   if row["time_to_target_s"] is not None else f"not reached in {row['epochs']} epochs")
        print(f"{row['workers']} worker(s), {row['replicas']} replica(s): {row['images_per_s']:.0f} images/s "
              f"(epochs {low:.0f}-{high:.0f}), val accuracy {args.target:.0%} after {reached}, "
              f"test accuracy {row['accuracy']:.3f}, {row['train_seconds']:.0f} s in all")
    one, two = rows
    print(f"2 workers / 1 worker: {two['images_per_s'] / one['images_per_s']:.2f}x the images/s"
          + (f", {two['time_to_target_s'] / one['time_to_target_s']:.2f}x the time to {args.target:.0%}"
             if one["time_to_target_s"] and two["time_to_target_s"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
