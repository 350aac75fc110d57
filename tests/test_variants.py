"""One value names a network: Variant checks itself, labels uniquely, parses back and builds."""

import itertools
import json

import pytest

from analysis import atomic
from analysis.variants import NETWORK_DEFAULTS, Variant
from nets.backend import keras
from nets.errors import BadInput

# One non-default value of every option of each network.
OTHER_VALUES = {
    "resolution": 160, "num_classes": 10, "include_top": False, "logits": None, "alpha": 0.5,
    "depth_multiplier": 2, "conv": True, "shallow": True, "bn_momentum": 0.9, "fc_units": 256,
    "fc6_kernel_size": "auto",
}


def _one_option_changed(network):
    defaults = NETWORK_DEFAULTS[network]
    variants = [Variant(network)]
    for option, default in defaults.items():
        value = (not default) if option == "logits" else OTHER_VALUES[option]
        if network == "vgg16" and option == "resolution":
            value = 32  # fc6 must then be sized to the map
            variants.append(Variant(network, resolution=value, fc6_kernel_size="auto"))
            continue
        variants.append(Variant(network, **{option: value}))
    return variants


@pytest.mark.parametrize("network", ["vgg16", "mobilenet"])
def test_every_non_default_option_changes_the_label_and_parses_back(network):
    variants = _one_option_changed(network)
    labels = [v.label for v in variants]
    assert len(set(labels)) == len(labels) == len(NETWORK_DEFAULTS[network]) + 1
    for variant in variants:
        assert Variant.parse(variant.label) == variant
        assert Variant.from_dict(json.loads(json.dumps(variant.to_dict()))) == variant
        assert hash(Variant.parse(variant.label)) == hash(variant)


def test_pairs_of_options_stay_unique():
    singles = _one_option_changed("mobilenet")[1:]
    pairs = [Variant.from_dict({**a.to_dict(), **b.to_dict()}) for a, b in itertools.combinations(singles, 2)]
    assert len({v.label for v in pairs}) == len(pairs)
    assert all(Variant.parse(v.label) == v for v in pairs)


def test_defaults_given_explicitly_are_the_same_variant():
    assert Variant("mobilenet", alpha=1, resolution=224, bn_momentum=0.99) == Variant("mobilenet")
    assert Variant("mobilenet").label == "MobileNet 1.0/224"
    assert Variant("vgg16").label == "VGG16"


@pytest.mark.parametrize("alpha, resolution", [(1.0, 224), (0.5, 160), (0.25, 128)])
def test_build_matches_keras_applications(alpha, resolution):
    ours = Variant("mobilenet", alpha=alpha, resolution=resolution).build()
    reference = keras.applications.MobileNet(weights=None, alpha=alpha, input_shape=(resolution, resolution, 3))
    assert ours.count_params() == reference.count_params()
    assert ours.input_shape[1:] == (resolution, resolution, 3)


def test_options_reach_the_builder():
    model = Variant("mobilenet", alpha=0.25, resolution=64, num_classes=7, logits=True, depth_multiplier=2,
                    bn_momentum=0.8).build()
    assert model.output_shape == (None, 7)
    assert model.layers[-1].name == "reshape_2"  # logits: no softmax layer
    assert model.get_layer("conv_dw_1").depth_multiplier == 2
    assert model.get_layer("conv1_bn").momentum == pytest.approx(0.8)
    vgg = Variant("vgg16", resolution=64, num_classes=3, fc_units=16, fc6_kernel_size="auto").build()
    assert vgg.get_layer("fc6").kernel_size == (2, 2) and vgg.get_layer("fc7").filters == 16


@pytest.mark.parametrize("kwargs, fragment", [
    ({"network": "resnet50"}, "network='resnet50'"),
    ({"network": "vgg16", "alpha": 0.5}, "alpha does not apply to vgg16 (it applies to mobilenet"),
    ({"network": "mobilenet", "fc_units": 8}, "fc_units does not apply to mobilenet (it applies to vgg16)"),
    ({"network": "mobilenet", "alpha": float("inf")}, "alpha=inf"),
    ({"network": "mobilenet", "alpha": float("nan")}, "alpha=nan"),
    ({"network": "mobilenet", "alpha": 0.01}, "first convolution would have no filters"),
    ({"network": "mobilenet", "resolution": 31}, "resolution=31"),
    ({"network": "mobilenet", "resolution": 64.0}, "resolution=64.0"),
    ({"network": "mobilenet", "conv": 1}, "conv=1"),
    ({"network": "mobilenet", "bn_momentum": 1.0}, "bn_momentum=1.0"),
    ({"network": "vgg16", "resolution": 160}, "fc6 to 1x1"),
])
def test_bad_options_are_bad_input(kwargs, fragment):
    with pytest.raises(BadInput, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Variant(**kwargs)


@pytest.mark.parametrize("label", ["", "ResNet50", "MobileNet 0.5", "MobileNet 0.5/160 colour=blue",
                                   "VGG16 alpha=0.5", "MobileNet 0.5/160 alpha=0.25"])
def test_bad_labels_are_bad_input(label):
    with pytest.raises(BadInput):
        Variant.parse(label)


def test_from_options_drops_only_inapplicable_options_when_asked():
    options = {"alpha": 0.5, "num_classes": 10, "shallow": None}
    assert Variant.from_options("vgg16", options, only_applicable=True) == Variant("vgg16", num_classes=10)
    with pytest.raises(BadInput, match=r"alpha does not apply to vgg16 \(it applies to mobilenet"):
        Variant.from_options("vgg16", options)
    assert Variant.from_options("MobileNet 0.25/128", {"num_classes": 10}) == Variant(
        "mobilenet", alpha=0.25, resolution=128, num_classes=10)


def test_atomic_write_never_leaves_a_half_written_file(tmp_path):
    path = tmp_path / "table.csv"
    atomic.write_text(path, "old\n")
    with pytest.raises(TypeError):
        atomic.write_bytes(path, "not bytes")  # fails after the temporary file is open
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
