"""A small, seeded, bounded training loop for a variant on a dataset.

``train`` builds a variant from scratch, sized for the dataset
(``sized_for``: its image size, its classes, logits), trains it with Adam
and a cosine learning-rate schedule for at most ``epochs`` (early stopping
on the loss of a validation tenth of the training images, and an optional
time budget), on training images shifted, turned and zoomed at random each
epoch where asked (``augmentation``; MobileNet's default), under a
``tf.distribute`` strategy (data-parallel over the devices given), then
records held-out top-1 accuracy, training time, parameters, MACs and
measured latency.

Small data and batch norm: Keras' default BN momentum (0.99) makes the
moving statistics lag far behind the weights on a dataset of a few dozen
batches per epoch, so a MobileNet scores chance in evaluation for many
epochs while its training accuracy climbs. ``sized_for`` therefore sets
``bn_momentum=0.9`` for a MobileNet left at the default (``SMALL_DATA``);
notebook 05 shows both.
"""

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from analysis import atomic, paths
from analysis.accuracy.datasets import Dataset, load_dataset
from analysis.accuracy.quantized import quantized_accuracy
from analysis.cost.table import summarize
from analysis.errors import BadInput
from analysis.speed.latency import measure
from analysis.variants import FC6_AUTO, NETWORK_DEFAULTS
from nets import checks
from nets.backend import keras

# After Keras (nets.backend), so that TensorFlow starts quietly.
import tensorflow as tf

SMALL_DATA_BN_MOMENTUM = 0.9
# Options that a network trained from scratch on a small dataset needs, applied by ``sized_for``
# to the options a variant leaves at their defaults.
SMALL_DATA = {"mobilenet": {"bn_momentum": SMALL_DATA_BN_MOMENTUM}, "vgg16": {"fc_units": 256}}
# Schedules that reach the README's accuracy targets on digits at 32x32
# (benchmarks/bench_training.py); ``train`` uses them where not told otherwise.
RECOMMENDED = {
    "mobilenet": {"epochs": 80, "learning_rate": 3e-3, "patience": 30, "augment": True},
    "vgg16": {"epochs": 20, "learning_rate": 1e-4, "patience": 6},
}
VGG16_FULL_HEAD_RESOLUTION = 224


@dataclass
class TrainingResult:
    """One training run: held-out top-1 accuracy (0..1), seconds, costs (MACs per image) and latency.

    ``variant`` is the label of the variant trained (sized for the dataset).
    """

    network: str
    variant: str
    dataset: str
    seed: int
    epochs_run: int
    accuracy: float
    train_seconds: float
    params: int
    macs: int
    latency_ms: float
    devices: int
    history: dict = field(default_factory=dict)
    quantized: list = field(default_factory=list)

    def to_dict(self, history=False):
        row = asdict(self)
        if not history:
            row.pop("history")
        return row


class EpochProgress(keras.callbacks.Callback):
    """A tqdm bar over epochs showing loss and validation accuracy."""

    def __init__(self, epochs, enabled=True):
        super().__init__()
        self.epochs, self.enabled, self.bar = epochs, enabled, None

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.epochs, desc="epochs", unit="epoch", disable=not self.enabled)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.3f}",
                             val_acc=f"{logs.get('val_accuracy', float('nan')):.3f}")
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


class TimeBudget(keras.callbacks.Callback):
    """Stop when another epoch, as long as the last one, would overrun ``seconds`` (None: no budget)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.start = self.epoch_start = None

    def on_train_begin(self, logs=None):
        self.start = self.epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        if self.seconds and now - self.start + (now - self.epoch_start) > self.seconds:
            self.model.stop_training = True


def configure_devices(devices):
    """Split the CPU into ``devices`` logical devices (before TensorFlow starts); return their names."""
    devices = checks.positive_int("devices", devices)
    cpus = tf.config.list_physical_devices("CPU")
    if devices > 1:
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])
        except RuntimeError:
            current = len(tf.config.list_logical_devices("CPU"))
            if current != devices:
                raise BadInput(
                    f"TensorFlow already started with {current} CPU device(s); ask for devices before "
                    f"building any model (in a fresh process). Received devices={devices}") from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def sized_for(variant, dataset, small_data=True):
    """``variant`` sized for ``dataset``: its image size and classes, logits, and VGG16's fc6
    sized to the last feature map below 224 pixels. With ``small_data``, the options of
    ``SMALL_DATA`` that ``variant`` leaves at their defaults take their small-data values."""
    changes = {"resolution": dataset.image_size, "num_classes": dataset.num_classes, "logits": True}
    if small_data:
        defaults = NETWORK_DEFAULTS[variant.network]
        changes.update({option: value for option, value in SMALL_DATA.get(variant.network, {}).items()
                        if getattr(variant, option) == defaults[option]})
    if variant.network == "vgg16" and dataset.image_size < VGG16_FULL_HEAD_RESOLUTION:
        changes["fc6_kernel_size"] = FC6_AUTO
    return variant.replace(**changes)


def train(variant, dataset="digits", *, epochs=None, batch_size=32, learning_rate=None, patience=None,
          augment=None, seed=0, max_seconds=None, devices=1, deterministic=True, progress=True, record=True,
          image_size=32, small_data=True, quantize=()):
    """Train ``variant`` (sized for the dataset by ``sized_for``) from scratch.

    Args:
        variant: the ``Variant`` to train.
        dataset: a ``Dataset`` or a spec for ``load_dataset`` (at ``image_size``).
        epochs: the most epochs; early stopping (``patience`` epochs without a
            better validation loss, best weights restored; the validation
            images are a tenth of the training split, never the test split)
            and ``max_seconds`` may stop sooner.
        batch_size: global batch size, split over ``devices``.
        learning_rate: Adam's initial rate, cosine-decayed to 0 over ``epochs``.
        augment: shift, rotate and zoom the training images at random each
            epoch (``augmentation``), seeded by ``seed``.
        seed: seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``).
        devices: data-parallel replicas: ``tf.distribute.MirroredStrategy`` over
            that many logical CPU devices (see ``configure_devices``).
        deterministic: ask TensorFlow for deterministic ops, so the same seed
            gives the same result.
        record: append the result to reports/tables/training_runs.csv.
        small_data: apply ``SMALL_DATA`` (see ``sized_for``).
        quantize: precisions (``int8``, ``bf16``) at which to convert the
            trained network to every runtime that offers them and measure
            its test accuracy there (``analysis.accuracy.quantized``); the
            result's ``quantized`` lists them, the fp32 ``accuracy`` stays.
        ``epochs``, ``learning_rate``, ``patience`` and ``augment`` left as None
        take the network's ``RECOMMENDED`` settings.

    Returns:
        A ``TrainingResult`` (its ``history`` holds the per-epoch curves).
    """
    recommended = RECOMMENDED.get(variant.network, {})
    epochs = checks.positive_int("epochs", recommended.get("epochs", 20) if epochs is None else epochs)
    learning_rate = checks.positive_number(
        "learning_rate", recommended.get("learning_rate", 1e-3) if learning_rate is None else learning_rate)
    patience = checks.positive_int("patience", recommended.get("patience", 5) if patience is None else patience)
    augment = recommended.get("augment", False) if augment is None else bool(augment)
    batch_size = checks.positive_int("batch_size", batch_size)
    if max_seconds is not None:
        max_seconds = checks.positive_number("max_seconds", max_seconds)
    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, image_size=image_size)
    trained = sized_for(variant, data, small_data)
    device_names = configure_devices(devices)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    strategy = (tf.distribute.MirroredStrategy(device_names[:devices]) if devices > 1
                else tf.distribute.get_strategy())
    steps = max(1, int(np.ceil(len(data.x_train) / batch_size)))
    with strategy.scope():
        network = trained.build()
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps)
        network.compile(optimizer=keras.optimizers.Adam(schedule),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
                 EpochProgress(epochs, progress), TimeBudget(max_seconds)]
    x_fit, x_val, y_fit, y_val = _validation_split(data, seed)
    start = time.perf_counter()
    if augment:
        fit_data = {"x": _augmented(x_fit, y_fit, batch_size, seed), "shuffle": False}
    else:
        fit_data = {"x": x_fit, "y": y_fit, "batch_size": batch_size, "shuffle": True}
    history = network.fit(**fit_data, epochs=epochs, validation_data=(x_val, y_val),
                          callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - start
    logits = network.predict(data.x_test, batch_size=256, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    totals = summarize(network)
    latency_ms = measure(trained, "keras", batch=1, repeats=10, warmup=2, model=network).median_ms
    quantized = quantized_accuracy(trained, network, data, quantize, progress=progress) if quantize else []
    result = TrainingResult(
        network=variant.network, variant=trained.label, dataset=data.name, seed=seed,
        epochs_run=len(history.history["loss"]), accuracy=accuracy, train_seconds=seconds,
        params=totals["params"], macs=totals["macs"], latency_ms=latency_ms, devices=devices,
        history={k: [float(v) for v in values] for k, values in history.history.items()}, quantized=quantized)
    if record:
        record_result(result)
    return result


VALIDATION_FRACTION = 0.1


def augmentation(seed=0):
    """The random image changes ``train(augment=True)`` applies: shifts of up to a
    tenth of the image, rotations of up to 0.05 turn (18 degrees) and zooms of up to 10 %."""
    return keras.Sequential([
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
        keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed + 1),
        keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
    ], name="augmentation")


def _augmented(images, labels, batch_size, seed):
    """A tf.data pipeline: shuffled each epoch, batched, then augmented batch by batch."""
    augment = augmentation(seed)
    dataset = (tf.data.Dataset.from_tensor_slices((images, labels))
               .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size)
               .map(lambda x, y: (augment(x, training=True), y))
               .prefetch(2))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def _validation_split(data, seed):
    """Hold a stratified tenth of the training images out for early stopping, so the
    test images that give the reported accuracy never choose the weights."""
    if len(data.x_train) < 10 * data.num_classes:  # too few to split: validate on the training set
        return data.x_train, data.x_train, data.y_train, data.y_train
    return train_test_split(data.x_train, data.y_train, test_size=VALIDATION_FRACTION,
                            stratify=data.y_train, random_state=seed)


def record_result(result, path=None):
    """Add ``result`` as a row of a CSV (default reports/tables/training_runs.csv), written
    atomically; return its path."""
    path = Path(path or paths.TABLES_DIR / "training_runs.csv")
    row = pd.DataFrame([{**result.to_dict(), "quantized": json.dumps(result.quantized)}])
    earlier = pd.read_csv(path) if path.is_file() else None
    atomic.write_csv(row if earlier is None else pd.concat([earlier, row], ignore_index=True), path)
    return path
