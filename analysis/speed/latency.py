"""Timing a network on the runtimes of ``analysis.speed.runtimes``: medians of repeats, with their spread.

Each measurement warms up, then times ``repeats`` calls of one batch, each
call synchronised (its output brought to the host or the device
synchronised), and more calls until they add up to ``min_seconds``.
Results give median, interquartile range, min and max in ms per batch, ms
per image, images/s and achieved GFLOP/s (2 FLOPs per multiply-add, MACs
from ``analysis.cost``). A run whose IQR exceeds ``SPREAD_LIMIT`` of its
median is flagged ``unstable``. Rows are labelled by the variant's label,
which is unique, so earlier measurements are reused only for the same
network, and by the precision (``fp32``, ``bf16``, ``int8``; int8 rows say
which images calibrated them). A precision that this machine cannot run
(bf16 without CPU support) gives a row with no times and a ``note`` saying
why, never a silent fp32 run.
"""

import os
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from analysis.cost.table import summarize
from analysis.speed.machine import core_count
from analysis.speed import RUNTIMES, runtime_precision_pairs
from analysis.speed.conversions import calibration_set
from analysis.speed.runtimes import PrecisionUnsupported, check_runtime, prepare, runtime_version
from nets import checks

SPREAD_LIMIT = 0.10


@dataclass
class LatencyResult:
    """One (variant, runtime, precision, batch, threads) measurement; ``variant`` is its label;
    times in ms; ``calibration`` names the int8 calibration images ("" for float)."""

    variant: str
    runtime: str
    precision: str
    batch: int
    threads: int
    repeats: int
    median_ms: float
    iqr_ms: float
    min_ms: float
    max_ms: float
    ms_per_image: float
    images_per_s: float
    gflops: float
    flops_per_image: int
    unstable: bool
    runtime_version: str
    device: str
    calibration: str = ""
    note: str = ""

    def to_dict(self):
        return asdict(self)


RESULT_COLUMNS = tuple(LatencyResult.__dataclass_fields__)


def time_calls(call, repeats, warmup=3, min_seconds=0.0):
    """Seconds taken by each timed call, after ``warmup`` untimed ones: ``repeats`` calls, then
    more until the timed calls add up to ``min_seconds`` (a fast call gets more samples, so its
    median is as precise as a slow one's)."""
    checks.positive_int("repeats", repeats)
    checks.positive_number("min_seconds", min_seconds, allow_zero=True)
    for _ in range(warmup):
        call()
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return np.array(times)


def summarize_times(times_s, batch, flops_per_image):
    """Median, IQR, min, max (ms per batch), per-image figures and achieved GFLOP/s."""
    ms = np.asarray(times_s) * 1e3
    median = float(statistics.median(ms))
    q1, q3 = np.percentile(ms, [25, 75])
    return {
        "median_ms": median, "iqr_ms": float(q3 - q1), "min_ms": float(ms.min()), "max_ms": float(ms.max()),
        "ms_per_image": median / batch, "images_per_s": 1e3 * batch / median,
        "gflops": flops_per_image * batch / (median / 1e3) / 1e9,
        "unstable": bool((q3 - q1) > SPREAD_LIMIT * median),
    }


def measure(variant, runtime, batch=1, threads=None, repeats=20, warmup=3, min_seconds=0.0, model=None,
            precision="fp32", calibration=None):
    """Time ``variant`` on ``runtime`` at ``precision`` for one batch size (``repeats`` calls at
    least, and at least ``min_seconds`` of them); return a ``LatencyResult``.

    ``model``: the variant's built ``keras.Model``, if the caller has one (else it is built).
    ``calibration``: the int8 calibration set (default: digits resized to the variant's input).
    """
    batch = checks.positive_int("batch", batch)
    model = variant.build() if model is None else model
    threads = threads or core_count()
    job = _Job(variant, runtime, precision, batch)
    calibration = _calibration(job, calibration)
    try:
        call, device = prepare(variant, runtime, batch, threads, model, precision, calibration)
    except PrecisionUnsupported as reason:
        return _unsupported(job, threads, summarize(model)["flops"], str(reason))
    return _result(job, threads, device, summarize(model)["flops"], time_calls(call, repeats, warmup, min_seconds),
                   calibration)


@dataclass(frozen=True)
class _Job:
    variant: object
    runtime: str
    precision: str
    batch: int


def _calibration(job, calibration):
    if job.precision != "int8":
        return None
    return calibration or calibration_set(job.variant)


def _result(job, threads, device, flops_per_image, times_s, calibration=None):
    """The ``LatencyResult`` of the timed calls ``times_s`` (seconds, one batch each)."""
    return LatencyResult(variant=job.variant.label, runtime=job.runtime, precision=job.precision, batch=job.batch,
                         threads=threads, repeats=len(times_s), flops_per_image=flops_per_image,
                         runtime_version=runtime_version(job.runtime), device=device,
                         calibration=calibration.source if calibration else "",
                         **summarize_times(times_s, job.batch, flops_per_image))


def _unsupported(job, threads, flops_per_image, reason):
    """The row of a precision this machine cannot run: no times, and why."""
    nan = float("nan")
    return LatencyResult(variant=job.variant.label, runtime=job.runtime, precision=job.precision, batch=job.batch,
                         threads=threads, repeats=0, median_ms=nan, iqr_ms=nan, min_ms=nan, max_ms=nan,
                         ms_per_image=nan, images_per_s=nan, gflops=nan, flops_per_image=flops_per_image,
                         unstable=False, runtime_version=runtime_version(job.runtime), device="cpu", note=reason)


def benchmark(variants, runtimes=("keras", "xla", "litert"), batches=(1,), threads=None, repeats=20,
              warmup=3, progress=True, reuse=None, rounds=1, min_seconds=0.0, models=None, precisions=("fp32",)):
    """Every (variant, runtime, precision, batch) measured.

    Each runtime runs at each of ``precisions`` that it offers
    (``analysis.speed.runtime_precision_pairs``). Each job is timed for
    ``repeats`` calls at least, and more until its timed calls add up to
    ``min_seconds`` (spread evenly over the rounds).

    ``rounds`` > 1 interleaves the measurements: every job is prepared and
    warmed up first, then each round times ``repeats / rounds`` calls of
    every job in turn (after one untimed call), and each job's statistics
    pool its calls of all rounds. A shared machine drifts by tens of per
    cent over minutes; interleaving spreads the drift over all jobs alike
    instead of letting it tilt the comparison between them.

    Args:
        variants: the ``Variant`` values to time.
        reuse: a CSV of earlier measurements (rows of ``LatencyResult``
            fields, as ``benchmark`` returns them); a (variant, runtime,
            precision, batch, threads) found there with at least ``repeats``
            repeats is taken from it, not measured again. A missing file
            reuses nothing.
        models: optional {variant: keras.Model} of networks already built.

    Returns:
        A DataFrame, one row per measurement (``RESULT_COLUMNS``), in the
        order of ``variants``, runtimes, precisions and ``batches``.
    """
    variants = list(dict.fromkeys(variants))
    for runtime in runtimes:
        check_runtime(runtime)
    pairs = runtime_precision_pairs(runtimes, precisions)
    batches = [checks.positive_int("batch", batch) for batch in batches]
    rounds = checks.positive_int("rounds", rounds)
    checks.positive_int("repeats", repeats)
    checks.positive_number("min_seconds", min_seconds, allow_zero=True)
    threads = threads or core_count()
    earlier = earlier_measurements(reuse, repeats)
    jobs = [_Job(variant, runtime, precision, batch)
            for variant in variants for runtime, precision in pairs for batch in batches]
    rows = {job: earlier[_key(job, threads)] for job in jobs if _key(job, threads) in earlier}
    missing = [job for job in jobs if job not in rows]
    built = dict(models or {})
    rows.update(_measure_jobs(built, missing, threads, repeats, warmup, rounds, progress, min_seconds))
    return pd.DataFrame([rows[job] for job in jobs], columns=list(RESULT_COLUMNS))


def _key(job, threads):
    return job.variant.label, job.runtime, job.precision, int(job.batch), int(threads)


def _model_of(built, variant):
    if variant not in built:
        built[variant] = variant.build()
    return built[variant]


def _measure_jobs(built, jobs, threads, repeats, warmup, rounds, progress, min_seconds):
    """{job: LatencyResult dict} for the ``_Job`` values ``jobs``, over ``rounds`` interleaved rounds."""
    if not jobs:
        return {}
    if rounds == 1:
        return {job: measure(job.variant, job.runtime, job.batch, threads, repeats, warmup, min_seconds,
                             model=_model_of(built, job.variant), precision=job.precision).to_dict()
                for job in tqdm(jobs, desc="latency", disable=not progress)}
    rounds = min(rounds, repeats)
    per_round = [repeats // rounds + (i < repeats % rounds) for i in range(rounds)]
    order = sorted(jobs, key=lambda job: RUNTIMES.index(job.runtime))  # one runtime at a time within a round
    bar = tqdm(total=len(jobs) * (rounds + 1), desc="latency (interleaved)", disable=not progress)
    prepared, flops, done = {}, {}, {}
    for job in order:
        model = _model_of(built, job.variant)
        flops.setdefault(job.variant, summarize(model)["flops"])
        calibration = _calibration(job, None)
        try:
            call, device = prepare(job.variant, job.runtime, job.batch, threads, model, job.precision, calibration)
        except PrecisionUnsupported as reason:
            done[job] = _unsupported(job, threads, flops[job.variant], str(reason)).to_dict()
            bar.update(rounds + 1)
            continue
        for _ in range(warmup):
            call()
        prepared[job] = (call, device, calibration)
        bar.update(1)
    times = {job: [] for job in prepared}
    for count in per_round:
        for job in (job for job in order if job in prepared):
            times[job].extend(time_calls(prepared[job][0], count, warmup=1, min_seconds=min_seconds / rounds))
            bar.update(1)
    bar.close()
    done.update({job: _result(job, threads, prepared[job][1], flops[job.variant], times[job],
                              prepared[job][2]).to_dict() for job in prepared})
    return done


def earlier_measurements(path, repeats):
    """Rows of an earlier measurement CSV with at least ``repeats`` repeats, as dicts keyed by
    (variant label, runtime, precision, batch, threads); empty if ``path`` is None or missing
    (or written before rows carried a precision)."""
    if path is None or not os.path.isfile(path):
        return {}
    fields = list(RESULT_COLUMNS)
    table = pd.read_csv(path)
    if not set(fields) <= set(table.columns):
        return {}
    table = table[table["repeats"] >= repeats]
    table = table.fillna({"calibration": "", "note": ""})
    return {(row["variant"], row["runtime"], row["precision"], int(row["batch"]), int(row["threads"])): row
            for row in table[fields].to_dict("records")}
