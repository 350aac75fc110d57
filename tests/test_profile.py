"""python -m analysis profile: per-layer time from each runtime's own profiler, mapped to layers and
joined with cost and bound. Values are checked against the runtimes' own APIs, the layer table and
closed forms, never against numbers the profile printed."""

import json

import numpy as np
import pytest

from analysis.cli import main
from analysis.speed import conversions, profile
from analysis.speed.runtimes import configuration
from analysis.variants import Variant

SMALL = Variant("mobilenet", alpha=0.25, resolution=64)
RUNS = 5


def _run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# Fast tier: arguments and bad input (answered before TensorFlow loads), and the mapping rules.

@pytest.mark.parametrize("argv, named", [
    (["--runtime", "litert"], "XNNPACK runs the whole network as one delegate node"),
    (["--runtime", "torch"], "Runtime 'torch' has no profiler"),
    (["--runtime", "onnxruntime", "--precision", "bf16"], "precision='bf16'"),
    (["--runtime", "tensorrt"], "runtime='tensorrt'"),
    (["--runtime", "openvino", "--batch", "0"], "batch=0"),
    (["--runtime", "openvino", "--repeats", "-1"], "repeats=-1"),
    (["--runtime", "openvino", "--format", "yaml"], "yaml"),
    ([], "--runtime"),
])
def test_bad_input_exits_2_with_one_line(capsys, argv, named):
    status, out, err = _run(capsys, "profile", "mobilenet", *argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and named in err


def test_a_network_that_does_not_convert_exits_2_naming_the_layer(capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise conversions.ConversionError("openvino fp32 conversion of 'odd' failed at layer 'svd_layer': Svd")

    monkeypatch.setattr(profile, "profile_network", refuse)
    status, out, err = _run(capsys, "profile", "mobilenet", "--runtime", "openvino")
    assert status == 2 and out == ""
    assert "layer 'svd_layer'" in err and "received network='mobilenet'" in err


def test_a_scope_names_its_layer():
    names = ["conv_dw_1", "conv_dw_1_bn", "conv_dw_11", "outer/conv", "global_pool"]
    assert profile.layer_of_scope("mobilenet_1/conv_dw_1_1/depthwise", names) == "conv_dw_1"
    assert profile.layer_of_scope("mobilenet_1/conv_dw_1_bn_1/batchnorm/mul_1", names) == "conv_dw_1_bn"
    assert profile.layer_of_scope("mobilenet_1/conv_dw_11_1/depthwise/ReadVariableOp", names) == "conv_dw_11"
    assert profile.layer_of_scope("model_1/outer_1/conv_1/convolution", names) == "outer/conv"
    assert profile.layer_of_scope("model_1/global_pool_1/Mean", names) == "global_pool"
    assert profile.layer_of_scope("XLA_Args", names) is None and profile.layer_of_scope("", names) is None


def _layer(name, kind, inputs, spatial=(8, 8)):
    return {"name": name, "kind": kind, "spatial": spatial, "inputs": tuple(inputs)}


def _node(name, kind, inputs, prepares=False, spatial=None):
    return {"name": name, "kind": kind, "prepares": prepares, "spatial": spatial, "inputs": tuple(inputs)}


# conv1 -> bn -> relu -> dw (padded) -> bn -> relu -> pw -> pool -> head (conv with a separate bias add).
LAYERS = [_layer("input", None, []), _layer("conv1", "conv", ["input"]), _layer("conv1_bn", None, ["conv1"]),
          _layer("conv1_relu", "activation", ["conv1_bn"]), _layer("dw", "depthwise", ["conv1_relu"]),
          _layer("dw_bn", None, ["dw"]), _layer("dw_relu", "activation", ["dw_bn"]), _layer("pw", "conv", ["dw_relu"]),
          _layer("pool", "global_pool", ["pw"], (1, 1)), _layer("head", "conv", ["pool"], (1, 1))]


def test_fused_nodes_go_to_the_convolution_and_helpers_to_their_neighbours():
    nodes = [_node("quantize_input", None, [], prepares=True), _node("fused_conv_bn_relu", "conv", ["quantize_input"]),
             _node("pad", None, ["fused_conv_bn_relu"], prepares=True), _node("fused_dw", "depthwise", ["pad"]),
             _node("pw", "conv", ["fused_dw"], spatial=(8, 8)), _node("mean", "global_pool", ["pw"]),
             _node("head_conv", "conv", ["mean"]), _node("bias_add", None, ["head_conv"]),
             _node("output_layout", None, ["bias_add"], prepares=True)]
    matched = profile.match_graph(nodes, LAYERS)
    assert matched == {"fused_conv_bn_relu": "conv1", "fused_dw": "dw", "pw": "pw", "mean": "pool", "head_conv": "head"}
    layers = profile.attribute(nodes, matched)
    assert layers["quantize_input"] == "conv1" and layers["pad"] == "dw"  # they ready the tensor they feed
    assert layers["bias_add"] == "head" and layers["output_layout"] == "head"  # nothing after: the layer before


def test_a_node_of_no_single_layer_is_unattributed():
    nodes = [_node("conv", "conv", []), _node("dw", "depthwise", ["conv"]),
             _node("odd_pw", "conv", ["dw"], spatial=(3, 3)),  # no layer of that output size
             _node("split", None, ["conv"], prepares=True), _node("a", "conv", ["split"]),
             _node("b", "depthwise", ["split"])]
    layers = [_layer("c", "conv", []), _layer("d", "depthwise", ["c"]), _layer("p", "conv", ["d"]),
              _layer("a", "conv", ["c"]), _layer("b", "depthwise", ["c"])]
    matched = profile.match_graph(nodes, layers)
    assert "odd_pw" not in matched and matched["conv"] == "c"
    attributed = profile.attribute(nodes, matched)
    assert attributed["split"] == profile.UNATTRIBUTED  # it feeds two layers


def test_join_sums_nodes_per_fused_row_and_keeps_the_unattributed():
    import pandas as pd

    bounds = pd.DataFrame([
        {"name": "conv1", "fused": ["conv1_bn", "conv1_relu"], "role": "Conv 3x3", "type": "Conv2D", "macs": 100,
         "traffic_bytes": 10, "intensity": 20.0, "bound_ms": 0.5},
        {"name": "dw", "fused": [], "role": "Conv DW 3x3", "type": "DepthwiseConv2D", "macs": 300,
         "traffic_bytes": 30, "intensity": 2.0, "bound_ms": 0.1}])
    frame = pd.DataFrame({"node": ["n1", "n2", "n3", "n4"], "ms": [1.0, 0.5, 2.0, 0.25],
                          "layer": ["conv1", "conv1_relu", "dw", profile.UNATTRIBUTED]})
    table = profile.join(frame, bounds, batch=2)
    conv1, dw, left = (table.iloc[i] for i in range(3))
    assert conv1["nodes"] == "n1 + n2" and conv1["ms"] == 1.5 and conv1["macs"] == 200
    assert conv1["achieved_gflops"] == pytest.approx(2 * 200 / 1.5e-3 / 1e9)
    assert conv1["bound_fraction"] == pytest.approx(0.5 / 1.5) and conv1["group"] == "Convolution"
    assert dw["mac_share"] == pytest.approx(0.75) and dw["time_share"] == pytest.approx(2.0 / 3.75)
    assert left["layer"] == profile.UNATTRIBUTED and left["nodes"] == "n4" and left["ms"] == 0.25
    assert table["ms"].sum() == pytest.approx(frame["ms"].sum())


def test_onnxruntime_graph_kinds(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from analysis.speed.runtimes import onnxruntime as ort_runtime

    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", group=1),
             helper.make_node("Conv", ["c", "wd"], ["d"], name="depthwise", group=4),
             helper.make_node("Add", ["d", "bias"], ["b"], name="bias"),
             helper.make_node("Add", ["b", "c"], ["r"], name="residual"),
             helper.make_node("NhwcMaxPool", ["r"], ["p"], name="pool", domain="com.microsoft", kernel_shape=[2, 2]),
             helper.make_node("QuantizeLinear", ["p", "scale"], ["q"], name="quantize")]
    initializers = [helper.make_tensor(name, TensorProto.FLOAT, [1], [1.0]) for name in ("w", "wd", "bias", "scale")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info("q", TensorProto.UINT8, None)], initializers)
    onnx.save(helper.make_model(graph), tmp_path / "g.onnx")
    described = {n["name"]: n for n in ort_runtime._graph(tmp_path / "g.onnx")}
    assert {name: n["kind"] for name, n in described.items()} == {
        "conv": "conv", "depthwise": "depthwise", "bias": None, "residual": "add", "pool": "pool", "quantize": None}
    assert described["residual"]["inputs"] == ("bias", "conv") and described["conv"]["inputs"] == ()
    assert described["quantize"]["prepares"] and not described["bias"]["prepares"]


def test_node_frame_closed_form():
    frame = profile.node_frame({"a": [0.001, 0.004], "b": [0.002, 0.002], "c": [0.001]}, {"a": "Conv"},
                               plain_s=[0.004, 0.006], profiled_s=[0.004, 0.010])
    a, b, c = (frame.iloc[i] for i in range(3))
    assert a["ms"] == pytest.approx(2.5) and a["ms_median"] == pytest.approx(2.5) and a["node_type"] == "Conv"
    assert b["node_type"] == "?" and c["ms"] == pytest.approx(0.5) and c["ms_median"] == pytest.approx(0.5)
    assert frame.attrs["median_ms"] == pytest.approx(5.0) and frame.attrs["profiled_median_ms"] == pytest.approx(7.0)
    assert frame.attrs["runs"] == 2 and frame.attrs["run_coverage"] is None  # c ran once in two runs
    whole = profile.node_frame({"a": [0.001, 0.004], "b": [0.002, 0.002]}, {}, [0.004], [0.004, 0.010])
    assert whole.attrs["run_coverage"] == pytest.approx(np.median([0.003 / 0.004, 0.006 / 0.010]))


def test_profile_groups():
    assert [profile.profile_group(r) for r in ("Conv 3x3", "Conv DW 3x3", "Conv 1x1", "Fully connected", "Pooling")] \
        == ["Convolution", "Depthwise", "Pointwise", "Fully connected", "Other"]


@pytest.fixture(scope="module")
def small_model():
    from nets.backend import keras

    keras.utils.set_random_seed(0)
    return SMALL.build()


@pytest.fixture(scope="module")
def cost(small_model):
    from analysis.cost.table import layer_table

    return layer_table(small_model)


def _check_layers_with_macs(table, cost):
    with_macs = cost[cost["macs"].fillna(0) > 0]
    rows = table.set_index("layer")
    assert set(with_macs["name"]) <= set(rows.index)
    for _, layer in with_macs.iterrows():
        assert rows.loc[layer["name"], "macs"] == layer["macs"]  # batch 1
        assert rows.loc[layer["name"], "ms"] > 0 and rows.loc[layer["name"], "nodes"]


def test_keras_profile_names_every_layer(small_model, cost):
    table, nodes = profile.profile_network(SMALL, configuration("keras"), runs=RUNS, model=small_model)
    _check_layers_with_macs(table, cost)
    assert (nodes["layer"] == profile.UNATTRIBUTED).sum() == table.attrs["unattributed_nodes"] == 0
    conv = nodes[nodes["node_type"].isin(["Conv2D", "DepthwiseConv2dNative", "_FusedConv2D"])]
    assert len(conv) == (cost["type"].isin(["Conv2D", "DepthwiseConv2D"])).sum()
    assert table.attrs["coverage"] == pytest.approx(table["ms"].sum() / table.attrs["median_ms"])
    assert 0 < table.attrs["run_coverage"] and nodes.attrs["runs"] == RUNS
    # MobileNet's first layer, closed form: 3x3 kernel, 3 -> 8 channels, 32x32 outputs.
    assert table.set_index("layer").loc["conv1", "macs"] == 3 * 3 * 3 * 8 * 32 * 32


# Slow tier: conversions (OpenVINO IR, ONNX export) and XLA.

@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conversions.paths, "CACHE_DIR", tmp_path_factory.mktemp("cache"))
        yield


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_openvino_profile_is_openvinos_own_counters(small_model, cost, cache, monkeypatch, precision):
    import openvino

    read = []
    original = openvino.InferRequest.get_profiling_info

    def recording(request):
        infos = original(request)
        read.append(sum(i.real_time.total_seconds() for i in infos if i.status == i.Status.EXECUTED))
        return infos

    monkeypatch.setattr(openvino.InferRequest, "get_profiling_info", recording)
    table, nodes = profile.profile_network(SMALL, configuration("openvino", precision), runs=RUNS, model=small_model)
    assert len(read) == RUNS  # read after each profiled inference, none of the warm-up's
    assert table["ms"].sum() == pytest.approx(1e3 * sum(read) / RUNS)
    _check_layers_with_macs(table, cost)
    assert profile.UNATTRIBUTED not in set(table["layer"])
    assert table.attrs["coverage"] == pytest.approx(table["ms"].sum() / table.attrs["median_ms"])
    assert table.attrs["overhead"] == pytest.approx(table.attrs["profiled_median_ms"] / table.attrs["median_ms"])


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_onnxruntime_profile_has_every_node_of_the_session(small_model, cost, cache, tmp_path, precision):
    import onnx
    import onnxruntime

    config = configuration("onnxruntime", precision)
    table, nodes = profile.profile_network(SMALL, config, runs=RUNS, model=small_model)
    source = conversions.converted(SMALL, config, small_model, batch=1,
                                   calibration=conversions.calibration_set(SMALL) if precision == "int8" else None)
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(str(tmp_path / "optimized.onnx")).graph.node
    assert sorted(nodes["node"]) == sorted(node.name for node in optimized)
    exported = onnx.load(str(source)).graph.node  # the runtime fuses activations in, never two convolutions
    convolutions = [n for n in exported if n.op_type in ("Conv", "QLinearConv", "ConvInteger")]
    assert len(convolutions) == (cost["type"].isin(["Conv2D", "DepthwiseConv2D"])).sum()
    _check_layers_with_macs(table, cost)
    assert table["ms"].sum() == pytest.approx(nodes["ms"].sum())


@pytest.mark.slow
def test_xla_profile_names_the_layers_from_the_hlo_metadata(small_model, cost):
    table, nodes = profile.profile_network(SMALL, configuration("xla"), runs=RUNS, model=small_model)
    _check_layers_with_macs(table, cost)
    attributed = nodes[nodes["layer"] != profile.UNATTRIBUTED]
    assert attributed["ms"].sum() > 0.9 * nodes["ms"].sum()


@pytest.mark.slow
def test_profile_command_json(capsys, cache):
    status, out, _ = _run(capsys, "profile", "mobilenet", "--alpha", "0.25", "--resolution", "64", "--runtime",
                          "openvino", "--repeats", str(RUNS), "--format", "json")
    assert status == 0
    data = json.loads(out)
    assert data["variant"] == SMALL.label and data["runs"] == RUNS
    layers_ms = sum(row["ms"] for row in data["layers"])
    assert data["coverage"] == pytest.approx(layers_ms / data["median_ms"])
    assert np.isfinite(data["overhead"]) and data["overhead"] > 0


@pytest.mark.slow
def test_a_real_conversion_failure_exits_2_naming_the_layer(capsys, cache, monkeypatch):
    import tensorflow as tf
    from nets.backend import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Lambda(lambda t: tf.linalg.svd(t)[0], name="svd_layer")(x)
    odd = keras.Model(inputs, x, name="odd")
    monkeypatch.setattr(Variant, "build", lambda self: odd)  # OpenVINO has no rule for Svd
    status, out, err = _run(capsys, "profile", "mobilenet", "--runtime", "openvino")
    assert status == 2 and out == ""
    assert "layer 'svd_layer'" in err and "Svd" in err and len(err.strip().splitlines()) == 1
