"""Figures printed in the papers and docs, with their sources, and the
MobileNet paper's cost tables rebuilt from our own networks.

``published()`` is ``data/published.csv`` (copied from shared/reference,
sources in ``data/SOURCES.md``) as a DataFrame. ``reproduce_paper_tables()``
recomputes the cost columns of Tables 2 to 8 of Howard et al. (2017) and
sets each beside the printed value.

Conventions: Mult-Adds are MACs (multiply-adds) per image, in millions.
The paper's parameter counts are the convolution and fully connected
kernels and biases (no batch-norm variables); its Table 2 shares leave out
the classifier's bias too. A computed value *agrees* when it rounds to the
printed one at the printed precision.
"""

import math
from functools import lru_cache

import pandas as pd

from analysis import paths
from analysis.cost.separable import separable_conv_cost, standard_conv_cost
from analysis.cost.groups import role_totals
from analysis.cost.table import layer_table
from analysis.variants import Variant

PUBLISHED_CSV = paths.DATA_DIR / "published.csv"
SOURCES_MD = paths.DATA_DIR / "SOURCES.md"
QUANTIZED_CSV = paths.DATA_DIR / "quantized.csv"
QUANTIZED_MD = paths.DATA_DIR / "QUANTIZED.md"
_WEIGHT_TYPES = ("Conv2D", "DepthwiseConv2D", "Dense")
_NUMERIC = ("alpha", "resolution", "top1", "top5", "mult_adds_millions", "params_millions", "cpu_ms", "gpu_ms")

# Table 2 and 3 are printed in the paper only (shared/reference/SOURCES.md).
TABLE2_PRINTED = {  # layer type: (share of Mult-Adds %, share of parameters %)
    "Conv 1x1": ("94.86", "74.59"),
    "Conv DW 3x3": ("3.06", "1.06"),
    "Conv 3x3": ("1.19", "0.02"),
    "Fully connected": ("0.18", "24.33"),
}
TABLE3_PRINTED = {  # layer: (Mult-Adds millions, parameters millions)
    "Conv 3x3 (14x14x512)": ("462", "2.36"),
    "Depthwise separable": ("52.3", "0.27"),
    "alpha = 0.75": ("29.6", "0.15"),
    "rho = 0.714": ("15.1", "0.15"),
}
KERAS_DOCSTRING_MULT_ADDS = "529"  # tf.keras.applications.mobilenet docstring, r2.3 to r2.11

NOTES = {
    ("2", "Conv 3x3", "mult_adds_share"): (
        "The paper prints 1.19 %; the column then sums to 99.29 %. Recomputed from "
        "Table 1 it is 1.91 %: the digits look transposed."),
    ("4", "Conv MobileNet", "mult_adds_millions"): (
        "1.3M (0.03 %) above the printed 4,866M; every other MobileNet count matches "
        "to the printed digit, so the paper's figure looks rounded per layer."),
    ("7", "MobileNet 1.0/160", "mult_adds_millions"): (
        "290.68M rounds to 291, as tf-slim's table prints; the paper truncates to 290."),
    ("8", "VGG16", "mult_adds_millions"): (
        "15,470M with the fully connected layers (torchvision's 15.47 GFLOPS, which are "
        "multiply-adds); the 13 convolutions alone are {conv:,.0f}M, close to the paper's 15,300M."),
    ("keras docs", "MobileNet 1.0/224", "mult_adds_millions"): (
        "The keras docstring's 529M matches neither the paper's 569M nor any count of "
        "this network; the computed 568.7M agrees with the paper."),
}


def read_figures(path, numeric):
    """A CSV of printed figures as a DataFrame: every column text, except ``numeric`` (an empty cell is NaN)."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in numeric:
        table[column] = pd.to_numeric(table[column].replace("", None), errors="coerce")
    return table


def published():
    """The published figures as a DataFrame (one row per printed result, see SOURCES.md)."""
    return read_figures(PUBLISHED_CSV, _NUMERIC)


def sources():
    """SOURCES.md: where every published figure comes from."""
    return SOURCES_MD.read_text(encoding="utf8")


def published_quantized():
    """Published MobileNet v1 accuracy (ImageNet top-1 %) and latency at int8 beside float:
    TF-slim's quantized checkpoints, TFLite's hosted models and MLPerf Inference v0.5
    (``data/quantized.csv``, sources in ``data/QUANTIZED.md``)."""
    table = pd.read_csv(QUANTIZED_CSV, dtype=str, keep_default_na=False)
    for column in ("alpha", "resolution", "top1", "top5", "mult_adds_millions", "params_millions", "cpu_ms"):
        table[column] = pd.to_numeric(table[column].replace("", None), errors="coerce")
    return table


def quantization_drops():
    """Each published int8 figure beside its float one, and the drop in top-1 points.

    The float counterparts of TF-slim's quantized rows are TF-slim's float rows
    (``published()``, source tf_slim); the other sources print both.
    """
    quantized = published_quantized()
    floats = published()
    slim = floats[(floats["source"] == "tf_slim") & (floats["model"] == "MobileNet")]
    rows = []
    for _, row in quantized[quantized["precision"] == "int8"].iterrows():
        if row["source"] == "tf_slim_quant":
            match = slim[(slim["alpha"] == row["alpha"]) & (slim["resolution"] == row["resolution"])]
        else:
            match = quantized[(quantized["source"] == row["source"]) & (quantized["precision"] == "fp32")]
        fp32 = float(match["top1"].iloc[0]) if len(match) else float("nan")
        rows.append({"source": row["source"], "variant": Variant("mobilenet", alpha=float(row["alpha"]), resolution=int(row["resolution"])).label,
                     "fp32_top1": fp32, "int8_top1": row["top1"], "drop_points": fp32 - row["top1"]})
    return pd.DataFrame(rows)


def _printed_strings():
    """The published rows with numbers kept as printed (for their precision)."""
    return pd.read_csv(PUBLISHED_CSV, dtype=str, keep_default_na=False)


@lru_cache(maxsize=None)
def variant_costs(variant):
    """(MACs per image, paper-convention parameters, layer_table) of one ``Variant``, cached."""
    table = layer_table(variant.build())
    weighted = table[table["type"].isin(_WEIGHT_TYPES)]
    return int(table["macs"].sum()), int(weighted["params"].sum()), table


def _agrees(computed, printed):
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(computed - float(printed)) <= 0.5 * 10 ** (-decimals) + 1e-9


def _row(table, row, quantity, computed, printed, note_args=None):
    note = NOTES.get((table, row, quantity), "")
    if note and note_args:
        note = note.format(**note_args)
    printed_value = float(printed)
    return {
        "table": table, "row": row, "quantity": quantity, "computed": computed,
        "printed": printed_value,
        "rel_diff": (computed - printed_value) / printed_value if printed_value else math.nan,
        "agrees": _agrees(computed, printed), "note": note,
    }


def _table2_rows():
    _, _, table = variant_costs(Variant("mobilenet"))
    weighted = table[table["type"].isin(_WEIGHT_TYPES)].copy()
    # The paper's shares count kernels only: leave out the classifier's bias.
    classifier = weighted["name"] == "conv_preds"
    weighted.loc[classifier, "params"] -= weighted.loc[classifier, "output_shape"].map(lambda s: s[-1])
    shares = role_totals(weighted, ("macs", "params"))
    rows = []
    for role, (macs_printed, params_printed) in TABLE2_PRINTED.items():
        rows.append(_row("2", role, "mult_adds_share", round(shares.loc[role, "macs_share_%"], 4), macs_printed))
        rows.append(_row("2", role, "params_share", round(shares.loc[role, "params_share_%"], 4), params_printed))
    return rows


def _table3_rows():
    layers = {
        "Conv 3x3 (14x14x512)": standard_conv_cost(3, 512, 512, 14, 14),
        "Depthwise separable": separable_conv_cost(3, 512, 512, 14, 14),
        "alpha = 0.75": separable_conv_cost(3, 384, 384, 14, 14),
        "rho = 0.714": separable_conv_cost(3, 384, 384, 10, 10),  # 14 x 0.714 = 10
    }
    rows = []
    for name, cost in layers.items():
        macs_printed, params_printed = TABLE3_PRINTED[name]
        rows.append(_row("3", name, "mult_adds_millions", cost.macs / 1e6, macs_printed))
        rows.append(_row("3", name, "params_millions", cost.params / 1e6, params_printed))
    return rows


def variant_of(row):
    """The ``Variant`` of a published row that our networks can build, else None."""
    if row["model"] == "VGG16":
        resolution = row["resolution"]
        return Variant("vgg16") if pd.isna(resolution) or resolution == "" or int(resolution) in (224, 256) else None
    if row["model"] != "MobileNet" or pd.isna(row["alpha"]) or row["alpha"] == "":
        return None
    options = {"alpha": float(row["alpha"]), "resolution": int(row["resolution"])}
    if row["variant"] in ("conv", "shallow"):
        options[row["variant"]] = True
    return Variant("mobilenet", **options)


def _paper_label(variant):
    """The row label of the paper's tables: its own names for the Conv and shallow MobileNets."""
    if variant.conv:
        return "Conv MobileNet"
    if variant.shallow:
        return "Shallow MobileNet"
    return variant.label


def reproduce_paper_tables():
    """The MobileNet paper's cost tables 2-8 rebuilt from our networks.

    Returns:
        A DataFrame with columns table, row, quantity (mult_adds_share,
        params_share in %, mult_adds_millions, params_millions), computed,
        printed, rel_diff ((computed - printed) / printed), agrees (rounds
        to the printed value) and note (why they differ, where they do).
    """
    rows = _table2_rows() + _table3_rows()
    printed = _printed_strings()
    paper = printed[(printed["source"] == "mobilenet_paper") & printed["table"].isin(["4", "5", "6", "7", "8"])]
    for _, source in paper.iterrows():
        if source["model"] not in ("MobileNet", "VGG16"):
            continue
        variant = variant_of(source)
        label = _paper_label(variant)
        macs, params, table = variant_costs(variant)
        note_args = None
        if variant.network == "vgg16":
            convs = table[table["name"].str.match(r"^conv\d_\d$")]
            note_args = {"conv": convs["macs"].sum() / 1e6}
        rows.append(_row(source["table"], label, "mult_adds_millions", macs / 1e6,
                         source["mult_adds_millions"], note_args))
        rows.append(_row(source["table"], label, "params_millions", params / 1e6, source["params_millions"]))
    macs, _, _ = variant_costs(Variant("mobilenet"))
    rows.append(_row("keras docs", "MobileNet 1.0/224", "mult_adds_millions", macs / 1e6, KERAS_DOCSTRING_MULT_ADDS))
    return pd.DataFrame(rows)
