"""Where the time goes inside a network: each layer group's share of the time, measured in context
by the runtime's own profiler, against its share of the multiply-adds.

The table comes from ``analysis.speed.story.time_shares``; this module only draws it.
"""

import matplotlib.pyplot as plt
import numpy as np

from analysis.plots.style import check_rows

# Colours of the layer groups, in stacking order (unattributed time last, grey).
GROUP_COLORS = {"Convolution": "#4c72b0", "Depthwise": "#dd8452", "Pointwise": "#55a868",
                "Fully connected": "#c44e52", "Other": "#8172b3", "Unattributed": "#b0b0b0"}
MACS_ROW = "share of MACs"


def draw_time_shares(shares, title=None):
    """One panel per network: a horizontal bar per configuration, stacked by layer group, each
    segment the group's share of the profiled time (%), under a first bar of the MAC shares.

    Args:
        shares: ``analysis.speed.story.time_shares`` (variant, configuration, group, time_share,
            mac_share; shares 0..1).
        title: the figure's title, if given.

    Returns:
        The matplotlib Figure.
    """
    check_rows(shares, ("variant", "configuration", "group", "time_share", "mac_share"), "shares",
               "a time_shares table")
    variants = list(shares["variant"].drop_duplicates())
    configs = list(shares["configuration"].drop_duplicates())
    rows = [MACS_ROW, *configs]
    fig, axes = plt.subplots(len(variants), 1, figsize=(9, 0.45 * len(rows) * len(variants) + 1.6), squeeze=False)
    for ax, variant in zip(axes[:, 0], variants):
        mine = shares[shares["variant"] == variant]
        left = np.zeros(len(rows))
        for group, color in GROUP_COLORS.items():
            part = mine[mine["group"] == group]
            if part.empty:
                continue
            macs = part["mac_share"].iloc[0] if part["mac_share"].notna().any() else 0.0
            by_config = part.set_index("configuration")["time_share"]
            widths = 100 * np.array([macs, *[by_config.get(c, 0.0) for c in configs]], dtype=float)
            ax.barh(rows, widths, left=left, color=color, label=group, edgecolor="white", linewidth=0.5)
            for y, (start, width) in enumerate(zip(left, widths)):
                if width >= 7:
                    ax.text(start + width / 2, y, f"{width:.0f}", ha="center", va="center", fontsize=8, color="white")
            left += widths
        ax.set_xlim(0, 100)
        ax.invert_yaxis()
        ax.set_title(variant, loc="left")
        ax.set_xlabel("% of the network's MACs (first bar) or of its profiled time")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    for ax in axes[1:, 0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    top = 1.0
    if title:
        fig.suptitle(title, x=0.01, ha="left")
        top = 1 - 0.6 / fig.get_figheight()
    fig.tight_layout(rect=(0, 0.05, 1, top))
    return fig
