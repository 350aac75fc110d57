"""Datasets and a small, seeded, bounded training loop.

Datasets (``load_dataset``):

- ``digits``: scikit-learn's bundled 1,797 real handwritten 8x8 digits,
  scaled to [0, 1], resized to ``image_size`` x ``image_size`` and repeated to
  3 channels, with a fixed stratified split (``test_fraction``, seed 0).
- ``folder:PATH``: a folder with one subfolder of images per class, read by
  ``keras.utils.image_dataset_from_directory`` after every file is checked
  (readable, one channel count across the folder).
- ``tfds:NAME``: a TensorFlow Datasets dataset, for users with internet
  (needs ``tensorflow-datasets``; never used by the tests).

``train`` builds a variant from scratch, trains it with Adam and a cosine
learning-rate schedule for at most ``epochs`` (early stopping on the loss of
a validation tenth of the training images, and an optional time budget), on
training images shifted, turned and zoomed at random each epoch where asked
(``augmentation``; MobileNet's default), under a ``tf.distribute`` strategy
(data-parallel over the devices given), then records held-out top-1
accuracy, training time, parameters, MACs and measured latency.

Small data and batch norm: Keras' default BN momentum (0.99) makes the
moving statistics lag far behind the weights on a dataset of a few dozen
batches per epoch, so a MobileNet scores chance in evaluation for many
epochs while its training accuracy climbs. ``train`` therefore uses
``bn_momentum=0.9`` for MobileNet unless told otherwise; notebook 05 shows
both.
"""

import csv
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import nets  # noqa: F401  (starts Keras quietly)
from analysis import paths

DATASETS = ("digits", "folder:PATH", "tfds:NAME")
SMALL_DATA_BN_MOMENTUM = 0.9
# Settings that reach the README's accuracy targets on digits at 32x32
# (benchmarks/bench_training.py); ``train`` uses them where not told otherwise.
RECOMMENDED = {
    "mobilenet": {"epochs": 80, "learning_rate": 3e-3, "patience": 30, "augment": True},
    "vgg16": {"epochs": 20, "learning_rate": 1e-4, "patience": 6, "fc_units": 256},
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


@dataclass
class Dataset:
    """Images (N, H, W, 3) float32 in [0, 1] and integer labels, split once."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def image_size(self):
        return int(self.x_train.shape[1])

    def subset(self, train_images=None, seed=0):
        """This dataset with a stratified ``train_images`` of its training images
        (the test images unchanged, so accuracies stay comparable); all if None."""
        if train_images is None:
            return self
        if isinstance(train_images, bool) or not isinstance(train_images, int) or train_images < self.num_classes:
            raise ValueError(f"train_images must be an integer of at least one per class ({self.num_classes}). "
                             f"Received train_images={train_images!r}")
        if train_images >= len(self.x_train):
            return self
        from sklearn.model_selection import train_test_split

        x, _, y, _ = train_test_split(self.x_train, self.y_train, train_size=train_images,
                                      stratify=self.y_train, random_state=seed)
        return Dataset(self.name, x, y, self.x_test, self.y_test, list(self.class_names))


def load_dataset(spec, image_size=32, test_fraction=0.2, seed=0):
    """Load ``digits``, ``folder:PATH`` or ``tfds:NAME`` as a ``Dataset``.

    Raises:
        ValueError: an unknown dataset, a folder with fewer than two classes,
            or unreadable or mixed-channel images (the message names them).
        FileNotFoundError: a folder that does not exist.
    """
    if not isinstance(spec, str):
        raise ValueError(f"Unknown dataset: expected one of {', '.join(DATASETS)}. Received dataset={spec!r}")
    if spec == "digits":
        return _digits(image_size, test_fraction, seed)
    if spec.startswith("folder:"):
        return _folder(spec[len("folder:"):], image_size, test_fraction, seed)
    if spec.startswith("tfds:"):
        return _tfds(spec[len("tfds:"):], image_size, test_fraction, seed)
    raise ValueError(f"Unknown dataset: expected one of {', '.join(DATASETS)}. Received dataset={spec!r}")


def _resize(images, image_size):
    import keras

    resized = keras.ops.image.resize(images, (image_size, image_size), interpolation="bilinear")
    return np.asarray(keras.ops.convert_to_numpy(resized), dtype="float32")


def _split(name, images, labels, class_names, test_fraction, seed):
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed)
    return Dataset(name, x_train, y_train.astype("int32"), x_test, y_test.astype("int32"), list(class_names))


def _digits(image_size, test_fraction, seed):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]  # 8x8, values 0..16
    images = np.repeat(_resize(images, image_size), 3, axis=-1)
    return _split("digits", images, digits.target, [str(c) for c in range(10)], test_fraction, seed)


def _folder(path, image_size, test_fraction, seed):
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: dataset='folder:{path}'")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ValueError(
            f"A folder dataset needs at least two class subfolders; {path!r} has {len(classes)}: {classes}")
    channels = {}
    for class_name in classes:
        files = [f for f in sorted((root / class_name).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise ValueError(f"Class folder {str(root / class_name)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        for file in files:
            try:
                with Image.open(file) as image:
                    image.load()
                    channels.setdefault(len(image.getbands()), []).append(str(file))
            except (UnidentifiedImageError, OSError) as error:
                raise ValueError(f"Unreadable image {str(file)!r}: {error}") from None
    if len(channels) > 1:
        examples = "; ".join(f"{n} channel(s), e.g. {files[0]!r}" for n, files in sorted(channels.items()))
        raise ValueError(f"Mixed-channel images in {path!r}: {examples}. Convert them to one mode first")
    import keras

    loaded = keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="int", class_names=classes, color_mode="rgb",
        batch_size=None, image_size=(image_size, image_size), shuffle=False, verbose=False)
    images, labels = zip(*[(np.asarray(x), int(y)) for x, y in loaded])
    images = np.stack(images).astype("float32") / 255.0
    labels = np.array(labels)
    if np.bincount(labels).min() < 2:
        raise ValueError(f"Every class of {path!r} needs at least two images to split into train and test")
    return _split(f"folder:{path}", images, labels, classes, test_fraction, seed)


def _tfds(name, image_size, test_fraction, seed):
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ValueError(
            f"dataset='tfds:{name}' needs the package tensorflow-datasets and internet access; "
            "pip install tensorflow-datasets") from None
    data, info = tfds.load(name, split="train", as_supervised=True, with_info=True, batch_size=-1)
    images, labels = tfds.as_numpy(data)
    images = images.astype("float32") / 255.0
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return _split(f"tfds:{name}", _resize(images, image_size), labels,
                  info.features["label"].names, test_fraction, seed)


@dataclass
class TrainingResult:
    """One training run: held-out top-1 accuracy (0..1), seconds, costs (MACs per image) and latency."""

    model: str
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

    def to_dict(self, history=False):
        row = asdict(self)
        if not history:
            row.pop("history")
        return row


class _Progress:
    """A tqdm bar over epochs showing loss and held-out accuracy."""

    def __new__(cls, epochs, enabled):
        import keras
        from tqdm.auto import tqdm

        class Progress(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.bar = tqdm(total=epochs, desc="epochs", unit="epoch", disable=not enabled)

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.3f}",
                                     val_acc=f"{logs.get('val_accuracy', float('nan')):.3f}")
                self.bar.update(1)

            def on_train_end(self, logs=None):
                self.bar.close()

        return Progress()


class _TimeBudget:
    def __new__(cls, seconds):
        import keras

        class TimeBudget(keras.callbacks.Callback):
            """Stop when another epoch, as long as the last one, would overrun the budget."""

            def on_train_begin(self, logs=None):
                self.start = self.epoch_start = time.perf_counter()

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch_start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                now = time.perf_counter()
                if seconds and now - self.start + (now - self.epoch_start) > seconds:
                    self.model.stop_training = True

        return TimeBudget()


def configure_devices(devices):
    """Split the CPU into ``devices`` logical devices (before TensorFlow starts); return them."""
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    if devices and devices > 1:
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])
        except RuntimeError:
            current = len(tf.config.list_logical_devices("CPU"))
            if current != devices:
                raise ValueError(
                    f"TensorFlow already started with {current} CPU device(s); ask for devices before "
                    f"building any model (in a fresh process). Received devices={devices}") from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def build_for_dataset(model, dataset, **options):
    """A variant sized for ``dataset``: its image size, its classes, logits, and small-data settings."""
    from analysis import variants

    options = dict(options)
    options.setdefault("resolution", dataset.image_size)
    options["num_classes"] = dataset.num_classes
    options["classifier_activation"] = None
    if model == "mobilenet":
        options.setdefault("bn_momentum", SMALL_DATA_BN_MOMENTUM)
    elif options["resolution"] < 224:
        options.setdefault("fc6_kernel_size", None)  # the head sized to the last feature map
    return variants.build(model, **options)


def train(model, dataset="digits", *, epochs=None, batch_size=32, learning_rate=None, patience=None,
          augment=None, seed=0, max_seconds=None, devices=1, deterministic=True, progress=True, record=True,
          image_size=32, **options):
    """Train ``model`` ("vgg16" or "mobilenet", with variant ``options``) from scratch.

    Args:
        dataset: a ``Dataset`` or a spec for ``load_dataset``.
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
        options: variant options (alpha, resolution, bn_momentum, fc_units, ...).
        ``epochs``, ``learning_rate``, ``patience``, ``augment`` (and VGG16's ``fc_units``)
        left as None take the model's ``RECOMMENDED`` settings.

    Returns:
        A ``TrainingResult`` (its ``history`` holds the per-epoch curves).
    """
    import keras
    import tensorflow as tf

    from analysis.cost import summarize
    from analysis.latency import measure
    from analysis.variants import label

    recommended = RECOMMENDED.get(model, {})
    epochs = recommended.get("epochs", 20) if epochs is None else epochs
    learning_rate = recommended.get("learning_rate", 1e-3) if learning_rate is None else learning_rate
    patience = recommended.get("patience", 5) if patience is None else patience
    augment = recommended.get("augment", False) if augment is None else augment
    if "fc_units" in recommended:
        options.setdefault("fc_units", recommended["fc_units"])
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("devices", devices)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received {name}={value!r}")
    data = dataset if isinstance(dataset, Dataset) else load_dataset(dataset, image_size=image_size)
    device_names = configure_devices(devices)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    strategy = (tf.distribute.MirroredStrategy(device_names[:devices]) if devices > 1
                else tf.distribute.get_strategy())
    steps = max(1, int(np.ceil(len(data.x_train) / batch_size)))
    with strategy.scope():
        network = build_for_dataset(model, data, **options)
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps)
        network.compile(optimizer=keras.optimizers.Adam(schedule),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
                 _Progress(epochs, progress), _TimeBudget(max_seconds)]
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
    variant_options = {k: v for k, v in options.items() if k in ("alpha", "conv", "shallow")}
    latency_ms = measure(network, "keras", batch=1, repeats=10, warmup=2).median_ms
    result = TrainingResult(
        model=model, variant=label(model, resolution=data.image_size, **variant_options), dataset=data.name,
        seed=seed, epochs_run=len(history.history["loss"]), accuracy=accuracy, train_seconds=seconds,
        params=totals["params"], macs=totals["macs"], latency_ms=latency_ms, devices=devices,
        history={k: [float(v) for v in values] for k, values in history.history.items()})
    if record:
        record_result(result)
    return result


VALIDATION_FRACTION = 0.1


def augmentation(seed=0):
    """The random image changes ``train(augment=True)`` applies: shifts of up to a
    tenth of the image, rotations of up to 0.05 turn (18 degrees) and zooms of up to 10 %."""
    import keras

    return keras.Sequential([
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
        keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed + 1),
        keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
    ], name="augmentation")


def _augmented(images, labels, batch_size, seed):
    """A tf.data pipeline: shuffled each epoch, batched, then augmented batch by batch."""
    import tensorflow as tf

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
    from sklearn.model_selection import train_test_split

    if len(data.x_train) < 10 * data.num_classes:  # too few to split: validate on the training set
        return data.x_train, data.x_train, data.y_train, data.y_train
    return train_test_split(data.x_train, data.y_train, test_size=VALIDATION_FRACTION,
                            stratify=data.y_train, random_state=seed)


def record_result(result, path=None):
    """Append ``result`` to a CSV (default reports/tables/training_runs.csv); return its path."""
    path = Path(path or paths.TABLES_DIR / "training_runs.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    row = result.to_dict()
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf8") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
    return path
