"""The headline results of the suite, in one place for the report's index, the notebooks and the README.

``headline_results()`` gathers, without timing or training anything:

- **cost**: parameters and MACs per image of VGG16 and MobileNet 1.0/224
  (``analysis.cost.summarize`` of ``Variant("vgg16")`` and ``Variant("mobilenet")``;
  one MAC is one multiply-add, FLOPs = 2 x MACs);
- **latency**: the best (lowest) median ms per image, batch 1, of each network on
  each runtime and precision, over the shipped results that time both networks
  (``deployment_latency``, ``latency_study``; ``gpu_latency`` for the GPU), with
  its interquartile range and the result, machine and date it comes from;
- **accuracy**: the one published ImageNet comparison (the MobileNet paper's
  Table 8, where both networks are printed side by side) and, where shipped,
  the digits networks trained here (``quantized_accuracy``'s fp32 accuracy and
  the ``training_sweep``).
"""

from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from analysis import results
from nets.errors import MissingFile
from analysis.speed.runtimes import Configuration

VGG, MOBILENET = "VGG16", "MobileNet 1.0/224"
# Shipped results of CPU latency that hold both networks at batch 1, in order of preference.
LATENCY_RESULTS = ("deployment_latency", "latency_study")
ACCURACY_SOURCE = "MobileNet paper (Howard et al. 2017), Table 8"


@dataclass
class Headline:
    """The headline tables (DataFrames) and, per shipped result used, its provenance line."""

    cost: pd.DataFrame
    latency: pd.DataFrame
    accuracy: pd.DataFrame
    sources: dict = field(default_factory=dict)  # shipped result name: "measured <date> on <machine> by <command>"


def cost_headline():
    """Parameters, MACs and FLOPs per image of VGG16 and MobileNet 1.0/224, and the ratio of
    each (VGG16 over MobileNet): a DataFrame indexed by network (exact counts; computed once)."""
    return _cost_headline().copy()


@lru_cache(maxsize=1)
def _cost_headline():
    from analysis.cost import summarize
    from analysis.variants import Variant

    rows = {}
    for variant in (Variant("vgg16"), Variant("mobilenet")):
        totals = summarize(variant.build())
        rows[variant.label] = {"params": totals["params"], "macs": totals["macs"], "flops": totals["flops"]}
    table = pd.DataFrame(rows).T
    table.loc[f"{VGG} / {MOBILENET}"] = table.loc[VGG] / table.loc[MOBILENET]
    return table


def _about(frame):
    a = frame.attrs
    return f"measured {a.get('date', '?')} on {results.machine(a)} by `{a.get('command', '?')}`"


def _folders(directories):
    """The result folders a headline reads: the folders given, else the report's study (beside it
    the shipped reference, where the report's study is this machine's own) and the shipped GPU
    results."""
    if directories:
        return list(directories)
    from analysis.study.folder import REFERENCE_DIR, report_study

    study = report_study().path
    beside = [REFERENCE_DIR] if study.resolve() != REFERENCE_DIR.resolve() else []
    return [study, *beside, results.RESULTS_DIR]


def _machine_of(directory, frame):
    """The machine a result names: its study's machine and date (two studies of one
    machine stay apart), else its provenance's machine."""
    from analysis.study.folder import is_study, open_study

    return open_study(directory).describe() if is_study(directory) else results.machine(frame.attrs)


def latency_headline(directories=None):
    """The best median ms per image at batch 1 of each network per runtime, precision and machine,
    from each study of ``directories`` (default: the report's study) and the shipped GPU results.

    Returns:
        (table, sources): one row per configuration with runtime, precision,
        machine, ``<network> ms`` and ``<network> IQR ms`` for both networks,
        the speed ratio (VGG16 over MobileNet) and the shipped result it
        comes from; ``sources`` maps each result used to its provenance line.
        Configurations that did not run (a note, no time) are left out.
    """
    rows, sources = [], {}
    for directory, name in [(d, n) for d in _folders(directories) for n in LATENCY_RESULTS + ("gpu_latency",)]:
        try:
            frame = results.results(name, directory)
        except MissingFile:
            continue
        frame = frame[(frame["batch"] == 1) & frame["variant"].isin((VGG, MOBILENET))].dropna(subset=["ms_per_image"])
        if frame.empty:
            continue
        key = name if name not in sources else f"{name} ({results.machine(frame.attrs)})"
        sources[key] = _about(frame)
        for (runtime, prec), group in frame.groupby(["runtime", "precision"], sort=False):
            row = {"configuration": Configuration(runtime, prec).label + (" (GPU)" if name == "gpu_latency" else ""),
                   "runtime": runtime, "precision": prec, "machine": _machine_of(directory, frame)}
            for label in (MOBILENET, VGG):
                times = group[group["variant"] == label]
                best = times.loc[times["ms_per_image"].idxmin()] if len(times) else None
                row[f"{label} ms"] = None if best is None else float(best["ms_per_image"])
                row[f"{label} IQR ms"] = None if best is None else float(best["iqr_ms"]) / float(best["batch"])
                row[f"{label} source"] = None if best is None else name
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table, sources
    # One row per configuration and study: each network's lowest time over the study's results.
    best = []
    for _, group in table.groupby(["configuration", "machine"], sort=False):
        row = group.iloc[0].to_dict()
        for label in (MOBILENET, VGG):
            times = group.dropna(subset=[f"{label} ms"])
            if len(times):
                pick = times.loc[times[f"{label} ms"].idxmin()]
                row.update({f"{label} {k}": pick[f"{label} {k}"] for k in ("ms", "IQR ms", "source")})
        best.append(row)
    table = pd.DataFrame(best)
    table["speed ratio"] = table[f"{VGG} ms"] / table[f"{MOBILENET} ms"]
    return table.reset_index(drop=True), sources


def accuracy_headline(directories=None):
    """Top-1 accuracy, %: the published ImageNet comparison of both networks (one source, the
    MobileNet paper's Table 8) and, where shipped, the digits networks trained here.

    Returns:
        (table, sources): rows of network, dataset, top1_% and source.
    """
    from analysis.cost.published import published

    table = published()
    paper = table[(table["source"] == "mobilenet_paper") & (table["table"] == "8")]
    rows = []
    for model, label in (("VGG16", VGG), ("MobileNet", MOBILENET)):
        match = paper[(paper["model"] == model) & ((paper["alpha"] == 1.0) | paper["alpha"].isna())]
        match = match[(match["resolution"] == 224)]
        if len(match):
            rows.append({"network": label, "dataset": "ImageNet (published)", "top1_%": float(match["top1"].iloc[0]),
                         "source": ACCURACY_SOURCE})
    sources = {}
    for name, column, how in (("quantized_accuracy", "fp32_accuracy", "train's recommended settings"),
                              ("training_sweep", "accuracy", "{epochs} epochs")):
        try:
            frame = results.results(name, _folders(directories)[0])
        except MissingFile:
            continue
        sources[name] = _about(frame)
        for variant, group in frame.groupby("variant", sort=False):
            epochs = int(group["epochs_run"].iloc[0]) if "epochs_run" in group else None
            rows.append({"network": variant.split(" num_classes")[0], "dataset": "digits 32×32 (trained here)",
                         "top1_%": 100.0 * float(group[column].iloc[0]),
                         "source": f"shipped {name}, {how.format(epochs=epochs)}"})
    return pd.DataFrame(rows), sources


def headline_results(directories=None):
    """The ``Headline``: cost, best latency per runtime, precision and machine, and accuracy, from
    the package's counts and the studies of ``directories`` (default: the report's study)."""
    latency, latency_sources = latency_headline(directories)
    accuracy, accuracy_sources = accuracy_headline(directories)
    return Headline(cost=cost_headline(), latency=latency, accuracy=accuracy,
                    sources={**latency_sources, **accuracy_sources})


def headline_table(directories=None):
    """The README's headline: per configuration and machine of the studies of ``directories``
    (default: the report's study), both networks' best ms per image at batch 1 and the speed ratio
    (VGG16 over MobileNet), rounded as printed; CPU studies only."""
    table, _ = latency_headline(directories)
    table = table[~table["configuration"].str.endswith("(GPU)")]
    shown = table[["configuration", "machine", f"{MOBILENET} ms", f"{VGG} ms", "speed ratio"]].copy()
    shown[[f"{MOBILENET} ms", f"{VGG} ms"]] = shown[[f"{MOBILENET} ms", f"{VGG} ms"]].round(2)
    shown["speed ratio"] = shown["speed ratio"].round(1)
    return shown.reset_index(drop=True)
