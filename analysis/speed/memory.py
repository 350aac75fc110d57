"""This machine's memory levels, measured: a bandwidth sweep over working-set sizes and its plateaus.

- Sweep (``bandwidth_sweep``): STREAM's triad ``a = b + s * c`` in one fused pass (torch.add with
  ``alpha``, on every thread torch uses) over three float32 arrays whose total, the working set,
  doubles from a few KiB to several times the last-level cache the CPU reports. GB/s are 1e9 bytes
  per second counting 3 arrays moved per pass (STREAM's convention: write-allocate traffic not
  counted). Each point is the best of repeats of a batch of calls, less the per-call cost (the
  best time of the same triad over 3 x 64 elements), so that a small working set is not swamped
  by the cost of calling; a point whose time is all call cost has no bandwidth (NaN).
- Levels (``memory_levels``): the bandwidths, in order of size, are smoothed by a running median of
  3, so that one noisy point never makes a level. A level ends where the smoothed bandwidth falls
  more than ``drop`` (25 %) below the median of its points; the next level starts at the first
  point after that whose successor stays within ``drop`` of it (a plateau, not a slope: points
  still falling lie between two levels). A level then keeps any next point whose own bandwidth is
  still on its plateau. A level's capacity is its largest working set (known to within the
  sweep's step, a factor of 2 at one point per octave), its bandwidth the median of its points.
  The last level is DRAM, with no capacity.

Capacities are effective ones: what the triad finds on all the threads, so a per-core cache
counts once per core that shares the work.
"""

import numpy as np
import pandas as pd

from analysis.speed.cpu import last_level_cache_bytes
from analysis.speed.kernels import best_seconds
from nets import checks
from nets.errors import BadInput

ARRAYS, BYTES_PER_FLOAT32 = 3, 4
KIB, MIB = 2**10, 2**20
# Each timed batch repeats the triad until it has moved at least this much (a few ms).
BATCH_BYTES = 32 * MIB
CALL_COST_ELEMENTS = 64


def _triad(elements):
    """A call of the triad over three float32 arrays of ``elements`` each."""
    import torch  # its fused add is the triad; loaded only when measuring

    b, c, a = torch.full((elements,), 1.0), torch.full((elements,), 2.0), torch.empty(elements)
    return lambda: torch.add(b, c, alpha=3.0, out=a)


def _seconds_per_call(elements, repeats, max_seconds):
    """Best seconds of one triad call over ``elements`` per array, timed in batches."""
    calls = max(1, BATCH_BYTES // (ARRAYS * BYTES_PER_FLOAT32 * elements))
    triad = _triad(elements)

    def batch():
        for _ in range(calls):
            triad()

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


def bandwidth_sweep(min_bytes=16 * KIB, max_bytes=None, points_per_octave=1, repeats=7, max_seconds=1.0):
    """The triad's bandwidth at each working set, best of ``repeats`` (each point stops repeating
    after ``max_seconds``, so big sets get fewer).

    Args:
        min_bytes: the smallest working set (3 arrays together), bytes.
        max_bytes: the largest; default 4 x the reported last-level cache, at least 256 MiB.
        points_per_octave: points per doubling of the working set.

    Returns:
        A DataFrame with working_set_bytes, seconds (one call), gbs (NaN where the call cost is the
        whole time) and call_share (the share of a call that is its cost); ``attrs["call_seconds"]``.
    """
    min_bytes = checks.positive_int("min_bytes", min_bytes, minimum=ARRAYS * BYTES_PER_FLOAT32 * 16)
    max_bytes = max(4 * last_level_cache_bytes(), 256 * MIB) if max_bytes is None else max_bytes
    if checks.positive_int("max_bytes", max_bytes) <= min_bytes:
        raise BadInput(f"max_bytes must be larger than min_bytes={min_bytes}. Received max_bytes={max_bytes!r}")
    points_per_octave = checks.positive_int("points_per_octave", points_per_octave)
    repeats = checks.positive_int("repeats", repeats)
    checks.positive_number("max_seconds", max_seconds)
    call = _seconds_per_call(CALL_COST_ELEMENTS, repeats, max_seconds)
    rows = []
    for size in sweep_sizes(min_bytes, max_bytes, points_per_octave):
        seconds = _seconds_per_call(size // (ARRAYS * BYTES_PER_FLOAT32), repeats, max_seconds)
        moving = seconds - call
        rows.append({"working_set_bytes": size, "seconds": seconds,
                     "gbs": size / moving / 1e9 if moving > 0 else float("nan"),
                     "call_share": min(call / seconds, 1.0)})
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
    """``size`` bytes in KiB, MiB or GiB, whichever keeps the number under 1024: ``"48 KiB"``."""
    for unit, scale in (("GiB", 2**30), ("MiB", MIB), ("KiB", KIB)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
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
