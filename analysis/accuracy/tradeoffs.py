"""Accuracy against cost: published results joined with computed costs and measured latency.

Costs are per image: MACs (multiply-adds) and parameters as the paper counts
them (convolution and fully connected weights, no batch-norm variables),
both computed from our own networks. Latency is whatever the caller
measured here (``analysis.latency``), joined by variant label and runtime.
"""

import numpy as np
import pandas as pd

from analysis.cost.published import published, variant_costs, variant_of


def published_with_costs(latency=None):
    """Every published row with the computed MACs and parameters of the same variant.

    Args:
        latency: optional DataFrame of measurements (``variant`` label,
            ``runtime``, ``ms_per_image``), e.g. from ``analysis.speed.latency.benchmark``;
            joined as one ``<runtime>_ms`` column per runtime.

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
