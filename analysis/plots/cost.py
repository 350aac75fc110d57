"""Figures of cost: the separable ratio, and where the parameters and MACs of a network live.

Counts come from ``analysis.cost`` (``layer_table``, ``block_totals``,
``role_totals``, ``cost_sweep``) and ``analysis.cost.separable``; these
functions only draw them. MACs are multiply-adds per image (FLOPs = 2 × MACs);
shares are in % of the network's total.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from analysis.cost.separable import separable_ratio
from nets.errors import BadInput
from analysis.plots.style import EXTRA_COLORS, MODEL_COLORS, check_rows, layer_color, model_color

# One colour per kernel size k in the separable-ratio figures.
KERNEL_COLORS = {3: "#0173b2", 5: "#de8f05", 7: "#029e73"}
# The layer roles of analysis.cost.layer_role, in the order the role figure lists them.
ROLE_ORDER = ("Conv 3x3", "Conv DW 3x3", "Conv 1x1", "Fully connected", "Batch norm")
# The savings marked on the separable ratio's vertical axis: 1/s for each s.
_SAVINGS = (1, 2, 5, 9, 25, 49)
# Where each block label of draw_block_savings goes, by N: offset in points, alignment.
_BLOCK_LABEL_PLACES = {64: (6, 5, "left", "bottom"), 128: (6, 5, "left", "bottom"), 256: (6, 5, "left", "bottom"),
                       512: (-6, -5, "right", "top"), 1024: (-4, -28, "right", "top")}


def _kernel_color(k, index=0):
    return KERNEL_COLORS.get(k, EXTRA_COLORS[index % len(EXTRA_COLORS)])


def _log2_ticks(ax, ticks):
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, labels=[str(t) for t in ticks])


def draw_separable_ratio(measured, max_channels=1024):
    """Depthwise separable over standard convolution cost, 1/N + 1/k², against the output channels N.

    One curve per kernel size k of ``measured`` (in order of appearance), its
    floor 1/k² dotted, and the ratios counted from Keras layers as dots on it;
    the source notes' example (3×3, 16→32 channels: 656 / 4,608) is
    annotated. Both axes are logarithmic (base 2 for N); the ratio is the same
    for parameters and MACs (stride 1, no biases), and each vertical tick
    reads as "so many times fewer".

    Args:
        measured: a DataFrame with columns k, N and measured (the
            ``analysis.cost.separable.keras_layer_ratios`` table).
        max_channels: the curves run over N = 1 … max_channels.

    Returns:
        The matplotlib Figure.
    """
    check_rows(measured, ("k", "N", "measured"), "measured", "a keras_layer_ratios table")
    channels = np.arange(1, max_channels + 1)
    fig, ax = plt.subplots(figsize=(9.5, 5.8))
    for i, k in enumerate(measured["k"].drop_duplicates()):
        color = _kernel_color(k, i)
        ax.plot(channels, 1 / channels + 1 / k**2, color=color, linewidth=2, label=f"{k}×{k}: 1/N + 1/{k * k}")
        ax.axhline(1 / k**2, color=color, linestyle=":", linewidth=1)
        ax.text(1.1, 1 / k**2 * 0.96, f"floor 1/{k * k}", color=color, ha="left", va="top", fontsize=9)
        points = measured[measured["k"] == k]
        ax.scatter(points["N"], points["measured"], color=color, edgecolor="black", zorder=3, s=36)
    ax.scatter([], [], color="white", edgecolor="black", s=36, label="measured: Keras count_params()")
    notes_ratio = separable_ratio(3, 32)
    ax.annotate(
        f"the notes: 3×3, 16→32\n656 / 4,608 = {notes_ratio:.3f} ({1 / notes_ratio:.1f}× fewer)",
        xy=(32, notes_ratio), xytext=(40, 0.45), fontsize=9,
        arrowprops={"arrowstyle": "->", "color": "0.3"},
    )
    _log2_ticks(ax, [1, 4, 16, 64, 256, 1024])
    ax.set_yscale("log")
    ax.set_xlim(0.9, 1150)
    ax.set_ylim(0.015, 1.4)
    ax.minorticks_off()
    ax.set_yticks([1 / s for s in _SAVINGS],
                  labels=["1 (same cost)"] + [f"{1 / s:.3g} ({s}× fewer)" for s in _SAVINGS[1:]])
    ax.set_xlabel("output channels N (log scale)")
    ax.set_ylabel("separable / standard cost (log scale)")
    ax.set_title("Depthwise separable over standard convolution: 1/N + 1/k²")
    ax.legend(loc="upper right", fontsize=9)
    return fig


def _draw_blocks_on_curve(ax, blocks):
    """The k = 3 curve from N = 8 to 2048 with each group of blocks of one N on it, labelled."""
    color = KERNEL_COLORS[3]
    wide = np.geomspace(8, 2048, 200)
    ax.plot(wide, 1 / wide + 1 / 9, color=color, linewidth=2, label="3×3: 1/N + 1/9")
    ax.axhline(1 / 9, color=color, linestyle=":", linewidth=1)
    ax.text(20, 1 / 9, "floor 1/9 (9× fewer)", color=color, va="top", fontsize=9)
    ax.scatter(blocks["N"], blocks["ratio"], color=MODEL_COLORS["MobileNet"], edgecolor="black", zorder=3, s=50,
               label="MobileNet blocks")
    for n, members in blocks.groupby("N").groups.items():
        first, last = min(members), max(members)
        text = f"block {first}" if first == last else f"blocks {first}–{last}"
        dx, dy, ha, va = _BLOCK_LABEL_PLACES.get(n, (6, 5, "left", "bottom"))
        ax.annotate(f"{text}\nN={n}, {1 / (1 / n + 1 / 9):.1f}×", xy=(n, 1 / n + 1 / 9), xytext=(dx, dy),
                    textcoords="offset points", ha=ha, va=va, fontsize=8,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
                    arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.6, "shrinkB": 4})
    _log2_ticks(ax, [16, 32, 64, 128, 256, 512, 1024, 2048])
    ax.set_xlim(16, 2048)
    ax.minorticks_off()
    ax.set_ylim(0.105, 0.135)
    ax.set_xlabel("output channels N (log scale)")
    ax.set_ylabel("separable / standard 3×3 MACs")
    ax.set_title("MobileNet's blocks on the curve")
    ax.legend(loc="upper right", fontsize=9)


def _draw_block_macs(ax, blocks):
    """Each block's MACs (millions), standard 3×3 against separable, with the saving at the end of each bar."""
    positions = np.arange(len(blocks))
    ax.barh(positions - 0.2, blocks["standard_macs"] / 1e6, height=0.4, color=layer_color("Conv2D"),
            label="standard 3×3 convolution")
    ax.barh(positions + 0.2, blocks["separable_macs"] / 1e6, height=0.4, color=MODEL_COLORS["MobileNet"],
            label="depthwise separable (MobileNet)")
    for position, (standard_macs, saving) in enumerate(zip(blocks["standard_macs"], blocks["saving"])):
        ax.text(standard_macs / 1e6 + 8, position - 0.2, f"{saving:.1f}×", va="center", fontsize=8)
    ax.set_yticks(positions, labels=[f"block {i} ({row.M}→{row.N}, {row.output})" for i, row in blocks.iterrows()],
                  fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.15 * blocks["standard_macs"].max() / 1e6)
    ax.set_xlabel("MACs per image (millions)")
    ax.set_title("MACs per block")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=9, frameon=False)


def draw_block_savings(blocks):
    """MobileNet's separable blocks against standard 3×3 convolutions, in two panels.

    Left: the k = 3 curve 1/N + 1/9 (N ≥ 16, linear vertical axis) with each
    block at its output channels N and its MAC ratio; blocks of one N share a
    point and a label. Right: each block's MACs per image, in millions,
    standard against separable, with the saving (standard / separable) at the
    end of each bar.

    Args:
        blocks: the ``analysis.cost.separable.block_savings`` table (indexed by
            block; needs M, N, output, ratio, standard_macs, separable_macs,
            saving).

    Returns:
        The matplotlib Figure.
    """
    check_rows(blocks, ("M", "N", "output", "ratio", "standard_macs", "separable_macs", "saving"), "blocks",
               "a block_savings table")
    fig, (curve_ax, bar_ax) = plt.subplots(1, 2, figsize=(14, 5.8), gridspec_kw={"width_ratios": [1, 1.15]})
    _draw_blocks_on_curve(curve_ax, blocks)
    _draw_block_macs(bar_ax, blocks)
    fig.tight_layout()
    return fig


def _share_text(value):
    """A share in %, to 1 decimal (2 below 0.1 %); empty where a network lacks the role."""
    if pd.isna(value):
        return ""
    return f"{value:.1f} %" if value >= 0.1 or value == 0 else f"{value:.2f} %"


def draw_role_shares(roles):
    """Each layer role's share of the parameters (left) and of the MACs (right), one bar per network.

    Args:
        roles: a DataFrame indexed by (network, role), with columns
            ``params_share_%`` and ``macs_share_%`` (``analysis.cost.role_totals``
            of each network, concatenated with the network as the first index
            level). Networks are drawn in their order in the index, roles in
            ``ROLE_ORDER``, then any other role that holds a share (``Conv 7x7``,
            ``Conv DW 5x5``) by name; roles with no share are left out. Shares are in % of each network.

    Returns:
        The matplotlib Figure.
    """
    check_rows(roles, ("params_share_%", "macs_share_%"), "roles", "a table of role_totals per network")
    if roles.index.nlevels != 2:
        raise BadInput(f"roles must be indexed by (network, role). Received an index of {roles.index.nlevels} levels")
    shares = roles[["params_share_%", "macs_share_%"]].rename_axis(["network", "role"]).reset_index().melt(
        id_vars=["network", "role"], var_name="quantity", value_name="share"
    )
    holding = set(shares.loc[shares["share"] > 0, "role"])
    order = [r for r in ROLE_ORDER if r in holding] + sorted(holding - set(ROLE_ORDER))
    networks = list(dict.fromkeys(shares["network"]))
    palette = {label: model_color(label, i) for i, label in enumerate(networks)}
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    for ax, (quantity, title, xlabel) in zip(axes, [
        ("params_share_%", "Share of the parameters", "share of the parameters (%)"),
        ("macs_share_%", "Share of the MACs", "share of the MACs (%)"),
    ]):
        sns.barplot(data=shares[shares["quantity"] == quantity], y="role", x="share", hue="network",
                    order=order, hue_order=networks, palette=palette, ax=ax)
        for container in ax.containers:  # one per network; no label where a network lacks the role
            ax.bar_label(container, padding=3, fontsize=8, labels=[_share_text(v) for v in container.datavalues])
        ax.set_xlim(0, 112)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("")
        ax.set_title(title)
        ax.legend(title="", loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def _check_blocks_by_network(blocks_by_network, columns):
    if not isinstance(blocks_by_network, dict) or not blocks_by_network:
        raise BadInput("blocks_by_network must be a non-empty dict of network label -> block_totals table. "
                       f"Received {blocks_by_network!r:.80}")
    for label, blocks in blocks_by_network.items():
        check_rows(blocks, columns, f"blocks_by_network[{label!r}]", "a block_totals table")


def _count_text(value):
    """A count in millions (2 decimals), or as is below 10,000."""
    return f"{value / 1e6:,.2f} M" if value >= 10_000 else f"{value:,}"


def draw_block_shares(blocks_by_network):
    """Each block's share of its network's parameters (left) and MACs (right), one row of panels per network.

    Each bar is labelled with its share (%) and, in grey, its count (in
    millions, or as is below 10,000); blocks read top down in layer order.

    Args:
        blocks_by_network: dict mapping a network label to its
            ``analysis.cost.block_totals`` table (indexed by block; needs
            params, macs, ``params_share_%``, ``macs_share_%``).

    Returns:
        The matplotlib Figure.
    """
    _check_blocks_by_network(blocks_by_network, ("params", "macs", "params_share_%", "macs_share_%"))
    fig, axes = plt.subplots(
        len(blocks_by_network), 2, figsize=(13, 5 * len(blocks_by_network)), squeeze=False,
        gridspec_kw={"height_ratios": [len(blocks) for blocks in blocks_by_network.values()]},
    )
    for row, (label, blocks) in enumerate(blocks_by_network.items()):
        for col, (column, unit) in enumerate([("params", "parameters"), ("macs", "MACs")]):
            ax = axes[row, col]
            shares = blocks[f"{column}_share_%"]
            bars = ax.barh(blocks.index, shares, color=model_color(label, row))
            ax.bar_label(bars, padding=3, fontsize=8, labels=[
                f"{s:.1f} %" if s >= 0.1 else f"{s:.2f} %" for s in shares
            ])
            for bar, value in zip(bars, blocks[column]):
                ax.annotate(_count_text(value), xy=(bar.get_width(), bar.get_y() + bar.get_height() / 2),
                            xytext=(48, 0), textcoords="offset points", va="center", fontsize=8, color="0.4")
            ax.invert_yaxis()
            ax.set_xlim(0, 1.45 * shares.max())
            ax.set_xlabel(f"share of the {unit} (%)")
            ax.set_title(f"{label}: {unit} per block")
    fig.tight_layout()
    return fig


def draw_params_per_block(blocks_by_network):
    """The parameters of each block, one panel per network, on one shared logarithmic axis.

    Each bar is labelled with its count; blocks without parameters (pooling)
    are left out. The axis starts at the power of ten below the smallest
    block and ends at 20 times the largest.

    Args:
        blocks_by_network: dict mapping a network label to a table indexed by
            block with a ``params`` column (``analysis.cost.block_totals``, or
            the shape trace grouped by block).

    Returns:
        The matplotlib Figure.
    """
    _check_blocks_by_network(blocks_by_network, ("params",))
    all_params = pd.concat([blocks["params"] for blocks in blocks_by_network.values()])
    if not (all_params > 0).any():
        raise BadInput("blocks_by_network has no block with parameters. Received only zero counts")
    fig, axes = plt.subplots(1, len(blocks_by_network), figsize=(6 * len(blocks_by_network), 5.5), sharex=True,
                             squeeze=False)
    for i, (ax, (label, blocks)) in enumerate(zip(axes[0], blocks_by_network.items())):
        shown = blocks[blocks["params"] > 0]
        bars = ax.barh(shown.index, shown["params"], color=model_color(label, i))
        ax.bar_label(bars, labels=[f"{p:,}" for p in shown["params"]], padding=3, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_title(f"{label}: parameters per block")
        ax.set_xlabel("parameters (log scale)")
        ax.set_ylabel("")
    axes[0, 0].set_xlim(
        left=10 ** math.floor(math.log10(all_params[all_params > 0].min())), right=20 * all_params.max()
    )
    fig.tight_layout()
    return fig


def draw_alpha_rho_heatmaps(sweep):
    """MobileNet's MACs per image (left) and parameters (right), in millions, over width α and resolution.

    α down the rows (widest at the top), the input resolution in pixels
    across the columns (largest at the left), the value in each cell.

    Args:
        sweep: a DataFrame with one row per variant and columns alpha,
            resolution, macs and params (``analysis.cost.cost_sweep``).

    Returns:
        The matplotlib Figure.
    """
    check_rows(sweep, ("alpha", "resolution", "macs", "params"), "sweep", "a cost_sweep table")
    millions = sweep.assign(macs_millions=sweep["macs"] / 1e6, params_millions=sweep["params"] / 1e6)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for ax, (column, title, fmt, cmap) in zip(axes, [
        ("macs_millions", "MACs per image (millions)", ".0f", "rocket_r"),
        ("params_millions", "parameters (millions)", ".2f", "mako_r"),
    ]):
        grid = millions.pivot(index="alpha", columns="resolution", values=column)
        grid = grid.sort_index(ascending=False).sort_index(axis=1, ascending=False)
        sns.heatmap(grid, annot=True, fmt=fmt, cmap=cmap, linewidths=0.5, ax=ax,
                    cbar_kws={"label": title}, annot_kws={"fontsize": 10})
        ax.tick_params(axis="y", labelrotation=0)
        ax.set_xlabel("input resolution (pixels)")
        ax.set_ylabel("width multiplier α")
        ax.set_title(f"MobileNet: {title}")
    fig.tight_layout()
    return fig
