"""The head-versus-body figure: where VGG16's extra parameters and MACs sit.

Draws ``analysis.cost.attribution.attribution``'s table (parameters and MACs
per image of each network's convolutional body and classifier head); the
counting is there, this only draws it. MACs are multiply-adds (FLOPs = 2 ×
MACs).
"""

import matplotlib.pyplot as plt
import numpy as np

from nets.errors import BadInput
from analysis.plots.style import check_rows, model_color

_PARTS = ("body", "head")
_QUANTITIES = (("params", "Parameters", "parameters (log scale)"),
               ("macs", "MACs per image", "multiply-adds per image (log scale)"))


def _count_text(value):
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.0f}"


def draw_attribution(table, labels=None):
    """Parameters (left) and MACs (right) of the body and the head of two networks, on a log axis.

    Each part has one bar per network, labelled with its count, and the
    ratio first / second written beside the pair ("×121") with the part's
    share of the saving (first − second, in % of the totals' difference);
    the title of each panel gives the ratio of the totals. A log axis shows MobileNet's head
    (1M parameters) and VGG16's (124M) on one scale.

    Args:
        table: ``analysis.cost.attribution.attribution()``: rows network ×
            part (``body``, ``head``, ``total``) with ``params`` and ``macs``,
            for exactly two networks (first, then second).
        labels: optional display names for the two networks, in order
            (default: the ``network`` column).

    Returns:
        The matplotlib Figure.
    """
    check_rows(table, ("network", "part", "params", "macs"), "table", "an attribution() table")
    networks = list(dict.fromkeys(table["network"]))
    if len(networks) != 2:
        raise BadInput(f"table must hold two networks. Received networks={networks!r}")
    labels = list(networks if labels is None else labels)
    if len(labels) != 2:
        raise BadInput(f"labels must name the two networks. Received labels={labels!r}")
    values = table.set_index(["network", "part"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    height = 0.36
    for ax, (quantity, title, xlabel) in zip(axes, _QUANTITIES):
        y = np.arange(len(_PARTS))
        for i, (network, label) in enumerate(zip(networks, labels)):
            counts = [float(values.loc[(network, part), quantity]) for part in _PARTS]
            bars = ax.barh(y + (i - 0.5) * height, counts, height, color=model_color(label, i), label=label)
            ax.bar_label(bars, labels=[_count_text(c) for c in counts], padding=3, fontsize=9)
        totals = [float(values.loc[(n, "total"), quantity]) for n in networks]
        for j, part in enumerate(_PARTS):
            first, second = (float(values.loc[(n, part), quantity]) for n in networks)
            ratio = first / second if second else float("nan")
            saving = 100.0 * (first - second) / (totals[0] - totals[1]) if totals[0] != totals[1] else float("nan")
            ax.text(1.01, j, f"×{ratio:.3g}\n{saving:.0f} % of\nthe saving", transform=ax.get_yaxis_transform(),
                    ha="left", va="center", fontsize=10, clip_on=False)
        ax.set_xscale("log")
        low = min(float(values.loc[(n, p), quantity]) for n in networks for p in _PARTS)
        high = max(totals)
        ax.set_xlim(low / 3, high * 8)
        ax.set_yticks(y, labels=[f"{part}" for part in _PARTS])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(f"{title}: total ×{totals[0] / totals[1]:.3g}")
        ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig
