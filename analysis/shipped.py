"""Results of long measurements, shipped inside the package so that a reader sees them without
running anything: each a CSV under ``analysis/data/results/`` with a JSON beside it that says
which machine, when, by which command and with which package versions.

The notebooks draw from these where a live run would take too long (and say so); the
benchmarks that measure them rewrite them (``write_results``), and ``refresh`` reruns those
benchmarks and replaces the shipped files (``python -m analysis report --refresh-results``).

``REFRESHES`` says which command measures which results. A refresh runs each command in its own
process with ``SUITE_SHIPPED_DIR`` naming a staging folder beside the results: the commands
write there (and read there what an earlier one of the same refresh wrote), and only when every
command has succeeded are the new files renamed over the old ones, each whole. A refresh that
fails or is stopped leaves the shipped results as they were.
"""

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import atomic, paths
from nets.errors import BadInput, Failed, MissingFile
from analysis.speed.cpu import cpu_model
from analysis.versions import installed_version

RESULTS_DIR = paths.DATA_DIR / "results"
# Set by ``refresh`` for the commands it runs: where write_results writes and results reads first.
STAGING_ENV = "SUITE_SHIPPED_DIR"
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


def _write_directory(directory):
    if directory is not None:
        return Path(directory)
    return Path(os.environ[STAGING_ENV]) if os.environ.get(STAGING_ENV) else RESULTS_DIR


def write_results(name, frame, command, directory=None, **details):
    """Write ``frame`` as ``name``.csv and its provenance (this machine, now, ``command``, plus
    ``details``) as ``name``.json, each atomically, under ``directory`` (default: the package's
    results folder, or the staging folder of a ``refresh`` in progress)."""
    return register(name, frame, {**provenance(command), **details}, directory)


def register(name, frame, about, directory=None):
    """Ship ``frame`` as the result ``name`` with the provenance ``about`` as given (a dict with at
    least date, command and the machine: cpu and cores, or device), for a measurement made
    elsewhere or earlier; each file written atomically. Returns the CSV's path."""
    missing = [key for key in ("date", "command") if not about.get(key)]
    if missing or not (about.get("cpu") or about.get("device")):
        raise BadInput(f"about must name the date, command and machine (cpu or device) of {name!r}. "
                       f"Received keys {sorted(about)}")
    directory = _write_directory(directory)
    atomic.write_csv(frame, directory / f"{name}.csv")
    atomic.write_text(directory / f"{name}.json", json.dumps(about, indent=1) + "\n")
    return directory / f"{name}.csv"


def results(name, directory=None):
    """The shipped result ``name`` as a DataFrame; its provenance is in ``.attrs``.

    Raises:
        MissingFile: no such result (the message lists those shipped).
    """
    if directory is None:
        staged = os.environ.get(STAGING_ENV)
        directory = Path(staged) if staged and (Path(staged) / f"{name}.csv").is_file() else RESULTS_DIR
    directory = Path(directory)
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
    """The machine of a result's provenance in words: its GPU, or its CPU and cores."""
    if about.get("device"):
        return str(about["device"])
    return f"{about.get('cpu', '?')} ({about.get('cores', '?')} cores)"


def describe(frame):
    """One line for a notebook: where a shipped result comes from."""
    a = frame.attrs
    return f"Shipped result, measured {a.get('date', '?')} on {machine(a)} by `{a.get('command', '?')}`."


# --- refreshing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Refresh:
    """One command of a refresh: what it runs (Python arguments, from the checkout's root), the
    shipped results it writes, and the environment it needs."""

    names: tuple
    argv: tuple
    env: dict = field(default_factory=dict)
    gpu: bool = False  # needs a GPU: refreshed only when asked for by name

    @property
    def command(self):
        prefix = "".join(f"{k}={v} " for k, v in self.env.items())
        return prefix + "python " + " ".join(self.argv)


LATENCY_RUNTIMES = "keras,xla,litert,openvino,onnxruntime"
# In order: quantized_latency times the networks whose accuracy quantized_accuracy holds.
REFRESHES = (
    Refresh(("latency_study", "latency_fit_validation", "predict_validation"),
            ("benchmarks/bench_latency.py", "--runtimes", LATENCY_RUNTIMES, "--precisions", "fp32,bf16,int8",
             "--no-overhead")),
    Refresh(("deployment_latency", "deployment_direct", "quantized_accuracy"), ("benchmarks/bench_precision.py",)),
    Refresh(("quantized_latency",), ("benchmarks/bench_precision.py", "--digits-latency-only")),
    Refresh(("training_sweep",), ("-m", "analysis.shipped", "training_sweep")),
    Refresh(("gpu_latency",), ("benchmarks/bench_gpu.py",), env={"KERAS_BACKEND": "torch"}, gpu=True),
)
SHIPPED_NAMES = tuple(name for job in REFRESHES for name in job.names)


def _jobs(names):
    """The refreshes that write ``names`` (default: every result but those that need a GPU)."""
    if names is None:
        return [job for job in REFRESHES if not job.gpu]
    names = [names] if isinstance(names, str) else list(names)
    known = [name for job in REFRESHES for name in job.names]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise BadInput(f"names must be shipped results: {', '.join(known)}. Received names={names!r}")
    return [job for job in REFRESHES if set(job.names) & set(names)]


def _run_job(job, root, env):
    """Run one refresh command in its own process; a ``Failed`` naming it if it fails."""
    completed = subprocess.run([sys.executable, *job.argv], cwd=root, env={**env, **job.env})
    if completed.returncode != 0:
        raise Failed(f"Refreshing {', '.join(job.names)}: `{job.command}` exited with status "
                     f"{completed.returncode}; the shipped results are unchanged")


def refresh(names=None, progress=True, root=None, directory=None):
    """Rerun the measurements behind the shipped results and replace them.

    Runs the commands of ``REFRESHES`` that write ``names`` (default: all but the GPU's,
    ``gpu_latency``, which needs a machine with one and is refreshed only by name), in order,
    each in its own process with a tqdm bar over them, from the checkout ``root`` (default: this
    one). The commands write into a staging folder beside ``directory`` (default: the package's
    results folder); when all have succeeded, their files replace the shipped ones, each renamed
    whole. One refresh at a time (a lock on the folder). A full refresh takes hours: the
    latency study and the precision runs time every runtime and precision, and the training
    runs train the digits networks.

    Returns:
        The paths written (CSV and JSON of every result refreshed).

    Raises:
        BadInput: an unknown name.
        MissingFile: no checkout (an installed package has no benchmarks to run).
        Failed: a command failed, or did not write what it should; nothing was replaced.
    """
    from tqdm.auto import tqdm

    jobs = _jobs(names)
    root = Path(root) if root is not None else paths.CHECKOUT_ROOT
    if root is None:
        raise MissingFile("Refreshing the shipped results reruns the benchmarks of a checkout; this is an "
                          "installed package. Run it from a clone of the repository")
    missing = [job.argv[0] for job in jobs if job.argv[0] != "-m" and not (root / job.argv[0]).is_file()]
    if missing:
        raise MissingFile(f"Benchmark not found under {root}: {', '.join(missing)}")
    directory = Path(RESULTS_DIR if directory is None else directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic.file_lock(directory, what=f"Shipped results folder {directory}"):
        staging = Path(tempfile.mkdtemp(prefix=".refresh-", dir=directory))
        try:
            env = {**os.environ, STAGING_ENV: str(staging)}
            # The commands import this package (the one running the refresh), from the checkout root.
            env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(
                [str(root), str(paths.PACKAGE_DIR.parent), *filter(None, [env.get("PYTHONPATH")])]))
            for job in tqdm(jobs, desc="shipped results", unit="command", disable=not progress):
                _run_job(job, root, env)
                absent = [n for n in job.names for suffix in ("csv", "json") if not (staging / f"{n}.{suffix}").is_file()]
                if absent:
                    raise Failed(f"`{job.command}` did not write {', '.join(sorted(set(absent)))}; "
                                 "the shipped results are unchanged")
            written = []
            for job in jobs:
                for name in job.names:
                    for suffix in ("json", "csv"):  # each file renamed whole over the old one
                        os.replace(staging / f"{name}.{suffix}", directory / f"{name}.{suffix}")
                        written.append(directory / f"{name}.{suffix}")
            return written
        finally:
            shutil.rmtree(staging, ignore_errors=True)


# --- the training sweep -------------------------------------------------------------------------

def training_sweep_variants():
    """The training sweep of a full run (notebook 05): MobileNet at three widths and VGG16 on the
    32x32 digits, (variant, epochs) each, shorter than ``train``'s recommended schedules."""
    from analysis.variants import Variant

    return ((Variant("mobilenet", alpha=0.25), 20), (Variant("mobilenet", alpha=0.5), 20),
            (Variant("mobilenet"), 20), (Variant("vgg16"), 12))


TRAINING_SWEEP_COLUMNS = ("variant", "accuracy", "params", "macs", "latency_ms", "train_seconds", "epochs_run")


def training_sweep(progress=True):
    """Train the sweep of ``training_sweep_variants`` on digits (32x32, seed 0, every training
    image): one row per network with ``TRAINING_SWEEP_COLUMNS``."""
    from analysis.accuracy import training

    runs = [training.train(variant, "digits", epochs=epochs, seed=0, progress=progress, record=False)
            for variant, epochs in training_sweep_variants()]
    return pd.DataFrame([run.to_dict() for run in runs])[list(TRAINING_SWEEP_COLUMNS)]


def main(argv=None):
    """``python -m analysis.shipped training_sweep``: measure and ship one result made by the package."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv != ["training_sweep"]:
        print("usage: python -m analysis.shipped training_sweep", file=sys.stderr)
        return 2
    write_results("training_sweep", training_sweep(), "python -m analysis.shipped training_sweep", seed=0,
                  dataset="digits 32x32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
