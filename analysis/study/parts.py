"""The parts of a study, each one measurement of this machine that a notebook draws.

Each part is a function of a ``StudyContext`` returning {result name: DataFrame}
(with any details for its provenance under the key ``details``). They call the
same functions as the notebooks and the command line; nothing here times on
its own.
"""

from dataclasses import dataclass

import pandas as pd

from analysis.speed import deployment, machine, predict, study as latency_study
from analysis.study import estimates
from analysis.speed.latency import Timing, benchmark
from analysis.speed.runtimes import PRECISIONS, configurations
from analysis.variants import Variant

# Timing of the study's parts: fewer calls than the long benchmarks, interleaved all the same.
STUDY_PART_TIMING = Timing(repeats=5, rounds=3, min_seconds=1.0)
BATCHES = (1, 8)
DIGITS_NETWORKS = (Variant("mobilenet", alpha=0.5, resolution=32), Variant("vgg16", resolution=32, fc6_kernel_size="auto"))
DIGITS_EPOCHS = 6
# Seconds to train each digits network for DIGITS_EPOCHS epochs on 2 cores (docs/measurements.md).
DIGITS_TRAINING_S = {"mobilenet": 45, "vgg16": 500}


@dataclass
class StudyContext:
    """What the parts share: the study folder, the thread count and the machine profile (a dict,
    once the ``machine_profile`` part has run)."""

    folder: object
    threads: int
    profile: dict = None
    progress: bool = False


def _machine_details(context):
    """What a timed part records of the machine: threads, the peaks per precision and the whole profile."""
    return {"threads": context.threads, "peaks": context.profile["peaks"], "profile": context.profile}


def machine_profile(context):
    """This machine's measured peaks per precision and its memory levels and bandwidths."""
    profile = machine.measure()
    context.profile = profile.to_dict()
    context.folder.set_peaks(profile.peaks)
    rows = [{"quantity": key, "value": value} for key, value in context.profile.items()
            if not isinstance(value, (dict, list))]
    rows += [{"quantity": f"peak {precision}", "value": value} for precision, value in profile.peaks.items()]
    rows += [{"quantity": f"{level['name']} {key} (measured)", "value": level[key]}
             for level in profile.memory_levels for key in ("capacity_bytes", "gbs")]
    return {"machine_profile": pd.DataFrame(rows), "details": {"profile": context.profile}}


def deployment_seconds(context):
    """The deployment part's estimate, s: both networks on every configuration, conversions not cached."""
    configs = configurations(deployment.CPU_RUNTIMES, PRECISIONS)
    return sum(estimates.network_seconds(v, configs, STUDY_PART_TIMING) for v in deployment.DEPLOYMENT_VARIANTS)


def deployment_latency(context):
    """VGG16 and MobileNet 1.0/224 at batch 1 on every runtime of this process, at every precision
    it offers, with each precision's roofline bound."""
    measured = deployment.deployment_study(context.profile, deployment.DEPLOYMENT_VARIANTS,
                                           configurations(deployment.CPU_RUNTIMES, PRECISIONS), context.threads,
                                           STUDY_PART_TIMING, progress=context.progress)
    return {"deployment_latency": measured, "details": _machine_details(context)}


def batch_sweep(context):
    """Both networks over ``BATCHES`` at fp32 on the runtimes that run any batch size from one
    copy (an ONNX copy is exported for one batch size)."""
    configs = [c for c in configurations(deployment.CPU_RUNTIMES, ["fp32"]) if not c.record.batch_in_artifact]
    measured = benchmark(deployment.DEPLOYMENT_VARIANTS, configs, BATCHES, context.threads,
                         Timing(repeats=3, warmup=1), progress=context.progress)
    left_out = [c.label for c in configurations(deployment.CPU_RUNTIMES, ["fp32"]) if c.record.batch_in_artifact]
    return {"batch_sweep": measured, "details": {**_machine_details(context), "left_out": left_out}}


# The latency study's timing: 3 interleaved rounds of at least 10 calls and 0.5 s per network.
LATENCY_TIMING = Timing(repeats=10, rounds=3, min_seconds=0.5)


def latency_networks(quick=False):
    """The latency study's networks in the order a study measures them, as (name, variants, role):
    first the fit's core (VGG16, the alpha x rho corners and the anchors), then the
    keras.applications anchors, the unseen networks, and the rest of the alpha x rho family
    (``quick``: the core and one keras.applications anchor)."""
    validated = latency_study.validated_variants(quick)
    corners = [v for v in validated if v.network == "vgg16" or (v.alpha in (0.25, 1.0) and v.resolution in (128, 224))]
    core = ("core", corners + latency_study.anchor_variants(quick), "core")
    zoo = [(v.label, [v], "fp32_anchor") for v in latency_study.zoo_anchor_variants(quick)]
    unseen = [] if quick else [(v.label, [v], "held_out") for v in predict.unseen_variants()]
    rest = [(v.label, [v], "validated") for v in validated if v not in corners]
    return [core] + zoo + unseen + rest


def _latency_configs():
    return configurations(predict.VALIDATION_RUNTIMES, ["fp32"])


def latency_items(context, quick=False):
    """The latency study's items, (name, estimate s), in the order it measures them."""
    configs = _latency_configs()
    return [(name, sum(estimates.network_seconds(v, configs, LATENCY_TIMING) for v in variants))
            for name, variants, _ in latency_networks(quick)]


def latency_fit(context, chosen=None, quick=False):
    """The latency study: the networks ``chosen`` (item names of ``latency_networks``; default every
    one) at fp32 on the runtimes the fit covers; the fit validated leave-one-out, and the unseen
    networks predicted by it (``quick``: the small family, no unseen networks)."""
    items = [item for item in latency_networks(quick) if chosen is None or item[0] in chosen]
    by_role = {role: [v for _, variants, r in items if r == role for v in variants]
               for role in ("core", "fp32_anchor", "held_out", "validated")}
    anchors = latency_study.anchor_variants(quick)
    validated = [v for v in by_role["core"] if v not in anchors] + by_role["validated"]
    networks = latency_study.StudyNetworks(validated, anchors, by_role["fp32_anchor"], by_role["held_out"])
    measurements, validation = latency_study.latency_fit_study(context.profile, _latency_configs(), networks,
                                                               context.threads, LATENCY_TIMING,
                                                               progress=context.progress)
    rows, held_out = latency_study.split_held_out(measurements)
    rows.attrs["profile"] = context.profile
    parts = {"latency_study": rows, "latency_fit_validation": validation,
             "details": {**_machine_details(context), "quick": quick}}
    if len(held_out):
        parts["predict_validation"] = predict.prediction_errors(held_out, rows)
    return parts


def quantized_items(context):
    """The quantized-accuracy part's items, (name, estimate s): one per digits network, with its training."""
    configs = configurations(deployment.CPU_RUNTIMES, PRECISIONS)
    return [(variant.label, DIGITS_TRAINING_S[variant.network]
             + estimates.network_seconds(variant, configs, STUDY_PART_TIMING, cached=False))
            for variant in DIGITS_NETWORKS]


def quantized_accuracy(context, chosen=None):
    """The digits networks (those named in ``chosen``; default both) trained here, then converted to
    every runtime at int8 and bf16: their held-out accuracy beside fp32's; and their latency on
    every configuration (``quantized_latency``)."""
    from analysis.accuracy import training
    from analysis.datasets import load_dataset
    from analysis.accuracy.settings import TrainingSettings

    data = load_dataset("digits", image_size=32)
    rows = []
    for variant in [v for v in DIGITS_NETWORKS if chosen is None or v.label in chosen]:
        result = training.train(variant, data, TrainingSettings(epochs=DIGITS_EPOCHS, seed=0),
                                quantize=("int8", "bf16"), record=False, progress=context.progress)
        rows += [{"variant": result.variant, "fp32_accuracy": result.accuracy, **row,
                  "drop_points": None if row["accuracy"] is None else 100 * (result.accuracy - row["accuracy"])}
                 for row in result.quantized]
    accuracy = pd.DataFrame(rows)
    variants = [Variant.parse(label) for label in accuracy["variant"].unique()]
    latency = deployment.deployment_study(context.profile, variants, configurations(deployment.CPU_RUNTIMES, PRECISIONS),
                                          context.threads, STUDY_PART_TIMING, progress=context.progress)
    return {"quantized_accuracy": accuracy, "quantized_latency": latency,
            "details": {**_machine_details(context), "epochs": DIGITS_EPOCHS}}


SWEEP_EPOCHS = 8


def training_sweep(context):
    """MobileNet at three widths and VGG16 trained on the 32x32 digits for at most ``SWEEP_EPOCHS``
    epochs each (``analysis.accuracy.sweep``)."""
    from analysis.accuracy.sweep import training_sweep as sweep

    return {"training_sweep": sweep(progress=context.progress, epochs=SWEEP_EPOCHS),
            "details": {**_machine_details(context), "epochs": SWEEP_EPOCHS}}


# The profile's calls: 20 profiled and 20 plain, interleaved, after 3 warm-up calls of each.
PROFILE_RUNS = 20


# The configurations the per-layer fit learns on (``analysis.speed.layer_fit``).
LAYER_FIT_CONFIGS = ("openvino", "openvino int8", "onnxruntime", "onnxruntime int8")


def _profiled_pairs():
    """(variant, Configuration) pairs the layer profiles take: both networks on every configuration
    whose runtime has a profiler and whose precision this CPU runs, MobileNet first; then, for the
    per-layer fit, the latency study's other fitted networks on each of ``LAYER_FIT_CONFIGS``."""
    from analysis.speed.cpu import bf16_supported
    from analysis.speed.runtimes import parse_configuration

    configs = [c for c in configurations(deployment.CPU_RUNTIMES, PRECISIONS)
               if c.record.profile is not None and (c.precision != "bf16" or bf16_supported())]
    pairs = [(variant, config) for variant in deployment.DEPLOYMENT_VARIANTS for config in configs]
    family = [v for name, variants, role in latency_networks() if role != "held_out" for v in variants
              if v not in deployment.DEPLOYMENT_VARIANTS]
    return pairs + [(variant, parse_configuration(label)) for label in LAYER_FIT_CONFIGS for variant in family]


def profile_items(context):
    """The layer profiles' items, (name, estimate s): one per network and configuration."""
    return [(f"{variant.label} {config.label}", estimates.profile_seconds(variant, config, PROFILE_RUNS))
            for variant, config in _profiled_pairs()]


def layer_profiles(context, chosen=None):
    """Both networks profiled layer by layer in context on each configuration with a profiler (those
    named in ``chosen``; default every one): ``layer_profiles`` (one row per fused layer, joined with
    its cost and this study's roofline bound) and ``layer_profile_totals`` (one row per profile:
    coverage, overhead, the end-to-end medians)."""
    from analysis.speed.conversions import ConversionError, speed_calibration
    from analysis.speed.profile import profile_network

    tables, totals, models = [], [], {}
    for variant, config in _profiled_pairs():
        if chosen is not None and f"{variant.label} {config.label}" not in chosen:
            continue
        model = models.setdefault(variant, variant.build())
        calibration = speed_calibration(variant) if config.precision == "int8" else None
        keys = {"variant": variant.label, "runtime": config.runtime, "precision": config.precision,
                "configuration": config.label}
        try:
            table, _ = profile_network(variant, config, threads=context.threads, runs=PROFILE_RUNS, model=model,
                                       machine=(context.profile, context.folder.describe()), calibration=calibration)
        except ConversionError as error:  # recorded, and the other profiles go on
            totals.append({**keys, "note": str(error)})
            continue
        tables.append(table.assign(**keys))
        totals.append({**keys, **{k: v for k, v in table.attrs.items() if isinstance(v, (int, float, str))}})
    return {"layer_profiles": pd.concat(tables, ignore_index=True), "layer_profile_totals": pd.DataFrame(totals),
            "details": {**_machine_details(context), "runs": PROFILE_RUNS}}
