"""The tables that notebook 04 tells its story with, each from measurements or shipped results.

Notebook cells hold no logic: what a cell of notebook 04 would otherwise build with loops (the
machine profile as a table, the roofline counts per network, layer timings summed per role, the
fitted coefficients, the GPU comparison, one table of latency per runtime across networks and
shipped runs) is a function here. Each takes what the notebook already holds (a machine profile,
``analysis.speed.roofline`` bounds, a latency table or a shipped result) and returns a DataFrame
or a line of text; nothing here measures a time except ``steady_profile`` and ``time_layers_of``.
"""

import dataclasses

import numpy as np
import pandas as pd

from nets.errors import BadInput
from analysis.speed.memory import size_text
from analysis.speed.latency_fit import configurations, fit_by_configuration, in_sample_errors
from analysis.speed.roofline import machine_bounds, network_bound_ms, time_layers


def steady_profile(measure=None, tries=3):
    """A machine profile with a cache level not slower than its DRAM, and a note.

    On a busy machine the short cache triads can be interrupted and come out no faster than DRAM
    (or the sweep finds no cache level), which would make no sense for a roofline with caches.
    ``measure`` (default ``analysis.speed.machine.measure``) is called up to ``tries`` times; if the
    cache still trails DRAM, the caches are left out (``cache_bandwidth_gbs=None``, and only the DRAM
    level of ``memory_levels``), so DRAM bounds every layer.

    Returns:
        (profile, note): the note is "" or says the caches were left out and why.
    """
    if measure is None:
        from analysis.speed.machine import measure
    if int(tries) < 1:
        raise BadInput(f"tries must be at least 1. Received tries={tries!r}")
    for _ in range(int(tries)):
        profile = measure()
        cache = profile.cache_bandwidth_gbs
        if cache is not None and cache >= profile.bandwidth_gbs:
            return profile, ""
    found = "found no cache level" if cache is None else f"found the cache at {cache:.1f} GB/s"
    note = (f"the memory sweep {found}, not above DRAM's {profile.bandwidth_gbs:.1f} GB/s, in {tries} tries: the "
            "machine is too busy to time it, so the cache is left out and DRAM bounds every layer "
            "(a one-level roofline)")
    changes = {"cache_bandwidth_gbs": None}
    if getattr(profile, "memory_levels", None):
        changes["memory_levels"] = profile.memory_levels[-1:]
    return dataclasses.replace(profile, **changes), note


def profile_of(study):
    """(profile, note): this machine's ``MachineProfile`` from ``study`` (a ``StudyFolder``) where this
    machine measured it, else measured now (``steady_profile``); the note says which."""
    from analysis.speed.fingerprint import this_machine
    from analysis.speed.machine import MachineProfile

    if this_machine().same_machine(study.fingerprint) and "machine_profile" in study.done:
        stored = study.read("machine_profile").attrs["profile"]
        known = {name: stored[name] for name in MachineProfile.__dataclass_fields__ if name in stored}
        return MachineProfile(**known), f"this machine's profile, from the study of {study.describe()}"
    profile, note = steady_profile()
    return profile, f"measured now: {note or 'cache and DRAM triads; the roofline has two memory levels'}"


def machine_table(profile):
    """The machine profile as a table indexed by quantity, with value and unit columns (text): the
    last-level cache the CPU reports beside the memory levels measured (each level's capacity and
    GB/s, where the profile has them)."""
    p = profile if isinstance(profile, dict) else profile.to_dict()
    peak, cache, dram = p["peak_gflops"], p.get("cache_bandwidth_gbs"), p["bandwidth_gbs"]
    theoretical = p.get("theoretical_peak_gflops")
    rows = [
        ("CPU", p.get("cpu", "?"), ""),
        ("cores used", p.get("cores", "?"), ""),
        ("vector instructions", p.get("vector_isa", "?"), ""),
        ("clock", f"{p['clock_ghz']:.2f}" if p.get("clock_ghz") else "unknown", "GHz"),
        ("theoretical peak", f"{theoretical:,.1f}" if theoretical else "unknown", "GFLOP/s"),
        ("measured peak", f"{peak:,.1f}", "GFLOP/s"),
        ("  of which " + " / ".join(p.get("peak_by_library", {})),
         " / ".join(f"{v:,.1f}" for v in p.get("peak_by_library", {}).values()), "GFLOP/s"),
        ("measured peak / theoretical", f"{100 * peak / theoretical:.0f}" if theoretical else "", "%"),
        ("DRAM bandwidth (triad)", f"{dram:,.1f}", "GB/s"),
        ("cache bandwidth (triad)", f"{cache:,.1f}" if cache else "not measured", "GB/s"),
        ("last-level cache (reported by the CPU)", f"{p['last_level_cache_bytes'] / 2**20:.0f}", "MiB"),
        *_level_rows(p.get("memory_levels") or []),
        ("ridge point, DRAM", f"{peak / dram:.1f}", "FLOP/byte"),
        ("ridge point, cache", f"{peak / cache:.2f}" if cache else "", "FLOP/byte"),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value", "unit"]).set_index("quantity")


def _level_rows(levels):
    """Two rows per measured memory level: its capacity (none for DRAM) and its triad GB/s."""
    rows = []
    for level in levels:
        capacity = level["capacity_bytes"]
        shown = "beyond the caches" if capacity is None else size_text(capacity)
        rows += [(f"{level['name']} capacity (measured)", shown, ""),
                 (f"{level['name']} bandwidth (measured triad)", f"{level['gbs']:,.1f}", "GB/s")]
    return rows


def _bandwidth(profile):
    return (profile if isinstance(profile, dict) else profile.to_dict())["bandwidth_gbs"]


def _peak(profile):
    return (profile if isinstance(profile, dict) else profile.to_dict())["peak_gflops"]


def memory_bound_counts(bounds, profile):
    """Per network: its fused layers, how many the (two-level) roofline calls memory-bound, how many
    lie below the DRAM ridge point, their shares (%) and the network's bound (ms).

    Args:
        bounds: dict label -> ``machine_bounds`` table.
        profile: the machine profile the bounds were computed on.
    """
    ridge = _peak(profile) / _bandwidth(profile)
    rows = {}
    for label, b in bounds.items():
        memory, below = int((b["bound"] == "memory").sum()), int((b["intensity"] < ridge).sum())
        rows[label] = {"layers (fused)": len(b), "memory-bound (roofline)": memory,
                       "memory-bound share_%": 100 * memory / len(b), "below the DRAM ridge": below,
                       "below DRAM ridge share_%": 100 * below / len(b), "DRAM ridge (FLOP/byte)": ridge,
                       "bound_ms": network_bound_ms(b)}
    return pd.DataFrame(rows).T


def role_bounds(bounds):
    """Per network and layer role: layers, median intensity, share of the operations and of the
    bound time (%)."""
    roles = {}
    for label, b in bounds.items():
        by_role = b.groupby("role")
        roles[label] = pd.DataFrame({
            "layers": by_role.size(),
            "intensity (median)": by_role["intensity"].median(),
            "ops share_%": 100 * by_role["ops"].sum() / b["ops"].sum(),
            "bound time share_%": 100 * by_role["bound_ms"].sum() / b["bound_ms"].sum(),
        })
    return pd.concat(roles, names=["variant", "role"])


def time_layers_of(variants, profile, repeats=10, models=None, jit_compile=False):
    """Every layer of each variant timed on its own (``time_layers``, batch 1), with its unfused
    bounds on ``profile``: (times, bounds), each a dict label -> DataFrame."""
    from analysis.cost import layer_table

    models = models or {}
    times, bounds = {}, {}
    for variant in variants:
        model = models.get(variant) or variant.build()
        times[variant.label] = time_layers(model, batch=1, repeats=repeats, jit_compile=jit_compile)
        bounds[variant.label] = machine_bounds(layer_table(model), profile, fused=False)
    return times, bounds


def measured_by_role(bounds, times):
    """Layers timed one by one, summed per network and role: layers, measured_ms, bound_ms,
    achieved GFLOP/s and the bound as a share of the measured time (%)."""
    per_role = {}
    for label, measured in times.items():
        by_role = bounds[label].merge(measured, on="name").groupby("role")
        table = pd.DataFrame({"layers": by_role.size(), "measured_ms": by_role["measured_ms"].sum(),
                              "bound_ms": by_role["bound_ms"].sum(),
                              "achieved GFLOP/s": by_role["ops"].sum() / by_role["measured_ms"].sum() / 1e6})
        table["bound / measured_%"] = 100 * table["bound_ms"] / table["measured_ms"]
        per_role[label] = table
    return pd.concat(per_role, names=["variant", "role"])


def layer_time_totals(times):
    """One line per network: its layers timed one by one add up to so many ms, the fastest one."""
    return "\n".join(f"{label}: layers timed one by one add up to {t['measured_ms'].sum():.1f} ms; the fastest "
                     f"layer takes {t['measured_ms'].min():.2f} ms (the fixed cost of one call)"
                     for label, t in times.items())


def keras_against_xla(bounds, keras_times, xla_times):
    """The same layers timed alone by the Keras graph and by XLA, summed per role, with their ratio."""
    joined = (bounds[["name", "role"]].merge(keras_times, on="name")
              .merge(xla_times, on="name", suffixes=("_keras", "_xla")))
    table = joined.groupby("role")[["measured_ms_keras", "measured_ms_xla"]].sum()
    table["xla / keras"] = table["measured_ms_xla"] / table["measured_ms_keras"]
    return table


def shipped_grades(measurements, peak=None):
    """Fraction of peak and of the roofline bound (%) of each fp32 row of a shipped deployment
    result (``deployment_latency``: gflops, bound_ms, fraction_of_bound), in the columns of
    ``analysis.speed.tables.roofline_grades``; the peak defaults to that run's fp32 peak."""
    peak = measurements.attrs["peaks"]["fp32"] if peak is None else peak
    rows = measurements[measurements["precision"] == "fp32"]
    grades = rows[["variant", "runtime", "batch", "median_ms", "iqr_ms", "gflops", "bound_ms"]].copy()
    grades["fraction_of_peak_%"] = 100 * grades["gflops"] / peak
    grades["fraction_of_bound_%"] = 100 * rows["fraction_of_bound"]
    return grades.reset_index(drop=True)


def error_summary(validation, tolerance=0.10, study=None):
    """Per configuration (runtime at precision) of a validation table (variant, runtime, error and,
    optionally, precision): median |error| %, how many within ``tolerance``, the worst variant.

    With ``study`` (the latency study the validation came from), also the worst |error| % of the
    fit to every variant at once, each one included (``in_sample_errors``)."""
    named = validation.assign(configuration=configurations(validation), size=validation["error"].abs())
    rows = []
    for name, group in named.groupby("configuration", sort=False):
        worst = group.loc[group["size"].idxmax()]
        rows.append({"configuration": name, "median |error| %": 100 * group["size"].median(),
                     f"within ±{100 * tolerance:.0f} %": f"{int((group['size'] <= tolerance).sum())}/{len(group)}",
                     "worst": worst["variant"], "worst error %": 100 * worst["error"]})
    summary = pd.DataFrame(rows).set_index("configuration")
    if study is not None:
        fitted = in_sample_errors(study)
        worst_fitted = fitted["error"].abs().groupby(configurations(fitted)).max()
        summary["worst |error| %, all fitted"] = 100 * worst_fitted.reindex(summary.index)
    return summary


def fit_coefficients(measurements):
    """The latency fit of each configuration, fitted on every row of a latency study: the factor
    of each group's bound (``e ...``) and the fixed costs per fused layer and per layer before
    fusion (µs), per depthwise output position, per channel and per value of an activation that
    is not a clamp (ns)."""
    fits = {name: {**{f"e {group}": value for group, value in fit.efficiency.items()},
                   "µs per layer": 1e3 * fit.unit_ms["layers"],
                   "µs per layer before fusion": 1e3 * fit.unit_ms["graph_layers"],
                   "ns per depthwise position": 1e6 * fit.unit_ms["depthwise_positions"],
                   "ns per channel": 1e6 * fit.unit_ms["channels"],
                   "ns per swish / sigmoid value": 1e6 * fit.unit_ms["activation_values"]}
            for name, fit in fit_by_configuration(measurements).items()}
    return pd.DataFrame(fits).T


def latency_per_runtime(results, networks, precision="fp32"):
    """Median ms per image of ``networks`` (labels) at ``precision``, one row per network and one
    column per runtime, from shipped results (a latency study, ``predict_validation``, ...).

    Args:
        results: dict source name -> DataFrame with variant, runtime, precision and ms_per_image
            or measured_ms; a network is taken from the first source that has it.

    Returns:
        A DataFrame indexed by network with one column per runtime and ``source``.
    """
    rows = {}
    for label in networks:
        for source, frame in results.items():
            part = frame[(frame["variant"] == label) & (frame["precision"] == precision)]
            if len(part):
                column = "ms_per_image" if "ms_per_image" in part else "measured_ms"
                rows[label] = {**part.groupby("runtime", sort=False)[column].first().to_dict(), "source": source}
                break
        else:
            raise BadInput(f"networks must be in one of the results {sorted(results)}. Received {label!r}")
    table = pd.DataFrame(rows).T
    runtimes = [c for c in table.columns if c != "source"]
    return table[runtimes + ["source"]].astype({r: float for r in runtimes})


def gpu_table(gpu):
    """The shipped GPU latency with throughput in TFLOP/s, the columns a reader compares."""
    shown = gpu.assign(**{"TFLOP/s": gpu["gflops"] / 1e3})
    return shown[["variant", "batch", "median_ms", "iqr_ms", "ms_per_image", "images_per_s", "TFLOP/s", "unstable"]]


def gpu_summary(gpu, small, large, layers):
    """Lines comparing ``small`` (with ``layers`` layers) and ``large`` in the shipped GPU latency:
    the device, both at the smallest batch, ``small`` per call from the smallest batch to the
    largest and per layer, and both networks' TFLOP/s at the largest batch."""
    at = gpu.set_index(["variant", "batch"])
    first, last = gpu["batch"].min(), gpu["batch"].max()
    s1, l1 = at.loc[(small, first), "median_ms"], at.loc[(large, first), "median_ms"]
    return "\n".join([
        f"device: {', '.join(gpu['device'].unique())}; runtime: {', '.join(gpu['runtime_version'].unique())}; "
        f"cuDNN allows TF32: {bool(gpu['cudnn_allow_tf32'].all())}",
        f"batch {first}: {small} {s1:.1f} ms, {large} {l1:.1f} ms per call ({small} takes {s1 / l1:.1f} times as long)",
        f"{small} per call: {s1:.1f} ms at batch {first}, {at.loc[(small, last), 'median_ms']:.1f} ms at batch {last}; "
        f"at batch {first} that is {1e3 * s1 / layers:.0f} µs for each of its {layers} layers",
        f"{large} at batch {last}: {at.loc[(large, last), 'gflops'] / 1e3:.1f} TFLOP/s; "
        f"{small}: {at.loc[(small, last), 'gflops'] / 1e3:.1f} TFLOP/s",
    ])


PROFILE_GROUPS = ("Convolution", "Depthwise", "Pointwise", "Fully connected", "Other")


def time_shares(profiles, networks=None):
    """Per network (of ``networks``, labels; default every one) and configuration of a study's
    ``layer_profiles``, each layer group's share of the profiled time and of the MACs (0..1; the
    time left unattributed is its own group).

    Returns:
        A DataFrame: variant, configuration, group, ms, time_share, mac_share.
    """
    rows = []
    if networks is not None:
        profiles = profiles[profiles["variant"].isin(list(networks))]
    for (variant, config), group in profiles.groupby(["variant", "configuration"], sort=False):
        groups = group["group"].replace("", "Unattributed").fillna("Unattributed")
        total_ms, total_macs = float(group["ms"].sum()), float(group["macs"].fillna(0).sum())
        for name in (*PROFILE_GROUPS, "Unattributed"):
            mine = group[groups == name]
            if mine.empty:
                continue
            rows.append({"variant": variant, "configuration": config, "group": name, "ms": float(mine["ms"].sum()),
                         "time_share": float(mine["ms"].sum()) / total_ms,
                         "mac_share": float(mine["macs"].fillna(0).sum()) / total_macs if name != "Unattributed"
                         else np.nan})
    return pd.DataFrame(rows)


def in_context_layers(profiles, configuration, profile, networks=None):
    """(bounds, times) of each network's (of ``networks``, labels; default every one) layers
    profiled in context on ``configuration``, ready for ``analysis.plots.draw_roofline``: the fused
    bounds on ``profile`` at the configuration's precision, and each layer's in-context time
    (``measured_ms``), keyed by network."""
    from analysis.cost import layer_table
    from analysis.variants import Variant

    rows = profiles[(profiles["configuration"] == configuration) & (profiles["ms"] > 0)]
    if networks is not None:
        rows = rows[rows["variant"].isin(list(networks))]
    bounds, times = {}, {}
    for label, mine in rows.groupby("variant", sort=False):
        precision = mine["precision"].iloc[0]
        bounds[label] = machine_bounds(layer_table(Variant.parse(label).build()), profile, precision=precision)
        times[label] = mine.rename(columns={"layer": "name", "ms": "measured_ms"})[["name", "measured_ms"]]
    return bounds, times


def group_share_line(shares, variant, group):
    """One sentence: ``group``'s share of ``variant``'s MACs and of its time on each configuration
    profiled (``time_shares`` rows)."""
    rows = shares[(shares["variant"] == variant) & (shares["group"] == group)]
    if rows.empty:
        return f"{variant} has no {group.lower()} layer profiled"
    times = ", ".join(f"{config} {100 * share:.0f} %" for config, share in zip(rows["configuration"], rows["time_share"]))
    return f"{variant}'s {group.lower()} layers: {100 * rows['mac_share'].iloc[0]:.1f} % of its MACs; of its time: {times}"


def _within(errors, tolerance):
    errors = errors.abs()
    return f"{int((errors <= tolerance).sum())} of {len(errors)}" if len(errors) else ""


def fit_comparison(profiles, totals, validation, unseen, profile):
    """Per configuration with a per-layer fit (``analysis.speed.layer_fit``): its leave-one-out
    networks within 10 % and its worst error, the unseen networks within 15 %, and the same of the
    network-level fit where the study has it (``validation``: ``latency_fit_validation``;
    ``unseen``: ``predict_validation``). Errors in %."""
    from analysis.speed import layer_fit

    rows = []
    for config in layer_fit.fitted_configurations(totals):
        runtime, _, precision = config.partition(" ")
        precision = precision or "fp32"
        loo = layer_fit.validate_layer_fit(profiles, totals, config)
        net = validation[(validation["runtime"] == runtime) & (validation["precision"] == precision)]
        seen = layer_fit.predict_unseen(profiles, totals, config, unseen, profile)
        rows.append({"configuration": config, "per-layer: within 10 %": _within(loo["error"], 0.10),
                     "per-layer: worst %": 100 * loo["error"].abs().max(),
                     "network-level: within 10 %": _within(net["error"], 0.10),
                     "network-level: worst %": 100 * net["error"].abs().max() if len(net) else np.nan,
                     "unseen per-layer: within 15 %": _within(seen["error"], 0.15) if len(seen) else "",
                     "unseen network-level: within 15 %": _within(seen["network_fit_error"], 0.15) if len(seen) else ""})
    return pd.DataFrame(rows)
