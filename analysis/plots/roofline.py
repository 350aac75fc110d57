"""Figures of the roofline and the latency fit: every layer against the machine's roofs, a latency
fit's predictions against measurements, and the terms it splits a network's time into.

Times are in ms; throughput in GFLOP/s counts 2 FLOPs per multiply-add; the bounds come from
``analysis.speed.roofline``, the fit from ``analysis.speed.latency_fit``. These functions only draw.

Measured times are drawn with their spread: error bars from the first to the third quartile,
which for a time with only its IQR is the median ± IQR / 2 (``analysis.plots.style.quartiles``);
a throughput (operations / time) spans operations / q3 to operations / q1.
"""

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from nets.errors import BadInput
from analysis.plots.style import (EXTRA_COLORS, RUNTIME_COLORS, check_columns, error_lengths, iqr_errors,
                                  model_color, quartiles)
from analysis.speed.memory import size_text
from analysis.speed.roofline import role_group

# Markers of the roofline's layer groups (analysis.speed.roofline.role_group).
ROLE_MARKERS = {"Matrix product": "o", "Depthwise": "^", "Other": "s"}
# (colour, line style) of the cache roofs, from the largest cache; DRAM's is solid and darkest.
CACHE_ROOF_STYLES = (("0.45", "--"), ("0.55", "-."), ("0.65", (0, (6, 2, 1, 2, 1, 2))))
# Each slower roof's label sits this many times lower than the one before.
ROOF_LABEL_STEP = 6



def _roofline_profile(profile):
    """The profile as a dict, checked to have a positive peak and DRAM bandwidth."""
    p = profile if isinstance(profile, dict) else profile.to_dict()
    for key in ("peak_gflops", "bandwidth_gbs"):
        if not p.get(key) or p[key] <= 0:
            raise BadInput(f"profile must have a positive {key}. Received {key}={p.get(key)!r}")
    return p


def _roofline_points(bounds_by_model, measured, spreads=None):
    """One (label, group, intensity, GFLOP/s) per layer with operations: at its bound, or its measured time.

    With measured times that carry a spread (``measured_ms_iqr``), ``spreads`` (a list) receives one
    (intensity, GFLOP/s, GFLOP/s at q3, GFLOP/s at q1) per point."""
    if measured is not None:
        unknown = set(measured) - set(bounds_by_model)
        if unknown:
            raise BadInput(
                f"measured must be keyed by labels of bounds_by_model. Received labels {sorted(unknown)}")
    points = []
    for label, bounds in bounds_by_model.items():
        check_columns(bounds, ("name", "role", "ops", "intensity", "bound_ms"), "each bounds table",
                       "a layer_bounds table")
        rows = bounds[(bounds["ops"] > 0) & (bounds["intensity"] > 0)]
        if measured is not None:
            if label not in measured:
                continue
            check_columns(measured[label], ("name", "measured_ms"), f"measured[{label!r}]",
                           "a time_layers table")
            kept = [c for c in measured[label] if c == "name" or c.startswith("measured_ms")]
            rows = rows.merge(measured[label][kept], on="name", how="inner")
            seconds = rows["measured_ms"] / 1e3
            times = quartiles(rows, "measured_ms")
            if times is not None and spreads is not None:
                spreads += [(float(x), float(ops / t * 1e3 / 1e9), float(ops / q3 * 1e3 / 1e9),
                             float(ops / q1 * 1e3 / 1e9) if q1 > 0 else float("nan"))
                            for x, ops, t, q1, q3 in zip(rows["intensity"], rows["ops"], rows["measured_ms"], *times)]
        else:
            seconds = rows["bound_ms"] / 1e3
        gflops = rows["ops"] / seconds / 1e9
        for role, x, y in zip(rows["role"], rows["intensity"], gflops):
            points.append((label, role_group(role), float(x), float(y)))
    if not points:
        raise BadInput("No layer to draw: no layer with ops > 0 (or with a measured time) in the tables given")
    return points


def _draw_layer_points(ax, points, labels):
    """Each layer a point, coloured by model (its index in ``labels``) and marked by layer group."""
    for label, group, x, y in points:
        ax.scatter(x, y, s=34, marker=ROLE_MARKERS[group], color=model_color(label, labels.index(label)),
                   edgecolor="white", linewidth=0.5, alpha=0.85, zorder=3)


def _memory_roofs(p):
    """(bandwidth, name, colour, line style) of each memory roof: DRAM first, then the measured
    cache levels from the largest (``memory_levels``), or else the one cache bandwidth measured."""
    levels = p.get("memory_levels") or []
    if levels:
        caches = [(level["gbs"], f"{level['name']} (up to {size_text(level['capacity_bytes'])})")
                  for level in levels[-2::-1]]
    else:
        caches = [(p["cache_bandwidth_gbs"], "cache")] if p.get("cache_bandwidth_gbs") else []
    styles = CACHE_ROOF_STYLES * len(caches)
    return [(p["bandwidth_gbs"], "DRAM", "0.15", "-")] + [
        (bandwidth, name, *style) for (bandwidth, name), style in zip(caches, styles)]


def _draw_roofs(ax, p, points):
    """The bandwidth roofs (``_memory_roofs``), each capped at the peak.

    Returns the roofs as (bandwidth, name, colour, line style) and the x range
    (whole decades around the points and twice the DRAM ridge point).
    """
    xs = [x for *_, x, _ in points]
    peak, dram = p["peak_gflops"], p["bandwidth_gbs"]
    x_lo = 10 ** math.floor(math.log10(min(xs) / 1.5))
    x_hi = 10 ** math.ceil(math.log10(max(max(xs) * 2, 2 * peak / dram)))
    grid = [x_lo * (x_hi / x_lo) ** (i / 200) for i in range(201)]
    roofs = _memory_roofs(p)
    for bandwidth, _, color, style in roofs:
        ax.plot(grid, [min(peak, bandwidth * x) for x in grid], color=color, linestyle=style, linewidth=1.6,
                zorder=2)
    return roofs, x_lo, x_hi


def _draw_peaks(ax, p, x_hi):
    """The measured peak's label and, where known and higher, the theoretical peak's dotted line.

    Returns the highest peak drawn (GFLOP/s).
    """
    peak = p["peak_gflops"]
    theoretical = p.get("theoretical_peak_gflops") or None
    y_top = peak
    if theoretical and theoretical > peak:
        ax.axhline(theoretical, color="0.6", linestyle=":", linewidth=1.2, zorder=2)
        ax.annotate(f"theoretical peak {theoretical:,.0f} GFLOP/s", (x_hi, theoretical), xytext=(-4, 4),
                    textcoords="offset points", ha="right", va="bottom", fontsize=8, color="0.45")
        y_top = theoretical
    # Below its line, so that it never meets the theoretical peak's label above.
    ax.annotate(f"measured peak {peak:,.0f} GFLOP/s", (x_hi, peak), xytext=(-4, -4), textcoords="offset points",
                ha="right", va="top", fontsize=8, color="0.15")
    return y_top


def _label_roofs(ax, roofs, peak, x_lo, y_lo):
    """Label each bandwidth roof along its slope, rotated to the slope as drawn: the fastest a
    decade left of its ridge point, each slower one ``ROOF_LABEL_STEP`` times lower than the one
    before, so that labels of close roofs do not meet (or where the roof enters the plot). Needs
    the Axes limits set."""
    for i, (bandwidth, name, color, _) in enumerate(sorted(roofs, key=lambda roof: -roof[0])):
        ridge = peak / bandwidth
        x_text = max(ridge / (10 * ROOF_LABEL_STEP**i), x_lo * 1.3, y_lo * 1.3 / bandwidth)
        if x_text >= ridge:
            continue
        (x0, y0), (x1, y1) = ax.transData.transform([(x_text, bandwidth * x_text), (2 * x_text, 2 * bandwidth * x_text)])
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        ax.annotate(f"{name} {bandwidth:,.0f} GB/s", (x_text, bandwidth * x_text), xytext=(0, 4),
                    textcoords="offset points", rotation=angle, rotation_mode="anchor", fontsize=8,
                    color=color, ha="left", va="bottom")


def _roofline_legend(ax, points, labels):
    """A legend of the models drawn (by colour) and the layer groups drawn (by marker)."""
    handles = [Line2D([], [], linestyle="", marker="o", markersize=7, color=model_color(label, i), label=label)
               for i, label in enumerate(labels) if any(point[0] == label for point in points)]
    shown = [group for group in ROLE_MARKERS if any(point[1] == group for point in points)]
    handles += [Line2D([], [], linestyle="", marker=ROLE_MARKERS[group], markersize=7, color="0.4", label=group)
                for group in shown]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=True)


def draw_roofline(bounds_by_model, profile, ax=None, measured=None):
    """The roofline chart of every layer of one or more networks.

    Log-log: arithmetic intensity (operations per byte of least traffic) on
    x, attainable GFLOP/s on y. The roofs come from ``profile``: one
    bandwidth line per measured memory level (``memory_levels``; else DRAM
    and the cache bandwidth) and the flat measured peak (the theoretical
    peak, where known, as a dotted line). Each layer is a point at
    its intensity and its attainable throughput (ops / bound time, so it sits
    on a roof) or, with ``measured``, its achieved throughput (ops / measured
    time). Points are coloured by model and marked by layer group: matrix
    product (full, pointwise and fully connected convolutions), depthwise,
    other. Measured points whose times carry ``measured_ms_iqr`` get error
    bars from the throughput at the time's third quartile to that at its
    first (median ± IQR / 2). Counting lives in ``analysis.roofline``; this
    only draws.

    Args:
        bounds_by_model: dict mapping a model label to its
            ``analysis.roofline.layer_bounds`` / ``machine_bounds`` table
            (needs name, role, ops, intensity, bound_ms).
        profile: an ``analysis.machine.MachineProfile`` or its dict.
        ax: the Axes to draw into; a new figure if None.
        measured: optional dict mapping a model label to a DataFrame with
            name and measured_ms, optionally measured_ms_iqr
            (``analysis.speed.roofline.time_layers``, same batch as the
            bounds). Layers without a measured time are left out.

    Returns:
        The matplotlib Axes.
    """
    if not isinstance(bounds_by_model, dict) or not bounds_by_model:
        raise BadInput(
            f"bounds_by_model must be a non-empty dict of label -> bounds table. Received {bounds_by_model!r:.80}")
    p = _roofline_profile(profile)
    spreads = []
    points = _roofline_points(bounds_by_model, measured, spreads)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 6))
    ax.set_xscale("log")
    ax.set_yscale("log")
    labels = list(bounds_by_model)
    _draw_layer_points(ax, points, labels)
    if spreads:  # measured throughput from the time's q3 (lowest) to its q1 (highest)
        x, y, low, high = (list(column) for column in zip(*spreads))
        ax.errorbar(x, y, yerr=error_lengths(y, low, high), fmt="none", ecolor="0.35", elinewidth=0.7, capsize=0,
                    zorder=2.5)
    roofs, x_lo, x_hi = _draw_roofs(ax, p, points)
    y_top = _draw_peaks(ax, p, x_hi)
    y_lo = 10 ** math.floor(math.log10(min(y for *_, y in points) / 2))
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_top * 3)
    _label_roofs(ax, roofs, p["peak_gflops"], x_lo, y_lo)
    ax.set_xlabel("arithmetic intensity (operations per byte of traffic, log scale)")
    what = "achieved (measured time)" if measured is not None else "attainable (roofline bound)"
    ax.set_ylabel(f"GFLOP/s, {what}, log scale")
    _roofline_legend(ax, points, labels)
    return ax


def draw_predicted_vs_measured(validation, ax=None, label_worst=4):
    """Predicted against measured latency, one point per (runtime, variant).

    Log-log, with the line y = x and a ±10 % band around it; points coloured
    by runtime (``RUNTIME_COLORS``); the ``label_worst`` points of largest
    relative error are labelled with their variant. Each measured time has a
    horizontal error bar over its interquartile range (median ± IQR / 2)
    where ``validation`` holds measured_ms_iqr.

    Args:
        validation: a DataFrame with runtime, variant, measured_ms and
            predicted_ms, and for the error bars measured_ms_iqr
            (``analysis.speed.study.latency_fit_study``'s second result, or
            the shipped ``latency_fit_validation``).
        ax: the Axes to draw into; a new figure if None.
        label_worst: how many of the worst points to label (0: none).

    Returns:
        The matplotlib Axes.
    """
    check_columns(validation, ("runtime", "variant", "measured_ms", "predicted_ms"), "validation",
                   "a latency-model validation table")
    rows = validation[(validation["measured_ms"] > 0) & (validation["predicted_ms"] > 0)]
    if rows.empty:
        raise BadInput("validation must have at least one row with positive measured_ms and predicted_ms. "
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
        color = RUNTIME_COLORS.get(runtime, EXTRA_COLORS[i % len(EXTRA_COLORS)])
        ax.scatter(group["measured_ms"], group["predicted_ms"], s=36, color=color, edgecolor="white",
                   linewidth=0.5, zorder=3, label=runtime)
        spread = iqr_errors(group, "measured_ms")
        if spread is not None:
            ax.errorbar(group["measured_ms"], group["predicted_ms"], xerr=spread, fmt="none", ecolor=color,
                        elinewidth=0.8, alpha=0.7, zorder=2.5)
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


# The latency fit's terms (analysis.speed.latency_fit.LatencyFit.terms), in drawing order.
LATENCY_TERMS = {
    "Matrix product": ("matrix products (× their bound)", "#0173b2"),
    "Depthwise": ("depthwise convolutions (× their bound)", "#029e73"),
    "Element-wise": ("element-wise layers (× their bound)", "#ca9161"),
    "Other": ("at their bound (pooling, fully connected)", "#949494"),
    "layers": ("per layer", "#de8f05"),
    "graph_layers": ("per layer before fusion", "#fbafe4"),
    "depthwise_positions": ("per depthwise output position", "#56b4e9"),
    "channels": ("per output channel", "#cc78bc"),
    "activation_values": ("per swish / sigmoid value", "#d55e00"),
}


def draw_latency_terms(terms, ax=None, title=None):
    """One network's predicted latency split into the latency model's terms, one stacked bar per runtime.

    Args:
        terms: a DataFrame indexed by runtime with one column (ms) per key of
            ``LATENCY_TERMS`` and measured_ms (``analysis.speed.latency_fit.predicted_terms``);
            the measured time is drawn as a black tick on each bar, with an
            error bar over its interquartile range (median ± IQR / 2) where
            ``terms`` holds measured_ms_iqr.
        ax: the Axes to draw into; a new figure if None.
        title: the Axes title (left aligned), if given.

    Returns:
        The matplotlib Axes.
    """
    check_columns(terms, tuple(LATENCY_TERMS) + ("measured_ms",), "terms", "a predicted_terms table")
    if terms.empty:
        raise BadInput("terms must have at least one runtime row. Received an empty table")
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
    spread = iqr_errors(terms.loc[runtimes], "measured_ms")
    if spread is not None:
        ax.errorbar(terms.loc[runtimes, "measured_ms"].astype(float), runtimes, xerr=spread, fmt="none",
                    ecolor="black", elinewidth=1.0, capsize=4, zorder=3)
    ax.set_xlabel("predicted latency, ms (batch 1)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3, fontsize=8, frameon=False)
    if title:
        ax.set_title(title, loc="left")
    return ax
