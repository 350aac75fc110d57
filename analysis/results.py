"""Results of long measurements, shipped inside the package so that a reader sees them without
running anything: each a CSV under ``analysis/data/results/`` with a JSON beside it that says
which machine, when, by which command and with which package versions.

The notebooks draw from these where a live run would take too long (and say so); the
benchmarks that measure them write them (``write_results``, into the folder they are given:
a study gives them its folder, ``analysis.study``). Pure Python: nothing here loads TensorFlow.
"""

import datetime
import json
import os
import platform
from pathlib import Path

import pandas as pd

from analysis import atomic, paths
from analysis.speed.cpu import cpu_model
from analysis.speed.fingerprint import Fingerprint
from analysis.versions import installed_version
from nets.errors import BadInput, MissingFile

RESULTS_DIR = paths.DATA_DIR / "results"
VERSIONED_PACKAGES = ("tensorflow-cpu", "keras", "torch", "fvcore", "numpy", "pandas", "ai-edge-litert",
                      "openvino", "nncf", "onnxruntime", "onnx")


def provenance(command=None):
    """The machine, date (UTC), Python, package versions and ``command`` of a measurement."""
    versions = {package: installed_version(package)[1] for package in VERSIONED_PACKAGES}
    versions = {package: version for package, version in versions.items() if version}
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
    """Write ``frame`` as ``name``.csv and its provenance (this machine, now, ``command``, plus
    ``details``) as ``name``.json, each atomically, under ``directory`` (default: the package's
    results folder)."""
    return register(name, frame, {**provenance(command), **details}, directory)


def register(name, frame, about, directory=None):
    """Ship ``frame`` as the result ``name`` with the provenance ``about`` as given (a dict with at
    least date, command and the machine: cpu and cores, or device), for a measurement made
    elsewhere or earlier; each file written atomically under ``directory`` (default: the
    package's results folder). Returns the CSV's path."""
    missing = [key for key in ("date", "command") if not about.get(key)]
    if missing or not (about.get("cpu") or about.get("device")):
        raise BadInput(f"about must name the date, command and machine (cpu or device) of {name!r}. "
                       f"Received keys {sorted(about)}")
    directory = Path(RESULTS_DIR if directory is None else directory)
    atomic.write_csv(frame, directory / f"{name}.csv")
    atomic.write_text(directory / f"{name}.json", json.dumps(about, indent=1) + "\n")
    return directory / f"{name}.csv"


def results(name, directory=None, first=None):
    """The shipped result ``name`` as a DataFrame; its provenance is in ``.attrs``.

    ``directory``: the results folder (default: the package's). ``first``: a folder read
    instead where it holds ``name`` (a benchmark reads there what an earlier one wrote).

    Raises:
        MissingFile: no such result (the message lists those shipped).
    """
    directory = Path(RESULTS_DIR if directory is None else directory)
    if first is not None and (Path(first) / f"{name}.csv").is_file():
        directory = Path(first)
    path = directory / f"{name}.csv"
    if not path.is_file():
        shipped = sorted(p.stem for p in directory.glob("*.csv")) if directory.is_dir() else []
        raise MissingFile(f"No shipped result {name!r} in {directory}. Shipped: {', '.join(shipped) or 'none'}")
    frame = pd.read_csv(path, keep_default_na=True)
    text = frame.select_dtypes(include="object").columns
    frame[text] = frame[text].fillna("")  # an empty note is "", not NaN
    frame.attrs.update(json.loads((directory / f"{name}.json").read_text(encoding="utf8")))
    return frame


def machine(about):
    """The machine of a result's provenance in words: its GPU, its fingerprint, or its CPU and cores."""
    if about.get("device"):
        return str(about["device"])
    if about.get("fingerprint"):
        return Fingerprint.from_dict(about["fingerprint"]).describe()
    return f"{about.get('cpu', '?')} ({about.get('cores', '?')} cores)"


def describe(frame):
    """One line for a notebook: where a result comes from (date, machine, command)."""
    a = frame.attrs
    return f"Measured {a.get('date', '?')} on {machine(a)} by `{a.get('command', '?')}`."
