"""Datasets for training: real images, split once into training and test images.

- ``digits``: scikit-learn's bundled 1,797 real handwritten 8x8 digits,
  scaled to [0, 1], resized to ``image_size`` x ``image_size`` and repeated to
  3 channels, with a fixed stratified split (``test_fraction``, seed 0).
- ``folder:PATH``: a folder with one subfolder of images per class, read by
  ``keras.utils.image_dataset_from_directory`` after every file is checked
  (readable, one channel count across the folder).
- ``tfds:NAME``: a TensorFlow Datasets dataset, for users with internet
  (needs ``tensorflow-datasets``; never used by the tests).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from nets.errors import BadInput, MissingFile
from nets import checks
from nets.backend import keras

DATASETS = ("digits", "folder:PATH", "tfds:NAME")
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
        train_images = checks.positive_int("train_images", train_images, minimum=self.num_classes)
        if train_images >= len(self.x_train):
            return self
        x, _, y, _ = train_test_split(self.x_train, self.y_train, train_size=train_images,
                                      stratify=self.y_train, random_state=seed)
        return Dataset(self.name, x, y, self.x_test, self.y_test, list(self.class_names))


def load_dataset(spec, image_size=32, test_fraction=0.2, seed=0):
    """Load ``digits``, ``folder:PATH`` or ``tfds:NAME`` as a ``Dataset``.

    Raises:
        BadInput: an unknown dataset, a folder with fewer than two classes,
            or unreadable or mixed-channel images (the message names them).
        MissingFile: a folder that does not exist.
    """
    image_size = checks.positive_int("image_size", image_size)
    if not isinstance(spec, str):
        raise BadInput(f"Unknown dataset: expected one of {', '.join(DATASETS)}. Received dataset={spec!r}")
    if spec == "digits":
        return _digits(image_size, test_fraction, seed)
    if spec.startswith("folder:"):
        return _folder(spec[len("folder:"):], image_size, test_fraction, seed)
    if spec.startswith("tfds:"):
        return _tfds(spec[len("tfds:"):], image_size, test_fraction, seed)
    raise BadInput(f"Unknown dataset: expected one of {', '.join(DATASETS)}. Received dataset={spec!r}")


def _resize(images, image_size):
    resized = keras.ops.image.resize(images, (image_size, image_size), interpolation="bilinear")
    return np.asarray(keras.ops.convert_to_numpy(resized), dtype="float32")


def _split(name, images, labels, class_names, test_fraction, seed):
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed)
    return Dataset(name, x_train, y_train.astype("int32"), x_test, y_test.astype("int32"), list(class_names))


def _digits(image_size, test_fraction, seed):
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]  # 8x8, values 0..16
    images = np.repeat(_resize(images, image_size), 3, axis=-1)
    return _split("digits", images, digits.target, [str(c) for c in range(10)], test_fraction, seed)


def _folder(path, image_size, test_fraction, seed):
    root = Path(path)
    if not root.is_dir():
        raise MissingFile(f"Dataset folder not found: dataset='folder:{path}'")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise BadInput(
            f"A folder dataset needs at least two class subfolders; {path!r} has {len(classes)}: {classes}")
    channels = {}
    for class_name in classes:
        files = [f for f in sorted((root / class_name).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise BadInput(f"Class folder {str(root / class_name)!r} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        for file in files:
            try:
                with Image.open(file) as image:
                    image.load()
                    channels.setdefault(len(image.getbands()), []).append(str(file))
            except (UnidentifiedImageError, OSError) as error:
                raise BadInput(f"Unreadable image {str(file)!r}: {error}") from None
    if len(channels) > 1:
        examples = "; ".join(f"{n} channel(s), e.g. {files[0]!r}" for n, files in sorted(channels.items()))
        raise BadInput(f"Mixed-channel images in {path!r}: {examples}. Convert them to one mode first")
    loaded = keras.utils.image_dataset_from_directory(
        root, labels="inferred", label_mode="int", class_names=classes, color_mode="rgb",
        batch_size=None, image_size=(image_size, image_size), shuffle=False, verbose=False)
    images, labels = zip(*[(np.asarray(x), int(y)) for x, y in loaded])
    images = np.stack(images).astype("float32") / 255.0
    labels = np.array(labels)
    if np.bincount(labels).min() < 2:
        raise BadInput(f"Every class of {path!r} needs at least two images to split into train and test")
    return _split(f"folder:{path}", images, labels, classes, test_fraction, seed)


def _tfds(name, image_size, test_fraction, seed):
    try:
        import tensorflow_datasets as tfds  # optional: only for tfds: datasets
    except ImportError:
        raise BadInput(
            f"dataset='tfds:{name}' needs the package tensorflow-datasets and internet access; "
            "pip install tensorflow-datasets") from None
    data, info = tfds.load(name, split="train", as_supervised=True, with_info=True, batch_size=-1)
    images, labels = tfds.as_numpy(data)
    images = images.astype("float32") / 255.0
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return _split(f"tfds:{name}", _resize(images, image_size), labels,
                  info.features["label"].names, test_fraction, seed)
