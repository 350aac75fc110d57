"""Figures of accuracy against cost: points, groups and the Pareto front.

Accuracies are in % (top-1), costs as the table holds them (MACs or
parameters in millions, latency in ms per image); the Pareto front is
``analysis.accuracy.tradeoffs.pareto_front`` (lower cost, higher accuracy).

A cost that is a measured time is drawn with its spread: where the table holds the quartiles or
the interquartile range of the x column (``<x>_q1`` and ``<x>_q3``, or ``<x>_iqr``; for
``ms_per_image``, also a latency row's ``iqr_ms`` / batch), each point has a horizontal error bar
from q1 to q3, the IQR centred on the median (``analysis.plots.style.quartiles``).
"""

import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from analysis.accuracy.tradeoffs import pareto_front
from nets.errors import BadInput
from analysis.plots.style import MODEL_COLORS, check_columns, iqr_errors, model_color
from analysis.variants import Variant


# Width multipliers and input resolutions of MobileNet, one colour and one marker
# each in every accuracy-against-cost figure of the suite (viridis: α ordered).
ALPHA_COLORS = {1.0: "#440154", 0.75: "#31688e", 0.5: "#21a585", 0.25: "#a8d62c"}
RESOLUTION_MARKERS = {224: "o", 192: "s", 160: "^", 128: "v"}
_MARKER_CYCLE = ("o", "s", "^", "v", "D", "P", "X", "*")


@dataclass(frozen=True)
class TradeoffStyle:
    """How ``draw_tradeoff`` draws the rows of a table: which columns group, mark and label them.

    Attributes:
        hue: a column of groups, one colour each (in order of appearance).
        shape: a column whose values pick the marker of each point.
        palette: mapping of a ``hue`` value to a colour; unlisted values take
            ``model_color`` (VGG16, MobileNet ...) or a spare colour.
        markers: mapping of a ``shape`` value to a marker; unlisted values take
            the next of ``o s ^ v D P X *``. Rows without a shape get ``o``.
        shape_title: the words before each ``shape`` value in the legend
            (default: the column name).
        pareto: ring the Pareto front of all the points drawn and join it by a
            dashed staircase.
        label_column: a column of text written above each point (empty or
            missing: no text).
        logx: a logarithmic x axis.
        connect: join the points of each ``hue`` group by a thin line, in x order.
        x_margin: the Axes' x margin (a fraction of the data range), if given.
    """

    hue: str = None
    shape: str = None
    palette: Mapping = None
    markers: Mapping = None
    shape_title: str = None
    pareto: bool = False
    label_column: str = None
    logx: bool = True
    connect: bool = False
    x_margin: float = None

    def columns(self):
        """The columns of a table that this style reads."""
        return [c for c in (self.hue, self.shape, self.label_column) if c is not None]


# The published accuracies of notebook 05 (``analysis.accuracy.tradeoffs.paper_points``): one
# colour per width multiplier, one marker per resolution, VGG16 and the Conv MobileNet apart.
PAPER_STYLE = TradeoffStyle(
    hue="group", shape="shape",
    palette={**{f"MobileNet α = {alpha:g}": color for alpha, color in ALPHA_COLORS.items()},
             "VGG16": MODEL_COLORS["VGG16"], "Conv MobileNet": "#333333"},
    markers={**RESOLUTION_MARKERS, "VGG16": "D", "Conv MobileNet": "P"},
    shape_title="resolution", pareto=True, label_column="label", connect=True,
)

# Accuracy against deployed latency (``analysis.accuracy.tradeoffs.deployed_points``): one colour
# per network, one marker per precision, the Pareto front's points named.
DEPLOYED_STYLE = TradeoffStyle(hue="network", shape="precision", markers={"fp32": "o", "bf16": "s", "int8": "^"},
                               shape_title="precision", pareto=True, label_column="label")


def draw_deployed_tradeoff(points, title=None, ylabel="held-out top-1 (%)"):
    """Held-out accuracy (%) against ms per image for every deployed configuration of each
    network (``deployed_points``), coloured by network, marked by precision, the Pareto
    front over all of them ringed and named; the latency's interquartile range
    (``ms_per_image_iqr``) as horizontal error bars. Returns the Figure."""
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    draw_tradeoff(points, "ms_per_image", "accuracy_%", style=DEPLOYED_STYLE, ax=ax)
    ax.set(xlabel="ms per image, batch 1 (log)", ylabel=ylabel)
    if title:
        ax.set_title(title, loc="left")
    fig.tight_layout()
    return fig


def alpha_palette(labels):
    """A colour per variant label: ``ALPHA_COLORS`` of its width multiplier, VGG16's colour without one."""
    return {label: ALPHA_COLORS.get(Variant.parse(label).alpha, MODEL_COLORS["VGG16"]) for label in labels}


def _check_tradeoff(table, x, y, style):
    check_columns(table, [x, y, *style.columns()], "table", "a DataFrame")
    rows = table[table[x].notna() & table[y].notna()]
    if rows.empty:
        raise BadInput(f"table has no row with both {x!r} and {y!r}. Received {len(table)} rows")
    if style.logx and (rows[x] <= 0).any():
        raise BadInput(f"logx needs positive {x!r} values. Received {x}={float(rows[x].min())!r}")
    return rows


def _draw_groups(ax, rows, x, y, style, marker_of):
    """Each ``hue`` group's points (and line, with ``connect``); returns the legend handles and the
    ``shape`` values that differ within a group (those get a legend entry of their own)."""
    hue = style.hue
    palette = dict(style.palette or {})
    groups = list(rows[hue].drop_duplicates()) if hue is not None else [None]
    colors = {g: palette.get(g, model_color(g, i)) for i, g in enumerate(groups)}
    handles, multi_shape = [], []
    for group in groups:
        part = rows if group is None else rows[rows[hue] == group]
        part = part.sort_values([x, y])
        color = colors[group]
        if style.connect and len(part) > 1:
            ax.plot(part[x], part[y], color=color, linewidth=1.0, alpha=0.6, zorder=2)
        spread = iqr_errors(part, x)
        if spread is not None:
            ax.errorbar(part[x], part[y], xerr=spread, fmt="none", ecolor=color, elinewidth=0.9, alpha=0.75,
                        capsize=2, zorder=2.5)
        shapes = list(part[style.shape]) if style.shape is not None else [None] * len(part)
        for (_, row), value in zip(part.iterrows(), shapes):
            ax.scatter(row[x], row[y], s=46, marker=marker_of(value), color=color, edgecolor="white",
                       linewidth=0.6, zorder=3)
        group_markers = {marker_of(v) for v in shapes}
        if len(group_markers) > 1:
            multi_shape += [v for v in dict.fromkeys(shapes) if v not in multi_shape]
        if group is not None:
            handles.append(Line2D([], [], color=color, linestyle="-" if style.connect and len(part) > 1 else "",
                                  marker=group_markers.pop() if len(group_markers) == 1 else "o",
                                  markersize=7, label=str(group)))
    return handles, multi_shape


def _shape_handles(multi_shape, style, marker_of):
    title = style.shape if style.shape_title is None else style.shape_title
    return [Line2D([], [], color="0.45", linestyle="", marker=marker_of(value), markersize=7,
                   label=f"{title} {value}".strip())
            for value in sorted(multi_shape, key=lambda v: (-v if isinstance(v, numbers.Number) else 0, str(v)))]


def _draw_pareto(ax, rows, x, y):
    front = rows[pareto_front(rows[x], rows[y])].sort_values(x)
    ax.step(front[x], front[y], where="post", color="0.2", linestyle="--", linewidth=1.1, zorder=1)
    ax.scatter(front[x], front[y], s=150, facecolors="none", edgecolors="0.2", linewidth=1.0, zorder=4)
    return Line2D([], [], color="0.2", linestyle="--", marker="o", markersize=10, markerfacecolor="none",
                  label="Pareto front")


def _draw_point_labels(ax, rows, x, y, label_column):
    """Text centred above each point, clear of the lines; room made for it at the top."""
    labelled = False
    for _, row in rows.iterrows():
        text = row[label_column]
        if isinstance(text, str) and text:
            ax.annotate(text, (row[x], row[y]), xytext=(0, 8), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, color="0.2")
            labelled = True
    if labelled:
        ax.margins(y=0.1)


def _plain_log_ticks(ax, values):
    """Plain numbers (0.5, 2, 10, 100) read better than powers of ten at these scales;
    within two decades, ticks at 1, 2 and 5 of each decade."""
    if 1e-3 <= values.min() and values.max() <= 1e5:
        if values.max() / values.min() < 100:
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def draw_tradeoff(table, x, y, style=None, ax=None, legend="best"):
    """Accuracy (or any benefit) against a cost, one point per row of ``table``.

    Rows with a missing ``x`` or ``y`` are left out. Where ``x`` is a time with
    its spread in the table (``<x>_iqr``, ``<x>_q1``/``<x>_q3``), each point has a
    horizontal error bar over the interquartile range. Points are coloured by
    ``style.hue`` and marked by ``style.shape``; with ``style.pareto``, the
    Pareto front (the points that no other point beats on both lower ``x`` and
    higher ``y``, ``analysis.accuracy.tradeoffs.pareto_front``) is ringed and
    joined by a dashed staircase: the best ``y`` that any budget of ``x`` buys.

    Args:
        table: a DataFrame with the columns named below.
        x, y: the cost and the benefit columns.
        style: a ``TradeoffStyle`` (default: one colour, circles, log x axis).
        ax: the Axes to draw into; a new figure if None.
        legend: a matplotlib legend location, or False for none.

    Returns:
        The matplotlib Axes.
    """
    style = TradeoffStyle() if style is None else style
    if not isinstance(style, TradeoffStyle):
        raise BadInput(f"style must be a TradeoffStyle. Received style={style!r:.80}")
    rows = _check_tradeoff(table, x, y, style)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 5.5))
    if style.logx:
        ax.set_xscale("log")
    markers = dict(style.markers or {})

    def marker_of(value):
        if style.shape is None or pd.isna(value):
            return "o"
        if value not in markers:
            used = set(markers.values())
            markers[value] = next((m for m in _MARKER_CYCLE if m not in used), "o")
        return markers[value]

    handles, multi_shape = _draw_groups(ax, rows, x, y, style, marker_of)
    handles += _shape_handles(multi_shape, style, marker_of)
    if style.pareto:
        handles.append(_draw_pareto(ax, rows, x, y))
    if style.label_column is not None:
        _draw_point_labels(ax, rows, x, y, style.label_column)
    if style.logx:
        _plain_log_ticks(ax, rows[x])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if legend and handles:
        ax.legend(handles=handles, loc=legend, fontsize=8, frameon=True)
    if style.x_margin is not None:
        ax.margins(x=style.x_margin)
    return ax


PANELS_PER_ROW = 3


def draw_tradeoff_panels(table, panels, y, style=None, ylabel=None, title=None, panel_size=(6.5, 5.8),
                         legend="lower right"):
    """``draw_tradeoff`` side by side, one panel per cost column, on one shared y axis, at most
    ``PANELS_PER_ROW`` panels a row (so that the figure reads at page width).

    Args:
        table: the DataFrame of ``draw_tradeoff``.
        panels: dict mapping a cost column (the x of a panel) to its
            (title, x label); panels in its order, titles left aligned.
        y: the benefit column, shared by every panel.
        style: the ``TradeoffStyle`` of every panel.
        ylabel: the first panel's y label (default ``y``); the others have none.
        title: the figure's title, at its top left, if given.
        panel_size: (width, height) of one panel, in inches.
        legend: where the last panel's legend goes, or False for none.

    Returns:
        The matplotlib Figure.
    """
    if not isinstance(panels, dict) or not panels:
        raise BadInput(f"panels must be a non-empty dict of cost column -> (title, x label). Received {panels!r:.80}")
    width, height = panel_size
    columns = min(len(panels), PANELS_PER_ROW)
    rows = -(-len(panels) // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(width * columns, height * rows), sharey=True, squeeze=False)
    axes = list(grid.flat)
    for ax, (x, (panel_title, xlabel)) in zip(axes, panels.items()):
        draw_tradeoff(table, x, y, style, ax=ax, legend=legend if ax is axes[len(panels) - 1] else False)
        ax.set_xlabel(xlabel)
        ax.set_title(panel_title, loc="left")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:len(panels)]:
        ax.set_ylabel((y if ylabel is None else ylabel) if ax in grid[:, 0] else "")
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11)
    fig.tight_layout()
    return fig
