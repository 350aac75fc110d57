"""Shape formulas: what one Keras layer costs for one image, from its input and output shapes.

A table from layer class to a pure formula (``HANDLERS``), in the manner of fvcore's
operator handles; ``analysis.cost.table`` runs it over a model's calls. Conventions:

- One **MAC** is one multiply-add; **FLOPs = 2 x MACs**; counts are per image.
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
"""

import math
from dataclasses import dataclass

from analysis.cost import receptive
from nets.backend import keras

MAC_CONVENTION = (
    "MACs = multiply-adds per image (batch 1); FLOPs = 2 x MACs; "
    "other_ops = bias, batch norm, activation, pooling and element-wise ops; float32 bytes"
)


@dataclass(frozen=True)
class OpCount:
    """What one layer costs for one image: multiply-adds and other operations."""

    macs: int
    other_ops: int


def tensor_elements(shape):
    """Values in a batchless shape (0 for None); a multi-output layer's shapes (a tuple of tuples)
    summed."""
    if shape is None:
        return 0
    shape = tuple(shape)  # a weight's TensorShape too: a scalar's () has no [0]
    if shape and isinstance(shape[0], tuple):
        return sum(tensor_elements(s) for s in shape)
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
    elements = tensor_elements(out)
    return OpCount(elements * kernel * (_channels(layer, ins[0]) // groups), _bias_and_activation(layer, elements))


def _channels(layer, shape):
    return shape[0] if getattr(layer, "data_format", "channels_last") == "channels_first" else shape[-1]


def _spatial_elements(layer, shape):
    return tensor_elements(shape) // _channels(layer, shape)


def _transposed(layer, ins, out):
    """Transposed convolution: each input element meets prod(kernel)*out_c weights,
    in_spatial*in_c * prod(kernel)*out_c/groups."""
    groups = getattr(layer, "groups", 1)
    macs = tensor_elements(ins[0]) * math.prod(layer.kernel_size) * _channels(layer, out) // groups
    return OpCount(macs, _bias_and_activation(layer, tensor_elements(out)))


def _depthwise(layer, ins, out):
    """Depthwise convolution: each output element sees prod(kernel) inputs of one channel."""
    elements = tensor_elements(out)
    return OpCount(elements * math.prod(layer.kernel_size), _bias_and_activation(layer, elements))


def _separable(layer, ins, out):
    """SeparableConv: the depthwise part, then a 1x1 pointwise part."""
    depth_channels = _channels(layer, ins[0]) * layer.depth_multiplier
    spatial = _spatial_elements(layer, out)
    macs = spatial * depth_channels * math.prod(layer.kernel_size) + spatial * depth_channels * _channels(layer, out)
    return OpCount(macs, _bias_and_activation(layer, tensor_elements(out)))


def _dense(layer, ins, out):
    elements = tensor_elements(out)
    return OpCount(elements * ins[0][-1], _bias_and_activation(layer, elements))


def _per_output(ops_per_element):
    return lambda layer, ins, out: OpCount(0, ops_per_element * tensor_elements(out))


def _activation(layer, ins, out):
    per_element = _activation_ops_per_element(layer.activation)
    return None if per_element is None else OpCount(0, per_element * tensor_elements(out))


def _layer_norm(layer, ins, out):
    per_element = 5 + bool(getattr(layer, "scale", True)) + bool(getattr(layer, "center", True))
    return OpCount(0, per_element * tensor_elements(out))


def _rescaling(layer, ins, out):
    offset = layer.offset
    nonzero = any(v != 0 for v in offset) if isinstance(offset, (list, tuple)) else bool(offset != 0)
    return OpCount(0, (1 + nonzero) * tensor_elements(out))


def _max_pool(layer, ins, out):
    return OpCount(0, (math.prod(layer.pool_size) - 1) * tensor_elements(out))


def _average_pool(layer, ins, out):
    return OpCount(0, (math.prod(layer.pool_size) + 1) * tensor_elements(out))


def _global_average_pool(layer, ins, out):
    return OpCount(0, tensor_elements(ins[0]) + tensor_elements(out))


def _global_max_pool(layer, ins, out):
    return OpCount(0, tensor_elements(ins[0]) - tensor_elements(out))


def _upsampling(layer, ins, out):
    taps = receptive.INTERPOLATION_TAPS.get(getattr(layer, "interpolation", "nearest"))
    if taps is None:
        return None
    axes = len(out) - 1
    return OpCount(0, 0 if taps == 1 else (2 * taps**axes - 1) * tensor_elements(out))


def _free(layer, ins, out):
    return OpCount(0, 0)


def _merge(layer, ins, out):
    return OpCount(0, (max(len(ins), 1) - 1) * tensor_elements(out))


def _average(layer, ins, out):
    return OpCount(0, len(ins) * tensor_elements(out))


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
    (L.BatchNormalization, lambda layer, ins, out: OpCount(0, 2 * tensor_elements(out))),
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
