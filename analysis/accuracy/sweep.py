"""The training sweep of notebook 05: MobileNet at three widths and VGG16 trained on the 32x32
digits, one row each (a part of the study, ``analysis.study.parts.training_sweep``)."""

import pandas as pd

from analysis.accuracy import training
from analysis.accuracy.settings import TrainingSettings
from analysis.variants import Variant

TRAINING_SWEEP_COLUMNS = ("variant", "accuracy", "params", "macs", "latency_ms", "train_seconds", "epochs_run")


def training_sweep_variants():
    """The sweep of a full run: (variant, epochs) each, shorter than ``train``'s recommended schedules."""
    return ((Variant("mobilenet", alpha=0.25), 20), (Variant("mobilenet", alpha=0.5), 20),
            (Variant("mobilenet"), 20), (Variant("vgg16"), 12))


def training_sweep(progress=True, epochs=None):
    """Train the sweep of ``training_sweep_variants`` on digits (32x32, seed 0, every training
    image): one row per network with ``TRAINING_SWEEP_COLUMNS`` (accuracy 0..1, MACs per image,
    latency in ms, training time in s)."""
    runs = [training.train(variant, "digits", TrainingSettings(epochs=epochs or most, seed=0), progress=progress,
                           record=False)
            for variant, most in training_sweep_variants()]
    return pd.DataFrame([run.to_dict() for run in runs])[list(TRAINING_SWEEP_COLUMNS)]
