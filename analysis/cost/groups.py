"""Grouping a ``layer_table``'s rows: by block (``block_of``) and by the role a layer plays
in the MobileNet paper's Table 2 (``layer_role``), with totals and shares per group."""

import math
import re

import pandas as pd


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


_ACTIVATION_TYPES = ("ReLU", "Activation", "Softmax", "LeakyReLU", "PReLU", "ELU")
_POOLING_TYPES = tuple(f"{kind}Pooling{d}D" for kind in ("Max", "Average", "GlobalAverage", "GlobalMax")
                       for d in (1, 2, 3))
_DEPTHWISE_TYPES = ("DepthwiseConv1D", "DepthwiseConv2D")
_CONV_TYPES = ("Conv1D", "Conv2D", "Conv3D", "SeparableConv1D", "SeparableConv2D",
               "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_FULLY_CONNECTED = re.compile(r"^(fc\d|conv_preds)$")


def layer_role(name, layer_type, kernel_size=None):
    """What a layer does, in the words of the MobileNet paper's Table 2.

    ``Conv 3x3`` (a full convolution, by its kernel: 1-D, 2-D, 3-D, separable or
    transposed), ``Conv DW 3x3``
    (depthwise), ``Conv 1x1`` (pointwise), ``Fully connected`` (Dense, and the
    convolutional heads ``fc6``-``fc8`` and ``conv_preds``), ``Batch norm``,
    ``Activation``, ``Pooling``, ``Input`` or ``Other``.
    """
    k = "x".join(str(s) for s in kernel_size) if kernel_size else "?"
    if layer_type == "Dense" or (layer_type == "Conv2D" and _FULLY_CONNECTED.match(name)):
        return "Fully connected"
    if layer_type in _DEPTHWISE_TYPES:
        return f"Conv DW {k}"
    if layer_type in _CONV_TYPES:
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
