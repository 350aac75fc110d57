"""Argument checks for the whole suite.

The one home of every check: the network builders of ``nets`` and every
entry point of ``analysis`` use these. Each raises ``nets.errors.BadInput``
(a ``ValueError``, as keras.applications raises) naming the argument and the
value received: ``alpha must be a number greater than 0. Received alpha=0``.

Pure Python: importing it loads neither Keras nor TensorFlow, so the command
line can answer bad input at once.
"""

import math
import numbers

from nets.errors import BadInput

MIN_INPUT_SIZE = 32
# Each VGG16 block ends in a 2x2 max pool, so the last feature map is the input / 2**5.
VGG16_TOTAL_STRIDE = 2**5


def _received(name, value):
    return f"Received {name}={value!r}"


def positive_int(name, value, minimum=1):
    """``value`` as an int, if it is an integer of at least ``minimum`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise BadInput(f"{name} must be an integer of at least {minimum}. {_received(name, value)}")
    return int(value)


def positive_number(name, value, allow_zero=False):
    """``value`` as a float, if it is a finite number > 0 (>= 0 with ``allow_zero``)."""
    low = "0 or more" if allow_zero else "greater than 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        raise BadInput(f"{name} must be a finite number {low}. {_received(name, value)}")
    return float(value)


def fraction(name, value, include_low=True, include_high=False):
    """``value`` as a float in [0, 1), or with other ends as asked."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value >= 0 if include_low else value > 0) and (value <= 1 if include_high else value < 1)
    if not ok:
        interval = f"{'[' if include_low else '('}0, 1{']' if include_high else ')'}"
        raise BadInput(f"{name} must lie in {interval}. {_received(name, value)}")
    return float(value)


def one_of(name, value, choices):
    """``value``, if it is one of ``choices``."""
    if value not in choices:
        listed = ", ".join(str(c) for c in choices)
        raise BadInput(f"Unknown {name}: expected one of {listed}. {_received(name, value)}")
    return value


def comma_list(name, text, item=str):
    """``"a,b"`` as a list of ``item(...)`` values, at least one."""
    try:
        values = [item(v.strip()) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise BadInput(f"{name} must be a comma-separated list. {_received(name, text)}") from None
    if not values:
        raise BadInput(f"{name} must name at least one value. {_received(name, text)}")
    return values


def input_shape(value):
    """``value`` as a tuple ``(height, width, channels)``, each side at least ``MIN_INPUT_SIZE``."""
    try:
        shape = tuple(int(d) for d in value)
    except (TypeError, ValueError):
        raise BadInput(f"input_shape must be (height, width, channels). {_received('input_shape', value)}") \
            from None
    if len(shape) != 3 or shape[2] < 1:
        raise BadInput("input_shape must be (height, width, channels) with at least one channel. "
                       f"{_received('input_shape', value)}")
    if shape[0] < MIN_INPUT_SIZE or shape[1] < MIN_INPUT_SIZE:
        raise BadInput(f"Input size must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}. "
                       f"{_received('input_shape', value)}")
    return shape


def classifier_activation(value):
    """None (logits) or ``"softmax"``."""
    if value not in (None, "softmax"):
        raise BadInput("classifier_activation must be None (logits) or 'softmax'. "
                       f"{_received('classifier_activation', value)}")
    return value


def mobilenet_alpha(alpha, first_filters=32):
    """A width multiplier that leaves the first convolution at least one filter."""
    alpha = positive_number("alpha", alpha)
    if int(first_filters * alpha) < 1:
        raise BadInput(f"alpha is too small: the first convolution would have no filters. "
                       f"{_received('alpha', alpha)}")
    return alpha


def vgg16_fc6_kernel(shape, fc6_kernel_size, include_top=True, spatial_squeeze=True):
    """fc6's (height, width) kernel for an input of ``shape``, checked against the last feature map.

    ``fc6_kernel_size`` None sizes fc6 to the last feature map (input / 32).
    With the top and ``spatial_squeeze``, fc6 must bring the map to 1x1.
    """
    feature_map = (shape[0] // VGG16_TOTAL_STRIDE, shape[1] // VGG16_TOTAL_STRIDE)
    if fc6_kernel_size is None:
        return feature_map
    kernel = positive_int("fc6_kernel_size", fc6_kernel_size)
    if include_top and spatial_squeeze and feature_map != (kernel, kernel):
        raise BadInput(
            "With include_top and spatial_squeeze, the input must bring fc6 to 1x1: height and width in "
            f"{kernel * VGG16_TOTAL_STRIDE}..{(kernel + 1) * VGG16_TOTAL_STRIDE - 1} (a {kernel}x{kernel} last "
            f"feature map), or fc6_kernel_size=None ('auto' in a Variant). Received input_shape={shape!r}, which gives a "
            f"{feature_map[0]}x{feature_map[1]} feature map")
    if include_top and (feature_map[0] < kernel or feature_map[1] < kernel):
        raise BadInput(f"With include_top, fc6 is a {kernel}x{kernel} VALID convolution and needs height and "
                       f"width of at least {kernel * VGG16_TOTAL_STRIDE}. Received input_shape={shape!r}")
    return (kernel, kernel)
