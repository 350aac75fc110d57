"""One figure style for the suite, figure saving, and the architecture picture.

Plotting only: counts come from ``analysis.cost``; this module draws what a
``layer_table`` already holds. Every function uses matplotlib's object API,
so it runs under the non-interactive Agg backend (the command line, CI) as
well as inline in a notebook.
"""

import math
import re
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from analysis import paths
from analysis.cost import block_of

# Seaborn's colour-blind palette, fixed here so that a layer type or a
# model has the same colour in every figure of the suite.
LAYER_TYPE_COLORS = {
    "InputLayer": "#333333",
    "Conv2D": "#0173b2",
    "DepthwiseConv2D": "#56b4e9",
    "BatchNormalization": "#ece133",
    "ReLU": "#de8f05",
    "MaxPooling2D": "#cc78bc",
    "GlobalAveragePooling2D": "#fbafe4",
    "Dropout": "#949494",
    "Dense": "#029e73",
    "Reshape": "#ca9161",
    "Activation": "#d55e00",
    "other": "#dddddd",
}
MODEL_COLORS = {"VGG16": "#d55e00", "MobileNet": "#029e73"}
PALETTE = "colorblind"

PNG_DPI = 150
FIGURE_FORMATS = ("png", "svg")
# A fixed salt makes the ids inside an SVG the same on every run.
_SVG_RC = {"svg.hashsalt": "vgg-mobilenet-suite"}
_STEM = re.compile(r"^[A-Za-z0-9_-]+$")

# Geometry of draw_architecture, in data units.
_GAP = 0.7  # between two boxes of one block
_BLOCK_GAP = 2.0  # between two blocks
_STRIP_WIDTH = 0.6  # one thin layer (batch norm, ReLU, dropout, ...)
_MIN_BOX_WIDTH = 1.0  # a box of 1 or 2 channels
_LABEL_PAD = 0.8  # from the tallest box down to the first row of labels
_LABEL_ROW = 2.6  # between two staggered rows of block labels
_LABEL_FONTSIZE = 7  # points
_CHAR_WIDTH = 0.62  # a label character's width, in units of the font size


def set_style():
    """Apply the suite's figure style: seaborn whitegrid, notebook context, colour-blind palette."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette=PALETTE)
    mpl.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": PNG_DPI,
        "savefig.bbox": "tight",
        "axes.titleweight": "bold",
        **_SVG_RC,
    })


def layer_color(layer_type):
    """The colour of a Keras layer class name; ``LAYER_TYPE_COLORS["other"]`` if unlisted."""
    return LAYER_TYPE_COLORS.get(layer_type, LAYER_TYPE_COLORS["other"])


def save_fig(fig, name, directory=None):
    """Save ``fig`` as ``<name>.png`` (150 dpi) and ``<name>.svg``.

    Args:
        fig: a matplotlib Figure.
        name: the file stem: letters, digits, ``_`` and ``-`` only.
        directory: where to write; defaults to ``analysis.paths.FIGURES_DIR``.
            Created if missing.

    Returns:
        The list of written paths, PNG first.

    Raises:
        ValueError: ``name`` is not a simple file stem, or ``fig`` is not a Figure.
    """
    if not isinstance(name, str) or not _STEM.fullmatch(name):
        raise ValueError(
            "name must be a file stem of letters, digits, '_' and '-' (no directory, no suffix). "
            f"Received name={name!r}"
        )
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure. Received fig={fig!r}")
    directory = Path(paths.FIGURES_DIR if directory is None else directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with mpl.rc_context(_SVG_RC):
        for fmt in FIGURE_FORMATS:
            path = directory / f"{name}.{fmt}"
            metadata = {"Date": None} if fmt == "svg" else None
            fig.savefig(path, format=fmt, dpi=PNG_DPI, bbox_inches="tight", metadata=metadata)
            written.append(path)
    return written


def _shape_text(shape):
    """``(112, 112, 64)`` -> ``112×112×64``."""
    if shape and all(isinstance(d, int) for d in shape):
        return "×".join(str(d) for d in shape)
    return str(shape)


def _is_box(row):
    """A box: the input, a layer with multiply-adds (convolution, dense) or a pooling layer."""
    has_macs = not pd.isna(row["macs"]) and row["macs"] > 0
    return row["type"] == "InputLayer" or has_macs or "Pooling" in row["type"]


def _side_and_channels(shape):
    """Feature-map side (largest spatial size, 1 for a vector) and channels of an output shape."""
    if not shape or not all(isinstance(d, int) for d in shape):
        return 1, 1
    return (max(shape[:-1]) if len(shape) > 1 else 1), shape[-1]


def _label_rows(ax, blocks):
    """A row (0, 1, ...) for each block label, so that no two labels of a row overlap.

    Label widths are estimated from their characters and the current x scale.
    """
    origin, one = ax.transData.transform([(0.0, 0.0), (1.0, 0.0)])
    pixels_per_unit = max(one[0] - origin[0], 1e-9)
    pixels_per_char = _CHAR_WIDTH * _LABEL_FONTSIZE * ax.figure.dpi / 72.0
    row_ends, rows = [], []
    for block in blocks:
        chars = max(len(line) for line in block["label"].split("\n"))
        half = (chars + 1) * pixels_per_char / pixels_per_unit / 2
        centre = (block["start"] + block["end"]) / 2
        row = next((r for r, end in enumerate(row_ends) if end <= centre - half), len(row_ends))
        if row == len(row_ends):
            row_ends.append(None)
        row_ends[row] = centre + half
        rows.append(row)
    return rows


def draw_architecture(table, ax=None, title=None, legend=True):
    """Draw a network from its ``layer_table``, input on the left.

    One box per input, convolution, dense or pooling layer. Box height is
    proportional to the square root of the feature-map side (pixels), box
    width to log2 of the channels. Each box is coloured by layer type
    (``LAYER_TYPE_COLORS``); the layers that follow it without a box
    (batch norm, ReLU, dropout, reshape, ...) are thin strips of their own
    colour at its right. Each block (``analysis.cost.block_of``) is labelled
    once with its output shape, height×width×channels.

    Args:
        table: a ``layer_table`` DataFrame (needs name, type, output_shape, macs).
        ax: the Axes to draw into; a new figure if None. Limits only grow, so
            axes shared between several networks keep one scale.
        title: the title; defaults to the model name in ``table.attrs``.
        legend: draw a legend of the layer types shown.

    Returns:
        The matplotlib Axes.
    """
    missing = {"name", "type", "output_shape", "macs"} - set(table.columns)
    if missing:
        raise ValueError(
            f"table must be a layer_table with columns name, type, output_shape, macs. "
            f"Received a table without {sorted(missing)}"
        )
    if table.empty:
        raise ValueError("table must have at least one layer. Received an empty table")
    # Boxes: (x, width, height, type); strips follow their box.
    boxes, strips, blocks = [], [], []
    x = 0.0
    for row in table.to_dict("records"):
        side, channels = _side_and_channels(row["output_shape"])
        block = block_of(row["name"])
        new_block = not blocks or blocks[-1]["block"] != block
        if _is_box(row) or not boxes:
            if boxes:
                x += _BLOCK_GAP if new_block else _GAP
            width = max(math.log2(max(channels, 1)), _MIN_BOX_WIDTH)
            height = math.sqrt(side)
            boxes.append((x, width, height, row["type"]))
            start, x = x, x + width
        else:
            height = boxes[-1][2]
            strips.append((x, _STRIP_WIDTH, height, row["type"]))
            start, x = x, x + _STRIP_WIDTH
        if new_block:
            blocks.append({"block": block, "start": start, "end": x})
        else:
            blocks[-1]["end"] = x
        blocks[-1]["label"] = f"{block}\n{_shape_text(row['output_shape'])}"

    # Keep what is already drawn on this Axes or on Axes sharing its scale.
    drawn_before = ax is not None and any(
        other.has_data()
        for other in ax.get_shared_x_axes().get_siblings(ax) + ax.get_shared_y_axes().get_siblings(ax)
    )
    if ax is None:
        _, ax = plt.subplots(figsize=(min(max(8.0, x / 16.0), 16.0), 4.8))
    for left, width, height, layer_type in boxes + strips:
        ax.add_patch(Rectangle(
            (left, -height / 2), width, height,
            facecolor=layer_color(layer_type), edgecolor="white", linewidth=0.4,
        ))

    x_lo, x_hi = -_BLOCK_GAP, x + _BLOCK_GAP
    if drawn_before:
        x_lo, x_hi = min(x_lo, ax.get_xlim()[0]), max(x_hi, ax.get_xlim()[1])
    ax.set_xlim(x_lo, x_hi)

    top = max(height for _, _, height, _ in boxes) / 2
    y_line = -top - _LABEL_PAD / 2
    label_rows = _label_rows(ax, blocks)
    for block, row in zip(blocks, label_rows):
        y_text = -top - _LABEL_PAD - row * _LABEL_ROW
        centre = (block["start"] + block["end"]) / 2
        ax.plot([block["start"], block["end"]], [y_line, y_line], color="0.35", linewidth=1.0,
                solid_capstyle="butt")
        if row:
            ax.plot([centre, centre], [y_line, y_text + 0.2], color="0.75", linewidth=0.6)
        ax.text(centre, y_text, block["label"], ha="center", va="top",
                fontsize=_LABEL_FONTSIZE, linespacing=1.1)

    y_lo, y_hi = -top - _LABEL_PAD - (max(label_rows) + 1) * _LABEL_ROW, top + 0.5
    if drawn_before:
        y_lo, y_hi = min(y_lo, ax.get_ylim()[0]), max(y_hi, ax.get_ylim()[1])
    ax.set_ylim(y_lo, y_hi)
    ax.set_axis_off()
    ax.set_title(table.attrs.get("model", "") if title is None else title, loc="left")
    if legend:
        shown = {layer_type for *_, layer_type in boxes + strips}
        names = [t for t in LAYER_TYPE_COLORS if t in shown]
        if any(t not in LAYER_TYPE_COLORS for t in shown):
            names.append("other")
        handles = [Patch(facecolor=LAYER_TYPE_COLORS[t], label=t) for t in names]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  ncol=min(len(handles), 6), fontsize=8, frameon=False, title_fontsize=8,
                  title="box height ∝ √(feature-map side, pixels); box width ∝ log2(channels)")
    return ax


# Runtimes of analysis.latency, one colour each in every figure of the suite.
RUNTIME_COLORS = {"keras": "#0173b2", "xla": "#cc78bc", "litert": "#029e73", "torch": "#de8f05"}
# Markers of the roofline's layer groups (analysis.roofline.role_group).
ROLE_MARKERS = {"Matrix product": "o", "Depthwise": "^", "Other": "s"}
_EXTRA_COLORS = ("#0173b2", "#de8f05", "#cc78bc", "#ca9161", "#949494", "#56b4e9")


def model_color(label, index=0):
    """The colour of a model label: ``MODEL_COLORS`` by exact name, then by prefix
    (``MobileNet 0.5/160`` is a MobileNet), else the ``index``-th spare colour."""
    if label in MODEL_COLORS:
        return MODEL_COLORS[label]
    for name, color in MODEL_COLORS.items():
        if str(label).startswith(name):
            return color
    return _EXTRA_COLORS[index % len(_EXTRA_COLORS)]


def _check_columns(frame, columns, argument, what):
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(
            f"{argument} must be {what} with columns {', '.join(columns)}. "
            f"Received a table without {sorted(missing)}"
        )


def draw_roofline(bounds_by_model, profile, ax=None, measured=None):
    """The roofline chart of every layer of one or more networks.

    Log-log: arithmetic intensity (operations per byte of least traffic) on
    x, attainable GFLOP/s on y. The roofs come from ``profile``: the DRAM
    bandwidth line, the cache bandwidth line and the flat measured peak (the
    theoretical peak, where known, as a dotted line). Each layer is a point at
    its intensity and its attainable throughput (ops / bound time, so it sits
    on a roof) or, with ``measured``, its achieved throughput (ops / measured
    time). Points are coloured by model and marked by layer group: matrix
    product (full, pointwise and fully connected convolutions), depthwise,
    other. Counting lives in ``analysis.roofline``; this only draws.

    Args:
        bounds_by_model: dict mapping a model label to its
            ``analysis.roofline.layer_bounds`` / ``machine_bounds`` table
            (needs name, role, ops, intensity, bound_ms).
        profile: an ``analysis.machine.MachineProfile`` or its dict.
        ax: the Axes to draw into; a new figure if None.
        measured: optional dict mapping a model label to a DataFrame with
            name and measured_ms (``analysis.roofline.time_layers``, same batch
            as the bounds). Layers without a measured time are left out.

    Returns:
        The matplotlib Axes.
    """
    from matplotlib.lines import Line2D

    from analysis.roofline import role_group

    if not isinstance(bounds_by_model, dict) or not bounds_by_model:
        raise ValueError(
            f"bounds_by_model must be a non-empty dict of label -> bounds table. Received {bounds_by_model!r:.80}")
    p = profile if isinstance(profile, dict) else profile.to_dict()
    for key in ("peak_gflops", "bandwidth_gbs"):
        if not p.get(key) or p[key] <= 0:
            raise ValueError(f"profile must have a positive {key}. Received {key}={p.get(key)!r}")
    if measured is not None:
        unknown = set(measured) - set(bounds_by_model)
        if unknown:
            raise ValueError(
                f"measured must be keyed by labels of bounds_by_model. Received labels {sorted(unknown)}")

    points = []  # (label, group, intensity, gflops)
    for label, bounds in bounds_by_model.items():
        _check_columns(bounds, ("name", "role", "ops", "intensity", "bound_ms"), "each bounds table",
                       "a layer_bounds table")
        rows = bounds[(bounds["ops"] > 0) & (bounds["intensity"] > 0)]
        if measured is not None:
            if label not in measured:
                continue
            _check_columns(measured[label], ("name", "measured_ms"), f"measured[{label!r}]",
                           "a time_layers table")
            rows = rows.merge(measured[label][["name", "measured_ms"]], on="name", how="inner")
            seconds = rows["measured_ms"] / 1e3
        else:
            seconds = rows["bound_ms"] / 1e3
        gflops = rows["ops"] / seconds / 1e9
        for role, x, y in zip(rows["role"], rows["intensity"], gflops):
            points.append((label, role_group(role), float(x), float(y)))
    if not points:
        raise ValueError("No layer to draw: no layer with ops > 0 (or with a measured time) in the tables given")

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 6))
    ax.set_xscale("log")
    ax.set_yscale("log")
    labels = list(bounds_by_model)
    for label, group, x, y in points:
        ax.scatter(x, y, s=34, marker=ROLE_MARKERS[group], color=model_color(label, labels.index(label)),
                   edgecolor="white", linewidth=0.5, alpha=0.85, zorder=3)

    xs = [x for *_, x, _ in points]
    ys = [y for *_, y in points]
    peak, dram = p["peak_gflops"], p["bandwidth_gbs"]
    cache = p.get("cache_bandwidth_gbs") or None
    theoretical = p.get("theoretical_peak_gflops") or None
    x_lo = 10 ** math.floor(math.log10(min(xs) / 1.5))
    x_hi = 10 ** math.ceil(math.log10(max(max(xs) * 2, 2 * peak / dram)))
    grid = [x_lo * (x_hi / x_lo) ** (i / 200) for i in range(201)]
    roofs = [(dram, "DRAM", "0.15", "-")]
    if cache:
        roofs.append((cache, "cache", "0.45", "--"))
    for bandwidth, name, color, style in roofs:
        ax.plot(grid, [min(peak, bandwidth * x) for x in grid], color=color, linestyle=style, linewidth=1.6,
                zorder=2)
    y_top = peak
    if theoretical and theoretical > peak:
        ax.axhline(theoretical, color="0.6", linestyle=":", linewidth=1.2, zorder=2)
        ax.annotate(f"theoretical peak {theoretical:,.0f} GFLOP/s", (x_hi, theoretical), xytext=(-4, 4),
                    textcoords="offset points", ha="right", va="bottom", fontsize=8, color="0.45")
        y_top = theoretical
    # Below its line, so that it never meets the theoretical peak's label above.
    ax.annotate(f"measured peak {peak:,.0f} GFLOP/s", (x_hi, peak), xytext=(-4, -4), textcoords="offset points",
                ha="right", va="top", fontsize=8, color="0.15")
    y_lo = 10 ** math.floor(math.log10(min(ys) / 2))
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_top * 3)
    # Each bandwidth roof is labelled along its slope, a decade left of its ridge point
    # (or where it enters the plot), rotated to the slope as drawn.
    for bandwidth, name, color, _ in roofs:
        ridge = peak / bandwidth
        x_text = max(ridge / 10, x_lo * 1.3, y_lo * 1.3 / bandwidth)
        if x_text >= ridge:
            continue
        (x0, y0), (x1, y1) = ax.transData.transform([(x_text, bandwidth * x_text), (2 * x_text, 2 * bandwidth * x_text)])
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        ax.annotate(f"{name} {bandwidth:,.0f} GB/s", (x_text, bandwidth * x_text), xytext=(0, 4),
                    textcoords="offset points", rotation=angle, rotation_mode="anchor", fontsize=8,
                    color=color, ha="left", va="bottom")
    ax.set_xlabel("arithmetic intensity (operations per byte of traffic, log scale)")
    what = "achieved (measured time)" if measured is not None else "attainable (roofline bound)"
    ax.set_ylabel(f"GFLOP/s, {what}, log scale")

    handles = [Line2D([], [], linestyle="", marker="o", markersize=7, color=model_color(label, i), label=label)
               for i, label in enumerate(labels) if any(point[0] == label for point in points)]
    shown = [group for group in ROLE_MARKERS if any(point[1] == group for point in points)]
    handles += [Line2D([], [], linestyle="", marker=ROLE_MARKERS[group], markersize=7, color="0.4", label=group)
                for group in shown]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=True)
    return ax


def draw_predicted_vs_measured(validation, ax=None, label_worst=4):
    """Predicted against measured latency, one point per (runtime, variant).

    Log-log, with the line y = x and a ±10 % band around it; points coloured
    by runtime (``RUNTIME_COLORS``); the ``label_worst`` points of largest
    relative error are labelled with their variant.

    Args:
        validation: a DataFrame with runtime, variant, measured_ms and
            predicted_ms (``analysis.roofline.latency_model_study``'s second
            result).
        ax: the Axes to draw into; a new figure if None.
        label_worst: how many of the worst points to label (0: none).

    Returns:
        The matplotlib Axes.
    """
    _check_columns(validation, ("runtime", "variant", "measured_ms", "predicted_ms"), "validation",
                   "a latency-model validation table")
    rows = validation[(validation["measured_ms"] > 0) & (validation["predicted_ms"] > 0)]
    if rows.empty:
        raise ValueError("validation must have at least one row with positive measured_ms and predicted_ms. "
                         f"Received {len(validation)} rows, none usable")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 6.5))
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo = min(rows["measured_ms"].min(), rows["predicted_ms"].min()) / 1.5
    hi = max(rows["measured_ms"].max(), rows["predicted_ms"].max()) * 1.5
    grid = [lo * (hi / lo) ** (i / 100) for i in range(101)]
    ax.fill_between(grid, [0.9 * x for x in grid], [1.1 * x for x in grid], color="0.85", zorder=1,
                    label="±10 %")
    ax.plot(grid, grid, color="0.3", linewidth=1.0, zorder=2, label="predicted = measured")
    for i, (runtime, group) in enumerate(rows.groupby("runtime", sort=False)):
        color = RUNTIME_COLORS.get(runtime, _EXTRA_COLORS[i % len(_EXTRA_COLORS)])
        ax.scatter(group["measured_ms"], group["predicted_ms"], s=36, color=color, edgecolor="white",
                   linewidth=0.5, zorder=3, label=runtime)
    error = (rows["predicted_ms"] / rows["measured_ms"] - 1.0).abs()
    for index in error.nlargest(max(int(label_worst), 0)).index:
        row = rows.loc[index]
        right_half = math.log(row["measured_ms"] / lo) > math.log(hi / lo) / 2
        ax.annotate(f"{row['variant']} ({row['runtime']}, {100 * (row['predicted_ms'] / row['measured_ms'] - 1):+.0f} %)",
                    (row["measured_ms"], row["predicted_ms"]), xytext=(-6 if right_half else 6, -3),
                    textcoords="offset points", ha="right" if right_half else "left", fontsize=7, color="0.25")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("measured median latency, ms (log scale)")
    ax.set_ylabel("predicted latency, ms (log scale)")
    ax.legend(loc="upper left", fontsize=8)
    return ax


# The latency model's terms (analysis.roofline.LatencyModel.terms), in drawing order.
LATENCY_TERMS = {
    "Matrix product": ("matrix products (× their bound)", "#0173b2"),
    "Depthwise": ("depthwise convolutions (× their bound)", "#029e73"),
    "Other": ("at their bound (pooling, fully connected)", "#949494"),
    "layers": ("per layer", "#de8f05"),
    "depthwise_positions": ("per depthwise output position", "#56b4e9"),
    "channels": ("per output channel", "#cc78bc"),
}


def draw_latency_terms(terms, ax=None, title=None):
    """One network's predicted latency split into the latency model's terms, one stacked bar per runtime.

    Args:
        terms: a DataFrame indexed by runtime with one column (ms) per key of
            ``LATENCY_TERMS`` and measured_ms (``analysis.roofline.predicted_terms``);
            the measured time is drawn as a black tick on each bar.
        ax: the Axes to draw into; a new figure if None.
        title: the Axes title (left aligned), if given.

    Returns:
        The matplotlib Axes.
    """
    _check_columns(terms, tuple(LATENCY_TERMS) + ("measured_ms",), "terms", "a predicted_terms table")
    if terms.empty:
        raise ValueError("terms must have at least one runtime row. Received an empty table")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.7 * len(terms) + 1.6))
    runtimes = list(terms.index)[::-1]  # first runtime on top
    left = pd.Series(0.0, index=runtimes)
    for term, (label, color) in LATENCY_TERMS.items():
        widths = terms.loc[runtimes, term].astype(float)
        ax.barh(runtimes, widths, left=left, color=color, label=label, height=0.6)
        left += widths
    ax.scatter(terms.loc[runtimes, "measured_ms"], runtimes, marker="|", s=600, color="black", zorder=3,
               label="measured")
    ax.set_xlabel("predicted latency, ms (batch 1)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, fontsize=8, frameon=False)
    if title:
        ax.set_title(title, loc="left")
    return ax


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
    import numbers

    from matplotlib.lines import Line2D

    from analysis.tradeoffs import pareto_front

    needed = [c for c in (x, y, hue, style, label_column) if c is not None]
    _check_columns(table, needed, "table", "a DataFrame")
    rows = table[table[x].notna() & table[y].notna()]
    if rows.empty:
        raise ValueError(f"table has no row with both {x!r} and {y!r}. Received {len(table)} rows")
    if logx and (rows[x] <= 0).any():
        raise ValueError(f"logx needs positive {x!r} values. Received {x}={float(rows[x].min())!r}")
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
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        if rows[x].max() / rows[x].min() < 100:
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if legend and handles:
        ax.legend(handles=handles, loc=legend, fontsize=8, frameon=True)
    return ax
