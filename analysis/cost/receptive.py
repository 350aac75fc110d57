"""Receptive field and jump (effective stride) per layer, and VGG's stacked 3x3 argument.

The recurrence, per spatial axis, from r = j = 1 at the input:

    r = r_prev + (k_eff - 1) * j_prev,    j = j_prev * s,    k_eff = d * (k - 1) + 1

for a convolution or pooling window of kernel k, stride s and dilation d.
``r`` is the side in input pixels that one output position sees and ``j``
(the jump) the distance in input pixels between neighbouring outputs.
Padding changes neither (only where the window starts); neither does
cropping. Other layers:

- **position-wise** (batch norm, activations, dense on a map, bias, scale,
  ``keras.ops`` element-wise, cropping, padding): r and j unchanged.
- **several inputs** (Add, Multiply, Concatenate, ...): r is the largest
  among the inputs, and j the smallest among the inputs whose map has the
  output's size. Squeeze-and-excitation therefore makes r the whole input
  (the gate is computed from the whole map): that is what each output sees.
- **the whole map** (global pooling, Flatten, a Reshape or Permute that
  moves positions, LayerNormalization or Softmax over a spatial axis): r is
  what the whole input map sees, r_prev + (n - 1) * j_prev over its n
  positions, and j = j_prev * n (the map as one window, as a dense layer
  sees it). A dense layer after Flatten keeps that r: VGG16's fc layers see
  as far as slim's fc6, a 7x7 VALID convolution on pool5.
- **transposed convolution** of stride s: j = j_prev / s and
  r = r_prev + (k_eff - 1) * j (a stride-1 window on the upsampled map).
- **upsampling** by s: j = j_prev / s; r = r_prev + (t - 1) * j_prev for an
  interpolation of t taps per axis (nearest 1, bilinear 2, bicubic 4,
  lanczos3 6, lanczos5 10).

Columns report the largest value over the spatial axes (equal for square
kernels; InceptionV3's 1x7 and 7x1 differ between them in between).
A layer class that ``analysis.cost`` cannot count has no receptive field
(<NA>), and nor has anything after it.
"""

from fractions import Fraction

from nets.backend import keras

L = keras.layers
_TRANSPOSED = tuple(getattr(L, n) for n in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"))
_WINDOWED = tuple(getattr(L, n) for n in (
    "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
))
_WHOLE_MAP = tuple(getattr(L, n) for n in (
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Flatten",
))
_UPSAMPLING = (L.UpSampling1D, L.UpSampling2D, L.UpSampling3D)
_REARRANGING = (L.Reshape, L.Permute)
_NORMALIZING_OVER_AXES = (L.LayerNormalization, L.Softmax)
# Interpolation taps per axis.
INTERPOLATION_TAPS = {"nearest": 1, "area": 1, "bilinear": 2, "bicubic": 4, "lanczos3": 6, "lanczos5": 10}


def receptive_step(kernel, stride=1, r_prev=1, j_prev=1, dilation=1):
    """One step of the recurrence: ``(r, j)`` after a window of ``kernel``, ``stride``, ``dilation``."""
    effective = dilation * (kernel - 1) + 1
    return r_prev + (effective - 1) * j_prev, j_prev * stride


def stacked_receptive_field(n, kernel=3):
    """What ``n`` stacked stride-1 ``kernel`` x ``kernel`` convolutions see: n (k - 1) + 1 (2n + 1 for 3x3)."""
    return n * (kernel - 1) + 1


def stacked_convolutions(n, channels, kernel=3):
    """VGG's argument in closed form: ``n`` stacked k x k convolutions of C -> C channels
    against the one convolution that sees as far.

    Returns a dict: receptive_field (n (k - 1) + 1), stacked_weights
    (n k^2 C^2), single_kernel (the side of the equivalent kernel),
    single_weights (that side squared x C^2), weight_ratio (single /
    stacked), stacked_nonlinearities (n) and single_nonlinearities (1).
    Biases are left out. For three 3x3: 27 C^2 against 49 C^2 for one 7x7.
    """
    side = stacked_receptive_field(n, kernel)
    stacked, single = n * kernel**2 * channels**2, side**2 * channels**2
    return {"receptive_field": side, "stacked_weights": stacked, "single_kernel": side,
            "single_weights": single, "weight_ratio": single / stacked,
            "stacked_nonlinearities": n, "single_nonlinearities": 1}


def _spatial(shape, data_format="channels_last"):
    """The spatial sizes of a batchless shape."""
    if len(shape) < 2:
        return ()
    return tuple(shape[1:]) if data_format == "channels_first" else tuple(shape[:-1])


def _fit(state, axes):
    """``state`` on ``axes`` spatial axes: as it is, or its largest r and j on every axis."""
    r, j = state
    if len(r) == axes or axes == 0:
        return state
    return (max(r),) * axes, (max(j),) * axes


def _whole(state, sizes):
    """The state of a layer that sees every position of a map of ``sizes``."""
    if not sizes:
        return state
    r, j = _fit(state, len(sizes))
    return (tuple(ri + (n - 1) * ji for ri, ji, n in zip(r, j, sizes)),
            tuple(ji * n for ji, n in zip(j, sizes)))


def _per_axis(value, axes):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * axes


def propagate(layer, in_states, in_shapes, out_shape):
    """The (r, j) state, per spatial axis, of ``layer``'s output from its inputs' states.

    ``in_states`` holds one ``(r_tuple, j_tuple)`` per input tensor (None
    where unknown); shapes exclude the batch dimension. Returns None if an
    input's state is unknown.
    """
    if isinstance(layer, L.InputLayer):
        axes = max(len(_spatial(out_shape)), 1)
        return (1,) * axes, (Fraction(1),) * axes
    if not in_states or any(s is None for s in in_states):
        return None
    data_format = getattr(layer, "data_format", "channels_last")
    state, in_shape = in_states[0], in_shapes[0]
    if isinstance(layer, _TRANSPOSED + _WINDOWED):
        kernel = getattr(layer, "kernel_size", None) or layer.pool_size
        axes = len(kernel)
        strides = _per_axis(layer.strides or kernel, axes)
        dilation = _per_axis(getattr(layer, "dilation_rate", 1), axes)
        r, j = _fit(state, axes)
        if isinstance(layer, _TRANSPOSED):
            j = tuple(ji / s for ji, s in zip(j, strides))
            return tuple(ri + d * (k - 1) * ji for ri, ji, k, d in zip(r, j, kernel, dilation)), j
        steps = [receptive_step(k, s, ri, ji, d) for k, s, ri, ji, d in zip(kernel, strides, r, j, dilation)]
        return tuple(s[0] for s in steps), tuple(Fraction(s[1]) for s in steps)
    if isinstance(layer, _WHOLE_MAP):
        return _whole(state, _spatial(in_shape, data_format))
    if isinstance(layer, _UPSAMPLING):
        axes = len(_spatial(in_shape, data_format))
        size = _per_axis(layer.size, axes)
        taps = INTERPOLATION_TAPS.get(getattr(layer, "interpolation", "nearest"), 1)
        r, j = _fit(state, axes)
        return tuple(ri + (taps - 1) * ji for ri, ji in zip(r, j)), tuple(ji / s for ji, s in zip(j, size))
    if isinstance(layer, _REARRANGING):
        if _spatial(in_shape) == _spatial(out_shape):
            return state
        return _whole(state, _spatial(in_shape))
    if isinstance(layer, _NORMALIZING_OVER_AXES):
        rank = len(in_shape) + 1
        axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        spatial_axes = set(range(1, rank - 1))
        if {a % rank for a in axes} & spatial_axes:
            return _whole(state, _spatial(in_shape))
        return state
    if len(in_states) == 1:
        return state
    return _merged(in_states, in_shapes, out_shape)


def _merged(in_states, in_shapes, out_shape):
    """Several inputs: the largest r among them, the smallest j among those of the output's map size."""
    axes = max(len(s[0]) for s in in_states)
    states = [_fit(s, axes) for s in in_states]
    r = tuple(max(s[0][i] for s in states) for i in range(axes))
    same = [s for s, shape in zip(states, in_shapes) if _spatial(shape) == _spatial(out_shape)] or states
    j = tuple(min(s[1][i] for s in same) for i in range(axes))
    return r, j


def reported(state):
    """The (receptive_field, jump) that a table shows: the largest over the spatial axes, or (None, None)."""
    if state is None:
        return None, None
    return max(state[0]), max(state[1])


def as_column_values(values):
    """Values as ints when every one is whole, else floats; None stays None."""
    whole = all(v is None or Fraction(v).denominator == 1 for v in values)
    if whole:
        return [None if v is None else int(v) for v in values]
    return [None if v is None else float(v) for v in values]


__all__ = ["INTERPOLATION_TAPS", "as_column_values", "propagate", "receptive_step", "reported",
           "stacked_convolutions", "stacked_receptive_field"]
