"""Rerun the measurements behind the shipped results and replace them
(``python -m analysis report --refresh-results``).

``REFRESHES`` says which command measures which results. A refresh runs each command in its own
process with ``--results-dir STAGING`` (a staging folder beside the results): the commands write
there, and read there first what an earlier command of the same refresh wrote
(``analysis.results.results(name, first=...)``). Only when every command has succeeded are the
new files renamed over the old ones, each whole. A refresh that fails or is stopped leaves the
shipped results as they were.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from analysis import atomic, paths
from analysis.results import RESULTS_DIR, write_results
from nets.errors import BadInput, Failed, MissingFile

# The argument that tells each command of a refresh where to write its results.
RESULTS_DIR_FLAG = "--results-dir"


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
    Refresh(("training_sweep",), ("-m", "analysis.refresh", "training_sweep")),
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


def _run_job(job, root, env, staging):
    """Run one refresh command in its own process, writing into ``staging``; a ``Failed`` naming
    it if it fails or does not write its results."""
    completed = subprocess.run([sys.executable, *job.argv, RESULTS_DIR_FLAG, str(staging)], cwd=root,
                               env={**env, **job.env})
    if completed.returncode != 0:
        raise Failed(f"Refreshing {', '.join(job.names)}: `{job.command}` exited with status "
                     f"{completed.returncode}; the shipped results are unchanged")
    absent = [n for n in job.names for suffix in ("csv", "json") if not (staging / f"{n}.{suffix}").is_file()]
    if absent:
        raise Failed(f"`{job.command}` did not write {', '.join(sorted(set(absent)))}; "
                     "the shipped results are unchanged")


def _checkout(root, jobs):
    """The checkout whose benchmarks the refresh runs (default: this one), checked to hold them."""
    root = Path(root) if root is not None else paths.CHECKOUT_ROOT
    if root is None:
        raise MissingFile("Refreshing the shipped results reruns the benchmarks of a checkout; this is an "
                          "installed package. Run it from a clone of the repository")
    missing = [job.argv[0] for job in jobs if job.argv[0] != "-m" and not (root / job.argv[0]).is_file()]
    if missing:
        raise MissingFile(f"Benchmark not found under {root}: {', '.join(missing)}")
    return root


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
    root = _checkout(root, jobs)
    directory = Path(RESULTS_DIR if directory is None else directory)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic.file_lock(directory, what=f"Shipped results folder {directory}"):
        staging = Path(tempfile.mkdtemp(prefix=".refresh-", dir=directory))
        try:
            # The commands import this package (the one running the refresh), from the checkout root.
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(
                [str(root), str(paths.PACKAGE_DIR.parent), *filter(None, [os.environ.get("PYTHONPATH")])]))}
            for job in tqdm(jobs, desc="shipped results", unit="command", disable=not progress):
                _run_job(job, root, env, staging)
            written = []
            for job in jobs:
                for name in job.names:
                    for suffix in ("json", "csv"):  # each file renamed whole over the old one
                        os.replace(staging / f"{name}.{suffix}", directory / f"{name}.{suffix}")
                        written.append(directory / f"{name}.{suffix}")
            return written
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def main(argv=None):
    """``python -m analysis.refresh training_sweep [--results-dir DIR]``: measure and ship one
    result made by the package (into ``DIR``, default the package's results folder)."""
    parser = argparse.ArgumentParser(prog="python -m analysis.refresh",
                                     description="measure and ship a result made by the package")
    parser.add_argument("name", choices=["training_sweep"])
    parser.add_argument(RESULTS_DIR_FLAG, default=None, help="where to write it (default: the package's results)")
    args = parser.parse_args(argv)
    from analysis.accuracy.sweep import training_sweep  # here: it loads TensorFlow

    write_results("training_sweep", training_sweep(), "python -m analysis.refresh training_sweep",
                  args.results_dir, seed=0, dataset="digits 32x32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
