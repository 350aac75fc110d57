"""Tables derived from latency measurements: speed ratios and grades against the roofline.

Both take an ``analysis.speed.latency.benchmark`` table (medians in ms per
call, one row per variant, runtime and batch) and keep its runtime order.
"""

from nets.errors import BadInput
from analysis.speed.roofline import machine_bounds, network_bound_ms


def _check_latency(latency, columns):
    missing = set(columns) - set(latency.columns)
    if missing:
        raise BadInput(f"latency must be a benchmark table with columns {', '.join(columns)}. "
                       f"Received a table without {sorted(missing)}")


def speed_ratios(latency, slower, faster, mac_ratio):
    """How many times faster ``faster`` runs than ``slower``, per runtime and batch size.

    Args:
        latency: a benchmark table (variant, runtime, batch, median_ms).
        slower, faster: two variant labels of ``latency``.
        mac_ratio: ``slower``'s multiply-adds over ``faster``'s.

    Returns:
        A DataFrame indexed by (runtime, batch), runtimes in their order in
        ``latency``: speed_ratio (``slower``'s median time over ``faster``'s),
        ``share_of_mac_ratio_%`` (the speed ratio as a share of ``mac_ratio``)
        and the two medians (slower_ms, faster_ms) with, where ``latency`` has
        iqr_ms, their interquartile ranges (slower_ms_iqr, faster_ms_iqr), from
        which figures draw the ratio's spread.
    """
    _check_latency(latency, ("variant", "runtime", "batch", "median_ms"))
    for argument, label in (("slower", slower), ("faster", faster)):
        if label not in set(latency["variant"]):
            raise BadInput(f"{argument} must be a variant of the latency table. Received {argument}={label!r}")
    medians = latency.pivot_table(index=["runtime", "batch"], columns="variant", values="median_ms")
    speed = (medians[slower] / medians[faster]).rename("speed_ratio").to_frame()
    speed["share_of_mac_ratio_%"] = 100 * speed["speed_ratio"] / mac_ratio
    speed["slower_ms"], speed["faster_ms"] = medians[slower], medians[faster]
    if "iqr_ms" in latency:
        iqrs = latency.pivot_table(index=["runtime", "batch"], columns="variant", values="iqr_ms")
        speed["slower_ms_iqr"], speed["faster_ms_iqr"] = iqrs[slower], iqrs[faster]
    return speed.loc[list(latency["runtime"].drop_duplicates())]


def roofline_grades(latency, tables, profile):
    """Each measurement graded against the machine's peak and against its network's roofline bound.

    Args:
        latency: a benchmark table (variant, runtime, batch, median_ms, gflops).
        tables: dict mapping each variant label of ``latency`` to its
            ``analysis.cost.layer_table``.
        profile: an ``analysis.speed.machine.MachineProfile`` or its dict (fp32: its peak_gflops).

    Returns:
        ``latency``'s variant, runtime, batch, median_ms (and iqr_ms, where it has one) and gflops, with
        ``fraction_of_peak_%`` (achieved GFLOP/s over the measured peak),
        bound_ms (the sum of the fused layers' bounds at that batch) and
        ``fraction_of_bound_%`` (bound over measured median time).
    """
    _check_latency(latency, ("variant", "runtime", "batch", "median_ms", "gflops"))
    missing = set(latency["variant"]) - set(tables)
    if missing:
        raise BadInput(f"tables must hold a layer table for every variant of latency. Received none for {sorted(missing)}")
    grades = latency[["variant", "runtime", "batch", "median_ms", *(["iqr_ms"] if "iqr_ms" in latency else []),
                      "gflops"]].copy()
    peak = (profile if isinstance(profile, dict) else profile.to_dict())["peak_gflops"]
    grades["fraction_of_peak_%"] = 100 * grades["gflops"] / peak
    bounds = {key: network_bound_ms(machine_bounds(tables[key[0]], profile, batch=key[1]))
              for key in dict.fromkeys(zip(grades["variant"], grades["batch"]))}
    grades["bound_ms"] = [bounds[key] for key in zip(grades["variant"], grades["batch"])]
    grades["fraction_of_bound_%"] = 100 * grades["bound_ms"] / grades["median_ms"]
    return grades
