"""Timing a network on a configuration (a runtime at a precision): medians of repeats, with their spread.

Each measurement warms up, then times ``repeats`` calls of one batch, each
call synchronised, and more calls until they add up to ``min_seconds``
(``Timing``). Results give median, interquartile range, min and max in ms
per batch, ms per image, images/s and achieved GFLOP/s (2 FLOPs per
multiply-add, MACs from ``analysis.cost``). A run whose IQR exceeds
``SPREAD_LIMIT`` of its median is flagged ``unstable``. Rows are labelled by
the variant's label and the precision; int8 rows say which images
calibrated them. A precision that this machine cannot run (bf16 without CPU
support) gives a row with no times and a ``note`` saying why, never a silent
fp32 run.
"""

import os
import statistics
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from analysis.cost.table import summarize
from analysis.speed.conversions import speed_calibration
from analysis.speed.cpu import core_count
from analysis.speed.harness import check_runnable, prepare
from analysis.speed.runtimes import PrecisionUnsupported, names
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
    for _ in range(warmup):
        call()
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return np.array(times)


def alternated_times(calls, repeats, warmup=3, block=5):
    """Seconds taken by each of ``calls``, ``repeats`` timed calls each after ``warmup`` untimed
    ones, in alternating blocks of ``block`` calls (so that every call sees the same machine, and a
    runtime's spinning threads rarely overlap another's): one array per call."""
    for call in calls:
        for _ in range(warmup):
            call()
    times = [[] for _ in calls]
    while len(times[0]) < repeats:
        count = min(block, repeats - len(times[0]))
        for call, seconds in zip(calls, times):
            seconds.extend(time_calls(call, count, warmup=0))
    return [np.array(seconds) for seconds in times]


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


@dataclass(frozen=True)
class Timing:
    """How each job is timed: ``repeats`` calls at least after ``warmup`` untimed ones, more until
    the timed calls add up to ``min_seconds``, in ``rounds`` rounds interleaved over the jobs."""

    repeats: int = 20
    warmup: int = 3
    rounds: int = 1
    min_seconds: float = 0.0

    def __post_init__(self):
        checks.positive_int("repeats", self.repeats)
        checks.positive_int("warmup", self.warmup, minimum=0)
        checks.positive_int("rounds", self.rounds)
        checks.positive_number("min_seconds", self.min_seconds, allow_zero=True)


@dataclass(frozen=True)
class _Job:
    variant: object
    config: object
    batch: int

    @property
    def runtime(self):
        return self.config.runtime

    @property
    def precision(self):
        return self.config.precision


def time_network(variant, config, batch=1, threads=None, timing=Timing(), model=None, calibration=None):
    """Time ``variant`` on the ``Configuration`` ``config`` for one batch size; a ``LatencyResult``.

    ``model``: the variant's built ``keras.Model``, if the caller has one (else it is built).
    ``calibration``: the int8 calibration images (default: digits resized to the variant's input).
    """
    batch = checks.positive_int("batch", batch)
    check_runnable(config)
    model = variant.build() if model is None else model
    threads = threads or core_count()
    job = _Job(variant, config, batch)
    calibration = _calibration(job, calibration)
    flops = summarize(model)["flops"]
    try:
        call, device = prepare(variant, config, model, batch, threads, calibration)
    except PrecisionUnsupported as reason:
        return _unsupported(job, threads, flops, str(reason))
    times = time_calls(call, timing.repeats, timing.warmup, timing.min_seconds)
    return _result(job, threads, device, flops, times, calibration)


def _calibration(job, calibration):
    if job.precision != "int8":
        return None
    return calibration or speed_calibration(job.variant)


def _result(job, threads, device, flops_per_image, times_s, calibration=None):
    """The ``LatencyResult`` of the timed calls ``times_s`` (seconds, one batch each)."""
    return LatencyResult(variant=job.variant.label, runtime=job.runtime, precision=job.precision, batch=job.batch,
                         threads=threads, repeats=len(times_s), flops_per_image=flops_per_image,
                         runtime_version=job.config.record.version(), device=device,
                         calibration=calibration.source if calibration else "",
                         **summarize_times(times_s, job.batch, flops_per_image))


def _unsupported(job, threads, flops_per_image, reason):
    """The row of a precision this machine cannot run: no times, and why."""
    nan = float("nan")
    return LatencyResult(variant=job.variant.label, runtime=job.runtime, precision=job.precision, batch=job.batch,
                         threads=threads, repeats=0, median_ms=nan, iqr_ms=nan, min_ms=nan, max_ms=nan,
                         ms_per_image=nan, images_per_s=nan, gflops=nan, flops_per_image=flops_per_image,
                         unstable=False, runtime_version=job.config.record.version(), device="cpu", note=reason)


def benchmark(variants, configs, batches=(1,), threads=None, timing=Timing(), progress=True, reuse=None, models=None):
    """Every (variant, configuration, batch) measured: a DataFrame of ``LatencyResult`` rows, in
    the order of ``variants``, ``configs`` and ``batches``.

    ``configs`` are ``Configuration`` values (``analysis.speed.runtimes.configurations``).
    With ``timing.rounds`` > 1 the measurements are interleaved: every job is prepared and
    warmed up first, then each round times ``repeats / rounds`` calls of every job in turn
    (after one untimed call), and each job's statistics pool its calls of all rounds, so that
    a machine's drift over minutes tilts no comparison.

    Args:
        reuse: a CSV of earlier measurements (``LatencyResult`` rows); a (variant, runtime,
            precision, batch, threads) found there with at least ``timing.repeats`` repeats is
            taken from it, not measured again. A missing file reuses nothing.
        models: optional {variant: keras.Model} of networks already built.
    """
    variants = list(dict.fromkeys(variants))
    for config in configs:
        check_runnable(config)
    batches = [checks.positive_int("batch", batch) for batch in batches]
    threads = threads or core_count()
    earlier = earlier_measurements(reuse, timing.repeats)
    jobs = [_Job(variant, config, batch) for variant in variants for config in configs for batch in batches]
    rows = {job: earlier[_key(job, threads)] for job in jobs if _key(job, threads) in earlier}
    missing = [job for job in jobs if job not in rows]
    built = dict(models or {})
    rows.update(_measure_jobs(built, missing, threads, timing, progress))
    return pd.DataFrame([rows[job] for job in jobs], columns=list(RESULT_COLUMNS))


def _key(job, threads):
    return job.variant.label, job.runtime, job.precision, int(job.batch), int(threads)


def _model_of(built, variant):
    if variant not in built:
        built[variant] = variant.build()
    return built[variant]


def _measure_jobs(built, jobs, threads, timing, progress):
    """{job: LatencyResult dict} for the ``_Job`` values ``jobs``, over ``timing.rounds`` interleaved rounds."""
    if not jobs:
        return {}
    if timing.rounds == 1:
        return {job: time_network(job.variant, job.config, job.batch, threads, timing,
                                  model=_model_of(built, job.variant)).to_dict()
                for job in tqdm(jobs, desc="latency", disable=not progress)}
    order = sorted(jobs, key=lambda job: names().index(job.runtime))  # one runtime at a time within a round
    bar = tqdm(total=len(jobs) * (min(timing.rounds, timing.repeats) + 1), desc="latency (interleaved)",
               disable=not progress)
    prepared, done = _prepare_jobs(built, order, threads, timing, bar)
    times = _interleaved_times(prepared, order, timing, bar)
    bar.close()
    done.update({job: _result(job, threads, device, flops, times[job], calibration).to_dict()
                 for job, (_, device, calibration, flops) in prepared.items()})
    return done


def _prepare_jobs(built, order, threads, timing, bar):
    """({job: (call, device, calibration, flops)} warmed up, {job: row} of the jobs this CPU cannot run)."""
    prepared, unsupported = {}, {}
    for job in order:
        model = _model_of(built, job.variant)
        flops = summarize(model)["flops"]
        calibration = _calibration(job, None)
        try:
            call, device = prepare(job.variant, job.config, model, job.batch, threads, calibration)
        except PrecisionUnsupported as reason:
            unsupported[job] = _unsupported(job, threads, flops, str(reason)).to_dict()
            bar.update(bar.total // len(order))
            continue
        for _ in range(timing.warmup):
            call()
        prepared[job] = (call, device, calibration, flops)
        bar.update(1)
    return prepared, unsupported


def _interleaved_times(prepared, order, timing, bar):
    """{job: seconds of each timed call}, ``timing.repeats`` calls spread over the rounds."""
    rounds = min(timing.rounds, timing.repeats)
    per_round = [timing.repeats // rounds + (i < timing.repeats % rounds) for i in range(rounds)]
    times = {job: [] for job in prepared}
    for count in per_round:
        for job in (job for job in order if job in prepared):
            times[job].extend(time_calls(prepared[job][0], count, warmup=1, min_seconds=timing.min_seconds / rounds))
            bar.update(1)
    return times


def earlier_measurements(path, repeats):
    """Rows of an earlier measurement CSV with at least ``repeats`` repeats, as dicts keyed by
    (variant label, runtime, precision, batch, threads); empty if ``path`` is None or missing."""
    if path is None or not os.path.isfile(path):
        return {}
    fields = list(RESULT_COLUMNS)
    table = pd.read_csv(path)
    table = table[table["repeats"] >= repeats]
    table = table.fillna({"calibration": "", "note": ""})
    return {(row["variant"], row["runtime"], row["precision"], int(row["batch"]), int(row["threads"])): row
            for row in table[fields].to_dict("records")}
