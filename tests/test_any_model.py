"""Any Keras model as a variant: keras.applications builders by name, and saved model files."""

import pytest

from analysis import cli, paths, results
from analysis.speed.latency_fit import FEATURE_NAMES, fit_by_configuration, latency_features
from analysis.speed.predict import prediction_errors, predict_from, study_profile
from analysis.speed.runtimes import configuration
from analysis.speed.roofline import machine_bounds
from analysis.cost import layer_table
from analysis.variants import Variant
from nets import applications
from nets.backend import keras
from nets.errors import BadInput

REFERENCE = paths.DATA_DIR / "study"  # the shipped reference study


def test_the_builder_list_is_keras_applications():
    assert applications.APPLICATION_NAMES == tuple(n for n in dir(keras.applications) if n[0].isupper())


@pytest.mark.parametrize("label, builder, kwargs", [
    ("keras:MobileNetV2/96 alpha=0.5", keras.applications.MobileNetV2, dict(alpha=0.5, input_shape=(96, 96, 3))),
    pytest.param("keras:ResNet50/64 num_classes=10", keras.applications.ResNet50, dict(classes=10, input_shape=(64, 64, 3)),
                 marks=pytest.mark.slow),  # two ResNet50s; MobileNetV2 checks the same path fast
])
def test_a_keras_variant_builds_what_keras_builds(label, builder, kwargs):
    variant = Variant.parse(label)
    assert variant.label == label and Variant.parse(variant.label) == variant
    assert variant.build().count_params() == builder(weights=None, **kwargs).count_params()


def test_defaults_follow_the_builder():
    assert Variant("keras:InceptionV3").resolution == 299  # Keras' default_size for InceptionV3
    assert Variant("keras:ResNet50").label == "keras:ResNet50"


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(network="keras:ResNt50"), "Did you mean ResNet50"),
    (dict(network="keras:ResNet50", alpha=0.5), "alpha does not apply to keras:ResNet50"),
    (dict(network="keras:Xception", resolution=64), "at least 71"),
    (dict(network="keras:ResNet50", conv=True), "conv does not apply"),
])
def test_bad_keras_variants_are_bad_input(kwargs, fragment):
    with pytest.raises(BadInput, match=fragment):
        Variant(**kwargs)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Small saved models: one with a None input size, one with a Lambda (.keras and .h5), one with a
    custom layer, a weights-only file and a file that is not a model."""
    folder = tmp_path_factory.mktemp("models")
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    flexible = keras.Model(inputs, keras.layers.Dense(2, name="fc")(keras.layers.GlobalAveragePooling2D()(x)))
    flexible.save(folder / "flexible.keras")
    flexible.save_weights(folder / "only.weights.h5")
    inputs = keras.Input((32, 32, 3))
    doubled = keras.layers.Lambda(lambda t: t * 2, name="double")(inputs)
    with_code = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(doubled)))
    with_code.save(folder / "code.keras")
    with_code.save(folder / "code.h5")

    @keras.saving.register_keras_serializable(package="test_any_model")
    class Custom(keras.layers.Layer):
        def call(self, x):
            return x

    keras.Model(inputs, Custom(name="custom")(inputs)).save(folder / "custom.keras")
    keras.saving.get_custom_objects().pop("test_any_model>Custom")
    (folder / "text.keras").write_text("not a model")
    return folder


def _cli(capsys, *argv):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_model_file_with_a_none_input_asks_for_a_resolution(model_files, capsys):
    path = str(model_files / "flexible.keras")
    status, _, err = _cli(capsys, "count", path)
    assert status == 2 and "--resolution" in err and len(err.strip().splitlines()) == 1
    model = Variant.from_options(path, {"resolution": 40}).build()
    # conv: 38x38 outputs x 3x3x3 x 4 channels; fc: 4 x 2.
    assert model.input_shape == (None, 40, 40, 3)
    assert int(layer_table(model)["macs"].sum()) == 38 * 38 * 27 * 4 + 4 * 2


@pytest.mark.parametrize("name", ["code.keras", "code.h5"])
def test_serialized_code_is_refused_unless_unsafe(model_files, capsys, name):
    path = str(model_files / name)
    status, _, err = _cli(capsys, "count", path)
    assert status == 2 and "Lambda" in err and "--unsafe" in err and "Traceback" not in err
    status, out, _ = _cli(capsys, "count", path, "--unsafe", "--format", "json")
    assert status == 0 and '"params": 6146' in out  # Dense: 32*32*3*2 = 6144 weights + 2 biases


@pytest.mark.parametrize("name, fragment", [
    ("missing.keras", "No model file"),
    ("text.keras", "not a Keras model file"),
    ("only.weights.h5", "weights only"),
    ("custom.keras", "custom object 'Custom'"),
])
def test_bad_model_files_get_one_line_and_exit_2(model_files, capsys, name, fragment):
    status, _, err = _cli(capsys, "count", str(model_files / name))
    assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, fragment", [
    (["count", "keras:MobileNetV9"], "Did you mean MobileNetV2"),
    (["count", "keras:ResNet50", "--alpha", "0.5"], "alpha does not apply to keras:ResNet50"),
    (["predict", "vgg16", "--runtime", "keras", "--precision", "int8"], "does not offer int8"),
    (["predict", "vgg16", "--runtime", "tpu"], "Unknown runtime"),
])
def test_bad_networks_on_the_command_line(capsys, argv, fragment):
    status, _, err = _cli(capsys, *argv)
    assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_compare_takes_keras_networks(capsys):
    status, out, _ = _cli(capsys, "compare", "mobilenet", "keras:MobileNetV2/96", "--format", "json")
    assert status == 0
    assert keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3)).count_params() == int(
        out.split('"keras:MobileNetV2/96"')[1].split('"params": ')[1].split(",")[0])


@pytest.mark.parametrize("network", [pytest.param("vgg16", marks=pytest.mark.slow), "keras:MobileNetV3Small"])
def test_the_study_profile_reproduces_the_study_features(network):
    """The profile predict uses gives, for a network the study measured, the features it saved."""
    study = results.results("latency_study", REFERENCE)
    profile = study_profile(study)
    variant = Variant(network)
    row = study[(study["variant"] == variant.label) & (study["precision"] == "fp32")].iloc[0]
    features = latency_features(machine_bounds(layer_table(variant.build()), profile))
    assert features == pytest.approx({name: row[f"feature_{name}"] for name in FEATURE_NAMES}, rel=1e-6)


def test_prediction_errors_set_the_fit_against_each_measurement():
    study = results.results("latency_study", REFERENCE)
    measured = study[(study["variant"] == "VGG16") & (study["runtime"] == "litert") & (study["precision"] == "fp32")]
    errors = prediction_errors(measured, study)
    predicted = predict_from(study, Variant("vgg16"), configuration("litert")).predicted_ms
    assert errors["predicted_ms"].iloc[0] == pytest.approx(predicted)
    assert errors["error"].iloc[0] == pytest.approx(predicted / measured["median_ms"].iloc[0] - 1)


def test_predict_is_the_fit_applied_to_the_features():
    study = results.results("latency_study", REFERENCE)
    variant = Variant("keras:MobileNetV2", resolution=96)
    prediction = predict_from(study, variant, configuration("litert"))
    fit = fit_by_configuration(study)["litert"]
    features = latency_features(machine_bounds(layer_table(variant.build()), study_profile(study)))
    assert prediction.predicted_ms == pytest.approx(fit.predict(features))
    assert prediction.predicted_ms == pytest.approx(sum(prediction.terms.values()))
    assert "latency study given" in prediction.fit_source


def test_the_element_wise_group_holds_mobilenet_v2s_residual_adds_and_paddings():
    """MobileNetV2 (Sandler et al. 2018, Table 2): a residual add in each stride-1 bottleneck whose
    input and output widths match (1 + 2 + 3 + 2 + 2 = 10), and a ZeroPadding2D before each of
    the four strided depthwise convolutions that Keras pads by hand."""
    from analysis.speed.latency_fit import fit_group
    from analysis.speed.roofline import machine_bounds

    bounds = machine_bounds(layer_table(Variant("keras:MobileNetV2").build()), {"peak_gflops": 100.0, "bandwidth_gbs": 20.0})
    groups = [fit_group(r, t) for r, t in zip(bounds["role"], bounds["type"])]
    elementwise = bounds[[g == "Element-wise" for g in groups]]
    assert elementwise["type"].value_counts().to_dict() == {"Add": 10, "ZeroPadding2D": 4}
    features = latency_features(bounds)
    assert features["Element-wise"] == pytest.approx(elementwise["bound_ms"].sum())
    assert features["Element-wise"] > 0
