"""The parts of a study, each one measurement of this machine that a notebook draws.

Each part is a function of a ``StudyContext`` returning {result name: DataFrame}
(with any details for its provenance under the key ``details``). They call the
same functions as the notebooks and the command line; nothing here times on
its own.
"""

from dataclasses import dataclass

import pandas as pd

from analysis.speed import deployment, machine, predict, study as latency_study
from analysis.speed.latency import Timing, benchmark
from analysis.speed.runtimes import PRECISIONS, configurations
from analysis.variants import Variant

# Timing of the study's parts: fewer calls than the long benchmarks, interleaved all the same.
STUDY_PART_TIMING = Timing(repeats=10, rounds=5, min_seconds=1.0)
BATCHES = (1, 4, 16)
DIGITS_NETWORKS = (Variant("mobilenet", alpha=0.5, resolution=32), Variant("vgg16", resolution=32, fc6_kernel_size="auto"))
DIGITS_EPOCHS = 6


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
    """This machine's measured peaks per precision and its memory bandwidths."""
    profile = machine.measure()
    context.profile = profile.to_dict()
    context.folder.set_peaks(profile.peaks)
    rows = [{"quantity": key, "value": value} for key, value in context.profile.items()
            if not isinstance(value, (dict, list))]
    rows += [{"quantity": f"peak {precision}", "value": value} for precision, value in profile.peaks.items()]
    return {"machine_profile": pd.DataFrame(rows), "details": {"profile": context.profile}}


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
                         Timing(repeats=5, rounds=1), progress=context.progress)
    left_out = [c.label for c in configurations(deployment.CPU_RUNTIMES, ["fp32"]) if c.record.batch_in_artifact]
    return {"batch_sweep": measured, "details": {**_machine_details(context), "left_out": left_out}}


def latency_fit(context, quick=False):
    """The latency study: the alpha x rho family, VGG16, the anchors and the unseen networks at fp32
    on the runtimes the fit covers; the fit validated leave-one-out, and the unseen networks
    predicted by it (``quick``: the small family, no unseen networks)."""
    networks = latency_study.StudyNetworks(
        latency_study.validated_variants(quick), latency_study.anchor_variants(quick),
        latency_study.zoo_anchor_variants(quick), [] if quick else predict.unseen_variants())
    configs = configurations(predict.VALIDATION_RUNTIMES, ["fp32"])
    measurements, validation = latency_study.latency_fit_study(context.profile, configs, networks, context.threads,
                                                               STUDY_PART_TIMING, progress=context.progress)
    rows, held_out = latency_study.split_held_out(measurements)
    rows.attrs["profile"] = context.profile
    parts = {"latency_study": rows, "latency_fit_validation": validation,
             "details": {**_machine_details(context), "quick": quick}}
    if len(held_out):
        parts["predict_validation"] = predict.prediction_errors(held_out, rows)
    return parts


def quantized_accuracy(context):
    """The digits networks trained here, then converted to every runtime at int8 and bf16: their
    held-out accuracy beside fp32's; and their latency on every configuration (``quantized_latency``)."""
    from analysis.accuracy import training
    from analysis.accuracy.datasets import load_dataset
    from analysis.accuracy.settings import TrainingSettings

    data = load_dataset("digits", image_size=32)
    rows = []
    for variant in DIGITS_NETWORKS:
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
