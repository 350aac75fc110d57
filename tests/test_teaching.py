"""The missing ideas of the lesson, each against an independent closed form:
head-versus-body attribution, the fully connected head as sliding convolutions,
training memory, and the cs231n VGG16 memory table recounted."""

import math

import pytest

from analysis.cost.attribution import attribution, attribution_ratios, head_body, split_parts
from analysis.cost.cs231n import cs231n_rows, our_layer_names, recount, recount_totals
from analysis.cost.memory import training_memory, training_memory_table
from analysis.cost.sliding import dense_vgg16, map_side, score_map, score_map_table
from nets.backend import keras

# ---------------------------------------------------------------- closed forms, worked out here

VGG_CONFIG = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


def vgg_convs(side):
    """(output side, c_in, c_out) of VGG16's 13 3x3 SAME convolutions on a side x side image."""
    convs, c_in = [], 3
    for block, (repeats, c_out) in enumerate(VGG_CONFIG):
        for _ in range(repeats):
            convs.append((side // 2**block, c_in, c_out))
            c_in = c_out
    return convs


VGG_BODY_PARAMS = sum(9 * c_in * c_out + c_out for _, c_in, c_out in vgg_convs(224))
VGG_HEAD_PARAMS = 7 * 7 * 512 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
VGG_HEAD_MACS_PER_POSITION = 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000


def vgg_body_macs(side):
    return sum(s * s * 9 * c_in * c_out for s, c_in, c_out in vgg_convs(side))


# MobileNet v1, the paper's Table 1: conv1 3x3x3x32 stride 2, then 13 (depthwise 3x3, pointwise 1x1)
# blocks given as (pointwise filters, stride); batch norm after every convolution (4 values per
# channel: gamma, beta, moving mean and variance), no biases; conv_preds 1x1 1024 -> 1000 with bias.
MOBILENET_TABLE1 = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
                    (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


def mobilenet_body():
    """(params, macs) of MobileNet 1.0/224's body from Table 1."""
    side, c_in = 112, 32
    params, macs = 3 * 3 * 3 * 32 + 4 * 32, side * side * 3 * 3 * 3 * 32
    for c_out, stride in MOBILENET_TABLE1:
        side //= stride
        params += 9 * c_in + 4 * c_in + c_in * c_out + 4 * c_out
        macs += side * side * 9 * c_in + side * side * c_in * c_out
        c_in = c_out
    return params, macs


MOBILENET_HEAD_PARAMS = 1024 * 1000 + 1000
MOBILENET_HEAD_MACS = 1024 * 1000


# ---------------------------------------------------------------- head versus body


@pytest.fixture(scope="module")
def attributed(vgg16_model, mobilenet_model):
    return attribution(vgg16_model, mobilenet_model)


def _cell(table, network_index, part, column):
    network = list(dict.fromkeys(table["network"]))[network_index]
    return table[(table["network"] == network) & (table["part"] == part)][column].item()


def test_vgg16_head_and_body_are_the_closed_forms(attributed):
    assert _cell(attributed, 0, "body", "params") == VGG_BODY_PARAMS == 14_714_688
    assert _cell(attributed, 0, "head", "params") == VGG_HEAD_PARAMS
    assert _cell(attributed, 0, "body", "macs") == vgg_body_macs(224)
    assert _cell(attributed, 0, "head", "macs") == VGG_HEAD_MACS_PER_POSITION
    assert _cell(attributed, 0, "total", "params") == VGG_BODY_PARAMS + VGG_HEAD_PARAMS


def test_mobilenet_head_and_body_are_table_1(attributed):
    body_params, body_macs = mobilenet_body()
    assert _cell(attributed, 1, "body", "params") == body_params
    assert _cell(attributed, 1, "body", "macs") == body_macs
    assert _cell(attributed, 1, "head", "params") == MOBILENET_HEAD_PARAMS
    assert _cell(attributed, 1, "head", "macs") == MOBILENET_HEAD_MACS
    assert _cell(attributed, 1, "total", "params") == 4_253_864  # keras.applications' documented count


def test_shares_add_up_per_network(attributed):
    for index in (0, 1):
        for column in ("params_share_%", "macs_share_%"):
            assert _cell(attributed, index, "body", column) + _cell(attributed, index, "head", column) \
                == pytest.approx(100.0)
    assert _cell(attributed, 0, "head", "params_share_%") == pytest.approx(
        100 * VGG_HEAD_PARAMS / (VGG_HEAD_PARAMS + VGG_BODY_PARAMS))


def test_the_parameter_saving_is_the_head_and_the_mac_saving_the_body(attributed):
    ratios = attribution_ratios(attributed).set_index("part")
    body_params, body_macs = mobilenet_body()
    assert ratios.loc["head", "params_ratio"] == pytest.approx(VGG_HEAD_PARAMS / MOBILENET_HEAD_PARAMS)
    assert ratios.loc["body", "params_ratio"] == pytest.approx(VGG_BODY_PARAMS / body_params)
    assert ratios.loc["body", "macs_ratio"] == pytest.approx(vgg_body_macs(224) / body_macs)
    # The figures: head ~120x, bodies ~4.6x, ~32x in all, MACs ~27x.
    assert 120 < ratios.loc["head", "params_ratio"] < 121
    assert round(ratios.loc["body", "params_ratio"], 1) == 4.6
    assert 32 <= ratios.loc["total", "params_ratio"] < 33
    assert round(ratios.loc["total", "macs_ratio"]) == 27
    saving = vgg_body_macs(224) + VGG_HEAD_MACS_PER_POSITION - body_macs - MOBILENET_HEAD_MACS
    assert ratios.loc["body", "macs_saving_share_%"] == pytest.approx(100 * (vgg_body_macs(224) - body_macs) / saving)
    assert ratios.loc["body", "macs_saving_share_%"] > 99
    assert ratios.loc["head", "params_saving_share_%"] > 90


def test_keras_applications_split_the_same_way(keras_vgg16):
    vgg = head_body(keras_vgg16).set_index("part")
    without_top = keras.applications.VGG16(weights=None, include_top=False)
    assert vgg.loc["body", "params"] == without_top.count_params()
    assert vgg.loc["head", "params"] == keras_vgg16.count_params() - without_top.count_params() == VGG_HEAD_PARAMS
    mobilenet = keras.applications.MobileNet(weights=None)
    parts = split_parts(mobilenet)
    assert parts.loc[parts["part"] == "head", "params"].sum() == MOBILENET_HEAD_PARAMS
    assert parts.loc[parts["part"] == "body", "name"].iloc[-1] == "conv_pw_13_relu"


def test_a_network_without_its_top_has_no_head():
    with pytest.raises(ValueError, match="no fully connected head"):
        head_body(keras.applications.MobileNet(weights=None, include_top=False, input_shape=(128, 128, 3)))


# ---------------------------------------------------------------- the head as convolutions


def test_score_map_side_by_shape_arithmetic():
    assert map_side(384) == 384 // 32 - 7 + 1 == 12 - 7 + 1 == 6
    assert map_side(224) == 1
    assert map_side(256) == 2


@pytest.fixture(scope="module")
def dense384():
    return dense_vgg16(384)


def test_vgg16_at_384_gives_a_6x6_map_of_class_scores(dense384, vgg16_model):
    assert tuple(dense384.output.shape) == (None, 6, 6, 1000)
    assert dense384.get_layer("pool5").output.shape[1:3] == (12, 12)
    assert dense384.get_layer("fc6").kernel_size == (7, 7)
    # Same weights as the 224 network: the map is that network slid, not another one.
    assert [tuple(w.shape) for w in dense384.weights] == [tuple(w.shape) for w in vgg16_model.weights]


def test_dense_evaluation_macs_are_the_closed_form(dense384, vgg16_model):
    result = score_map(384, model=dense384, crop_model=vgg16_model)
    positions = 6 * 6
    dense = vgg_body_macs(384) + positions * VGG_HEAD_MACS_PER_POSITION
    crop = vgg_body_macs(224) + VGG_HEAD_MACS_PER_POSITION
    assert result["score_map_shape"] == (6, 6, 1000)
    assert result["crops"] == positions and result["crop_stride"] == 32
    assert result["body_macs"] == vgg_body_macs(384) == vgg_body_macs(224) * 384**2 // 224**2
    assert result["head_macs"] == positions * VGG_HEAD_MACS_PER_POSITION
    assert result["macs"] == dense
    assert result["crop_macs"] == crop
    assert result["separate_macs"] == positions * crop
    assert result["macs_saved"] == positions * crop - dense
    assert result["speedup"] == pytest.approx(positions * crop / dense)


@pytest.mark.slow  # two dense VGG16s; the 384 score map below checks score_map fast
def test_score_map_table_starts_from_the_224_network():
    table = score_map_table(resolutions=(224, 256))
    assert table["score_map_shape"].tolist() == [(1, 1, 1000), (2, 2, 1000)]
    assert table["crops"].tolist() == [1, 4]
    first = table.iloc[0]
    assert first["macs"] == first["crop_macs"] == vgg_body_macs(224) + VGG_HEAD_MACS_PER_POSITION
    assert first["macs_saved"] == 0
    assert table.iloc[1]["macs"] == vgg_body_macs(256) + 4 * VGG_HEAD_MACS_PER_POSITION


def test_score_map_refuses_a_resolution_below_224():
    with pytest.raises(ValueError, match="resolution=200"):
        score_map(200)


# ---------------------------------------------------------------- training memory


def tiny_model():
    inputs = keras.Input((8, 8, 3), name="input")
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)  # 6x6x4, 3*3*3*4 + 4 parameters
    x = keras.layers.BatchNormalization(name="bn")(x)  # 4 gamma, 4 beta trainable; 8 statistics
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Flatten(name="flatten")(x)  # a view: nothing kept
    outputs = keras.layers.Dense(2, name="dense")(x)  # 144*2 + 2
    return keras.Model(inputs, outputs)


def test_tiny_model_memory_by_hand():
    model = tiny_model()
    memory = training_memory(model, batch=5, optimizer="sgd")
    per_image = 8 * 8 * 3 + 6 * 6 * 4 * 3 + 2  # input, conv, bn, relu, dense
    trainable = (3 * 3 * 3 * 4 + 4) + (4 + 4) + (144 * 2 + 2)
    assert memory["activations_per_image"] == per_image
    assert memory["activations"] == 4 * 5 * per_image
    assert memory["weights"] == 4 * (trainable + 8)
    assert memory["gradients"] == 4 * trainable
    assert memory["optimizer_state"] == 0
    assert memory["total"] == 4 * (5 * per_image + 2 * trainable + 8)


@pytest.mark.parametrize("name, make", [
    ("sgd", lambda: keras.optimizers.SGD()),
    ("momentum", lambda: keras.optimizers.SGD(momentum=0.9)),
    ("rmsprop", lambda: keras.optimizers.RMSprop()),
    ("adam", lambda: keras.optimizers.Adam()),
])
def test_optimizer_state_is_keras_own_slot_count(name, make):
    model = tiny_model()
    optimizer = make()
    optimizer.build(model.trainable_variables)
    slot_values = sum(math.prod(v.shape) for v in optimizer.variables if len(v.shape))  # not the scalars
    gradient_values = sum(math.prod(v.shape) for v in model.trainable_variables)
    memory = training_memory(model, batch=1, optimizer=name)
    assert memory["optimizer_state"] == 4 * slot_values
    assert memory["gradients"] == 4 * gradient_values
    assert memory["weights"] == 4 * sum(math.prod(v.shape) for v in model.weights)


def test_vgg16_training_memory_at_batch_32(vgg16_model, keras_vgg16):
    memory = training_memory(vgg16_model, batch=32, optimizer="adam")
    params = keras_vgg16.count_params()
    assert memory["params"] == params == 138_357_544
    # Kept per image: the input, 13 convolutions, 5 pools, fc6-fc8 and the two dropouts.
    per_image = 224 * 224 * 3 + sum(s * s * c for s, _, c in vgg_convs(224))
    per_image += sum((224 // 2**(b + 1)) ** 2 * c for b, (_, c) in enumerate(VGG_CONFIG))
    per_image += 4096 + 4096 + 1000 + 2 * 4096
    assert memory["activations_per_image"] == per_image
    assert memory["total"] == 4 * (params * (1 + 1 + 2) + 32 * per_image)


def test_memory_table_scales_activations_with_the_batch_only(vgg16_model, mobilenet_model):
    table = training_memory_table([vgg16_model, mobilenet_model], batches=(1, 4), optimizer="momentum")
    assert len(table) == 4
    for network, rows in table.groupby("network"):
        one, four = rows.iloc[0], rows.iloc[1]
        assert four["activations"] == 4 * one["activations"]
        for fixed in ("weights", "gradients", "optimizer_state"):
            assert four[fixed] == one[fixed]
        assert one["optimizer_state"] == one["gradients"]  # one momentum slot per trainable value
    mobilenet = table[table["network"] == mobilenet_model.name].iloc[0]
    assert mobilenet["weights"] - mobilenet["gradients"] == 4 * 21_888  # the batch-norm statistics


@pytest.mark.parametrize("kwargs, match", [({"batch": 0}, "batch=0"), ({"batch": 2, "optimizer": "lion"}, "lion")])
def test_training_memory_names_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        training_memory(tiny_model(), **kwargs)


# ---------------------------------------------------------------- the cs231n table


def cs231n_closed_form():
    """(activations, kernel weights) of each cs231n row, worked out from the configuration."""
    rows, side, c_in = [(224 * 224 * 3, 0)], 224, 3
    for repeats, c_out in VGG_CONFIG:
        for _ in range(repeats):
            rows.append((side * side * c_out, 9 * c_in * c_out))
            c_in = c_out
        side //= 2
        rows.append((side * side * c_out, 0))
    return rows + [(4096, 7 * 7 * 512 * 4096), (4096, 4096 * 4096), (1000, 4096 * 1000)]


def test_cs231n_rows_are_the_closed_form():
    rows = cs231n_rows()
    assert len(rows) == 22
    assert list(zip(rows["memory"], rows["weights"])) == cs231n_closed_form()
    assert rows.loc[1, ["memory", "weights"]].tolist() == [224 * 224 * 64, 3 * 3 * 3 * 64]  # conv1_1
    for expression, printed, memory in zip(rows["memory_expression"], rows["memory_printed"], rows["memory"]):
        if expression:
            assert math.prod(int(f) for f in expression.split("*")) == memory
        scale = {"K": 1e3, "M": 1e6}.get(printed[-1], 1)
        value = float(printed.rstrip("KM")) * scale
        assert abs(value - memory) / memory < 0.05  # 3.2M for 3,211,264
    for printed, weights in zip(rows["weights_printed"], rows["weights"]):
        assert int(printed.replace(",", "")) == weights


def test_recount_matches_every_row_and_sums(vgg16_model):
    recounted = recount(vgg16_model)
    assert list(recounted["name"]) == our_layer_names()
    assert (recounted["activations_diff"] == 0).all()
    assert (recounted["weights_diff"] == recounted["biases"]).all()
    totals = recount_totals(recounted)
    rows_sum = sum(m for m, _ in cs231n_closed_form())
    assert totals["our_activations"] == totals["rows_activations"] == int(cs231n_rows()["memory"].sum()) == rows_sum
    assert rows_sum == 15_237_608  # about 15.2M, not the printed 24M
    assert totals["rows_bytes"] == 4 * rows_sum and round(totals["rows_megabytes"]) == 61
    assert totals["printed_bytes_of_24M"] == 96_000_000  # not the printed 93MB
    biases = 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 + 4096 + 4096 + 1000
    assert totals["biases"] == biases == 13_416
    assert totals["rows_weights"] == sum(w for _, w in cs231n_closed_form())
    assert totals["our_params"] == totals["rows_weights"] + biases == 138_357_544
    assert round(totals["our_params"] / 1e6) == round(totals["rows_weights"] / 1e6) == 138
