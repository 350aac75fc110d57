"""The tables of notebook 05 (accuracy trade-offs), so that its cells read as sentences.

Each function turns a published table, a shipped result or a training run into the small
DataFrame a cell shows: the one headline accuracy comparison (the MobileNet paper's Table 8),
Pareto fronts and cost ratios, latency per runtime from the shipped latency study, the
batch-norm momentum experiment's runs and their summary, the steps of a training epoch as
``train`` cuts them, and the trained sweep set against ImageNet.
"""

import numpy as np
import pandas as pd

from analysis.accuracy import training
from analysis.accuracy.pipeline import batch_layout, validation_split
from analysis.accuracy.settings import RECOMMENDED, TrainingSettings
from analysis.accuracy.tradeoffs import pareto_front, published_with_costs
from analysis.cost.published import published
from nets.errors import BadInput
from analysis.variants import Variant

HEADLINE_SOURCE = "MobileNet paper (Howard et al. 2017), Table 8"
SOURCE_NAMES = {"mobilenet_paper": "MobileNet paper", "tf_slim": "TF-slim table", "keras_applications": "Keras docs",
                "torchvision": "torchvision docs", "vgg_paper": "VGG paper"}
# The cost ratios of section 2: (smaller network, larger network), labels as in ``paper_points``.
RATIO_PAIRS = (("MobileNet 1.0/224", "VGG16"), ("Conv MobileNet 1.0/224", "VGG16"),
               ("MobileNet 1.0/224", "Conv MobileNet 1.0/224"), ("MobileNet 0.25/128", "MobileNet 1.0/224"))
MOMENTA = (0.99, training.SMALL_DATA_BN_MOMENTUM)


def headline_accuracy():
    """The one headline comparison of the suite: VGG16 and MobileNet 1.0/224 as the MobileNet
    paper prints them side by side (Table 8), ImageNet top-1 in %, with Mult-Adds and
    parameters in millions as printed. ``.attrs["gap_points"]`` is VGG16's lead in points."""
    table = published()
    paper = table[(table["source"] == "mobilenet_paper") & (table["table"] == "8")
                  & table["model"].isin(["VGG16", "MobileNet"])]
    rows = paper.assign(network=np.where(paper["model"] == "VGG16", "VGG16", "MobileNet 1.0/224"),
                        source=HEADLINE_SOURCE)[["network", "top1", "mult_adds_millions", "params_millions", "source"]]
    rows = rows.set_index("network").loc[["MobileNet 1.0/224", "VGG16"]]
    rows.attrs["gap_points"] = round(float(rows.loc["VGG16", "top1"] - rows.loc["MobileNet 1.0/224", "top1"]), 2)
    return rows


def other_sources(network="MobileNet 1.0/224"):
    """Every published ImageNet top-1 of ``network`` (our label) that is not the headline's, each
    named by its source: the same network trained or evaluated elsewhere."""
    table = published_with_costs()
    rows = table[(table["variant_label"] == network) & table["top1"].notna()
                 & ~((table["source"] == "mobilenet_paper") & (table["table"] == "8"))]
    return pd.DataFrame({"network": network, "top1": rows["top1"].to_numpy(),
                         "source": [SOURCE_NAMES.get(s, s) + (f", Table {t}" if t else "")
                                    for s, t in zip(rows["source"], rows["table"])]})


def fronts(points, columns=("computed_macs_millions", "computed_params_millions"), accuracy="top1"):
    """The Pareto front of ``accuracy`` against each cost in ``columns``: one row per point on a
    front, with the cost it is on the front of (``against``), sorted by that cost."""
    parts = []
    for column in columns:
        front = points[pareto_front(points[column], points[accuracy])].sort_values(column)
        parts.append(pd.DataFrame({"against": column, "variant_label": front["variant_label"].to_numpy(),
                                   "cost": front[column].to_numpy(), accuracy: front[accuracy].to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def cost_ratios(points, pairs=RATIO_PAIRS):
    """For each (small, big) pair of ``points`` labels: big's MACs and parameters over small's,
    big's top-1 lead in points, and the source of each accuracy (they may differ)."""
    by_label = points.set_index("variant_label")
    rows = []
    for small, big in pairs:
        a, b = by_label.loc[small], by_label.loc[big]
        rows.append({"larger": big, "smaller": small,
                     "MACs ratio": b["computed_macs_millions"] / a["computed_macs_millions"],
                     "params ratio": b["computed_params_millions"] / a["computed_params_millions"],
                     "top-1 lead, points": b["top1"] - a["top1"],
                     "accuracy sources": f"{SOURCE_NAMES.get(b['source'], b['source'])} / "
                                         f"{SOURCE_NAMES.get(a['source'], a['source'])}"})
    return pd.DataFrame(rows)


def study_runtimes(study, precision="fp32"):
    """The runtimes of the latency study ``study`` that timed ``precision``, in their order."""
    return list(dict.fromkeys(study.loc[study["precision"] == precision, "runtime"]))


def timed_points(points, study, precision="fp32"):
    """``points`` (``paper_points``) that the latency study timed, with one ``<runtime>_ms``
    (ms per image) and ``<runtime>_ms_iqr`` column per runtime, at ``precision``."""
    chosen = study[study["precision"] == precision]
    with_latency = published_with_costs(chosen)
    runtimes = study_runtimes(study, precision)
    columns = [c for r in runtimes for c in (f"{r}_ms", f"{r}_ms_iqr") if c in with_latency.columns]
    joined = points.join(with_latency.loc[points.index, columns])
    return joined.dropna(subset=[f"{r}_ms" for r in runtimes], how="all")


def latency_panels(runtimes, threads):
    """The panels of ``draw_tradeoff_panels`` for latency: column -> (title, x label), per runtime."""
    return {f"{runtime}_ms": (runtime, f"ms per image, batch 1, {threads} threads (log scale)") for runtime in runtimes}


def runtime_summary(points, runtimes, budgets=(2.0, 10.0), small="MobileNet 1.0/224", big="VGG16"):
    """Per runtime of ``points`` (``timed_points``): ``small``'s and ``big``'s ms per image, how many
    times faster ``small`` runs, the range of the MobileNets' times, and the most accurate
    network (and its top-1) within each budget in ms."""
    by_label = points.set_index("variant_label")
    mobilenets = points[points["source"].eq("tf_slim")]
    macs_ratio = by_label.loc[big, "computed_macs_millions"] / by_label.loc[small, "computed_macs_millions"]
    rows = []
    for runtime in runtimes:
        column = f"{runtime}_ms"
        row = {"runtime": runtime, f"{small} ms": by_label.loc[small, column], f"{big} ms": by_label.loc[big, column],
               "times faster": by_label.loc[big, column] / by_label.loc[small, column], "MACs ratio": macs_ratio,
               "MobileNets from ms": mobilenets[column].min(), "MobileNets to ms": mobilenets[column].max()}
        for budget in budgets:
            fits = points[points[column] <= budget]
            best = fits.loc[fits["top1"].idxmax()] if len(fits) else None
            row[f"best within {budget:g} ms"] = "none" if best is None else f"{best['variant_label']} ({best['top1']} %)"
        rows.append(row)
    return pd.DataFrame(rows).set_index("runtime")


def steps_per_epoch(data, batch_size=None, seed=0):
    """The steps of one training epoch as ``train`` runs it on ``data``: the training images
    less the validation tenth held out for early stopping (``validation_split``), in batches
    of ``batch_size`` (default: ``train``'s), the last partial batch included."""
    if batch_size is None:
        batch_size = TrainingSettings().batch_size
    x_fit = validation_split(data, seed)[0]
    return len(batch_layout(len(x_fit), batch_size, 1))


def momentum_windows(steps, momenta=MOMENTA, epochs=(1, 2, 5, 10)):
    """For each batch-norm momentum m: the averaging window 1 / (1 - m) in steps and in epochs
    of ``steps`` steps, and the weight m^t (%) the initial statistics keep after each of ``epochs``."""
    table = pd.DataFrame({"momentum": list(momenta)}).set_index("momentum")
    table["window, steps"] = 1 / (1 - table.index.to_numpy())
    table["window, epochs"] = table["window, steps"] / steps
    for count in epochs:
        table[f"initial weight after {count} epoch(s), %"] = 100 * table.index.to_numpy() ** (count * steps)
    return table


def window_fractions(cases, window_steps=100):
    """For (name, images, batch) ``cases``: steps per epoch (ceil(images / batch)) and the
    ``window_steps`` window as a % of an epoch."""
    rows = [{"dataset": name, "images": images, "batch": batch, "steps per epoch": int(np.ceil(images / batch))}
            for name, images, batch in cases]
    table = pd.DataFrame(rows)
    table["window, % of an epoch"] = 100 * window_steps / table["steps per epoch"]
    return table


def momentum_for_window(steps):
    """The momentum m whose window 1 / (1 - m) is ``steps`` steps."""
    if steps <= 1:
        raise BadInput(f"steps must be more than 1. Received steps={steps!r}")
    return 1 - 1 / steps


def batchnorm_runs(data, epochs, momenta=MOMENTA, seed=0, progress=False):
    """MobileNet 0.25 trained once per batch-norm momentum in ``momenta``, identically otherwise
    (seed, data order, schedule; no early stopping, no augmentation): {momentum: TrainingResult}."""
    settings = TrainingSettings(epochs=epochs, patience=epochs, augment=False, seed=seed, small_data=False)
    return {momentum: training.train(Variant("mobilenet", alpha=0.25, bn_momentum=momentum), data, settings,
                                     progress=progress)
            for momentum in momenta}


def batchnorm_curves(runs):
    """Training and validation accuracy (%) per epoch of each run in ``runs``, one column each."""
    curves = pd.DataFrame({f"{what}, m={momentum}": 100 * np.array(run.history[key])
                           for key, what in (("accuracy", "train %"), ("val_accuracy", "validation %"))
                           for momentum, run in runs.items()})
    curves.index = pd.RangeIndex(1, len(curves) + 1, name="epoch")
    return curves


def batchnorm_summary(runs, classes=10, near=5.0):
    """Per momentum of ``runs``: epochs run, epochs whose validation accuracy was within ``near``
    points of chance (100 / ``classes`` %), the last training and validation accuracy and the
    test accuracy (%), and whether the training loss equals the first run's epoch by epoch."""
    first = next(iter(runs.values())).history["loss"]
    rows = []
    for momentum, run in runs.items():
        validation = 100 * np.array(run.history["val_accuracy"])
        rows.append({"momentum": momentum, "epochs": len(validation),
                     "epochs near chance": int(np.sum(np.abs(validation - 100 / classes) <= near)),
                     "last train %": 100 * run.history["accuracy"][-1], "last validation %": validation[-1],
                     "test %": 100 * run.accuracy, "same training loss": bool(np.array_equal(run.history["loss"], first))})
    return pd.DataFrame(rows).set_index("momentum")


def imagenet_label(label):
    """The ImageNet (224) network of a digits variant label: same network and α, defaults otherwise."""
    variant = Variant.parse(label)
    return Variant("mobilenet", alpha=variant.alpha).label if variant.network == "mobilenet" else Variant("vgg16").label


def sweep_settings(sweep):
    """Per trained network of ``sweep``: the epochs it ran and the settings ``train`` gave it
    (``RECOMMENDED`` but for the epochs), beside the recommended epochs."""
    rows = []
    for label, ran in zip(sweep["variant"], sweep["epochs_run"]):
        variant = Variant.parse(label)
        settings = RECOMMENDED[variant.network]
        rows.append({"variant": label.split(" num_classes")[0], "epochs run": int(ran),
                     "recommended epochs": settings["epochs"], "learning rate": settings["learning_rate"],
                     "patience": settings["patience"], "augment": settings.get("augment", False),
                     "bn_momentum": variant.bn_momentum if variant.network == "mobilenet" else None})
    return pd.DataFrame(rows)


def sweep_points(sweep):
    """``sweep`` with ``accuracy_%`` and a short ``network`` label (without the digits options)."""
    return sweep.assign(**{"accuracy_%": 100 * sweep["accuracy"],
                           "network": sweep["variant"].str.split(" num_classes").str[0]})


def sweep_comparison(sweep, points):
    """Each trained network of ``sweep`` against its 224 ImageNet counterpart in ``points``:
    digits and published top-1 accuracy, and VGG16's MACs, parameters and latency over each."""
    imagenet = points.set_index("variant_label")
    labels = [imagenet_label(v) for v in sweep["variant"]]
    vgg = sweep[sweep["variant"].str.startswith("VGG16")].iloc[0]
    return pd.DataFrame({
        "variant": sweep["variant"].str.split(" num_classes").str[0],
        "digits accuracy %": 100 * sweep["accuracy"].to_numpy(),
        "ImageNet top-1 % (224)": imagenet.loc[labels, "top1"].to_numpy(),
        "ImageNet source": [SOURCE_NAMES.get(s, s) for s in imagenet.loc[labels, "source"]],
        "VGG16 MACs / these, 32": (vgg["macs"] / sweep["macs"]).to_numpy(),
        "VGG16 MACs / these, 224": (imagenet.loc["VGG16", "computed_macs_millions"]
                                    / imagenet.loc[labels, "computed_macs_millions"]).to_numpy(),
        "VGG16 params / these, 32": (vgg["params"] / sweep["params"]).to_numpy(),
        "VGG16 latency / these, 32 (keras)": (vgg["latency_ms"] / sweep["latency_ms"]).to_numpy(),
        "s per epoch": (sweep["train_seconds"] / sweep["epochs_run"]).to_numpy(),
    })


def slim_fronts(points, accuracy="top1"):
    """Of TF-slim's 16 MobileNets in ``points``: the resolutions of each α on the Pareto front
    of ``accuracy`` against computed MACs, {alpha: [resolutions]}, and the front's labels in
    order of MACs."""
    slim = points[points["source"].eq("tf_slim")]
    front = slim[pareto_front(slim["computed_macs_millions"], slim[accuracy])].sort_values("computed_macs_millions")
    return front.groupby("alpha")["resolution"].apply(list).to_dict(), list(front["variant_label"])


def best_within(points, budget_ms):
    """Per runtime and precision of ``points`` (``published_deployed_points``): the most accurate
    network within ``budget_ms`` ms per image (the faster of equals), or "none"."""
    rows = []
    for (runtime, precision), group in points.groupby(["runtime", "precision"], sort=False):
        fits = group[group["ms_per_image"] <= budget_ms].sort_values(["accuracy_%", "ms_per_image"],
                                                                     ascending=[False, True])
        best = fits.iloc[0] if len(fits) else None
        rows.append({"runtime": runtime, "precision": precision,
                     "best": "none" if best is None else best["variant"],
                     "top-1 %": np.nan if best is None else best["accuracy_%"],
                     "ms per image": np.nan if best is None else best["ms_per_image"]})
    return pd.DataFrame(rows)
