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

import pandas as pd

from nets import checks
from nets.backend import keras


@dataclass(frozen=True)
class ConvCost:
    """Parameters and multiply-adds (MACs) of one convolution."""

    params: int
    macs: int


def _check(kernel_size, in_channels, out_channels, height, width):
    for name, value in (("kernel_size", kernel_size), ("in_channels", in_channels),
                        ("out_channels", out_channels), ("height", height), ("width", width)):
        checks.positive_int(name, value)


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
    standard = standard_conv_cost(kernel_size, in_channels, out_channels, height, width)
    separable = separable_conv_cost(kernel_size, in_channels, out_channels, height, width)
    return pd.DataFrame([
        {"kind": "standard", "params": standard.params, "macs": standard.macs, "ratio": 1.0},
        {"kind": "depthwise separable", "params": separable.params, "macs": separable.macs,
         "ratio": separable.params / standard.params},
    ])


def keras_layer_ratios(kernel_sizes, out_channels, in_channels=16, side=8):
    """Separable over standard parameters counted by real Keras layers, beside the formula.

    Builds, for every (k, N), a ``Conv2D(N, k)`` and a ``DepthwiseConv2D(k)``
    followed by a 1x1 ``Conv2D(N)`` (no biases) on a (side, side, in_channels)
    input. Returns a DataFrame: k, N, standard_params, separable_params,
    formula (1/N + 1/k^2) and measured (their ratio).
    """
    rows = []
    for k in kernel_sizes:
        for n in out_channels:
            x = keras.Input((side, side, in_channels))
            standard = keras.layers.Conv2D(n, k, padding="same", use_bias=False)
            depthwise = keras.layers.DepthwiseConv2D(k, padding="same", use_bias=False)
            pointwise = keras.layers.Conv2D(n, 1, use_bias=False)
            standard(x)
            pointwise(depthwise(x))
            rows.append({"k": k, "N": n, "standard_params": standard.count_params(),
                         "separable_params": depthwise.count_params() + pointwise.count_params(),
                         "formula": separable_ratio(k, n)})
    table = pd.DataFrame(rows)
    table["measured"] = table["separable_params"] / table["standard_params"]
    return table


def block_savings(table):
    """Each depthwise separable block of a MobileNet ``layer_table`` against a standard convolution.

    For block i (``conv_dw_i`` then ``conv_pw_i``): input channels M, output
    channels N, output size, stride, its MACs, the MACs of one standard k x k
    convolution with the same input, output and stride, the formula 1/N + 1/k^2,
    their ratio and the saving (standard / separable). MACs per image.
    """
    rows = table.set_index("name")
    blocks = sorted(int(n.rsplit("_", 1)[1]) for n in rows.index if n.startswith("conv_dw_") and n.count("_") == 2)
    result = []
    for i in blocks:
        dw, pw = rows.loc[f"conv_dw_{i}"], rows.loc[f"conv_pw_{i}"]
        m, n = dw["input_shape"][-1], pw["output_shape"][-1]
        height, width = pw["output_shape"][:2]
        k = dw["kernel_size"][0]
        result.append({"block": i, "M": m, "N": n, "output": f"{height}x{width}", "stride": dw["strides"][0],
                       "separable_macs": int(dw["macs"] + pw["macs"]),
                       "standard_macs": standard_conv_cost(k, m, n, height, width).macs,
                       "formula": separable_ratio(k, n)})
    blocks_table = pd.DataFrame(result).set_index("block")
    blocks_table["ratio"] = blocks_table["separable_macs"] / blocks_table["standard_macs"]
    blocks_table["saving"] = blocks_table["standard_macs"] / blocks_table["separable_macs"]
    return blocks_table
