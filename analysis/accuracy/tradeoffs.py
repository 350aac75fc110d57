"""Accuracy against cost: published results joined with computed costs and measured latency.

Costs are per image: MACs (multiply-adds) and parameters as the paper counts
them (convolution and fully connected weights, no batch-norm variables),
both computed from our own networks. Latency is whatever the caller
measured here (``analysis.latency``), joined by variant label and runtime.
"""

import numpy as np
import pandas as pd

from analysis.cost.published import published, published_quantized, variant_costs, variant_of
from analysis.speed.runtimes import Configuration
from analysis.variants import Variant


def published_with_costs(latency=None):
    """Every published row with the computed MACs and parameters of the same variant.

    Args:
        latency: optional DataFrame of measurements (``variant`` label,
            ``runtime``, ``ms_per_image``), e.g. from ``analysis.speed.latency.benchmark``;
            joined as one ``<runtime>_ms`` column per runtime, and, where it has
            ``iqr_ms`` and ``batch``, ``<runtime>_ms_iqr`` (the IQR per image).

    Returns:
        ``published()`` plus variant (our label, or None for networks we do
        not build), computed_macs_millions and computed_params_millions.
    """
    table = published()
    labels, macs, params = [], [], []
    for _, row in table.iterrows():
        variant = variant_of(row)
        if variant is None:
            labels.append(None)
            macs.append(np.nan)
            params.append(np.nan)
            continue
        model_macs, model_params, _ = variant_costs(variant)
        labels.append(variant.label)
        macs.append(model_macs / 1e6)
        params.append(model_params / 1e6)
    table["variant_label"] = labels
    table["computed_macs_millions"] = macs
    table["computed_params_millions"] = params
    if latency is not None and len(latency):
        wide = latency.pivot_table(index="variant", columns="runtime", values="ms_per_image", aggfunc="median")
        wide.columns = [f"{c}_ms" for c in wide.columns]
        if "iqr_ms" in latency and "batch" in latency:
            spread = latency.assign(iqr_per_image=latency["iqr_ms"] / latency["batch"]).pivot_table(
                index="variant", columns="runtime", values="iqr_per_image", aggfunc="median")
            wide = wide.join(spread.rename(columns=lambda c: f"{c}_ms_iqr"))
        table = table.merge(wide, left_on="variant_label", right_index=True, how="left")
    return table


def pareto_front(cost, accuracy):
    """True for each point that no other point beats on both lower cost and higher accuracy."""
    cost = np.asarray(cost, dtype=float)
    accuracy = np.asarray(accuracy, dtype=float)
    front = np.zeros(len(cost), dtype=bool)
    for i in range(len(cost)):
        if np.isnan(cost[i]) or np.isnan(accuracy[i]):
            continue
        dominated = ((cost <= cost[i]) & (accuracy >= accuracy[i]) & ((cost < cost[i]) | (accuracy > accuracy[i])))
        front[i] = not dominated.any()
    return front


def paper_points(table):
    """The points of the MobileNet paper's accuracy-against-cost figures (its Figures 4 and 5), rebuilt.

    TF-slim's 16 MobileNets (alpha x resolution), with VGG16 (the paper's
    Table 8) and the Conv MobileNet (Table 4), as rows of ``table``. Adds the
    columns that ``analysis.plots.PAPER_STYLE`` draws by: group (``MobileNet
    α = <alpha>``, or the network's name), shape (the resolution, in pixels, of
    a MobileNet; the group otherwise) and label (the group of VGG16 and the
    Conv MobileNet, written beside their points; empty for the MobileNets).

    Args:
        table: a ``published_with_costs`` table.

    Returns:
        The selected rows, in that order, with resolution as an integer.
    """
    from_paper = table["source"].eq("mobilenet_paper")
    points = pd.concat([
        table[table["source"].eq("tf_slim")],
        table[from_paper & table["table"].eq("8") & table["model"].eq("VGG16")],
        table[from_paper & table["table"].eq("4") & table["variant"].eq("conv")],
    ])
    is_mobilenet = points["source"].eq("tf_slim")
    points["resolution"] = points["resolution"].astype(int)
    points["group"] = ("MobileNet α = " + points["alpha"].map("{:g}".format)).where(
        is_mobilenet, points["variant_label"].str.replace(" 1.0/224", ""))
    points["shape"] = points["resolution"].where(is_mobilenet, points["group"])
    points["label"] = points["group"].where(~is_mobilenet, "")
    return points


def deployed_points(accuracy, latency):
    """Accuracy against latency per deployment configuration: one row per (variant, runtime,
    precision) that has both a latency and an accuracy.

    Args:
        accuracy: rows of ``variant``, ``fp32_accuracy`` (0..1, the Keras network's) and,
            per converted copy, ``runtime``, ``precision``, ``accuracy`` (0..1), as
            ``benchmarks/bench_precision.py`` ships them (``quantized_accuracy``).
        latency: ``deployment_study`` rows (``variant``, ``runtime``, ``precision``,
            ``ms_per_image``, ``configuration``) of the same variants.

    Returns:
        A DataFrame with variant, network, runtime, precision, configuration,
        ms_per_image, ms_per_image_iqr (the IQR per image, NaN where ``latency``
        has no iqr_ms), ``accuracy_%``, ``pareto`` (on the front of every
        point: lower latency, higher accuracy) and ``label`` (the front's
        points named, the others empty). An fp32 copy computes what the
        Keras network computes (``tests/test_precision.py``), so fp32 rows take
        the network's own accuracy.
    """
    converted = accuracy.dropna(subset=["accuracy"]).set_index(["variant", "runtime", "precision"])["accuracy"]
    own = accuracy.groupby("variant")["fp32_accuracy"].first()
    rows = []
    for _, row in latency.dropna(subset=["ms_per_image"]).iterrows():
        key = (row["variant"], row["runtime"], row["precision"])
        if key in converted.index:
            value = converted.loc[key]
        elif row["precision"] == "fp32" and row["variant"] in own.index:
            value = own.loc[row["variant"]]
        else:
            continue
        rows.append({"variant": row["variant"], "network": row["variant"].split()[0], "runtime": row["runtime"],
                     "precision": row["precision"], "configuration": row["configuration"],
                     "ms_per_image": row["ms_per_image"], "ms_per_image_iqr": _iqr_per_image(row),
                     "accuracy_%": 100 * float(value)})
    points = pd.DataFrame(rows)
    points["pareto"] = pareto_front(points["ms_per_image"], points["accuracy_%"])
    points["label"] = [f"{v.split(' num_classes')[0]}, {c}" if front else ""
                       for v, c, front in zip(points["variant"], points["configuration"], points["pareto"])]
    return points


def _iqr_per_image(row):
    """A latency row's interquartile range per image (ms), NaN where it has none."""
    if "iqr_ms" not in row or pd.isna(row["iqr_ms"]):
        return np.nan
    return float(row["iqr_ms"]) / float(row.get("batch", 1) or 1)


def published_deployed_points(latency):
    """Published ImageNet top-1 against latency measured here, per runtime and precision.

    Accuracy sources, one per network and precision: TF-slim's tables for the
    16 MobileNets (its float checkpoints for fp32, its quantized ones for
    int8), the MobileNet paper's Table 8 for VGG16 (fp32; no int8 VGG16 is
    published). bf16 rows and rows without a published accuracy are left out:
    nothing is assumed.

    Args:
        latency: ``LatencyResult`` rows with ``variant``, ``runtime``,
            ``precision`` and ``ms_per_image`` (e.g. a latency study).

    Returns:
        ``deployed_points``' columns, with ``source`` and top-1 as ``accuracy_%``; ``label``
        names the front's points of MobileNet 1.0/224 and VGG16 only.
    """
    floats = published()
    accuracy = {}
    for _, row in floats[(floats["source"] == "tf_slim") & (floats["model"] == "MobileNet")].iterrows():
        accuracy[variant_of(row).label, "fp32"] = (row["top1"], "TF-slim")
    vgg = floats[(floats["source"] == "mobilenet_paper") & (floats["model"] == "VGG16")].iloc[0]
    accuracy[variant_of(vgg).label, "fp32"] = (vgg["top1"], "MobileNet paper, Table 8")
    quantized = published_quantized()
    for _, row in quantized[(quantized["source"] == "tf_slim_quant")].iterrows():
        label = Variant("mobilenet", alpha=float(row["alpha"]), resolution=int(row["resolution"])).label
        accuracy[label, "int8"] = (row["top1"], "TF-slim, quantized")
    rows = []
    for _, row in latency.dropna(subset=["ms_per_image"]).iterrows():
        found = accuracy.get((row["variant"], row["precision"]))
        if found is None:
            continue
        rows.append({"variant": row["variant"], "network": row["variant"].split()[0], "runtime": row["runtime"],
                     "precision": row["precision"], "configuration": Configuration(row["runtime"], row["precision"]).label,
                     "ms_per_image": row["ms_per_image"], "ms_per_image_iqr": _iqr_per_image(row),
                     "accuracy_%": float(found[0]), "source": found[1]})
    points = pd.DataFrame(rows)
    points["pareto"] = pareto_front(points["ms_per_image"], points["accuracy_%"])
    named = {"MobileNet 1.0/224", "VGG16"}  # of the front's many MobileNets, the two networks of the story
    points["label"] = [f"{v}, {c}" if front and v in named else "" for v, c, front in
                       zip(points["variant"], points["configuration"], points["pareto"])]
    return points
