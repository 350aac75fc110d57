"""The suite's central question, the way these networks are deployed: per runtime and precision,
how fast each network runs, how its speed ratio compares with its MAC ratio, how close each
comes to that precision's roofline bound, and which configuration is fastest on this machine.
"""

import numpy as np
import pandas as pd

from analysis.cost.table import layer_table, summarize
from analysis.speed.latency import Timing, benchmark
from analysis.speed.runtimes import PRECISIONS, Configuration, configurations, get, names
from analysis.speed.roofline import machine_bounds, network_bound_ms
from analysis.variants import Variant
from nets import checks
from nets.errors import BadInput

DEPLOYMENT_VARIANTS = (Variant("mobilenet"), Variant("vgg16"))
# The runtimes that run in a process of Keras on TensorFlow (torch needs Keras on PyTorch).
CPU_RUNTIMES = tuple(name for name in names() if get(name).backend == "tensorflow")
DEPLOYMENT_TIMING = Timing(repeats=20, rounds=5)


def deployment_study(profile, variants=DEPLOYMENT_VARIANTS, configs=None, threads=None, timing=DEPLOYMENT_TIMING,
                     progress=True, reuse=None):
    """Every variant timed on every configuration (default: each of ``CPU_RUNTIMES`` at every
    precision it offers; batch 1, interleaved rounds), each row with the roofline bound of its
    precision (``bound_ms``) and the fraction of it reached (``fraction_of_bound``: bound /
    measured; 1 is the roofline).

    ``profile`` is a ``MachineProfile`` (or its dict) with per-precision peaks.
    """
    variants = list(variants)
    configs = configurations(CPU_RUNTIMES, PRECISIONS) if configs is None else configs
    models = {variant: variant.build() for variant in variants}
    measurements = benchmark(variants, configs, (1,), threads, timing, progress=progress, reuse=reuse,
                             models=models)
    bounds = {}
    for variant in variants:
        table = layer_table(models[variant])
        for precision in dict.fromkeys(measurements["precision"]):
            try:
                bounds[variant.label, precision] = network_bound_ms(machine_bounds(table, profile, precision=precision))
            except BadInput:  # the profile has no peak at this precision
                bounds[variant.label, precision] = np.nan
    measurements["macs"] = measurements["variant"].map({v.label: summarize(models[v])["macs"] for v in variants})
    measurements["bound_ms"] = [bounds[key] for key in zip(measurements["variant"], measurements["precision"])]
    measurements["fraction_of_bound"] = measurements["bound_ms"] / measurements["ms_per_image"]
    measurements["configuration"] = [Configuration(r, p).label
                                     for r, p in zip(measurements["runtime"], measurements["precision"])]
    return measurements


def deployment_table(measurements, small="MobileNet 1.0/224", large="VGG16"):
    """One row per configuration: both networks' ms per image and IQR, the speed ratio
    (large / small) beside the MAC ratio, and each network's fraction of its roofline bound.
    Rows that did not run (bf16 on a CPU without it) keep their note."""
    checks.one_of("small", small, tuple(measurements["variant"].unique()))
    checks.one_of("large", large, tuple(measurements["variant"].unique()))
    rows = []
    for name, group in measurements.groupby("configuration", sort=False):
        by = group.set_index("variant")
        if small not in by.index or large not in by.index:
            continue
        s, l = by.loc[small], by.loc[large]
        rows.append({
            "configuration": name, "runtime": s["runtime"], "precision": s["precision"],
            f"{small} ms": s["ms_per_image"], f"{small} IQR ms": s["iqr_ms"],
            f"{large} ms": l["ms_per_image"], f"{large} IQR ms": l["iqr_ms"],
            "speed ratio": l["ms_per_image"] / s["ms_per_image"], "MAC ratio": l["macs"] / s["macs"],
            f"{small} of bound": s["fraction_of_bound"], f"{large} of bound": l["fraction_of_bound"],
            "note": next((n for n in (s["note"], l["note"]) if isinstance(n, str) and n), "")})
    return pd.DataFrame(rows)


def fastest_configurations(measurements):
    """For each network, the fastest configuration on this machine: a DataFrame with variant,
    configuration, ms per image, and how many times faster than the same network's keras fp32."""
    rows = []
    for label, group in measurements.dropna(subset=["ms_per_image"]).groupby("variant", sort=False):
        best = group.loc[group["ms_per_image"].idxmin()]
        keras = group[group["configuration"] == "keras"]["ms_per_image"]
        rows.append({"variant": label, "fastest": best["configuration"], "ms_per_image": best["ms_per_image"],
                     "times faster than keras fp32": float(keras.iloc[0] / best["ms_per_image"]) if len(keras)
                     else np.nan})
    return pd.DataFrame(rows)


def offered_configurations(runtimes=CPU_RUNTIMES, precisions=PRECISIONS):
    """The configurations (runtime at precision) that the runtimes offer, in order."""
    return [Configuration(r, p).label for r in runtimes for p in precisions if p in get(r).precisions]
