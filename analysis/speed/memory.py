"""This machine's memory levels, measured: a bandwidth sweep over working-set sizes and its plateaus.

- Sweep (``bandwidth_sweep``): STREAM's triad ``a = b + s * c`` in one fused pass (torch.add with
  ``alpha``, on one thread and on every core, the faster per point) over three float32 arrays
  whose total, the working set, doubles from a few KiB to several times the reported last-level
  cache. GB/s: 1e9 bytes per second, 3 arrays moved per pass (STREAM's convention). Each point is
  the best of repeats of a batch of calls, less the per-call cost (the same triad on 64 elements);
  where that cost is over ``MAX_CALL_SHARE`` of the time, no bandwidth (NaN): microseconds per
  torch call hide the smallest levels (often L1).
- Levels (``memory_levels``): the bandwidths, in order of size, are smoothed by a running median of
  3, so that one noisy point never makes a level. A level ends where the smoothed bandwidth falls
  more than ``drop`` (25 %) below the median of its points; the next starts at the first point
  whose successor stays within ``drop`` of it (points still falling lie between two levels); a
  level then keeps any next point whose own bandwidth is still on its plateau. Capacity: its
  largest working set (to within the sweep's step); bandwidth: the median of its points. Levels
  are numbered in the order the sweep resolves them (L1 is the fastest seen, not necessarily the
  CPU's L1); the last is DRAM, with no capacity. Capacities are effective: a per-core cache counts
  once per core where the triad on every core is the faster.
"""

import numpy as np
import pandas as pd

from analysis.speed.cpu import core_count, last_level_cache_bytes
from analysis.speed.kernels import best_seconds, torch_threads
from nets import checks
from nets.errors import BadInput

ARRAYS, BYTES_PER_FLOAT32 = 3, 4
KIB, MIB = 2**10, 2**20
# Each timed batch repeats the triad until it has moved at least this much (a few ms).
BATCH_BYTES = 32 * MIB
CALL_COST_ELEMENTS = 64
# A point whose call cost is more than this share of its time is not resolved (no bandwidth).
MAX_CALL_SHARE = 0.5


def _triad(elements):
    """A call of the triad over three float32 arrays of ``elements`` each."""
    import torch  # its fused add is the triad; loaded only when measuring

    b, c, a = torch.full((elements,), 1.0), torch.full((elements,), 2.0), torch.empty(elements)
    return lambda: torch.add(b, c, alpha=3.0, out=a)


def _seconds_per_call(elements, repeats, max_seconds, threads=1):
    """Best seconds of one triad call over ``elements`` per array on ``threads``, timed in batches."""
    calls = max(1, BATCH_BYTES // (ARRAYS * BYTES_PER_FLOAT32 * elements))
    triad = _triad(elements)

    def batch():
        for _ in range(calls):
            triad()

    with torch_threads(threads):
        return best_seconds(batch, repeats, max_seconds=max_seconds) / calls


def sweep_sizes(min_bytes, max_bytes, points_per_octave=1):
    """Working sets (bytes) from ``min_bytes`` to ``max_bytes``, ``points_per_octave`` per doubling,
    each rounded to 3 arrays of a multiple of 16 float32 (64 bytes)."""
    steps = int(np.floor(np.log2(max_bytes / min_bytes) * points_per_octave + 1e-9))
    sizes = [min_bytes * 2 ** (k / points_per_octave) for k in range(steps + 1)]
    if sizes[-1] < max_bytes:
        sizes.append(max_bytes)
    unit = ARRAYS * BYTES_PER_FLOAT32 * 16
    return sorted({max(1, round(size / unit)) * unit for size in sizes})


def bandwidth_sweep(min_bytes=16 * KIB, max_bytes=None, points_per_octave=1, repeats=7, max_seconds=1.0,
                    threads=None):
    """The triad's bandwidth at each working set, best of ``repeats`` (each point stops repeating
    after ``max_seconds``, so big sets get fewer) on each of ``threads``.

    Args:
        min_bytes: the smallest working set (3 arrays together), bytes.
        max_bytes: the largest; default 4 x the reported last-level cache, at least 256 MiB.
        points_per_octave: points per doubling of the working set.
        threads: the thread counts to run the triad on, the fastest taken per point; default one
            thread and every core (on a shared machine a neighbour on one core stalls a triad that
            waits for all of them, and one core alone may not saturate DRAM).

    Returns:
        A DataFrame with working_set_bytes, seconds (one call), gbs (NaN where the call cost is more
        than ``MAX_CALL_SHARE`` of the time), call_share (the share of a call that is its cost) and
        threads (the count that was fastest); ``attrs["call_seconds"]``.
    """
    min_bytes = checks.positive_int("min_bytes", min_bytes, minimum=ARRAYS * BYTES_PER_FLOAT32 * 16)
    max_bytes = max(4 * last_level_cache_bytes(), 256 * MIB) if max_bytes is None else max_bytes
    if checks.positive_int("max_bytes", max_bytes) <= min_bytes:
        raise BadInput(f"max_bytes must be larger than min_bytes={min_bytes}. Received max_bytes={max_bytes!r}")
    points_per_octave = checks.positive_int("points_per_octave", points_per_octave)
    repeats = checks.positive_int("repeats", repeats)
    checks.positive_number("max_seconds", max_seconds)
    threads = sorted({1, core_count()} if threads is None else {checks.positive_int("threads", t) for t in threads})
    call = _seconds_per_call(CALL_COST_ELEMENTS, repeats, max_seconds)
    rows = []
    for size in sweep_sizes(min_bytes, max_bytes, points_per_octave):
        seconds, fastest = min((_seconds_per_call(size // (ARRAYS * BYTES_PER_FLOAT32), repeats, max_seconds, t), t)
                               for t in threads)
        share = min(call / seconds, 1.0)
        rows.append({"working_set_bytes": size, "seconds": seconds,
                     "gbs": size / (seconds - call) / 1e9 if share <= MAX_CALL_SHARE else float("nan"),
                     "call_share": share, "threads": fastest})
    sweep = pd.DataFrame(rows)
    sweep.attrs["call_seconds"] = call
    return sweep


def _smoothed(values):
    """Running median of 3; the first and last points take the median of the three at their end."""
    values = np.asarray(values, dtype=float)
    if len(values) < 3:
        return values
    firsts = np.clip(np.arange(len(values)) - 1, 0, len(values) - 3)
    return np.array([np.median(values[first:first + 3]) for first in firsts])


def _plateaus(gbs, drop):
    """``[first, last]`` indices of each plateau in ``gbs`` (in order of size), on the smoothed
    bandwidths, then widened on the raw ones (see the module docstring)."""
    smooth, on = _smoothed(gbs), (lambda value, level: value >= (1 - drop) * level)
    plateaus = [[0, 0]]
    for i in range(1, len(gbs)):
        first, last = plateaus[-1]
        if on(smooth[i], np.median(smooth[first:last + 1])):
            plateaus[-1][1] = i  # on the level (or back on it after a dip)
        elif i == len(gbs) - 1 or on(smooth[i + 1], smooth[i]):
            plateaus.append([i, i])  # below it, and the next point stays with this one: a new level
        # else: still falling, a point between two levels
    for before, after in zip(plateaus, plateaus[1:]):
        # A noisy neighbour can pull the smoothed drop early: keep the points still on the level.
        while before[1] + 1 < after[1] and on(gbs[before[1] + 1], np.median(gbs[before[0]:before[1] + 1])):
            before[1] += 1
        after[0] = max(after[0], before[1] + 1)
    return plateaus


def memory_levels(sweep, drop=0.25):
    """The memory levels in a ``bandwidth_sweep``, fastest first (see the module docstring).

    Returns:
        A list of ``{"name": "L1", "L2", ... or "DRAM", "capacity_bytes": int (None for DRAM),
        "gbs": float}``.
    """
    drop = checks.fraction("drop", drop, include_low=False)
    if not {"working_set_bytes", "gbs"} <= set(getattr(sweep, "columns", ())):
        raise BadInput(f"sweep must be a bandwidth_sweep table (working_set_bytes, gbs). Received {sweep!r:.80}")
    rows = sweep.dropna(subset=["gbs"]).sort_values("working_set_bytes")
    if rows.empty:
        raise BadInput("sweep has no point with a bandwidth (gbs). Received a sweep of only NaN or no rows")
    sizes, gbs = rows["working_set_bytes"].to_numpy(), rows["gbs"].to_numpy(dtype=float)
    levels = [{"name": f"L{i + 1}", "capacity_bytes": int(sizes[last]), "gbs": float(np.median(gbs[first:last + 1]))}
              for i, (first, last) in enumerate(_plateaus(gbs, drop))]
    levels[-1].update(name="DRAM", capacity_bytes=None)
    return levels


def level_bandwidths(levels):
    """``(DRAM GB/s, the largest cache level's GB/s or None)`` of ``memory_levels``."""
    caches = [level for level in levels if level["capacity_bytes"] is not None]
    return levels[-1]["gbs"], caches[-1]["gbs"] if caches else None


def with_bandwidths(levels, dram_gbs, cache_gbs):
    """``levels`` with the DRAM level's GB/s set to ``dram_gbs`` and the largest cache level's to
    ``cache_gbs`` (where there is one and ``cache_gbs`` is not None)."""
    levels = [dict(level) for level in levels]
    levels[-1]["gbs"] = float(dram_gbs)
    if len(levels) > 1 and cache_gbs is not None:
        levels[-2]["gbs"] = float(cache_gbs)
    return levels


def size_text(size):
    """``size`` bytes in KiB, MiB or GiB, whichever keeps the number under 1024: ``"48 KiB"``, 3
    significant digits."""
    for unit, scale in (("GiB", 2**30), ("MiB", MIB), ("KiB", KIB)):
        if size >= 0.999 * scale:  # a working set of 3 float32 arrays is never a power of 2 exactly
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{size} B"


def describe_levels(levels):
    """One line: each level's capacity and GB/s, ``"L1 up to 48 KiB: 120.3 GB/s; ...; DRAM: 20.1 GB/s"``."""
    def capacity(level):
        return "" if level["capacity_bytes"] is None else f" up to {size_text(level['capacity_bytes'])}"

    return "; ".join(f"{level['name']}{capacity(level)}: {level['gbs']:.1f} GB/s" for level in levels)


def sweep_note(sweep):
    """How a ``bandwidth_sweep`` measured, in one line."""
    sizes = sweep["working_set_bytes"]
    return (f"torch triads a = b + s*c over {len(sweep)} working sets from {size_text(sizes.min())} to "
            f"{size_text(sizes.max())}, each the best of repeats less the per-call cost "
            f"({sweep.attrs.get('call_seconds', float('nan')) * 1e6:.1f} us); levels where the bandwidth "
            f"drops by more than a quarter (memory_levels)")
