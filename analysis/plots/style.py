"""The suite's figure style, its colours, and saving figures.

Plotting only: counts come from ``analysis.cost`` and times from
``analysis.speed``; the figure modules of this package draw what those
tables already hold. Every function uses matplotlib's object API, so it runs
under the non-interactive Agg backend (the command line, CI) as well as
inline in a notebook.
"""

import io
import re
from pathlib import Path

import matplotlib as mpl
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from analysis import atomic, paths
from nets.errors import BadInput


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

# Saved PNGs are at least MIN_PNG_WIDTH_PX wide (the README's gallery shows them at that width):
# a figure narrower than MIN_PNG_WIDTH_PX / PNG_DPI inches is saved at a higher dpi.
PNG_DPI = 150
MIN_PNG_WIDTH_PX = 1600
FIGURE_FORMATS = ("png", "svg")
# A fixed salt makes the ids inside an SVG the same on every run.
_SVG_RC = {"svg.hashsalt": "vgg-mobilenet-suite"}
_STEM = re.compile(r"^[A-Za-z0-9_-]+$")

def set_style():
    """Apply the suite's figure style: seaborn whitegrid, notebook context, colour-blind palette."""
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


def png_dpi(fig):
    """The dpi at which ``fig`` saves a PNG of at least ``MIN_PNG_WIDTH_PX`` pixels: ``PNG_DPI``, or
    more for a narrow figure (its width as drawn: ``bbox_inches="tight"`` crops to the artists)."""
    fig.canvas.draw()  # the tight box needs a drawn figure
    width_in = fig.get_tightbbox(fig.canvas.get_renderer()).width
    return max(PNG_DPI, int(np.ceil(MIN_PNG_WIDTH_PX / max(width_in, 1e-3))) + 1)


def save_fig(fig, name, directory=None):
    """Save ``fig`` as ``<name>.png`` (``PNG_DPI``, or more so that it is at least
    ``MIN_PNG_WIDTH_PX`` pixels wide) and ``<name>.svg``.

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
        raise BadInput(
            "name must be a file stem of letters, digits, '_' and '-' (no directory, no suffix). "
            f"Received name={name!r}"
        )
    if not isinstance(fig, Figure):
        raise BadInput(f"fig must be a matplotlib Figure. Received fig={fig!r}")
    directory = Path(paths.FIGURES_DIR if directory is None else directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    dpi = png_dpi(fig)
    with mpl.rc_context(_SVG_RC):
        for fmt in FIGURE_FORMATS:
            path = directory / f"{name}.{fmt}"
            metadata = {"Date": None} if fmt == "svg" else None
            buffer = io.BytesIO()  # drawn whole, then written atomically: no half-written figure
            fig.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
            atomic.write_bytes(path, buffer.getvalue())
            written.append(path)
    return written


# Runtimes of analysis.speed.runtimes, one colour each in every figure of the suite.
RUNTIME_COLORS = {"keras": "#0173b2", "xla": "#cc78bc", "litert": "#029e73", "torch": "#de8f05",
                  "openvino": "#56b4e9", "onnxruntime": "#ca9161"}
# Precisions of analysis.speed, one hatch each where bars are split by precision.
PRECISION_HATCHES = {"fp32": "", "bf16": "//", "int8": "xx"}
EXTRA_COLORS = ("#0173b2", "#de8f05", "#cc78bc", "#ca9161", "#949494", "#56b4e9")


def model_color(label, index=0):
    """The colour of a model label: ``MODEL_COLORS`` by exact name, then by prefix
    (``MobileNet 0.5/160`` is a MobileNet), else the ``index``-th spare colour."""
    if label in MODEL_COLORS:
        return MODEL_COLORS[label]
    for name, color in MODEL_COLORS.items():
        if str(label).startswith(name):
            return color
    return EXTRA_COLORS[index % len(EXTRA_COLORS)]


def check_columns(frame, columns, argument, what):
    missing = set(columns) - set(frame.columns)
    if missing:
        raise BadInput(
            f"{argument} must be {what} with columns {', '.join(columns)}. "
            f"Received a table without {sorted(missing)}"
        )


def check_rows(frame, columns, argument, what):
    """``check_columns``, and at least one row."""
    check_columns(frame, columns, argument, what)
    if frame.empty:
        raise BadInput(f"{argument} must be {what} with at least one row. Received an empty table")


# --- error bars of timings ------------------------------------------------------------------------
#
# Every timing figure draws the spread of its times as error bars from the first to the third
# quartile. A table names them, for a time column ``c`` (ms): ``c_q1`` and ``c_q3`` where both
# quartiles are known; else ``c_iqr``, the interquartile range, drawn as ``c ± c_iqr / 2`` (the
# quartiles themselves are not kept, so the bar is centred on the median); a latency row's own
# ``iqr_ms`` (per call) serves ``median_ms``, and ``iqr_ms / batch`` serves ``ms_per_image``.


def quartiles(frame, column):
    """(q1, q3) of the time ``column`` of ``frame`` as float arrays (NaN where unknown), or None
    where ``frame`` holds no spread for it (see the rules above)."""
    values = frame[column].astype(float).to_numpy()
    if f"{column}_q1" in frame and f"{column}_q3" in frame:
        return frame[f"{column}_q1"].astype(float).to_numpy(), frame[f"{column}_q3"].astype(float).to_numpy()
    if f"{column}_iqr" in frame:
        iqr = frame[f"{column}_iqr"].astype(float).to_numpy()
    elif column == "median_ms" and "iqr_ms" in frame:
        iqr = frame["iqr_ms"].astype(float).to_numpy()
    elif column == "ms_per_image" and "iqr_ms" in frame and "batch" in frame:
        iqr = frame["iqr_ms"].astype(float).to_numpy() / frame["batch"].astype(float).to_numpy()
    else:
        return None
    return values - iqr / 2, values + iqr / 2


def error_lengths(values, low, high):
    """The (below, above) lengths of error bars from ``low`` to ``high`` around ``values``, as
    matplotlib's ``yerr``/``xerr`` takes them: a 2 x n array, 0 where a bound is unknown."""
    values = np.asarray(values, dtype=float)
    below = np.nan_to_num(values - np.asarray(low, dtype=float), nan=0.0)
    above = np.nan_to_num(np.asarray(high, dtype=float) - values, nan=0.0)
    return np.vstack([np.clip(below, 0, None), np.clip(above, 0, None)])


def iqr_errors(frame, column):
    """``error_lengths`` of the time ``column`` from its quartiles (``quartiles``), or None."""
    bounds = quartiles(frame, column)
    return None if bounds is None else error_lengths(frame[column], *bounds)


def ratio_bounds(numerator, denominator):
    """The ratio of quartiles of two times: (num q1 / den q3, num q3 / den q1), each argument a
    (q1, q3) pair of arrays. The widest the ratio of two times within their quartiles can be;
    a denominator whose q1 is not positive gives an unbounded (infinite) upper end."""
    (n1, n3), (d1, d3) = ([np.asarray(a, dtype=float) for a in pair] for pair in (numerator, denominator))
    with np.errstate(divide="ignore", invalid="ignore"):
        return n1 / d3, np.where(d1 > 0, n3 / d1, np.inf)
