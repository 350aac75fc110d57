"""The Keras callbacks of a training run (``training.train``), besides its checkpoint.

- ``EpochSeeds``: every random stream of an epoch a function of the seed and
  the epoch alone: the order of the training images (read from
  ``epoch_variable`` by the input pipeline, ``analysis.accuracy.pipeline``),
  the augmentation (keyed per batch there) and the network's dropout (its
  seed generators set at the start of each epoch). So a run resumed after
  epoch k draws what an uninterrupted run draws in epoch k + 1.
- ``ResumableEarlyStopping``: Keras' early stopping, whose state the
  checkpoint saves and restores (``analysis.accuracy.checkpoints``).
- ``TimeBudget``: a training-time budget over every session of a run, that
  all workers of a cluster decide together.
- ``EpochProgress``: a progress bar over epochs.
"""

import time

import numpy as np
from tqdm.auto import tqdm

from nets.backend import keras

# Seed-generator draws reserved per epoch: epoch e draws from counter e * EPOCH_STREAM onwards.
EPOCH_STREAM = 1 << 24
SEED_STATE_NAME = "seed_generator_state"


class EpochSeeds(keras.callbacks.Callback):
    """At the start of epoch e: ``epoch_variable`` = e, and every seed generator of ``model``
    set to (its initial seed, e * ``EPOCH_STREAM``)."""

    def __init__(self, epoch_variable, model):
        super().__init__()
        self.epoch_variable = epoch_variable
        self.generators = [(v, int(np.asarray(v.numpy())[0])) for v in model.variables if v.name == SEED_STATE_NAME]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_variable.assign(epoch)
        for variable, seed in self.generators:
            variable.assign(np.array([seed, epoch * EPOCH_STREAM], dtype=variable.dtype))


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' ``EarlyStopping`` whose state (patience used, best value, best weights) is
    saved with each checkpoint and restored with it (``restored``)."""

    restored = None  # (state dict, best weights or None)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.restored:
            state, weights = self.restored
            self.wait, self.best_epoch, self.stopped_epoch = state["wait"], state["best_epoch"], state["stopped_epoch"]
            self.best = state["best"]
            self.best_weights = weights

    def state(self):
        return {"wait": int(self.wait), "best": None if self.best is None else float(self.best),
                "best_epoch": int(self.best_epoch), "stopped_epoch": int(self.stopped_epoch)}


class EpochProgress(keras.callbacks.Callback):
    """A tqdm bar over epochs showing loss and validation accuracy (from ``initial`` on a resumed run)."""

    def __init__(self, epochs, enabled=True, initial=0):
        super().__init__()
        self.epochs, self.enabled, self.initial, self.bar = epochs, enabled, initial, None

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.epochs, initial=self.initial, desc="epochs", unit="epoch",
                        disable=not self.enabled)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.3f}",
                             val_acc=f"{logs.get('val_accuracy', float('nan')):.3f}")
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


class TimeBudget(keras.callbacks.Callback):
    """Stop when another epoch, as long as the last one, would overrun ``seconds`` (None: no budget),
    counting ``spent`` seconds of earlier sessions. ``agree`` turns this worker's wish to stop
    into the decision of all workers (any one wishing it), so that they stop together."""

    def __init__(self, seconds, spent=0.0, agree=None):
        super().__init__()
        self.seconds, self.spent, self.agree = seconds, spent, agree
        self.start = self.epoch_start = None

    def on_train_begin(self, logs=None):
        self.start = self.epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if not self.seconds:
            return
        now = time.perf_counter()
        stop = self.spent + now - self.start + (now - self.epoch_start) > self.seconds
        if self.agree is not None:
            stop = self.agree(stop)
        if stop:
            self.model.stop_training = True
