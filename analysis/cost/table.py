"""The per-layer cost table: shapes, parameters, MACs, FLOPs and memory.

Conventions, stated once here and in every table header:

- One **MAC** is one multiply-add (the MobileNet paper's "Mult-Adds", what
  fvcore calls a "flop"). **FLOPs = 2 x MACs** (what the TensorFlow
  profiler reports).
- Counts are **per image** (batch 1) and exact integers.
- Only convolutions and dense layers have MACs. Bias adds, batch norm,
  activations, pooling and element-wise work go to **other_ops**, never into
  MACs: a bias add or activation is 1 op per output element, an inference
  batch norm 2 (scale and shift), a max pool k*k-1 comparisons per output, an
  average pool one add per input element and one divide per output, a
  softmax 3 per element (exp, sum, divide).
- Memory is float32: **activation_bytes** = 4 x output elements,
  **weight_bytes** = 4 x parameters. **arithmetic_intensity** is FLOPs per byte
  of the least traffic a layer needs: read its input and weights once, write
  its output once.
- A layer class without a formula is marked ``supported=False`` and its
  counts are missing (<NA>), never zero.

Counting is a table from Keras layer class to a pure shape formula, in the
manner of fvcore's operator handles; display lives elsewhere.
"""

import math
import re
from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from analysis.variants import mobilenet_grid
from nets.backend import keras

BYTES_PER_FLOAT32 = 4
MAC_CONVENTION = (
    "MACs = multiply-adds per image (batch 1); FLOPs = 2 x MACs; "
    "other_ops = bias, batch norm, activation, pooling and element-wise ops; float32 bytes"
)


@dataclass(frozen=True)
class OpCount:
    """What one layer costs for one image: multiply-adds and other operations."""

    macs: int
    other_ops: int


def _elements(shape):
    return math.prod(int(d) for d in shape)


def _bias_and_activation(layer, out_elements):
    ops = out_elements if getattr(layer, "use_bias", False) else 0
    activation = getattr(layer, "activation", None)
    if activation is not None and activation is not keras.activations.linear:
        ops += out_elements
    return ops


def _conv(layer, in_shape, out_shape):
    """Standard (grouped) convolution: out_h*out_w*out_c * k_h*k_w*in_c/groups."""
    kernel = math.prod(layer.kernel_size)
    groups = getattr(layer, "groups", 1)
    out = _elements(out_shape)
    return OpCount(out * kernel * (in_shape[-1] // groups), _bias_and_activation(layer, out))


def _depthwise(layer, in_shape, out_shape):
    """Depthwise convolution: each output element sees k_h*k_w inputs of one channel."""
    out = _elements(out_shape)
    return OpCount(out * math.prod(layer.kernel_size), _bias_and_activation(layer, out))


def _separable(layer, in_shape, out_shape):
    """SeparableConv2D: the depthwise part, then a 1x1 pointwise part."""
    depth_channels = in_shape[-1] * layer.depth_multiplier
    spatial = _elements(out_shape[:-1])
    macs = spatial * depth_channels * math.prod(layer.kernel_size) + spatial * depth_channels * out_shape[-1]
    return OpCount(macs, _bias_and_activation(layer, _elements(out_shape)))


def _dense(layer, in_shape, out_shape):
    out = _elements(out_shape)
    return OpCount(out * in_shape[-1], _bias_and_activation(layer, out))


def _per_output(ops_per_element):
    return lambda layer, in_shape, out_shape: OpCount(0, ops_per_element * _elements(out_shape))


def _batch_norm(layer, in_shape, out_shape):
    return OpCount(0, 2 * _elements(out_shape))


def _max_pool(layer, in_shape, out_shape):
    return OpCount(0, (math.prod(layer.pool_size) - 1) * _elements(out_shape))


def _average_pool(layer, in_shape, out_shape):
    return OpCount(0, _elements(in_shape) + _elements(out_shape))


def _activation(layer, in_shape, out_shape):
    name = getattr(layer.activation, "__name__", "")
    if name == "linear":
        return OpCount(0, 0)
    return OpCount(0, (3 if name == "softmax" else 1) * _elements(out_shape))


def _free(layer, in_shape, out_shape):
    return OpCount(0, 0)


def _merge(layer, in_shape, out_shape):
    inputs = len(layer.input) if isinstance(layer.input, (list, tuple)) else 1
    return OpCount(0, (inputs - 1) * _elements(out_shape))


L = keras.layers
# Layer class -> shape formula. Order matters only for subclasses (most
# specific first): SeparableConv2D and DepthwiseConv2D before Conv2D.
HANDLERS = (
    (L.SeparableConv2D, _separable),
    (L.DepthwiseConv2D, _depthwise),
    (L.Conv2D, _conv),
    (L.Conv1D, _conv),
    (L.Dense, _dense),
    (L.BatchNormalization, _batch_norm),
    (L.ReLU, _per_output(1)),
    (L.Softmax, _per_output(3)),
    (L.Activation, _activation),
    (L.MaxPooling2D, _max_pool),
    (L.AveragePooling2D, _average_pool),
    (L.GlobalAveragePooling2D, _average_pool),
    (L.GlobalMaxPooling2D, lambda layer, i, o: OpCount(0, _elements(i) - _elements(o))),
    (L.Add, _merge),
    (L.Multiply, _merge),
    (L.InputLayer, _free),
    (L.Dropout, _free),  # identity at inference
    (L.Reshape, _free),
    (L.Flatten, _free),
    (L.ZeroPadding2D, _free),  # memory movement only
    (L.Concatenate, _free),
)
COLUMNS = (
    "name", "type", "input_shape", "output_shape", "kernel_size", "strides",
    "params", "trainable_params", "non_trainable_params",
    "macs", "flops", "other_ops", "activations", "activation_bytes",
    "weight_bytes", "arithmetic_intensity", "supported",
)


def count_layer(layer, in_shape, out_shape):
    """Return the ``OpCount`` of ``layer`` for one image, or None if its class is unknown.

    ``in_shape`` and ``out_shape`` exclude the batch dimension.
    """
    for layer_class, formula in HANDLERS:
        if isinstance(layer, layer_class):
            return formula(layer, tuple(in_shape), tuple(out_shape))
    return None


def _shape(tensor):
    if isinstance(tensor, (list, tuple)):
        return tuple(_shape(t) for t in tensor)
    return tuple(int(d) for d in tensor.shape[1:])


def _param_count(weights):
    return sum(_elements(w.shape) for w in weights)


def layer_table(model):
    """One row per layer of ``model``: shapes, parameters, MACs, FLOPs and memory.

    Shapes exclude the batch dimension; counts are per image (batch 1).
    ``macs`` are multiply-adds and ``flops`` = 2 x ``macs``; ``other_ops``
    holds bias, batch-norm, activation, pooling and element-wise operations.
    Bytes are float32. Rows of a layer class the counter does not know have
    ``supported=False`` and <NA> counts. The convention is in
    ``table.attrs["convention"]``.

    Returns:
        A ``pandas.DataFrame`` with the columns of ``COLUMNS``.
    """
    rows = []
    for layer in model.layers:
        in_shape = _shape(layer.input) if not isinstance(layer, L.InputLayer) else _shape(layer.output)
        out_shape = _shape(layer.output)
        single_in = in_shape[0] if in_shape and isinstance(in_shape[0], tuple) else in_shape
        count = count_layer(layer, single_in, out_shape)
        params = _param_count(layer.weights)
        trainable = _param_count(layer.trainable_weights)
        out_elements = _elements(out_shape) if out_shape and not isinstance(out_shape[0], tuple) else 0
        kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        macs = count.macs if count else pd.NA
        flops = 2 * count.macs if count else pd.NA
        weight_bytes = BYTES_PER_FLOAT32 * params
        traffic = BYTES_PER_FLOAT32 * (_elements(single_in) + out_elements) + weight_bytes
        rows.append({
            "name": layer.name,
            "type": type(layer).__name__,
            "input_shape": in_shape,
            "output_shape": out_shape,
            "kernel_size": tuple(kernel) if kernel else None,
            "strides": tuple(layer.strides) if getattr(layer, "strides", None) else None,
            "params": params,
            "trainable_params": trainable,
            "non_trainable_params": params - trainable,
            "macs": macs,
            "flops": flops,
            "other_ops": count.other_ops if count else pd.NA,
            "activations": out_elements,
            "activation_bytes": BYTES_PER_FLOAT32 * out_elements,
            "weight_bytes": weight_bytes,
            "arithmetic_intensity": (2 * count.macs / traffic) if count and traffic else (0.0 if count else math.nan),
            "supported": count is not None,
        })
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("macs", "flops", "other_ops"):
        table[column] = table[column].astype("Int64")
    table.attrs["convention"] = MAC_CONVENTION
    table.attrs["model"] = model.name
    return table


def summarize(model_or_table):
    """Totals of a model (or of its ``layer_table``) as a plain dict.

    Keys: model, params, trainable_params, non_trainable_params, macs,
    flops (= 2 x macs), other_ops, activation_bytes (sum of every layer's
    float32 output), peak_activation_bytes (largest input + output of one
    layer), weight_bytes, unsupported (names of layers not counted). MACs
    and FLOPs are per image and cover the supported layers.
    """
    table = model_or_table if isinstance(model_or_table, pd.DataFrame) else layer_table(model_or_table)
    in_bytes = [
        BYTES_PER_FLOAT32 * (_elements(s) if s and not isinstance(s[0], tuple) else sum(_elements(p) for p in s))
        for s in table["input_shape"]
    ]
    return {
        "model": table.attrs.get("model", ""),
        "params": int(table["params"].sum()),
        "trainable_params": int(table["trainable_params"].sum()),
        "non_trainable_params": int(table["non_trainable_params"].sum()),
        "macs": int(table["macs"].sum(skipna=True)),
        "flops": int(table["flops"].sum(skipna=True)),
        "other_ops": int(table["other_ops"].sum(skipna=True)),
        "activation_bytes": int(table["activation_bytes"].sum()),
        "peak_activation_bytes": int(max(i + o for i, o in zip(in_bytes, table["activation_bytes"]))),
        "weight_bytes": int(table["weight_bytes"].sum()),
        "unsupported": [str(n) for n in table.loc[~table["supported"], "name"]],
    }


_BLOCK_PATTERNS = (
    (re.compile(r"^(?:conv|pool)(\d)(?:_\d)?$"), "conv{}"),  # VGG16: conv3_2, pool3
    (re.compile(r"^conv_(?:dw_|pw_)?(\d+)(?:_|$)"), "block {}"),  # MobileNet blocks
    (re.compile(r"^(?:fc|dropout)(\d)"), "fc{}"),  # VGG16 head
    (re.compile(r"^conv(1)(?:_|$)"), "conv{}"),  # MobileNet's first convolution
)


def block_of(layer_name):
    """The block a layer belongs to, for grouping: ``conv3_2`` and ``pool3`` ->
    ``conv3``; ``conv_dw_4_bn`` -> ``block 4``; ``dropout6`` -> ``fc6``;
    ``input`` -> ``input``; anything else -> ``head``."""
    for pattern, label in _BLOCK_PATTERNS:
        match = pattern.match(layer_name)
        if match:
            return label.format(match.group(1))
    return "input" if layer_name == "input" else "head"


COMPARED_QUANTITIES = ("params", "trainable_params", "macs", "flops", "other_ops",
                       "activation_bytes", "peak_activation_bytes", "weight_bytes")


def compare_table(first, second):
    """Two ``summarize`` dicts side by side, with the ratio first / second per quantity.

    Rows are COMPARED_QUANTITIES (MACs per image, bytes as float32); columns
    are the two models' names and ``ratio``.
    """
    rows = []
    for quantity in COMPARED_QUANTITIES:
        a, b = first[quantity], second[quantity]
        rows.append({"quantity": quantity, first["model"]: a, second["model"]: b,
                     "ratio": a / b if b else math.nan})
    return pd.DataFrame(rows)


_ACTIVATION_TYPES = ("ReLU", "Activation", "Softmax")
_POOLING_TYPES = ("MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D")
_FULLY_CONNECTED = re.compile(r"^(fc\d|conv_preds)$")


def layer_role(name, layer_type, kernel_size=None):
    """What a layer does, in the words of the MobileNet paper's Table 2.

    ``Conv 3x3`` (a full convolution, by its kernel), ``Conv DW 3x3``
    (depthwise), ``Conv 1x1`` (pointwise), ``Fully connected`` (Dense, and the
    convolutional heads ``fc6``-``fc8`` and ``conv_preds``), ``Batch norm``,
    ``Activation``, ``Pooling``, ``Input`` or ``Other``.
    """
    k = "x".join(str(s) for s in kernel_size) if kernel_size else "?"
    if layer_type == "Dense" or (layer_type == "Conv2D" and _FULLY_CONNECTED.match(name)):
        return "Fully connected"
    if layer_type == "DepthwiseConv2D":
        return f"Conv DW {k}"
    if layer_type in ("Conv2D", "SeparableConv2D"):
        return f"Conv {k}"
    if layer_type == "BatchNormalization":
        return "Batch norm"
    if layer_type in _ACTIVATION_TYPES:
        return "Activation"
    if layer_type in _POOLING_TYPES:
        return "Pooling"
    return "Input" if layer_type == "InputLayer" else "Other"


def _group_totals(table, keys, columns):
    grouped = table.groupby(keys, sort=False)[list(columns)].sum()
    for column in columns:
        total = grouped[column].sum()
        grouped[f"{column}_share_%"] = 100.0 * grouped[column] / total if total else math.nan
    return grouped


def block_totals(table, columns=("params", "macs")):
    """Totals of ``columns`` per block (see ``block_of``), in layer order, each with its share in %."""
    return _group_totals(table, table["name"].map(block_of).rename("block"), columns)


def role_totals(table, columns=("params", "macs")):
    """Totals of ``columns`` per layer role (see ``layer_role``), each with its share in %."""
    roles = [layer_role(n, t, k) for n, t, k in zip(table["name"], table["type"], table["kernel_size"])]
    return _group_totals(table, pd.Series(roles, index=table.index, name="role"), columns)


def cost_sweep(variants=None, progress=True):
    """Totals of each variant (default: the paper's 16 MobileNet alpha x resolution ones).

    Returns:
        A DataFrame with one row per variant: alpha, resolution, label, and
        the ``summarize`` totals (MACs per image, parameters, float32 bytes).
    """
    rows = []
    for variant in tqdm(variants or mobilenet_grid(), desc="variants", disable=not progress):
        totals = summarize(variant.build())
        totals.pop("unsupported")
        rows.append({"alpha": variant.alpha, "resolution": variant.resolution, "label": variant.label, **totals})
    return pd.DataFrame(rows)
