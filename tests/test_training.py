"""Datasets and training: it runs, learns, repeats itself with a seed, and rejects bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from analysis import datasets
from analysis.accuracy import pipeline, training
from analysis.accuracy.settings import TrainingSettings
from analysis.variants import Variant

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def digits():
    return datasets.load_dataset("digits", image_size=32)


def test_digits_split(digits):
    assert digits.x_train.shape == (1437, 32, 32, 3) and digits.x_test.shape == (360, 32, 32, 3)
    assert digits.x_train.dtype == np.float32 and 0.0 <= digits.x_train.min() and digits.x_train.max() <= 1.0
    assert digits.num_classes == 10
    # stratified: every class holds about a fifth of its images out
    test_counts, train_counts = np.bincount(digits.y_test), np.bincount(digits.y_train)
    assert np.all(np.abs(test_counts / (test_counts + train_counts) - 0.2) < 0.01)
    again = datasets.load_dataset("digits", image_size=32)
    np.testing.assert_array_equal(again.y_test, digits.y_test)


def _write_images(folder, classes, per_class=3, mode="RGB", size=(12, 10)):
    rng = np.random.default_rng(0)
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            channels = {"RGB": 3, "L": 1}[mode]
            pixels = rng.integers(0, 255, size=size + ((channels,) if channels > 1 else ()), dtype=np.uint8)
            Image.fromarray(pixels, mode=mode).save(folder / name / f"{i}.png")


def test_subset_keeps_classes_and_test_images(digits):
    small = digits.subset(200)
    assert len(small.x_train) == 200 and small.x_test is digits.x_test
    assert np.bincount(small.y_train).min() >= 19  # stratified: about 20 of each digit
    assert digits.subset(None) is digits and digits.subset(10_000) is digits
    with pytest.raises(ValueError, match="train_images=5"):
        digits.subset(5)


def test_folder_dataset(tmp_path):
    _write_images(tmp_path, ["cat", "dog"], per_class=5)
    data = datasets.load_dataset(f"folder:{tmp_path}", image_size=16)
    assert data.class_names == ["cat", "dog"]
    assert data.x_train.shape[1:] == (16, 16, 3) and len(data.x_train) + len(data.x_test) == 10
    assert data.x_train.max() <= 1.0


def test_bad_datasets(tmp_path):
    with pytest.raises(ValueError, match="Received dataset='mnist'"):
        datasets.load_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        datasets.load_dataset(f"folder:{tmp_path / 'nowhere'}")
    _write_images(tmp_path / "one", ["only"])
    with pytest.raises(ValueError, match="at least two class subfolders"):
        datasets.load_dataset(f"folder:{tmp_path / 'one'}")
    _write_images(tmp_path / "broken", ["a", "b"])
    (tmp_path / "broken" / "b" / "bad.png").write_text("not an image")
    with pytest.raises(ValueError, match="Unreadable image .*bad.png"):
        datasets.load_dataset(f"folder:{tmp_path / 'broken'}")
    _write_images(tmp_path / "mixed", ["a"], mode="RGB")
    _write_images(tmp_path / "mixed", ["b"], mode="L")
    with pytest.raises(ValueError, match="Mixed-channel images"):
        datasets.load_dataset(f"folder:{tmp_path / 'mixed'}")
    with pytest.raises(ValueError, match="tensorflow-datasets"):
        datasets.load_dataset("tfds:mnist") if _no_tfds() else pytest.skip("tensorflow-datasets installed")


def _no_tfds():
    try:
        import tensorflow_datasets  # noqa: F401
    except ImportError:
        return True
    return False


@pytest.mark.slow  # two training runs of 8 epochs
def test_training_learns_and_repeats_with_a_seed(digits):
    runs = [training.train(Variant("mobilenet", alpha=0.25), digits, TrainingSettings(epochs=8, seed=7), record=False,
                           progress=False)
            for _ in range(2)]
    assert runs[0].accuracy > 0.4  # chance is 0.1 (8 augmented epochs reach about 0.68)
    assert runs[0].accuracy == runs[1].accuracy
    assert runs[0].history == runs[1].history
    assert runs[0].params > 0 and runs[0].macs > 0 and runs[0].latency_ms > 0
    # The network trained is the variant sized for the digits, with the small-data batch-norm momentum.
    trained = Variant.parse(runs[0].variant)
    assert trained == Variant("mobilenet", alpha=0.25, resolution=32, num_classes=10, logits=True, bn_momentum=0.9)


def test_augmentation_moves_training_images_only(digits):
    images = digits.x_train[:16]
    layers = pipeline.augmentation(seed=0)
    moved = np.asarray(layers(images, training=True))
    assert moved.shape == images.shape
    changed = np.abs(moved - images).reshape(len(images), -1).max(axis=1) > 0.05
    assert changed.all()  # every image shifted, turned or zoomed
    # A shift keeps the ink: the total brightness of a digit changes far less than its pixels do.
    assert np.allclose(moved.sum(axis=(1, 2, 3)), images.sum(axis=(1, 2, 3)), rtol=0.5)
    np.testing.assert_array_equal(np.asarray(layers(images, training=False)), images)


@pytest.mark.slow  # a training run
def test_dataset_smaller_than_one_batch(tmp_path):
    _write_images(tmp_path, ["a", "b"], per_class=3)
    data = datasets.load_dataset(f"folder:{tmp_path}", image_size=32)
    result = training.train(Variant("mobilenet", alpha=0.25), data, TrainingSettings(epochs=1, batch_size=64),
                            record=False, progress=False)
    assert result.epochs_run == 1 and 0.0 <= result.accuracy <= 1.0


@pytest.mark.slow  # a training run of VGG16
def test_vgg16_trains_at_small_size(digits):
    result = training.train(Variant("vgg16", fc_units=64), digits, TrainingSettings(epochs=1, learning_rate=1e-4),
                            record=False, progress=False)
    # fc6 sized to the 1x1 last feature map of a 32x32 input; the fc_units asked for kept.
    assert Variant.parse(result.variant) == Variant("vgg16", resolution=32, num_classes=10, fc_units=64,
                                                    fc6_kernel_size="auto")
    assert result.epochs_run == 1


def test_record_appends_rows(tmp_path):
    result = training.TrainingResult("m", "v", "d", 0, 1, 0.5, 1.0, 10, 20, 0.1, 1)
    path = tmp_path / "runs.csv"
    training.record_result(result, path)
    training.record_result(result, path)
    assert path.read_text().count("\n") == 3
    assert not [p for p in tmp_path.iterdir() if p.name != "runs.csv"]  # no temporary file left


@pytest.mark.slow  # a training run in a new process
def test_train_command_data_parallel_over_two_devices(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "analysis", "train", "mobilenet", "--alpha", "0.25", "--dataset", "digits",
         "--epochs", "1", "--seed", "3", "--devices", "2", "--format", "json", "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "SUITE_REPORTS_DIR": str(tmp_path / "reports")})
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["devices"] == 2 and data["dataset"] == "digits" and data["network"] == "mobilenet"
    assert data["replicas"] == 2 and data["workers"] == 1 and data["run_dir"] == str(tmp_path / "run")
    assert {"accuracy", "train_seconds", "params", "macs"} <= set(data)
    assert (tmp_path / "run" / "result.json").is_file() and (tmp_path / "run" / "log.csv").is_file()
    assert (tmp_path / "reports" / "tables" / "training_runs.csv").is_file()


def test_every_global_batch_is_cut_into_one_piece_per_replica():
    layout = pipeline.batch_layout(70, 32, 2)
    assert layout == [[(0, 16), (16, 32)], [(32, 48), (48, 64)], [(64, 67), (67, 70)]]
    assert pipeline.batch_layout(70, 32, 1) == [[(0, 32)], [(32, 64)], [(64, 70)]]
    assert pipeline.batch_layout(65, 32, 2) == [[(0, 16), (16, 32)], [(32, 48), (48, 64)]]  # 1 image, 2 replicas
    assert pipeline.batch_layout(6, 64, 1) == [[(0, 6)]]  # smaller than one batch: one partial batch
    with pytest.raises(ValueError, match="fewer than the 4 replicas"):
        pipeline.batch_layout(3, 4, 4)


def test_an_epoch_of_images_depends_on_the_seed_and_the_epoch_alone(digits):
    import tensorflow as tf

    images, labels = digits.x_train[:70], digits.y_train[:70]
    epoch = tf.Variable(0, dtype=tf.int64)
    data, steps = pipeline.training_data(tf.distribute.get_strategy(), images, labels, 32, 7, True, epoch)

    def one_epoch(number):
        epoch.assign(number)
        return [(x.numpy(), y.numpy()) for x, y in data]

    first, again = one_epoch(0), one_epoch(0)
    assert steps == 3 and [len(y) for _, y in first] == [32, 32, 6]
    for (x1, y1), (x2, y2) in zip(first, again):  # the same epoch: the same order and augmentation
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    second = one_epoch(1)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, second))  # another epoch: another order
    assert sorted(np.concatenate([y for _, y in second])) == sorted(labels)  # every image once an epoch


def test_train_command_augment_flag():
    from analysis.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["train", "mobilenet"]).augment is None  # the model's recommended setting
    assert parse(["train", "mobilenet", "--augment"]).augment is True
    assert parse(["train", "mobilenet", "--no-augment"]).augment is False


def test_train_command_bad_input(capsys):
    from analysis.cli import main

    assert main(["train", "mobilenet", "--dataset", "imagenet"]) == 2
    assert "Received dataset='imagenet'" in capsys.readouterr().err
    assert main(["train", "mobilenet", "--epochs", "0"]) == 2
    assert "Received epochs=0" in capsys.readouterr().err
