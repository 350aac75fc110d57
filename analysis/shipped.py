"""Results of long measurements, shipped inside the package so that a reader sees them without
running anything: each a CSV under ``analysis/data/results/`` with a JSON beside it that says
which machine, when, by which command and with which package versions.

The notebooks draw from these where a live run would take too long (and say so); the
benchmarks that measure them rewrite them (``write_results``).
"""

import datetime
import importlib.metadata
import json
import os
import platform

import pandas as pd

from analysis import atomic, paths
from analysis.errors import MissingFile
from analysis.speed.machine import cpu_model

RESULTS_DIR = paths.DATA_DIR / "results"
VERSIONED_PACKAGES = ("tensorflow-cpu", "keras", "torch", "fvcore", "numpy", "pandas", "ai-edge-litert",
                      "openvino", "nncf", "onnxruntime", "onnx")


def provenance(command=None):
    """The machine, date (UTC), Python, package versions and ``command`` of a measurement."""
    versions = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        **({"command": command} if command else {}),
    }


def write_results(name, frame, command, directory=None, **details):
    """Write ``frame`` as ``name``.csv and its provenance (plus ``details``) as ``name``.json,
    each atomically, under ``directory`` (default: the package's results folder)."""
    directory = RESULTS_DIR if directory is None else directory
    atomic.write_csv(frame, directory / f"{name}.csv")
    atomic.write_text(directory / f"{name}.json", json.dumps({**provenance(command), **details}, indent=1) + "\n")
    return directory / f"{name}.csv"


def results(name, directory=None):
    """The shipped result ``name`` as a DataFrame; its provenance is in ``.attrs``.

    Raises:
        MissingFile: no such result (the message lists those shipped).
    """
    directory = RESULTS_DIR if directory is None else directory
    path = directory / f"{name}.csv"
    if not path.is_file():
        shipped = sorted(p.stem for p in directory.glob("*.csv")) if directory.is_dir() else []
        raise MissingFile(f"No shipped result {name!r} in {directory}. Shipped: {', '.join(shipped) or 'none'}")
    frame = pd.read_csv(path, keep_default_na=True)
    text = frame.select_dtypes(include="object").columns
    frame[text] = frame[text].fillna("")  # an empty note is "", not NaN
    frame.attrs.update(json.loads((directory / f"{name}.json").read_text(encoding="utf8")))
    return frame


def describe(frame):
    """One line for a notebook: where a shipped result comes from."""
    a = frame.attrs
    return (f"Shipped result, measured {a.get('date', '?')} on {a.get('cpu', '?')} ({a.get('cores', '?')} cores) "
            f"by `{a.get('command', '?')}`.")
