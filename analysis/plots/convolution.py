"""Pictures of convolutions: the filters of a standard, a depthwise and a pointwise convolution
(the MobileNet paper's Figure 2), and one step of a depthwise convolution, channel by channel.

Counts come from ``analysis.cost.separable`` (no biases, as the source notes count); the
depthwise step is computed by ``analysis.explore.depthwise_step``. These functions only draw.
"""

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon, Rectangle

from analysis.cost.separable import separable_conv_cost, separable_ratio, standard_conv_cost
from analysis.plots.style import LAYER_TYPE_COLORS
from nets import checks
from nets.errors import BadInput

# Colours of the three kinds: a standard and a pointwise convolution are both Conv2D layers.
KIND_COLORS = {"standard": LAYER_TYPE_COLORS["Conv2D"], "depthwise": LAYER_TYPE_COLORS["DepthwiseConv2D"],
               "pointwise": LAYER_TYPE_COLORS["Conv2D"]}
_CHANNEL_DEPTH = 0.35  # drawn depth of one channel, in units of one kernel pixel
_MAX_DRAWN_CHANNELS = 16  # deeper filters are drawn 16 channels deep (the label gives the true depth)
_SLANT = (math.cos(math.radians(35)), math.sin(math.radians(35)))  # the receding axis of a box
_FILTER_GAP = 1.4  # between two drawn filters


def convolution_kinds_counts(in_channels, out_channels, kernel=3):
    """Parameters of each kind for ``kernel`` x ``kernel``, M = ``in_channels`` to N = ``out_channels``.

    Returns a dict: standard (k²·M·N), depthwise (k²·M), pointwise (M·N, a 1x1 standard
    convolution), separable (depthwise + pointwise) and ratio (separable / standard = 1/N + 1/k²).
    From ``analysis.cost.separable``.
    """
    standard = standard_conv_cost(kernel, in_channels, out_channels).params
    pointwise = standard_conv_cost(1, in_channels, out_channels).params
    separable = separable_conv_cost(kernel, in_channels, out_channels).params
    return {"standard": standard, "depthwise": separable - pointwise, "pointwise": pointwise,
            "separable": separable, "ratio": separable_ratio(kernel, out_channels)}


def _shade(color, factor):
    """``color`` darkened (factor < 1) or lightened (factor > 1)."""
    rgb = np.array(plt.matplotlib.colors.to_rgb(color))
    return tuple(np.clip(rgb * factor if factor < 1 else rgb + (1 - rgb) * (factor - 1), 0, 1))


def _box(ax, x, y, width, height, channels, color):
    """A filter as a box: a ``width`` x ``height`` front face at (x, y), ``channels`` deep up and to
    the right, the kernel's pixels ruled on the front face. Returns its right and top extent."""
    depth = _CHANNEL_DEPTH * min(channels, _MAX_DRAWN_CHANNELS)
    dx, dy = depth * _SLANT[0], depth * _SLANT[1]
    faces = (
        ([(x, y + height), (x + width, y + height), (x + width + dx, y + height + dy), (x + dx, y + height + dy)],
         _shade(color, 1.35)),
        ([(x + width, y), (x + width + dx, y + dy), (x + width + dx, y + height + dy), (x + width, y + height)],
         _shade(color, 0.7)),
        ([(x, y), (x + width, y), (x + width, y + height), (x, y + height)], color),
    )
    for corners, face_color in faces:
        ax.add_patch(Polygon(corners, closed=True, facecolor=face_color, edgecolor="white", linewidth=0.8))
    for i in range(1, int(width)):
        ax.plot([x + i, x + i], [y, y + height], color="white", linewidth=0.6)
    for j in range(1, int(height)):
        ax.plot([x, x + width], [y + j, y + j], color="white", linewidth=0.6)
    return x + width + dx, y + height + dy


def _filter_row(ax, count, side, channels, color):
    """Filters 1, 2 and ``count`` drawn in a row (an ellipsis between when there are more than 3).
    Returns the right and top extent."""
    shown = list(range(1, count + 1)) if count <= 3 else [1, 2, None, count]
    x, right, top = 0.0, 0.0, 0.0
    for number in shown:
        if number is None:
            ax.text(x + 0.5, side / 2, "…", ha="center", va="center", fontsize=16)
            x += 1.0 + _FILTER_GAP
            continue
        right, top = _box(ax, x, 0.0, side, side, channels, color)
        ax.text(x + side / 2, -0.35, f"{number}", ha="center", va="top", fontsize=8, color="0.3")
        x = right + _FILTER_GAP
    return right, top


@dataclass(frozen=True)
class _Panel:
    """One panel of ``draw_convolution_kinds``: ``count`` filters of ``side`` x ``side`` x ``channels``."""

    kind: str
    title: str
    count: int
    count_name: str
    side: int
    channels: int
    formula: str


def _panels(m, n, k):
    """The panels (a), (b) and (c) for M = ``m``, N = ``n`` and a ``k`` x ``k`` kernel."""
    return (_Panel("standard", "(a) standard convolution", n, "N", k, m, f"k²·M·N = {k}²·{m}·{n}"),
            _Panel("depthwise", "(b) depthwise: one channel thick", m, "M", k, 1, f"k²·M = {k}²·{m}"),
            _Panel("pointwise", "(c) pointwise (1×1) convolution", n, "N", 1, m, f"M·N = {m}·{n}"))


def _kind_panel(ax, panel, params):
    """One kind's filters, its title and its ``params``; returns the drawing's right and top extent."""
    extent = _filter_row(ax, panel.count, panel.side, panel.channels, KIND_COLORS[panel.kind])
    ax.set_axis_off()
    ax.set_title(panel.title, loc="left", fontsize=11)
    ax.text(0.0, -1.4, f"{panel.count_name} = {panel.count} filters, each {panel.side}×{panel.side}×{panel.channels}",
            fontsize=9, va="top")
    ax.text(0.0, -2.6, f"parameters {panel.formula} = {params:,}", fontsize=10, va="top", fontweight="bold")
    return extent


def draw_convolution_kinds(in_channels=16, out_channels=32, kernel=3):
    """The filters of a standard, a depthwise and a pointwise convolution, with each one's parameters.

    The MobileNet paper's Figure 2 for M = ``in_channels`` input and N = ``out_channels`` output
    channels: (a) N standard filters, each k×k×M; (b) M depthwise filters, each k×k×1, one channel
    thick, one per input channel; (c) N pointwise filters, each 1×1×M. Each panel writes its
    parameter count (k²·M·N, k²·M and M·N, no biases, from ``analysis.cost.separable``); the
    footer the depthwise separable total, (b) + (c), and its ratio to (a), 1/N + 1/k². Filters
    deeper than 16 channels are drawn 16 deep; the labels give the true sizes.

    Args:
        in_channels: M (default 16, the source notes' example).
        out_channels: N (default 32).
        kernel: k (default 3).

    Returns:
        The matplotlib Figure.
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel", kernel)):
        checks.positive_int(name, value)
    counts = convolution_kinds_counts(in_channels, out_channels, kernel)
    m, n, k = in_channels, out_channels, kernel
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.3))
    extents = [_kind_panel(ax, panel, counts[panel.kind]) for ax, panel in zip(axes, _panels(m, n, k))]
    right, top = max(max(e[0] for e in extents), 12.0), max(max(e[1] for e in extents), 5.0)
    for ax in axes:  # one scale for the three panels, so that their sizes compare
        ax.set_xlim(-0.8, right + 0.8)
        ax.set_ylim(-3.6, top + 0.6)
        ax.set_aspect("equal")
    fig.suptitle(f"{k}×{k} convolution from M = {m} to N = {n} channels (no biases)", x=0.01, ha="left",
                 fontweight="bold")
    fig.text(0.01, 0.02,
             f"depthwise separable = (b) + (c): {counts['depthwise']:,} + {counts['pointwise']:,} = "
             f"{counts['separable']:,} parameters, {counts['separable']:,} / {counts['standard']:,} = "
             f"{counts['ratio']:.3f} of (a) = 1/N + 1/k² = 1/{n} + 1/{k * k}", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    return fig


def _grid(ax, values, title, highlight=None, fmt="{:g}", cmap="Blues", blank=None):
    """A matrix of numbers as coloured cells with their values; ``highlight`` (row, col, rows, cols) is
    outlined; cells where ``blank`` is True are left empty."""
    shown = np.where(blank, np.nan, values) if blank is not None else values
    ax.imshow(shown, cmap=cmap, vmin=min(0.0, np.nanmin(values)), vmax=max(1.0, np.nanmax(np.abs(values))) * 1.6)
    for (i, j), value in np.ndenumerate(values):
        if blank is None or not blank[i, j]:
            ax.text(j, i, fmt.format(value + 0.0), ha="center", va="center", fontsize=9)
    if highlight is not None:
        row, col, rows, cols = highlight
        ax.add_patch(Rectangle((col - 0.5, row - 0.5), cols, rows, fill=False, edgecolor="#d55e00", linewidth=2.5))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def draw_depthwise_step(step):
    """One output position of a depthwise convolution, computed channel by channel.

    One row per channel c: the input channel with the k×k window outlined, that channel's own k×k
    kernel, their elementwise products with the sum (the output value), and the output channel
    filled up to this position (stride 1, VALID padding). No channel sees another: each kernel is
    one channel thick.

    Args:
        step: an ``analysis.explore.depthwise_step`` result (image, kernel, row, col, index,
            products, values, output, positions).

    Returns:
        The matplotlib Figure.
    """
    for name in ("image", "kernel", "row", "col", "index", "products", "values", "output"):
        if not hasattr(step, name):
            raise BadInput(f"step must be an analysis.explore.depthwise_step result. Received {step!r:.80}")
    channels, k = step.image.shape[2], step.kernel.shape[0]
    out_h, out_w = step.output.shape[:2]
    pending = (np.arange(out_h * out_w) > step.index).reshape(out_h, out_w)
    fig, axes = plt.subplots(channels, 4, figsize=(11, 2.7 * channels), squeeze=False,
                             gridspec_kw={"width_ratios": [step.image.shape[1], k, k, out_w]})
    for c in range(channels):
        window = (step.row, step.col, k, k)
        _grid(axes[c, 0], step.image[:, :, c], f"input, channel {c + 1}", highlight=window)
        _grid(axes[c, 1], step.kernel[:, :, c], f"kernel, channel {c + 1}", cmap="Greens")
        _grid(axes[c, 2], step.products[:, :, c], f"products: Σ = {step.values[c]:g}", cmap="Oranges")
        _grid(axes[c, 3], step.output[:, :, c], f"output, channel {c + 1}", highlight=(step.row, step.col, 1, 1),
              blank=pending)
    fig.suptitle(f"Depthwise {k}×{k} convolution, output position {step.index + 1} of {out_h * out_w} "
                 f"(row {step.row + 1}, column {step.col + 1}): each channel's window times its own kernel",
                 x=0.01, ha="left", fontweight="bold", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig
