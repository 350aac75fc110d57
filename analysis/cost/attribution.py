"""Where the savings are: parameters and MACs of the convolutional body against the classifier head.

MobileNet is "32 times smaller and 27 times less compute intensive" than
VGG16 (the MobileNet paper on Table 8). Split each network in two and the
two savings come from different places:

- the **head** is the classifier that follows the last feature map: VGG16's
  ``fc6``-``fc8`` (slim's convolutions; ``fc1``, ``fc2``, ``predictions``
  in keras.applications) with their dropouts, squeeze and softmax;
  MobileNet's global average pool, dropout, ``conv_preds``, reshape and
  softmax;
- the **body** is everything before it, the input to the last feature map
  (VGG16's ``pool5``, MobileNet's ``conv_pw_13_relu``).

VGG16's head has ~120x the parameters of MobileNet's (123.6M against
1.025M, its 7x7x512x4096 ``fc6`` alone 102.8M), while the bodies differ by
~4.6x (14.7M against 3.2M): most of the 32x parameter saving is the head.
The head costs few MACs (one multiply-add per weight, once), so the ~27x MAC
saving is the body's.

Conventions as ``analysis.cost.table``: MACs are multiply-adds per image
(batch 1), FLOPs = 2 x MACs, parameters include biases and batch-norm
statistics (trainable or not).
"""

import math

import pandas as pd

from analysis.cost.formulas import MAC_CONVENTION
from analysis.cost.groups import layer_role
from analysis.cost.table import table_of
from analysis.variants import Variant
from nets.errors import BadInput

PARTS = ("body", "head")
# Parameter-free layers that join the last feature map to the first fully
# connected layer; directly before it, they belong to the head.
_HEAD_GLUE_TYPES = ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Dropout", "Reshape")
QUANTITIES = ("params", "macs")


def head_start(table):
    """Row position where the head begins in a ``layer_table``: the first fully
    connected layer (see ``layer_role``), moved back over the global pooling,
    flatten, dropout or reshape layers right before it.

    Raises:
        BadInput: the table has no fully connected layer (a network built
            without its top), named by the model.
    """
    roles = [layer_role(n, t, k) for n, t, k in zip(table["name"], table["type"], table["kernel_size"])]
    if "Fully connected" not in roles:
        raise BadInput(f"{table.attrs.get('model', 'the model')} has no fully connected head "
                         "(built with include_top=False?). Received a table without one")
    start = roles.index("Fully connected")
    types = list(table["type"])
    while start > 0 and types[start - 1] in _HEAD_GLUE_TYPES:
        start -= 1
    return start


def split_parts(model_or_table):
    """``layer_table`` of a model (or Variant, or such a table) with a ``part`` column: body or head."""
    table = table_of(model_or_table, "model_or_table").copy()
    start = head_start(table)
    table["part"] = ["body" if i < start else "head" for i in range(len(table))]
    return table


def head_body(model_or_table):
    """Parameters and MACs (per image) of the body and the head of one network.

    Returns:
        A ``pandas.DataFrame`` with one row per part (``body``, ``head``,
        ``total``) and the columns ``network``, ``part``, ``params``,
        ``macs``, ``params_share_%``, ``macs_share_%`` (shares of the
        network's total) and ``layers`` (first and last layer name of the part).
    """
    table = split_parts(model_or_table)
    network = table.attrs.get("model", "")
    totals = {q: int(table[q].sum(skipna=True)) for q in QUANTITIES}
    rows = []
    for part in PARTS:
        rows_of_part = table[table["part"] == part]
        values = {q: int(rows_of_part[q].sum(skipna=True)) for q in QUANTITIES}
        rows.append({"network": network, "part": part, **values,
                     **{f"{q}_share_%": 100.0 * values[q] / totals[q] if totals[q] else math.nan
                        for q in QUANTITIES},
                     "layers": f"{rows_of_part['name'].iloc[0]} .. {rows_of_part['name'].iloc[-1]}"})
    rows.append({"network": network, "part": "total", **totals,
                 **{f"{q}_share_%": 100.0 for q in QUANTITIES}, "layers": ""})
    return pd.DataFrame(rows)


def attribution(first=None, second=None):
    """The head-versus-body attribution of two networks, as one tidy table.

    Args:
        first, second: Variants, models or ``layer_table`` tables. Default
            ``Variant("vgg16")`` and ``Variant("mobilenet")``.

    Returns:
        A ``pandas.DataFrame``: ``head_body`` of ``first`` then of
        ``second``, rows network x part (``body``, ``head``, ``total``) with
        exact integer ``params`` and ``macs`` (per image), their shares of the
        network's total in %, and ``layers``. ``attrs["convention"]`` states
        the MAC convention; ``attribution_ratios`` compares the two.
    """
    first = Variant("vgg16") if first is None else first
    second = Variant("mobilenet") if second is None else second
    table = pd.concat([head_body(first), head_body(second)], ignore_index=True)
    table.attrs["convention"] = MAC_CONVENTION
    return table


def attribution_ratios(table):
    """Per part, how many times more the first network of ``attribution``'s table costs than the second.

    Returns:
        A ``pandas.DataFrame`` with one row per part (``body``, ``head``,
        ``total``) and the columns ``part``, ``params_ratio`` and
        ``macs_ratio`` (first / second), and ``params_saving_share_%`` and
        ``macs_saving_share_%``: the part's share of the total saving
        (first - second), in %. VGG16 against MobileNet: head params ~120x,
        body params ~4.6x, total ~32x; the body holds ~99 % of the MAC saving.
    """
    networks = list(dict.fromkeys(table["network"]))
    if len(networks) != 2:
        raise BadInput(f"attribution_ratios needs the table of two networks. Received networks={networks!r}")
    a, b = (table[table["network"] == n].set_index("part") for n in networks)
    rows = []
    for part in (*PARTS, "total"):
        row = {"part": part, "first": networks[0], "second": networks[1]}
        for q in QUANTITIES:
            row[f"{q}_ratio"] = a.loc[part, q] / b.loc[part, q] if b.loc[part, q] else math.nan
        for q in QUANTITIES:
            saving = a.loc["total", q] - b.loc["total", q]
            row[f"{q}_saving_share_%"] = 100.0 * (a.loc[part, q] - b.loc[part, q]) / saving if saving else math.nan
        rows.append(row)
    return pd.DataFrame(rows)
