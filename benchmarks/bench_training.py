"""Training benchmark (not a test): python benchmarks/bench_training.py

Trains MobileNet alpha=0.5 and VGG16 from scratch on digits (32x32, the
fixed stratified split, seed 0) with ``analysis.accuracy.settings.RECOMMENDED``
settings and a 5-minute budget each, and prints held-out top-1 accuracy and
training time. Target: each reaches >= 95 % within 5 minutes on the 2-core
machine.
"""

import sys

from analysis import datasets
from analysis.accuracy import training
from analysis.accuracy.settings import TrainingSettings
from analysis.speed.machine import core_count, cpu_model
from analysis.variants import Variant

BUDGET_S = 300


def main():
    data = datasets.load_dataset("digits", image_size=32)
    print(f"machine: {cpu_model()}, {core_count()} cores; digits {len(data.x_train)} train / {len(data.x_test)} test")
    for variant in (Variant("mobilenet", alpha=0.5), Variant("vgg16")):
        result = training.train(variant, data, TrainingSettings(max_seconds=BUDGET_S, seed=0))
        print(f"{result.variant}: accuracy {100 * result.accuracy:.1f} % after {result.epochs_run} epochs, "
              f"{result.train_seconds:.0f} s; {result.params:,} parameters, {result.macs:,} MACs per image, "
              f"{result.latency_ms:.2f} ms per image (keras, batch 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
