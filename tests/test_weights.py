"""Weight files written by keras.applications load into our networks (no download)."""

from nets.backend import keras
import numpy as np
import pytest

import nets
from nets import WeightFileError


def _randomize_batch_norm(model, seed):
    """Give every BN layer non-trivial statistics, so a wrong mapping would show."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, variance.shape)])


def _images(size, n=2):
    return np.random.default_rng(7).uniform(0, 1, (n, size, size, 3)).astype("float32")


def _weights_equal(before, model):
    return all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.fixture(scope="module")
def keras_mobilenet_file(tmp_path_factory):
    keras.utils.set_random_seed(3)
    reference = keras.applications.MobileNet(weights=None, alpha=0.5, input_shape=(128, 128, 3))
    _randomize_batch_norm(reference, 3)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_5_0_128_tf.h5"
    reference.save(path)
    return reference, path


def test_keras_mobilenet_file_loads_and_gives_the_same_outputs(keras_mobilenet_file):
    reference, path = keras_mobilenet_file
    ours = nets.mobilenet(alpha=0.5, input_shape=(128, 128, 3), weights=path)
    x = _images(128)
    expected = reference.predict(x, verbose=0)
    assert np.abs(ours.predict(x, verbose=0) - expected).max() <= 1e-4
    assert expected.std() > 1e-4  # the outputs differ between classes, so the match means something


@pytest.mark.slow  # the full-size file (528 MB); the small input below checks the same conversion fast
def test_keras_vgg16_file_converts_dense_head(tmp_path, keras_vgg16):
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    keras_vgg16.save(path)
    _assert_dense_head_converted(nets.vgg16(weights=path), keras_vgg16, side=224, fc6_side=7)


def _assert_dense_head_converted(ours, reference, side, fc6_side):
    """``ours`` (loaded from ``reference``'s file) holds fc1 as its fc6 convolution and computes the same."""
    np.testing.assert_array_equal(
        ours.get_layer("fc6").kernel.numpy(),
        reference.get_layer("fc1").kernel.numpy().reshape(fc6_side, fc6_side, 512, 4096),
    )
    x = _images(side) * 255.0
    expected = reference.predict(x, verbose=0)
    assert np.abs(ours.predict(x, verbose=0) - expected).max() <= 1e-4
    assert np.abs(expected).max() > 1e-3


def test_keras_vgg16_file_converts_dense_head_of_a_small_input(tmp_path):
    """The conversion above, fast: at 32x32 keras' fc1 is a 512x4096 kernel, our fc6 a 1x1 convolution."""
    keras.utils.set_random_seed(11)
    reference = keras.applications.VGG16(weights=None, input_shape=(32, 32, 3), classes=10,
                                         classifier_activation=None)
    path = tmp_path / "vgg16_32.h5"
    reference.save(path)
    ours = nets.vgg16(weights=path, input_shape=(32, 32, 3), num_classes=10, fc6_kernel_size=None)
    _assert_dense_head_converted(ours, reference, side=32, fc6_side=1)


def test_vgg16_no_top_file_loads_into_no_top_network(tmp_path):
    reference = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    path = tmp_path / "notop.h5"
    reference.save(path)
    ours = nets.vgg16(weights=path, include_top=False, input_shape=(64, 64, 3))
    x = _images(64)
    assert np.abs(ours.predict(x, verbose=0) - reference.predict(x, verbose=0)).max() <= 1e-4


def test_keras3_weights_file_round_trip(tmp_path):
    keras.utils.set_random_seed(5)
    source = nets.mobilenet(alpha=0.25, input_shape=(64, 64, 3))
    _randomize_batch_norm(source, 5)
    path = tmp_path / "small.weights.h5"
    source.save_weights(path)
    target = nets.mobilenet(alpha=0.25, input_shape=(64, 64, 3), weights=path)
    x = _images(64)
    np.testing.assert_allclose(target.predict(x, verbose=0), source.predict(x, verbose=0), atol=1e-6)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nowhere.h5"
    with pytest.raises(FileNotFoundError, match="nowhere.h5"):
        nets.mobilenet(alpha=0.25, input_shape=(64, 64, 3), weights=missing)


def test_file_that_is_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not weights")
    with pytest.raises(WeightFileError, match="notes.h5.*not an HDF5 file"):
        nets.mobilenet(alpha=0.25, input_shape=(64, 64, 3), weights=path)


def test_file_of_the_other_network_changes_nothing(keras_mobilenet_file):
    _, path = keras_mobilenet_file
    model = nets.vgg16(include_top=False, input_shape=(64, 64, 3))
    before = model.get_weights()
    with pytest.raises(WeightFileError, match="another network"):
        nets.load_weights(model, path)
    assert _weights_equal(before, model)


def test_file_of_another_width_changes_nothing(keras_mobilenet_file):
    _, path = keras_mobilenet_file
    model = nets.mobilenet(alpha=1.0, input_shape=(128, 128, 3))
    before = model.get_weights()
    with pytest.raises(WeightFileError, match="conv1.*shape"):
        nets.load_weights(model, path)
    assert _weights_equal(before, model)


def test_keras3_file_of_another_network_changes_nothing(tmp_path):
    path = tmp_path / "vgg.weights.h5"
    nets.vgg16(include_top=False, input_shape=(32, 32, 3)).save_weights(path)
    model = nets.mobilenet(alpha=0.25, input_shape=(64, 64, 3))
    before = model.get_weights()
    with pytest.raises(WeightFileError, match="vgg.weights.h5"):
        nets.load_weights(model, path)
    assert _weights_equal(before, model)
