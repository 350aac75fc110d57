"""Two more networks beside VGG16 and MobileNet v1: MobileNetV2 and ResNet-50, counted and cited.

MobileNetV2 (Sandler et al. 2018) keeps v1's depthwise separable
convolutions and wraps them in inverted residual blocks: a 1x1 expansion, a
depthwise 3x3 and a linear 1x1 projection, with a shortcut. ResNet-50 (He et
al. 2016) is what VGG became: 3x3 convolutions between 1x1 bottlenecks, with
shortcuts, and no large fully connected head (a global average pool and one
2048 x 1000 classifier). Both are built here from ``keras.applications``
with random weights (``Variant("keras:MobileNetV2")``,
``Variant("keras:ResNet50")``): nothing downloads.

- ``network_tables`` counts the four networks once (``layer_table``);
- ``compare_networks``, ``role_shares`` and ``intensity_by_role`` set them
  side by side;
- ``published_successors`` is ``data/successors.csv`` (sources in
  ``data/SUCCESSORS.md``); ``accuracy_table`` gives each network's
  published top-1, from its paper and from the Keras documentation;
  ``paper_check`` sets our counts beside the papers' printed ones.

Conventions as ``analysis.cost.table``: one MAC is one multiply-add per
image (batch 1), FLOPs = 2 x MACs; parameters include biases and batch-norm
statistics; bytes are float32.
"""

import pandas as pd

from analysis import paths
from analysis.cost.published import published, read_figures
from analysis.cost.groups import layer_role
from analysis.cost.table import BYTES_PER_FLOAT32, layer_table, summarize
from analysis.variants import Variant

SUCCESSORS_CSV = paths.DATA_DIR / "successors.csv"
SUCCESSORS_MD = paths.DATA_DIR / "SUCCESSORS.md"
NETWORKS = (Variant("vgg16"), Variant("mobilenet"), Variant("keras:MobileNetV2"), Variant("keras:ResNet50"))
_ROLE_ORDER = ("Conv 7x7", "Conv 3x3", "Conv DW 3x3", "Conv 1x1", "Fully connected", "Batch norm")
_NUMERIC = ("resolution", "top1", "top5", "mult_adds_millions", "params_millions")
# Each network's row in the MobileNet paper's Table 8, successors.csv's paper rows, and its Keras name.
_PAPER_MODEL = {"VGG16": ("mobilenet_paper", "VGG16"), "MobileNet 1.0/224": ("mobilenet_paper", "MobileNet"),
                "keras:MobileNetV2": ("mobilenetv2_paper", "MobileNetV2"),
                "keras:ResNet50": ("resnet_paper", "ResNet-50")}
_KERAS_MODEL = {"VGG16": "VGG16", "MobileNet 1.0/224": "MobileNet", "keras:MobileNetV2": "MobileNetV2",
                "keras:ResNet50": "ResNet50"}
_SOURCE_NAMES = {"mobilenet_paper": "MobileNet paper (Howard et al. 2017), Table 8",
                 "mobilenetv2_paper": "MobileNetV2 paper (Sandler et al. 2018), Table 4",
                 "resnet_paper": "ResNet paper (He et al. 2016), Table 3",
                 "keras_applications": "keras.io/api/applications"}


def published_successors():
    """``data/successors.csv`` as a DataFrame: one row per printed figure of MobileNetV2 and
    ResNet-50 (their papers) and of the four networks' Keras weights (keras.io), with the
    columns source, table, model, resolution, evaluation, top1, top5 (%),
    mult_adds_millions, params_millions and note (see ``data/SUCCESSORS.md``)."""
    return read_figures(SUCCESSORS_CSV, _NUMERIC)


def sources():
    """SUCCESSORS.md: where every figure of ``published_successors`` comes from."""
    return SUCCESSORS_MD.read_text(encoding="utf8")


def network_tables(variants=NETWORKS):
    """The ``layer_table`` of each variant (default VGG16, MobileNet 1.0/224, MobileNetV2 1.0/224
    and ResNet-50), built and counted once: a dict from the variant's label to its table."""
    tables = {}
    for variant in variants:
        table = layer_table(variant.build())
        table.attrs["model"] = variant.label
        tables[variant.label] = table
    return tables


def _min_traffic_bytes(table):
    """Float32 bytes each row must at least move: its inputs, its output and its weights."""
    def elements(shape):
        shapes = shape if shape and isinstance(shape[0], tuple) else (shape,)
        return sum(int(pd.Series(s).prod()) if s else 0 for s in shapes)
    inputs = table["input_shape"].map(elements)
    return BYTES_PER_FLOAT32 * (inputs + table["activations"]) + table["weight_bytes"]


def compare_networks(tables):
    """The networks of ``tables`` (``network_tables``) side by side, one row each.

    Returns:
        A ``pandas.DataFrame`` indexed by network with ``params``, ``macs``
        (per image), ``params_millions``, ``macs_millions``, ``gflops``
        (2 x MACs / 1e9), ``layers`` (rows of the table), ``weight_mb`` (float32
        weights, 10**6 bytes), ``activation_mb`` (every layer's output, one
        image), ``arithmetic_intensity`` (the network's FLOPs over the float32
        bytes that its convolution and dense layers must at least move:
        inputs, outputs and weights, once each; as if batch norm and
        activations were fused into them, as deployed runtimes do), and
        ``lower_bound`` (a layer was not counted).
    """
    rows = {}
    for network, table in tables.items():
        totals = summarize(table)
        mac_layers = table["macs"].fillna(0) > 0
        traffic = int(_min_traffic_bytes(table[mac_layers]).sum())
        rows[network] = {
            "params": totals["params"], "macs": totals["macs"],
            "params_millions": totals["params"] / 1e6, "macs_millions": totals["macs"] / 1e6,
            "gflops": totals["flops"] / 1e9, "layers": len(table),
            "weight_mb": totals["weight_bytes"] / 1e6, "activation_mb": totals["activation_bytes"] / 1e6,
            "arithmetic_intensity": totals["flops"] / traffic if traffic else float("nan"),
            "lower_bound": totals["lower_bound"],
        }
    frame = pd.DataFrame(rows).T
    for column in ("params", "macs", "layers"):
        frame[column] = frame[column].astype("int64")
    for column in ("params_millions", "macs_millions", "gflops", "weight_mb", "activation_mb",
                   "arithmetic_intensity"):
        frame[column] = frame[column].astype(float)
    frame["lower_bound"] = frame["lower_bound"].astype(bool)
    frame.index.name = "network"
    return frame


def _roles(table):
    return pd.Series([layer_role(n, t, k) for n, t, k in zip(table["name"], table["type"], table["kernel_size"])],
                     index=table.index, name="role")


def role_shares(tables):
    """Each network's share of parameters and of MACs per layer role (``layer_role``: the MobileNet
    paper's Table 2 kinds), in %.

    Returns:
        A ``pandas.DataFrame`` indexed by role (roles with neither parameters
        nor MACs in any network left out; full convolutions by kernel size,
        then depthwise, pointwise, fully connected, batch norm),
        with columns (``params_share_%`` or ``macs_share_%``, network); 0 where
        a network has no layer of that role.
    """
    shares = {}
    for network, table in tables.items():
        grouped = table.groupby(_roles(table), sort=False)[["params", "macs"]].sum().astype("int64")
        for quantity in ("params", "macs"):
            shares[(f"{quantity}_share_%", network)] = 100.0 * grouped[quantity] / grouped[quantity].sum()
    frame = pd.DataFrame(shares).fillna(0.0)
    frame = frame[(frame > 0).any(axis=1)]
    frame = frame.loc[sorted(frame.index, key=lambda role: (_ROLE_ORDER.index(role) if role in _ROLE_ORDER
                                                            else len(_ROLE_ORDER), role))]
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["share", "network"])
    frame.index.name = "role"
    return frame


def intensity_by_role(tables):
    """Median arithmetic intensity (FLOPs per byte moved, ``layer_table``'s column) of each
    network's layers with MACs, per layer role: a Series indexed by (network, role)."""
    parts = []
    for network, table in tables.items():
        mac_layers = table[table["macs"].fillna(0) > 0]
        parts.append(pd.DataFrame({"network": network, "role": _roles(mac_layers),
                                   "flops_per_byte": mac_layers["arithmetic_intensity"].astype(float)}))
    return pd.concat(parts).groupby(["network", "role"], sort=False)["flops_per_byte"].median()


def accuracy_table(networks=tuple(_PAPER_MODEL)):
    """Published ImageNet top-1 of each network (labels of ``NETWORKS``), two ways.

    Returns:
        A ``pandas.DataFrame`` indexed by network: ``paper_top1_%`` with
        ``paper_evaluation`` and ``paper_source`` (VGG16 and MobileNet: the
        MobileNet paper's Table 8, the suite's one headline comparison;
        MobileNetV2: its paper's Table 4, single crop; ResNet-50: its paper's
        Table 3, 10-crop), and ``keras_top1_%`` (keras.io's figure for the
        Keras weights, single center crop: the like-for-like column).
    """
    paper_rows = pd.concat([_table8(), published_successors()], ignore_index=True)
    successors = published_successors()
    keras_rows = successors[successors["source"] == "keras_applications"].set_index("model")
    rows = {}
    for network in networks:
        source, model = _PAPER_MODEL[network]
        paper = paper_rows[(paper_rows["source"] == source) & (paper_rows["model"] == model)
                           & paper_rows["top1"].notna()].iloc[0]
        rows[network] = {"paper_top1_%": float(paper["top1"]), "paper_evaluation": paper["evaluation"],
                         "paper_source": _SOURCE_NAMES[source],
                         "keras_top1_%": float(keras_rows.loc[_KERAS_MODEL[network], "top1"])}
    frame = pd.DataFrame(rows).T
    frame.index.name = "network"
    return frame.astype({"paper_top1_%": float, "keras_top1_%": float})


def _table8():
    """The MobileNet paper's Table 8 rows of ``published()``, with the evaluation named."""
    table = published()
    table8 = table[(table["source"] == "mobilenet_paper") & (table["table"] == "8")].copy()
    table8["evaluation"] = "single crop"
    return table8


def paper_check(tables):
    """Our parameters and MACs of MobileNetV2 and ResNet-50 beside their papers' printed ones.

    Returns:
        A ``pandas.DataFrame``, one row per network and quantity (``params_millions``,
        ``mult_adds_millions``) that the paper prints: ``computed``,
        ``printed``, ``rel_diff_%`` ((computed - printed) / printed) and ``source``.
    """
    printed = published_successors()
    rows = []
    for network in ("keras:MobileNetV2", "keras:ResNet50"):
        source, model = _PAPER_MODEL[network]
        totals = summarize(tables[network])
        computed = {"params_millions": totals["params"] / 1e6, "mult_adds_millions": totals["macs"] / 1e6}
        for _, row in printed[(printed["source"] == source) & (printed["model"] == model)].iterrows():
            for quantity, value in computed.items():
                if pd.notna(row[quantity]):
                    rows.append({"network": network, "quantity": quantity, "computed": value,
                                 "printed": float(row[quantity]),
                                 "rel_diff_%": 100.0 * (value - row[quantity]) / row[quantity],
                                 "source": f"{_SOURCE_NAMES[source].rsplit(', Table', 1)[0]}, Table {row['table']}"})
    return pd.DataFrame(rows)
