"""Saving the tables that the notebooks make, as CSV under ``reports/tables/``.

One call per table, ``save_table(frame, "03_vgg16_layers")``, in the manner
of ``analysis.plots.save_fig`` for figures: the name is a plain file stem,
the folder is ``analysis.paths.TABLES_DIR`` unless told, and the write is
atomic (``analysis.atomic.write_csv``: a temporary file in the same folder,
then a rename), so a reader of the folder never sees half a table.
"""

import re
from pathlib import Path

import pandas as pd

from analysis import atomic, paths
from nets.errors import BadInput

_STEM = re.compile(r"^[A-Za-z0-9_-]+$")


def save_table(frame, name, directory=None):
    """Write ``frame`` as ``<directory>/<name>.csv`` (without its index) atomically.

    Args:
        frame: a ``pandas.DataFrame``.
        name: the file stem: letters, digits, ``_`` and ``-`` only (no
            folder, no suffix), as ``analysis.plots.save_fig`` takes it.
        directory: where to write; defaults to ``analysis.paths.TABLES_DIR``.
            Created if missing.

    Returns:
        The written ``pathlib.Path``.

    Raises:
        ValueError: ``name`` is not a simple file stem, or ``frame`` is not a DataFrame.
    """
    if not isinstance(name, str) or not _STEM.fullmatch(name):
        raise BadInput("name must be a file stem of letters, digits, '_' and '-' (no directory, no suffix). "
                       f"Received name={name!r}")
    if not isinstance(frame, pd.DataFrame):
        raise BadInput(f"frame must be a pandas DataFrame. Received frame={type(frame).__name__}")
    directory = Path(paths.TABLES_DIR if directory is None else directory)
    return atomic.write_csv(frame, directory / f"{name}.csv")
