"""Every keras.applications model, counted: completely, parameters as Keras counts them, and the
multiply-adds of every convolution and dense layer equal to fvcore's and the TF profiler's / 2.

QUICK=1 (CI) checks a few small models that between them hold every kind of layer the zoo
adds to VGG16 and MobileNet (inverted residuals, squeeze-and-excitation, hard-swish,
``keras.ops`` in the graph, Rescaling and Normalization, a nested Sequential, grouped 7x7
convolutions, LayerNormalization, LayerScale); QUICK=0 checks the whole zoo.
Each model is built at its smallest resolution: counting does not depend on the size.
"""

import gc

import pytest

from analysis.cost import layer_table, summarize
from analysis.cost.crosscheck import COUNTERS, MAC_LAYER_TYPES, crosscheck, crosscheck_many, crosscheck_summary
from analysis.paths import quick_mode
from nets.applications import APPLICATION_NAMES, MIN_RESOLUTIONS, build_application
from nets.backend import keras

QUICK_MODELS = ("MobileNetV2", "MobileNetV3Small", "EfficientNetB0", "ConvNeXtTiny")
ZOO = QUICK_MODELS if quick_mode() else APPLICATION_NAMES
REST = () if quick_mode() else tuple(n for n in APPLICATION_NAMES if n not in QUICK_MODELS)

# The slow tier (`pytest -m slow tests notebooks`): the zoo. The fast tier counts application layers
# in tests/test_layer_table.py and keras.applications models in tests/test_any_model.py.
pytestmark = pytest.mark.slow


def _build(name):
    keras.backend.clear_session()
    gc.collect()
    return build_application(name, max(MIN_RESOLUTIONS.get(name, 32), 32))


@pytest.mark.parametrize("name", ZOO)
def test_every_layer_is_counted_and_parameters_are_keras_counts(name):
    model = _build(name)
    table = layer_table(model)
    totals = summarize(table)
    assert totals["params"] == model.count_params()
    assert totals["trainable_params"] == sum(int(w.numpy().size) for w in model.trainable_weights)
    assert table["supported"].all(), totals["unsupported_types"]
    assert not totals["lower_bound"] and totals["unsupported_types"] == []
    assert table["name"].is_unique
    assert table["receptive_field"].notna().all() and table["jump"].notna().all()
    # Nested models are counted through their layers, never as one row.
    assert not table["type"].isin(["Sequential", "Functional"]).any()


def test_convnext_nested_sequential_has_qualified_rows():
    model = _build("ConvNeXtTiny")
    table = layer_table(model).set_index("name")
    stem = model.get_layer("convnext_tiny_stem")
    conv, norm = (f"convnext_tiny_stem/{layer.name}" for layer in stem.layers)
    assert table.loc[conv, "type"] == "Conv2D" and table.loc[norm, "type"] == "LayerNormalization"
    assert table.loc[conv, "params"] == stem.layers[0].count_params()
    # The stem is a 4x4 convolution of stride 4: 8x8 positions of 96 channels from 4*4*3 inputs each.
    assert table.loc[conv, "macs"] == 8 * 8 * 96 * 4 * 4 * 3
    assert table.loc[conv, "receptive_field"] == 4 and table.loc[conv, "jump"] == 4


@pytest.fixture(scope="module")
def quick_checks():
    """The quick models, cross-checked with one fvcore worker (its start-up once)."""
    models = [_build(name) for name in QUICK_MODELS]
    return dict(zip(QUICK_MODELS, crosscheck_many(models, freeze=False)))


def _assert_agreement(table):
    mac_rows = table[table["type"].isin(MAC_LAYER_TYPES)]
    assert len(mac_rows) > 0
    for _, row in mac_rows.iterrows():
        assert row["macs"] == row["fvcore_macs"] == row["tf_conv_flops"] // 2, (row["name"], row["note"])
        assert row["tf_conv_flops"] == 2 * row["macs"]
    summary = crosscheck_summary(table)
    assert summary["all_agree"] and summary["disagreeing"] == []
    assert summary["tf_conv_flops"] == 2 * summary["ours_macs"]
    # fvcore's whole-model count is its per-layer counts: the multiply-adds, plus what it counts
    # with handles of its own in layers that have no multiply-adds of ours.
    assert summary["fvcore_total_macs"] == summary["fvcore_macs"]
    assert summary["fvcore_macs"] == summary["ours_macs"] + summary["fvcore_outside_mac_layers"]
    assert summary["counters"] == COUNTERS
    return summary


@pytest.mark.parametrize("name", QUICK_MODELS)
def test_quick_zoo_agrees_with_fvcore_and_the_tf_profiler(name, quick_checks):
    _assert_agreement(quick_checks[name])


def test_what_the_counters_count_outside_convolutions(quick_checks):
    convnext = quick_checks["ConvNeXtTiny"].set_index("name")
    norm = convnext.loc["convnext_tiny_stem/convnext_tiny_stem_layernorm"]
    elements = norm["activations"]
    # fvcore's layer_norm handle: 5 per element with an affine transform; ours 5 + scale + centre.
    assert norm["fvcore_by_operator"] == {"layer_norm": 5 * elements}
    assert norm["other_ops"] == 7 * elements
    assert "fvcore counts layer_norm" in norm["note"]
    assert "aten::layer_norm" in COUNTERS
    assert crosscheck_summary(quick_checks["ConvNeXtTiny"])["fvcore_outside_mac_layers"] == sum(
        row["activations"] * 5 for _, row in convnext.iterrows() if row["type"] == "LayerNormalization")
    # Grouped 7x7 convolutions run as an XLA function on CPU: profiled inside, never frozen.
    assert quick_checks["ConvNeXtTiny"].attrs["tf_frozen"] is False
    v3 = quick_checks["MobileNetV3Small"]
    ops = v3[v3["type"].str.startswith("ops.")]
    assert set(ops["type"]) == {"ops.Add", "ops.Multiply"}  # the hard sigmoid x + 3, * 1/6
    assert all("opens no TF name scope" in note for note in ops["note"])
    assert (ops["other_ops"] == ops["activations"]).all()


@pytest.mark.skipif(quick_mode(), reason="the whole zoo runs with QUICK=0")
@pytest.mark.parametrize("name", REST)
def test_whole_zoo_agrees_with_fvcore_and_the_tf_profiler(name):
    _assert_agreement(crosscheck(_build(name), freeze=False))
