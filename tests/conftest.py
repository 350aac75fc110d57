"""Shared fixtures. TensorFlow is kept quiet and notebooks run in QUICK mode.

Keras (and with it TensorFlow) is imported by the fixtures that need it, not here, so that
tests of pure-Python modules (argument checks, variants, tables) start without TensorFlow.
The session-scoped networks are built once, and only when a selected test asks for them.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


def _keras():
    from nets.backend import keras  # Keras with TensorFlow's start-up log silenced

    return keras


@pytest.fixture(scope="session")
def vgg16_model():
    import nets

    return nets.vgg16()


@pytest.fixture(scope="session")
def mobilenet_model():
    import nets

    return nets.mobilenet()


@pytest.fixture(scope="session")
def keras_vgg16():
    """keras.applications.VGG16 with random weights: the independent reference."""
    return _keras().applications.VGG16(weights=None, classifier_activation=None)


@pytest.fixture
def seeded():
    _keras().utils.set_random_seed(1234)
