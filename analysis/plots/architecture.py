"""The architecture picture: a network drawn from its layer table."""

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.patches import Patch, Rectangle

from analysis.cost.groups import block_of
from nets.errors import BadInput
from analysis.plots.style import LAYER_TYPE_COLORS, layer_color


# Geometry of draw_architecture, in data units.
_GAP = 0.7  # between two boxes of one block
_BLOCK_GAP = 2.0  # between two blocks
_STRIP_WIDTH = 0.6  # one thin layer (batch norm, ReLU, dropout, ...)
_MIN_BOX_WIDTH = 1.0  # a box of 1 or 2 channels
_LABEL_PAD = 0.8  # from the tallest box down to the first row of labels
_LABEL_ROW = 2.6  # between two staggered rows of block labels
_LABEL_FONTSIZE = 7  # points
_CHAR_WIDTH = 0.62  # a label character's width, in units of the font size



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
    _check_table(table)
    boxes, strips, blocks, x = _layout(table)
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
    _grow_limits(ax.get_xlim, ax.set_xlim, -_BLOCK_GAP, x + _BLOCK_GAP, drawn_before)
    top = max(height for _, _, height, _ in boxes) / 2
    label_rows = _draw_block_labels(ax, blocks, top)  # after the x limits: label widths use the x scale
    _grow_limits(ax.get_ylim, ax.set_ylim, -top - _LABEL_PAD - (max(label_rows) + 1) * _LABEL_ROW, top + 0.5,
                 drawn_before)
    ax.set_axis_off()
    ax.set_title(table.attrs.get("model", "") if title is None else title, loc="left")
    if legend:
        draw_legend(ax, {layer_type for *_, layer_type in boxes + strips})
    return ax


def _check_table(table):
    """BadInput unless ``table`` is a non-empty layer table with the columns drawn."""
    missing = {"name", "type", "output_shape", "macs"} - set(table.columns)
    if missing:
        raise BadInput(
            f"table must be a layer_table with columns name, type, output_shape, macs. "
            f"Received a table without {sorted(missing)}"
        )
    if table.empty:
        raise BadInput("table must have at least one layer. Received an empty table")


def _layout(table):
    """Boxes and strips ``(x, width, height, type)``, blocks ``{block, start, end, label}`` and the
    right end, from left to right; a strip follows its box at the box's height."""
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
            boxes.append((x, width, math.sqrt(side), row["type"]))
            start, x = x, x + width
        else:
            strips.append((x, _STRIP_WIDTH, boxes[-1][2], row["type"]))
            start, x = x, x + _STRIP_WIDTH
        if new_block:
            blocks.append({"block": block, "start": start, "end": x})
        else:
            blocks[-1]["end"] = x
        blocks[-1]["label"] = f"{block}\n{_shape_text(row['output_shape'])}"
    return boxes, strips, blocks, x


def _draw_block_labels(ax, blocks, top):
    """Each block's bracket under the boxes and its label, in rows that do not overlap; returns the
    row of each label."""
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
    return label_rows


def _grow_limits(get_limits, set_limits, low, high, drawn_before):
    """Set one axis' limits to ``(low, high)``, only ever growing them where something is drawn."""
    if drawn_before:
        low, high = min(low, get_limits()[0]), max(high, get_limits()[1])
    set_limits(low, high)


def types_drawn(table):
    """The layer types ``draw_architecture`` draws for ``table`` (boxes and strips)."""
    boxes, strips, _, _ = _layout(table)
    return {layer_type for *_, layer_type in boxes + strips}


def draw_legend(ax, shown):
    """A legend of the layer types ``shown``, in ``LAYER_TYPE_COLORS`` order, unknown ones as "other"."""
    names = [t for t in LAYER_TYPE_COLORS if t in shown]
    if any(t not in LAYER_TYPE_COLORS for t in shown):
        names.append("other")
    handles = [Patch(facecolor=LAYER_TYPE_COLORS[t], label=t) for t in names]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0),
              ncol=min(len(handles), 6), fontsize=8, frameon=False, title_fontsize=8,
              title="box height ∝ √(feature-map side, pixels); box width ∝ log2(channels)")

