"""Figures of accuracy against cost: points, groups and the Pareto front."""

import numbers

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from analysis.accuracy.tradeoffs import pareto_front
from analysis.errors import BadInput
from analysis.plots.style import check_columns, model_color


# Width multipliers and input resolutions of MobileNet, one colour and one marker
# each in every accuracy-against-cost figure of the suite (viridis: α ordered).
ALPHA_COLORS = {1.0: "#440154", 0.75: "#31688e", 0.5: "#21a585", 0.25: "#a8d62c"}
RESOLUTION_MARKERS = {224: "o", 192: "s", 160: "^", 128: "v"}
_MARKER_CYCLE = ("o", "s", "^", "v", "D", "P", "X", "*")


def draw_tradeoff(table, x, y, hue=None, ax=None, style=None, palette=None, markers=None, pareto=False,
                  label_column=None, logx=True, connect=False, legend="best", style_title=None):
    """Accuracy (or any benefit) against a cost, one point per row of ``table``.

    Rows with a missing ``x`` or ``y`` are left out. Points are coloured by
    ``hue`` and marked by ``style``; with ``pareto``, the Pareto front (the
    points that no other point beats on both lower ``x`` and higher ``y``,
    ``analysis.tradeoffs.pareto_front``) is ringed and joined by a dashed
    staircase: the best ``y`` that any budget of ``x`` buys.

    Args:
        table: a DataFrame with the columns named below.
        x, y: the cost and the benefit columns.
        hue: a column of groups, one colour each (in order of appearance).
        ax: the Axes to draw into; a new figure if None.
        style: a column whose values pick the marker of each point.
        palette: dict mapping a ``hue`` value to a colour; unlisted values take
            ``model_color`` (VGG16, MobileNet ...) or a spare colour.
        markers: dict mapping a ``style`` value to a marker; unlisted values
            take the next of ``o s ^ v D P X *``. Rows without a style get ``o``.
        pareto: mark the Pareto front of all the points drawn.
        label_column: a column of text written beside each point (empty or
            missing: no text).
        logx: a logarithmic x axis.
        connect: join the points of each ``hue`` group by a thin line, in x order.
        legend: a matplotlib legend location, or False for none.
        style_title: the words before each ``style`` value in the legend
            (default: the column name).

    Returns:
        The matplotlib Axes.
    """
    needed = [c for c in (x, y, hue, style, label_column) if c is not None]
    check_columns(table, needed, "table", "a DataFrame")
    rows = table[table[x].notna() & table[y].notna()]
    if rows.empty:
        raise BadInput(f"table has no row with both {x!r} and {y!r}. Received {len(table)} rows")
    if logx and (rows[x] <= 0).any():
        raise BadInput(f"logx needs positive {x!r} values. Received {x}={float(rows[x].min())!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 5.5))
    if logx:
        ax.set_xscale("log")
    palette = dict(palette or {})
    markers = dict(markers or {})
    groups = list(rows[hue].drop_duplicates()) if hue is not None else [None]
    colors = {g: palette.get(g, model_color(g, i)) for i, g in enumerate(groups)}

    def marker_of(value):
        if style is None or pd.isna(value):
            return "o"
        if value not in markers:
            used = set(markers.values())
            markers[value] = next((m for m in _MARKER_CYCLE if m not in used), "o")
        return markers[value]

    handles, multi_style = [], []
    for group in groups:
        part = rows if group is None else rows[rows[hue] == group]
        part = part.sort_values([x, y])
        color = colors[group]
        if connect and len(part) > 1:
            ax.plot(part[x], part[y], color=color, linewidth=1.0, alpha=0.6, zorder=2)
        styles = list(part[style]) if style is not None else [None] * len(part)
        for (_, row), value in zip(part.iterrows(), styles):
            ax.scatter(row[x], row[y], s=46, marker=marker_of(value), color=color, edgecolor="white",
                       linewidth=0.6, zorder=3)
        group_markers = {marker_of(v) for v in styles}
        if len(group_markers) > 1:
            multi_style += [v for v in styles if v not in multi_style]
        if group is not None:
            handles.append(Line2D([], [], color=color, linestyle="-" if connect and len(part) > 1 else "",
                                  marker=group_markers.pop() if len(group_markers) == 1 else "o",
                                  markersize=7, label=str(group)))
    title = style if style_title is None else style_title
    for value in sorted(multi_style, key=lambda v: (-v if isinstance(v, numbers.Number) else 0, str(v))):
        handles.append(Line2D([], [], color="0.45", linestyle="", marker=marker_of(value), markersize=7,
                              label=f"{title} {value}".strip()))

    if pareto:
        front = rows[pareto_front(rows[x], rows[y])].sort_values(x)
        ax.step(front[x], front[y], where="post", color="0.2", linestyle="--", linewidth=1.1, zorder=1)
        ax.scatter(front[x], front[y], s=150, facecolors="none", edgecolors="0.2", linewidth=1.0, zorder=4)
        handles.append(Line2D([], [], color="0.2", linestyle="--", marker="o", markersize=10,
                              markerfacecolor="none", label="Pareto front"))

    if label_column is not None:
        # Text centred above each point, clear of the lines; room made for it at the top.
        labelled = False
        for _, row in rows.iterrows():
            text = row[label_column]
            if isinstance(text, str) and text:
                ax.annotate(text, (row[x], row[y]), xytext=(0, 8), textcoords="offset points",
                            ha="center", va="bottom", fontsize=8, color="0.2")
                labelled = True
        if labelled:
            ax.margins(y=0.1)
    if logx and 1e-3 <= rows[x].min() and rows[x].max() <= 1e5:
        # Plain numbers (0.5, 2, 10, 100) read better than powers of ten at these scales;
        # within two decades, ticks at 1, 2 and 5 of each decade.
        if rows[x].max() / rows[x].min() < 100:
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if legend and handles:
        ax.legend(handles=handles, loc=legend, fontsize=8, frameon=True)
    return ax
