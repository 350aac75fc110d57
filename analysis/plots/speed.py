"""Figures of speed: latency against batch size, speed ratios, both networks per runtime and
precision, the fraction of peak, and GPU latency (the roofline and the latency fit are in
``analysis.plots.roofline``).

Times are in ms (medians of repeated runs, ``analysis.speed.latency``); throughput in GFLOP/s
counts 2 FLOPs per multiply-add. Tables come from ``analysis.speed``; these functions only draw.

Every time is drawn with its spread: error bars from the first to the third quartile, which for
the rows of ``analysis.speed.latency`` (median and IQR, no quartiles) is the median ± IQR / 2
(``analysis.plots.style.quartiles``). A ratio of two times is drawn with the ratio of their
quartiles (``ratio_bounds``): from the first's q1 over the second's q3 to its q3 over their q1.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nets.errors import BadInput
from analysis.plots.style import (PRECISION_HATCHES, RUNTIME_COLORS, check_rows, error_lengths, iqr_errors,
                                  model_color, quartiles, ratio_bounds)

def draw_latency_vs_batch(latency, title=None):
    """Milliseconds per image against batch size, one panel per runtime, one line per network.

    Log-log (base 2 for the batch); error bars span the interquartile range
    of a call divided by the batch, centred on the median (± IQR / 2 / batch).
    Runtimes and networks are drawn in their order in ``latency``; colours are
    ``model_color``.

    Args:
        latency: an ``analysis.speed.latency.benchmark`` table (needs
            variant, runtime, batch, ms_per_image, iqr_ms).
        title: the figure's title, if given.

    Returns:
        The matplotlib Figure.
    """
    check_rows(latency, ("variant", "runtime", "batch", "ms_per_image", "iqr_ms"), "latency", "a benchmark table")
    runtimes = list(latency["runtime"].drop_duplicates())
    batches = sorted(latency["batch"].unique())
    fig, axes = plt.subplots(1, len(runtimes), figsize=(4.3 * len(runtimes), 4.4), sharey=True, squeeze=False)
    for ax, runtime in zip(axes[0], runtimes):
        for label in latency["variant"].drop_duplicates():
            rows = latency[(latency["runtime"] == runtime) & (latency["variant"] == label)]
            ax.errorbar(rows["batch"], rows["ms_per_image"], yerr=iqr_errors(rows, "ms_per_image"),
                        marker="o", capsize=3, color=model_color(label), label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_title(runtime)
        ax.set_xlabel("batch size (images per call)")
    axes[0, 0].set_ylabel("ms per image (median, log scale)")
    axes[0, 0].legend(fontsize=9)
    if title:
        fig.suptitle(title, y=1.02)
    fig.tight_layout()
    return fig


def draw_speed_ratio(speed, mac_ratio, title=None):
    """The measured speed ratio of two networks (times faster), one bar per runtime and batch size.

    The dashed line is their multiply-add ratio: where every bar would reach
    if time were proportional to multiply-adds. Each bar is labelled with
    its ratio; its error bar is the ratio of the two times' quartiles (the
    slower's q1 over the faster's q3 up to its q3 over their q1, each time's
    quartiles its median ± IQR / 2), drawn where ``speed`` holds both times
    and their IQRs.

    Args:
        speed: a DataFrame indexed by (runtime, batch) with a speed_ratio
            column (``analysis.speed.tables.speed_ratios``) and, for the error
            bars, slower_ms, slower_ms_iqr, faster_ms and faster_ms_iqr (or
            their ``_q1``/``_q3``); runtimes are drawn in index order, batches
            ascending.
        mac_ratio: the slower network's multiply-adds over the faster one's.
        title: the Axes title (left aligned), if given.

    Returns:
        The matplotlib Figure.
    """
    check_rows(speed, ("speed_ratio",), "speed", "a speed_ratios table")
    if not mac_ratio or mac_ratio <= 0:
        raise BadInput(f"mac_ratio must be positive. Received mac_ratio={mac_ratio!r}")
    runtimes = list(dict.fromkeys(speed.index.get_level_values(0)))
    batches = sorted(set(speed.index.get_level_values(1)))
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    bar_width = 0.8 / len(batches)
    batch_colors = plt.get_cmap("Blues")(np.linspace(0.45, 0.9, len(batches)))
    spread = _ratio_errors(speed, "speed_ratio", "slower_ms", "faster_ms")
    top = speed["speed_ratio"].max() if spread is None else np.nanmax(speed["speed_ratio"] + spread[1])
    for i, batch in enumerate(batches):
        rows = [speed.index.get_loc((runtime, batch)) for runtime in runtimes]
        values = speed["speed_ratio"].iloc[rows].tolist()
        bars = ax.bar(np.arange(len(runtimes)) + (i - (len(batches) - 1) / 2) * bar_width, values, bar_width,
                      color=batch_colors[i], label=f"batch {batch}",
                      yerr=None if spread is None else spread[:, rows], capsize=2, error_kw={"elinewidth": 0.9})
        _label_above(ax, bars, [f"{v:.1f}×" for v in values], None if spread is None else spread[1, rows], 8)
    ax.axhline(mac_ratio, color="0.2", linestyle="--", linewidth=1.2, label=f"multiply-add ratio {mac_ratio:.1f}×")
    ax.set_xticks(range(len(runtimes)), runtimes)
    ax.set_xlim(-0.6, len(runtimes) - 0.4)
    ax.set_ylim(0, 1.3 * max(mac_ratio, top))
    ax.set_ylabel("speed ratio (times faster)")
    if title:
        ax.set_title(title, loc="left")
    ax.legend(fontsize=9, loc="upper left")
    fig.tight_layout()
    return fig


def _label_above(ax, bars, labels, above=None, fontsize=8):
    """Write each label centred above its bar, clear of its error bar (``above``: the error bar's
    length above the bar's top, or None)."""
    above = [0.0] * len(bars) if above is None else above
    for bar, label, extra in zip(bars, labels, above):
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height() + float(extra)), xytext=(0, 2),
                    textcoords="offset points", ha="center", va="bottom", fontsize=fontsize)


def _ratio_errors(table, ratio, numerator, denominator):
    """Error lengths of the ``ratio`` column from the ratio of quartiles of the ``numerator`` and
    ``denominator`` time columns, or None where ``table`` lacks their spread."""
    if numerator not in table or denominator not in table:
        return None
    top, bottom = quartiles(table, numerator), quartiles(table, denominator)
    if top is None or bottom is None:
        return None
    return error_lengths(table[ratio], *ratio_bounds(top, bottom))


def draw_deployment(table, small="MobileNet 1.0/224", large="VGG16", title=None):
    """Both networks on every runtime and precision, from a ``deployment_table``.

    Left: ms per image of each network per configuration (log scale; error
    bars span the interquartile range, median ± IQR / 2), coloured by
    runtime, hatched by precision. Right: the speed ratio (large / small)
    per configuration beside the multiply-add ratio (dashed), with the ratio
    of the two networks' quartiles as its error bar, each bar labelled with
    the fraction of its precision's roofline bound that the larger network
    reaches. Configurations that did not run (their note says why) are left
    out.

    Returns:
        The matplotlib Figure.
    """
    columns = ("configuration", "runtime", "precision", f"{small} ms", f"{large} ms", "speed ratio", "MAC ratio")
    check_rows(table, columns, "table", "a deployment_table")
    ran = table.dropna(subset=[f"{small} ms", f"{large} ms"]).reset_index(drop=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5.4), gridspec_kw={"width_ratios": [1.3, 1]})
    x = np.arange(len(ran))
    colors = [RUNTIME_COLORS.get(r, "0.5") for r in ran["runtime"]]
    hatches = [PRECISION_HATCHES.get(p, "") for p in ran["precision"]]
    # deployment_table's "<network> IQR ms" is the IQR of "<network> ms": named as quartiles() reads it.
    ran = ran.rename(columns={f"{label} IQR ms": f"{label} ms_iqr" for label in (small, large)})
    for offset, label, alpha in ((-0.2, small, 1.0), (0.2, large, 0.55)):
        bars = left.bar(x + offset, ran[f"{label} ms"], 0.4, color=colors, alpha=alpha, hatch=hatches,
                        edgecolor="0.25", linewidth=0.6, yerr=iqr_errors(ran, f"{label} ms"), capsize=2,
                        label=label)
        errors = iqr_errors(ran, f"{label} ms")
        _label_above(left, bars, [f"{v:.3g}" for v in ran[f"{label} ms"]], None if errors is None else errors[1], 7)
    left.set_yscale("log")
    left.set_ylim(top=4 * max(ran[f"{small} ms"].max(), ran[f"{large} ms"].max()))
    left.set_ylabel("ms per image (batch 1)")
    left.set_xticks(x, ran["configuration"], rotation=35, ha="right")
    left.legend(fontsize=8, loc="upper left", ncols=2)
    spread = _ratio_errors(ran, "speed ratio", f"{large} ms", f"{small} ms")
    bars = right.bar(x, ran["speed ratio"], 0.6, color=colors, hatch=hatches, edgecolor="0.25", linewidth=0.6,
                     yerr=spread, capsize=2, error_kw={"elinewidth": 0.9})
    bound = ran.get(f"{large} of bound")
    labels = [f"{v:.1f}×" + (f"\n{b:.0%}" if bound is not None and pd.notna(b) else "")
              for v, b in zip(ran["speed ratio"], bound if bound is not None else [None] * len(ran))]
    _label_above(right, bars, labels, None if spread is None else spread[1], 6.5)
    mac_ratio = float(ran["MAC ratio"].iloc[0])
    right.axhline(mac_ratio, color="0.2", linestyle="--", linewidth=1.2, label=f"multiply-add ratio {mac_ratio:.1f}×")
    top = ran["speed ratio"].max() if spread is None else np.nanmax(ran["speed ratio"] + spread[1])
    right.set_ylim(0, 1.4 * max(mac_ratio, top))
    right.set_xticks(x, ran["configuration"], rotation=35, ha="right")
    right.set_ylabel(f"{large} / {small} (times faster)")
    if bound is not None:
        right.set_title(f"under each bar: {large}'s fraction of its roofline bound", fontsize=9, loc="left")
    right.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title, x=0.01, ha="left")
    fig.tight_layout()
    return fig


def draw_fraction_of_peak(grades):
    """Fraction of the measured peak (left) and of the roofline bound (right), in %, per runtime and batch.

    Left: achieved GFLOP/s over the measured peak; right: the network's
    roofline bound over its measured time. One bar per network, coloured by
    ``model_color``; the line at 100 % is the peak, or the bound. Both
    fractions are inversely proportional to the measured time, so where
    ``grades`` holds median_ms and iqr_ms, each bar's error bar is the
    fraction at the time's third quartile up to the fraction at its first
    (median ± IQR / 2).

    Args:
        grades: an ``analysis.speed.tables.roofline_grades`` table (needs
            variant, runtime, batch, ``fraction_of_peak_%``,
            ``fraction_of_bound_%``; median_ms and iqr_ms for the error bars);
            runtimes and networks are drawn in their order in it.

    Returns:
        The matplotlib Figure.
    """
    check_rows(grades, ("variant", "runtime", "batch", "fraction_of_peak_%", "fraction_of_bound_%"), "grades",
               "a roofline_grades table")
    runtimes = list(grades["runtime"].drop_duplicates())
    variants = list(grades["variant"].drop_duplicates())
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    keys = list(dict.fromkeys(zip(grades["runtime"], grades["batch"])))
    keys = [key for runtime in runtimes for key in sorted(k for k in keys if k[0] == runtime)]
    width = 0.8 / len(variants)
    for ax, column, title in [(axes[0], "fraction_of_peak_%", "achieved GFLOP/s / measured peak"),
                              (axes[1], "fraction_of_bound_%", "roofline bound / measured time")]:
        for j, label in enumerate(variants):
            part = grades[grades["variant"] == label].set_index(["runtime", "batch"])
            present = [i for i, key in enumerate(keys) if key in part.index]
            rows = part.loc[[keys[i] for i in present]]
            times = quartiles(rows, "median_ms") if "median_ms" in rows else None
            errors = None if times is None else error_lengths(  # the fraction scales as 1 / time
                rows[column], rows[column] * rows["median_ms"] / times[1], rows[column] * rows["median_ms"] / times[0])
            ax.bar(np.array(present) + (j - (len(variants) - 1) / 2) * width, rows[column], width,
                   color=model_color(label), label=label, yerr=errors, capsize=2, error_kw={"elinewidth": 0.9})
        ax.set_xticks(range(len(keys)), [f"{runtime}\nbatch {batch}" for runtime, batch in keys])
        ax.axhline(100, color="0.3", linewidth=1.0)
        ax.set_ylabel("%")
        ax.set_title(title, loc="left")
        ax.tick_params(axis="x", labelsize=8)
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


# Line styles and markers of the networks that draw_gpu_latency does not draw solid, in turn.
_OTHER_LINE_STYLES = (("--", "s"), (":", "^"), ("-.", "D"))


def draw_gpu_latency(gpu, solid=()):
    """Milliseconds per call (left, linear) and per image (right, log) against batch size on a GPU.

    One line per network, in its ``model_color``; the networks of ``solid``
    are drawn solid with circles, the others (the smaller MobileNets) dashed,
    dotted or dash-dotted. Error bars span the interquartile range (median ±
    IQR / 2 per call, and that divided by the batch per image). The title
    names the device of the first row.

    Args:
        gpu: a GPU latency table (the shipped ``gpu_latency``: variant, batch,
            median_ms, iqr_ms, ms_per_image, device).
        solid: the variant labels drawn solid.

    Returns:
        The matplotlib Figure.
    """
    check_rows(gpu, ("variant", "batch", "median_ms", "iqr_ms", "ms_per_image", "device"), "gpu",
               "a GPU latency table")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharex=True)
    batches = sorted(gpu["batch"].unique())
    for ax, column, ylabel in [(axes[0], "median_ms", "ms per call (median)"),
                               (axes[1], "ms_per_image", "ms per image (median, log scale)")]:
        for i, (label, rows) in enumerate(gpu.groupby("variant", sort=False)):
            linestyle, marker = ("-", "o") if label in solid else _OTHER_LINE_STYLES[i % len(_OTHER_LINE_STYLES)]
            ax.errorbar(rows["batch"], rows[column], yerr=iqr_errors(rows, column), label=label,
                        color=model_color(label), linestyle=linestyle, marker=marker, capsize=3)
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_xlabel("batch size (images per call)")
        ax.set_ylabel(ylabel)
    axes[0].set_ylim(bottom=0)
    axes[1].set_yscale("log")
    axes[0].set_title("time per call", loc="left")
    axes[1].set_title("time per image", loc="left")
    axes[1].legend(fontsize=9)
    fig.suptitle(f"{gpu['device'].iloc[0]}, Keras 3 on PyTorch (eager)", y=1.02)
    fig.tight_layout()
    return fig
