"""Shared fixtures. TensorFlow is kept quiet and notebooks run in QUICK mode."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

import nets  # noqa: E402
from nets.backend import keras  # noqa: E402  (Keras with TensorFlow's start-up log silenced)


@pytest.fixture(scope="session")
def vgg16_model():
    return nets.vgg16()


@pytest.fixture(scope="session")
def mobilenet_model():
    return nets.mobilenet()


@pytest.fixture(scope="session")
def keras_vgg16():
    """keras.applications.VGG16 with random weights: the independent reference."""
    return keras.applications.VGG16(weights=None, classifier_activation=None)


@pytest.fixture
def seeded():
    keras.utils.set_random_seed(1234)
