"""The suite's figure style, its colours, and saving figures.

Plotting only: counts come from ``analysis.cost`` and times from
``analysis.speed``; the figure modules of this package draw what those
tables already hold. Every function uses matplotlib's object API, so it runs
under the non-interactive Agg backend (the command line, CI) as well as
inline in a notebook.
"""

import re
from pathlib import Path

import matplotlib as mpl
import seaborn as sns
from matplotlib.figure import Figure

from analysis import paths
from analysis.errors import BadInput


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
        raise BadInput(
            "name must be a file stem of letters, digits, '_' and '-' (no directory, no suffix). "
            f"Received name={name!r}"
        )
    if not isinstance(fig, Figure):
        raise BadInput(f"fig must be a matplotlib Figure. Received fig={fig!r}")
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
