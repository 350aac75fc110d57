"""Timing a network on the runtimes of ``analysis.speed.runtimes``: medians of repeats, with their spread.

Each measurement warms up, then times ``repeats`` calls of one batch, each
call synchronised (its output brought to the host or the device
synchronised), and more calls until they add up to ``min_seconds``.
Results give median, interquartile range, min and max in ms per batch, ms
per image, images/s and achieved GFLOP/s (2 FLOPs per multiply-add, MACs
from ``analysis.cost``). A run whose IQR exceeds ``SPREAD_LIMIT`` of its
median is flagged ``unstable``. Rows are labelled by the variant's label,
which is unique, so earlier measurements are reused only for the same
network.
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
from analysis.speed.runtimes import RUNTIMES, check_runtime, prepare, runtime_version
from nets import checks

SPREAD_LIMIT = 0.10


@dataclass
class LatencyResult:
    """One (variant, runtime, batch, threads) measurement; ``variant`` is its label; times in ms."""

    variant: str
    runtime: str
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


def measure(variant, runtime, batch=1, threads=None, repeats=20, warmup=3, min_seconds=0.0, model=None):
    """Time ``variant`` on ``runtime`` for one batch size (``repeats`` calls at least, and at least
    ``min_seconds`` of them); return a ``LatencyResult``.

    ``model``: the variant's built ``keras.Model``, if the caller has one (else it is built).
    """
    batch = checks.positive_int("batch", batch)
    model = variant.build() if model is None else model
    threads = threads or core_count()
    call, device = prepare(variant, runtime, batch, threads, model)
    return _result(variant, runtime, batch, threads, device, summarize(model)["flops"],
                   time_calls(call, repeats, warmup, min_seconds))


def _result(variant, runtime, batch, threads, device, flops_per_image, times_s):
    """The ``LatencyResult`` of the timed calls ``times_s`` (seconds, one batch each)."""
    return LatencyResult(variant=variant.label, runtime=runtime, batch=batch, threads=threads,
                         repeats=len(times_s), flops_per_image=flops_per_image,
                         runtime_version=runtime_version(runtime), device=device,
                         **summarize_times(times_s, batch, flops_per_image))


def benchmark(variants, runtimes=("keras", "xla", "litert"), batches=(1,), threads=None, repeats=20,
              warmup=3, progress=True, reuse=None, rounds=1, min_seconds=0.0, models=None):
    """Every (variant, runtime, batch) measured.

    Each is timed for ``repeats`` calls at least, and more until its timed
    calls add up to ``min_seconds`` (spread evenly over the rounds).

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
            batch, threads) found there with at least ``repeats`` repeats is
            taken from it, not measured again. A missing file reuses nothing.
        models: optional {variant: keras.Model} of networks already built.

    Returns:
        A DataFrame, one row per measurement (``RESULT_COLUMNS``), in the
        order of ``variants``, ``runtimes`` and ``batches``.
    """
    variants = list(dict.fromkeys(variants))
    for runtime in runtimes:
        check_runtime(runtime)
    batches = [checks.positive_int("batch", batch) for batch in batches]
    rounds = checks.positive_int("rounds", rounds)
    checks.positive_int("repeats", repeats)
    checks.positive_number("min_seconds", min_seconds, allow_zero=True)
    threads = threads or core_count()
    earlier = earlier_measurements(reuse, repeats)
    jobs = [(variant, runtime, batch) for variant in variants for runtime in runtimes for batch in batches]
    rows = {job: earlier[_key(*job, threads)] for job in jobs if _key(*job, threads) in earlier}
    missing = [job for job in jobs if job not in rows]
    built = dict(models or {})
    rows.update(_measure_jobs(built, missing, threads, repeats, warmup, rounds, progress, min_seconds))
    return pd.DataFrame([rows[job] for job in jobs], columns=list(RESULT_COLUMNS))


def _key(variant, runtime, batch, threads):
    return variant.label, runtime, int(batch), int(threads)


def _model_of(built, variant):
    if variant not in built:
        built[variant] = variant.build()
    return built[variant]


def _measure_jobs(built, jobs, threads, repeats, warmup, rounds, progress, min_seconds):
    """{job: LatencyResult dict} for (variant, runtime, batch) jobs, over ``rounds`` interleaved rounds."""
    if not jobs:
        return {}
    if rounds == 1:
        return {(variant, runtime, batch): measure(variant, runtime, batch, threads, repeats, warmup, min_seconds,
                                                   model=_model_of(built, variant)).to_dict()
                for variant, runtime, batch in tqdm(jobs, desc="latency", disable=not progress)}
    rounds = min(rounds, repeats)
    per_round = [repeats // rounds + (i < repeats % rounds) for i in range(rounds)]
    order = sorted(jobs, key=lambda job: RUNTIMES.index(job[1]))  # one runtime at a time within a round
    bar = tqdm(total=len(jobs) * (rounds + 1), desc="latency (interleaved)", disable=not progress)
    prepared, flops = {}, {}
    for variant, runtime, batch in order:
        model = _model_of(built, variant)
        call, device = prepare(variant, runtime, batch, threads, model)
        for _ in range(warmup):
            call()
        prepared[(variant, runtime, batch)] = (call, device)
        if variant not in flops:
            flops[variant] = summarize(model)["flops"]
        bar.update(1)
    times = {job: [] for job in jobs}
    for count in per_round:
        for job in order:
            times[job].extend(time_calls(prepared[job][0], count, warmup=1, min_seconds=min_seconds / rounds))
            bar.update(1)
    bar.close()
    return {job: _result(job[0], job[1], job[2], threads, prepared[job][1], flops[job[0]], times[job]).to_dict()
            for job in jobs}


def earlier_measurements(path, repeats):
    """Rows of an earlier measurement CSV with at least ``repeats`` repeats, as dicts keyed by
    (variant label, runtime, batch, threads); empty if ``path`` is None or missing."""
    if path is None or not os.path.isfile(path):
        return {}
    fields = list(RESULT_COLUMNS)
    table = pd.read_csv(path)
    if not set(fields) <= set(table.columns):
        return {}
    table = table[table["repeats"] >= repeats]
    return {(row["variant"], row["runtime"], int(row["batch"]), int(row["threads"])): row
            for row in table[fields].to_dict("records")}
