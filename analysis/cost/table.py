"""The per-layer cost table: shapes, parameters, MACs, FLOPs, memory and receptive field.

Conventions, stated once here and in every table header:

- One **MAC** is one multiply-add (the MobileNet paper's "Mult-Adds", what
  fvcore calls a "flop"). **FLOPs = 2 x MACs** (what the TensorFlow
  profiler reports).
- Counts are **per image** (batch 1) and exact integers.
- Only convolutions (1-D, 2-D, 3-D, grouped, depthwise, separable,
  transposed) and dense layers have MACs. Everything else goes to
  **other_ops**, never into MACs, by these formulas (per image):

  - bias add, and a convolution's or dense layer's own activation: 1 per
    output element each;
  - an activation (``ReLU``, ``LeakyReLU``, ``PReLU``, ``ELU``, or
    ``Activation`` with any function of ``keras.activations``: hard-swish,
    hard-sigmoid, swish, GELU, ...): 1 per element, whatever its cost in
    primitive operations; ``softmax``, ``log_softmax`` and ``sparsemax`` 3
    per element (exp, sum, divide); ``glu`` 2 per output (gate, multiply);
    ``linear`` 0. An ``Activation`` of a function outside
    ``keras.activations`` is unsupported;
  - inference batch norm 2 per element (scale and shift); layer norm 5 per
    element (mean, centre, square, sum, normalize) plus 1 each for its scale
    and centre; ``Normalization`` 2 per element (subtract, divide);
    ``Rescaling`` 1 per element, 2 with a non-zero offset; ``LayerScale``
    (ConvNeXt) 1 per element; Inception-ResNet's ``CustomScaleLayer``
    (x + scale * r) 2 per output;
  - max pooling k*k-1 comparisons per output; average pooling one add per
    element of each window and one divide per output ((k*k + 1) per output;
    the global one: one add per input element and one divide per output);
    global max pooling one comparison per input element beyond the first of
    each channel;
  - merges (``Add``, ``Multiply``, ``Subtract``, ``Maximum``, ``Minimum``):
    n-1 per output for n inputs; ``Average`` n; the squeeze-and-excitation
    gate is its layers (pool, 1x1 convolutions or dense, activations, a
    ``Multiply``), each by its rule;
  - ``keras.ops`` in a functional graph (``x + 3.0``, ``x * (1 / 6)`` in
    MobileNetV3, residual ``+`` in ConvNeXt): 1 per output element for an
    element-wise op, softmax 3;
  - upsampling: nearest 0 (copies); an interpolation of t taps per axis
    2 t^d - 1 per output on d spatial axes (bilinear 2-D: 4 multiplies and
    3 adds);
  - no arithmetic, 0: input, dropout and noise (identity at inference),
    reshape, flatten, permute, identity, cropping, padding, concatenation.

- Memory is float32: **activation_bytes** = 4 x output elements,
  **weight_bytes** = 4 x parameters. **arithmetic_intensity** is FLOPs per byte
  of the least traffic a layer needs: read its inputs and weights once,
  write its output once.
- **receptive_field** and **jump** follow ``analysis.cost.receptive``:
  r = r_prev + (k - 1) * j_prev, j = j_prev * s (padding changes neither);
  with several inputs, the largest r among them.
- A layer class without a formula is marked ``supported=False`` and its
  counts are missing (<NA>), never zero; the totals of ``summarize`` are
  then a lower bound and say so (``lower_bound``, ``unsupported_types``).

A model is counted through its calls (``analysis.cost.graph``): nested
functional models and ``Sequential`` through their layers, with qualified
names ``outer/inner``; a shared layer's parameters once, on its first call.

Counting is a table from Keras layer class to a pure shape formula, in the
manner of fvcore's operator handles; display lives elsewhere.
"""

import math
from dataclasses import dataclass

import pandas as pd
from tqdm.auto import tqdm

from analysis.cost import receptive
from analysis.cost.groups import block_of, block_totals, layer_role, role_totals  # noqa: F401 (re-exported)
from analysis.cost.graph import calls, functional_graph
from analysis.variants import Variant, mobilenet_grid
from nets.backend import keras
from nets.checks import BadInput

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


# Formulas take (layer, input shapes, output shape): a tuple of batchless
# input shapes (one per input tensor) and the batchless output shape. They
# return an OpCount, or None for a configuration they do not know.

# keras.activations whose cost per element differs from 1.
_NORMALIZING_ACTIVATIONS = frozenset({"softmax", "log_softmax", "sparsemax"})
_ACTIVATION_OPS = {**dict.fromkeys(_NORMALIZING_ACTIVATIONS, 3), "glu": 2, "linear": 0}


def _activation_ops_per_element(function):
    """Ops per output element of a ``keras.activations`` function, or None for another callable."""
    if function is None:
        return 0
    name = getattr(function, "__name__", None)
    if name is None or getattr(keras.activations, name, None) is not function:
        return None
    return _ACTIVATION_OPS.get(name, 1)


def activation_name(layer):
    """The name of the activation a layer applies (``relu``, ``silu`` (swish), ``hard_silu``...; ``relu``
    for a ``ReLU`` layer, ``relu6`` if it clips at 6), or None for none (or ``linear``)."""
    if type(layer).__name__ == "ReLU":
        return "relu6" if getattr(layer, "max_value", None) == 6 else "relu"
    function = getattr(layer, "activation", None)
    name = getattr(function, "__name__", None) if callable(function) else None
    return None if name in (None, "linear") else name


def _bias_and_activation(layer, out_elements):
    ops = out_elements if getattr(layer, "use_bias", False) else 0
    activation = getattr(layer, "activation", None)
    if activation is not None and activation is not keras.activations.linear:
        ops += out_elements
    return ops


def _conv(layer, ins, out):
    """Standard (grouped) convolution: out_spatial*out_c * prod(kernel)*in_c/groups."""
    kernel = math.prod(layer.kernel_size)
    groups = getattr(layer, "groups", 1)
    elements = _elements(out)
    return OpCount(elements * kernel * (_channels(layer, ins[0]) // groups), _bias_and_activation(layer, elements))


def _channels(layer, shape):
    return shape[0] if getattr(layer, "data_format", "channels_last") == "channels_first" else shape[-1]


def _spatial_elements(layer, shape):
    return _elements(shape) // _channels(layer, shape)


def _transposed(layer, ins, out):
    """Transposed convolution: each input element meets prod(kernel)*out_c weights,
    in_spatial*in_c * prod(kernel)*out_c/groups."""
    groups = getattr(layer, "groups", 1)
    macs = _elements(ins[0]) * math.prod(layer.kernel_size) * _channels(layer, out) // groups
    return OpCount(macs, _bias_and_activation(layer, _elements(out)))


def _depthwise(layer, ins, out):
    """Depthwise convolution: each output element sees prod(kernel) inputs of one channel."""
    elements = _elements(out)
    return OpCount(elements * math.prod(layer.kernel_size), _bias_and_activation(layer, elements))


def _separable(layer, ins, out):
    """SeparableConv: the depthwise part, then a 1x1 pointwise part."""
    depth_channels = _channels(layer, ins[0]) * layer.depth_multiplier
    spatial = _spatial_elements(layer, out)
    macs = spatial * depth_channels * math.prod(layer.kernel_size) + spatial * depth_channels * _channels(layer, out)
    return OpCount(macs, _bias_and_activation(layer, _elements(out)))


def _dense(layer, ins, out):
    elements = _elements(out)
    return OpCount(elements * ins[0][-1], _bias_and_activation(layer, elements))


def _per_output(ops_per_element):
    return lambda layer, ins, out: OpCount(0, ops_per_element * _elements(out))


def _activation(layer, ins, out):
    per_element = _activation_ops_per_element(layer.activation)
    return None if per_element is None else OpCount(0, per_element * _elements(out))


def _layer_norm(layer, ins, out):
    per_element = 5 + bool(getattr(layer, "scale", True)) + bool(getattr(layer, "center", True))
    return OpCount(0, per_element * _elements(out))


def _rescaling(layer, ins, out):
    offset = layer.offset
    nonzero = any(v != 0 for v in offset) if isinstance(offset, (list, tuple)) else bool(offset != 0)
    return OpCount(0, (1 + nonzero) * _elements(out))


def _max_pool(layer, ins, out):
    return OpCount(0, (math.prod(layer.pool_size) - 1) * _elements(out))


def _average_pool(layer, ins, out):
    return OpCount(0, (math.prod(layer.pool_size) + 1) * _elements(out))


def _global_average_pool(layer, ins, out):
    return OpCount(0, _elements(ins[0]) + _elements(out))


def _global_max_pool(layer, ins, out):
    return OpCount(0, _elements(ins[0]) - _elements(out))


def _upsampling(layer, ins, out):
    taps = receptive.INTERPOLATION_TAPS.get(getattr(layer, "interpolation", "nearest"))
    if taps is None:
        return None
    axes = len(out) - 1
    return OpCount(0, 0 if taps == 1 else (2 * taps**axes - 1) * _elements(out))


def _free(layer, ins, out):
    return OpCount(0, 0)


def _merge(layer, ins, out):
    return OpCount(0, (max(len(ins), 1) - 1) * _elements(out))


def _average(layer, ins, out):
    return OpCount(0, len(ins) * _elements(out))


def _classes(module, names):
    """The classes of ``module`` among ``names`` (those this Keras version has)."""
    return tuple(getattr(module, n) for n in names if hasattr(module, n))


def _application_layer(module, name):
    """A layer class that a keras.applications module defines for itself (None if absent)."""
    import importlib

    try:
        return getattr(importlib.import_module(f"keras.src.applications.{module}"), name)
    except (ImportError, AttributeError):
        return None


from keras.src.ops import nn as _ops_nn, numpy as _ops_numpy  # noqa: E402  (keras.ops' operation classes)

L = keras.layers
_LAYER_SCALE = _application_layer("convnext", "LayerScale")
_CUSTOM_SCALE = _application_layer("inception_resnet_v2", "CustomScaleLayer")
# keras.ops operations that do one operation per output element.
_ELEMENTWISE_OPS = _classes(_ops_numpy, (
    "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum", "Negative", "Absolute",
    "Square", "Sqrt", "Exp", "Log", "Reciprocal", "Tanh",
)) + _classes(_ops_nn, (
    "Relu", "Relu6", "Sigmoid", "HardSigmoid", "Silu", "HardSilu", "Gelu", "Elu", "Selu", "LeakyRelu",
    "Softplus", "Softsign", "Celu",
))
# Layer class -> shape formula. Order matters only for subclasses (most specific first).
HANDLERS = tuple((c, f) for c, f in (
    (L.SeparableConv1D, _separable),
    (L.SeparableConv2D, _separable),
    (L.DepthwiseConv1D, _depthwise),
    (L.DepthwiseConv2D, _depthwise),
    (L.Conv1DTranspose, _transposed),
    (L.Conv2DTranspose, _transposed),
    (L.Conv3DTranspose, _transposed),
    (L.Conv2D, _conv),
    (L.Conv1D, _conv),
    (L.Conv3D, _conv),
    (L.Dense, _dense),
    (L.BatchNormalization, lambda layer, ins, out: OpCount(0, 2 * _elements(out))),
    (L.LayerNormalization, _layer_norm),
    (L.Normalization, _per_output(2)),
    (L.Rescaling, _rescaling),
    (_LAYER_SCALE, _per_output(1)),
    (_CUSTOM_SCALE, _per_output(2)),
    (L.ReLU, _per_output(1)),
    (L.LeakyReLU, _per_output(1)),
    (L.PReLU, _per_output(1)),
    (L.ELU, _per_output(1)),
    (L.Softmax, _per_output(3)),
    (L.Activation, _activation),
    (L.MaxPooling1D, _max_pool),
    (L.MaxPooling2D, _max_pool),
    (L.MaxPooling3D, _max_pool),
    (L.AveragePooling1D, _average_pool),
    (L.AveragePooling2D, _average_pool),
    (L.AveragePooling3D, _average_pool),
    (L.GlobalAveragePooling1D, _global_average_pool),
    (L.GlobalAveragePooling2D, _global_average_pool),
    (L.GlobalAveragePooling3D, _global_average_pool),
    (L.GlobalMaxPooling1D, _global_max_pool),
    (L.GlobalMaxPooling2D, _global_max_pool),
    (L.GlobalMaxPooling3D, _global_max_pool),
    (L.UpSampling1D, _upsampling),
    (L.UpSampling2D, _upsampling),
    (L.UpSampling3D, _upsampling),
    (L.Add, _merge),
    (L.Multiply, _merge),
    (L.Subtract, _merge),
    (L.Maximum, _merge),
    (L.Minimum, _merge),
    (L.Average, _average),
    (_ops_nn.Softmax, _per_output(3)),
    (_ops_nn.LogSoftmax, _per_output(3)),
    *((op, _per_output(1)) for op in _ELEMENTWISE_OPS),
    (L.InputLayer, _free),
    # identity at inference
    (L.Dropout, _free), (L.SpatialDropout1D, _free), (L.SpatialDropout2D, _free), (L.SpatialDropout3D, _free),
    (L.GaussianNoise, _free), (L.GaussianDropout, _free), (L.AlphaDropout, _free),
    (L.ActivityRegularization, _free), (L.Identity, _free),
    # memory movement only
    (L.Reshape, _free), (L.Flatten, _free), (L.Permute, _free), (L.RepeatVector, _free),
    (L.Cropping1D, _free), (L.Cropping2D, _free), (L.Cropping3D, _free),
    (L.ZeroPadding1D, _free), (L.ZeroPadding2D, _free), (L.ZeroPadding3D, _free),
    (L.Concatenate, _free),
) if c is not None)
COLUMNS = (
    "name", "type", "input_shape", "output_shape", "kernel_size", "strides", "activation",
    "params", "trainable_params", "non_trainable_params",
    "macs", "flops", "other_ops", "activations", "activation_bytes",
    "weight_bytes", "arithmetic_intensity", "supported", "receptive_field", "jump",
)


def _as_shapes(in_shape):
    """One shape, or a tuple of shapes, as a tuple of shapes."""
    in_shape = tuple(in_shape)
    return tuple(tuple(s) for s in in_shape) if in_shape and isinstance(in_shape[0], tuple) else (in_shape,)


def count_layer(layer, in_shape, out_shape):
    """Return the ``OpCount`` of ``layer`` for one image, or None if its class is unknown.

    ``in_shape`` (one shape, or a tuple of shapes for several inputs) and
    ``out_shape`` exclude the batch dimension.
    """
    for layer_class, formula in HANDLERS:
        if isinstance(layer, layer_class):
            return formula(layer, _as_shapes(in_shape), tuple(out_shape))
    return None


def _shape(tensor):
    return tuple(None if d is None else int(d) for d in tensor.shape[1:])


def _fixed_input(model):
    """BadInput if an input of ``model`` has a size left open (``None``)."""
    for tensor in functional_graph(model).inputs:
        shape = tuple(tensor.shape)
        if any(d is None for d in shape[1:]):
            raise BadInput(f"Model {model.name!r} has no fixed input size (input shape {shape}): "
                           "give a resolution to count it, e.g. --resolution 224")


def layer_table(model):
    """One row per layer of ``model``: shapes, parameters, MACs, FLOPs, memory and receptive field.

    Shapes exclude the batch dimension; counts are per image (batch 1).
    ``macs`` are multiply-adds and ``flops`` = 2 x ``macs``; ``other_ops``
    holds bias, normalization, activation, pooling and element-wise
    operations by the formulas of this module's docstring. Bytes are
    float32. ``receptive_field`` and ``jump`` are in input pixels
    (``analysis.cost.receptive``; the largest over the spatial axes; with
    several inputs, the largest r among them). Rows of a layer class the
    counter does not know have ``supported=False`` and <NA> counts (and no
    receptive field from there on).

    Rows are the calls of ``analysis.cost.graph.calls``: ``keras.ops``
    operations of the graph included, nested models through their layers
    (``outer/inner``). ``params`` sum to ``model.count_params()``.

    ``table.attrs`` holds ``convention``, ``model``, ``lower_bound`` (True
    if a row is unsupported: the totals are then a lower bound) and
    ``unsupported_types`` (their class names).

    Raises:
        BadInput: an input size is ``None`` (a resolution is needed), or
            the model is subclassed.

    Returns:
        A ``pandas.DataFrame`` with the columns of ``COLUMNS``.
    """
    _fixed_input(model)
    rows, seen, states = [], set(), {}
    for call in calls(model):
        layer = call.operation
        outs = tuple(_shape(t) for t in call.outputs)
        ins = outs if call.is_input else tuple(_shape(t) for t in call.inputs)
        if any(d is None for shape in ins + outs for d in shape):
            raise BadInput(f"Layer {call.name!r} of {model.name!r} has a size left open (input {ins}, "
                           f"output {outs}): give a resolution to count it, e.g. --resolution 224")
        out_shape = outs[0] if len(outs) == 1 else outs
        in_shape = ins[0] if len(ins) == 1 else ins
        count = count_layer(layer, ins, outs[0]) if outs else None
        weights = [w for w in getattr(layer, "weights", ()) if id(w) not in seen]
        trainable_ids = {id(w) for w in getattr(layer, "trainable_weights", ())}
        seen.update(id(w) for w in weights)
        params = sum(_elements(w.shape) for w in weights)
        trainable = sum(_elements(w.shape) for w in weights if id(w) in trainable_ids)
        out_elements = _elements(outs[0]) if len(outs) == 1 else 0
        state = receptive.propagate(layer, [states.get(id(t)) for t in call.inputs], ins, outs[0]) \
            if count is not None and outs else None
        for tensor in call.outputs:
            states[id(tensor)] = state
        r, j = receptive.reported(state)
        kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        strides = getattr(layer, "strides", None)
        weight_bytes = BYTES_PER_FLOAT32 * params
        traffic = BYTES_PER_FLOAT32 * (sum(_elements(s) for s in ins) + out_elements) + weight_bytes
        rows.append({
            "name": call.name,
            "type": call.type_name,
            "input_shape": in_shape,
            "output_shape": out_shape,
            "kernel_size": tuple(kernel) if kernel else None,
            "strides": tuple(strides) if isinstance(strides, (tuple, list)) and strides else None,
            "activation": activation_name(layer),
            "params": params,
            "trainable_params": trainable,
            "non_trainable_params": params - trainable,
            "macs": count.macs if count else pd.NA,
            "flops": 2 * count.macs if count else pd.NA,
            "other_ops": count.other_ops if count else pd.NA,
            "activations": out_elements,
            "activation_bytes": BYTES_PER_FLOAT32 * out_elements,
            "weight_bytes": weight_bytes,
            "arithmetic_intensity": (2 * count.macs / traffic) if count and traffic else (0.0 if count else math.nan),
            "supported": count is not None,
            "receptive_field": r,
            "jump": j,
        })
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("macs", "flops", "other_ops"):
        table[column] = table[column].astype("Int64")
    for column in ("receptive_field", "jump"):
        values = receptive.as_column_values([row[column] for row in rows])
        whole = all(v is None or isinstance(v, int) for v in values)
        table[column] = pd.array([pd.NA if v is None else v for v in values], dtype="Int64" if whole else "Float64")
    unsupported = table.loc[~table["supported"], "type"]
    table.attrs["convention"] = MAC_CONVENTION
    table.attrs["model"] = model.name
    table.attrs["lower_bound"] = bool(len(unsupported))
    table.attrs["unsupported_types"] = sorted(set(unsupported))
    return table


def table_of(subject, argument="subject"):
    """The ``layer_table`` of ``subject``: a ``Variant`` (built, the table labelled with its
    label), a ``keras.Model``, or a table already made (returned as it is).

    Raises:
        BadInput: anything else, naming ``argument``.
    """
    if isinstance(subject, pd.DataFrame):
        return subject
    if isinstance(subject, Variant):
        table = layer_table(subject.build())
        table.attrs["model"] = subject.label
        return table
    if hasattr(subject, "layers"):
        return layer_table(subject)
    raise BadInput(f"{argument} must be a Variant, a keras.Model or its layer_table. Received {argument}={subject!r}")


def summarize(model_or_table):
    """Totals of a model (or of its ``layer_table``) as a plain dict.

    Keys: model, params, trainable_params, non_trainable_params, macs,
    flops (= 2 x macs), other_ops, activation_bytes (sum of every layer's
    float32 output), peak_activation_bytes (largest input + output of one
    layer), weight_bytes, unsupported (names of layers not counted),
    unsupported_types (their class names) and lower_bound. MACs and FLOPs
    are per image and cover the supported layers: ``lower_bound`` is True
    when a layer is unsupported, and the counts are then a lower bound.
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
        "unsupported_types": sorted({str(t) for t in table.loc[~table["supported"], "type"]}),
        "lower_bound": bool((~table["supported"]).any()),
    }


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
        totals.pop("unsupported_types")
        rows.append({"alpha": variant.alpha, "resolution": variant.resolution, "label": variant.label, **totals})
    return pd.DataFrame(rows)
