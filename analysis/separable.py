"""Standard against depthwise separable convolution, in closed form.

The source notes' lesson: a 3x3 convolution from 16 to 32 channels has
16 x 32 x 3 x 3 = 4,608 parameters; its depthwise separable replacement
(16 3x3 filters, one per channel, then 32 1x1 filters over the 16 maps)
has 16 x 3 x 3 + 16 x 32 = 656.

Convention: no biases (as the notes count, and as MobileNet's layers are
built); MACs are multiply-adds over an output feature map of
``height x width`` (stride 1, SAME padding: the input's size).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ConvCost:
    """Parameters and multiply-adds (MACs) of one convolution."""

    params: int
    macs: int


def _check(kernel_size, in_channels, out_channels, height, width):
    for name, value in (("kernel_size", kernel_size), ("in_channels", in_channels),
                        ("out_channels", out_channels), ("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received {name}={value!r}")


def standard_conv_cost(kernel_size, in_channels, out_channels, height=1, width=1):
    """A k x k convolution from M to N channels: k*k*M*N parameters, k*k*M*N*H*W MACs."""
    _check(kernel_size, in_channels, out_channels, height, width)
    params = kernel_size * kernel_size * in_channels * out_channels
    return ConvCost(params=params, macs=params * height * width)


def separable_conv_cost(kernel_size, in_channels, out_channels, height=1, width=1):
    """Depthwise k x k (k*k*M) then pointwise 1x1 (M*N): parameters, and MACs over H x W."""
    _check(kernel_size, in_channels, out_channels, height, width)
    params = kernel_size * kernel_size * in_channels + in_channels * out_channels
    return ConvCost(params=params, macs=params * height * width)


def separable_ratio(kernel_size, out_channels):
    """Separable over standard cost, 1/N + 1/k^2 (the MobileNet paper, section 3.1).

    The same ratio holds for parameters and for MACs, whatever M, H and W.
    """
    _check(kernel_size, 1, out_channels, 1, 1)
    return 1.0 / out_channels + 1.0 / kernel_size**2


def cost_comparison(kernel_size, in_channels, out_channels, height=1, width=1):
    """Standard against depthwise separable, one row each: kind, params, macs, ratio.

    ``ratio`` is each kind's cost over the standard convolution's (the same for
    parameters and MACs). Used by notebook 02's calculator.
    """
    import pandas as pd

    standard = standard_conv_cost(kernel_size, in_channels, out_channels, height, width)
    separable = separable_conv_cost(kernel_size, in_channels, out_channels, height, width)
    return pd.DataFrame([
        {"kind": "standard", "params": standard.params, "macs": standard.macs, "ratio": 1.0},
        {"kind": "depthwise separable", "params": separable.params, "macs": separable.macs,
         "ratio": separable.params / standard.params},
    ])
