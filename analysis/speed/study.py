"""The latency study: every variant measured end to end, and the latency fit validated on them.

The validated variants are the MobileNet paper's 16 alpha x resolution
networks and VGG16; anchor variants (Conv MobileNets and the shallow
MobileNet) join every fit without being predicted, because their mix of
matrix-product and depthwise work differs from the validated ones', which
grow both together.
"""

from dataclasses import dataclass

import pandas as pd

from analysis.cost.table import layer_table
from analysis.speed.latency import Timing, benchmark
from analysis.speed.latency_fit import FEATURE_NAMES, latency_features, row_features, validate_latency_fit
from analysis.speed.roofline import machine_bounds, network_bound_ms
from analysis.speed.runtimes import Configuration
from analysis.variants import ALPHAS, RESOLUTIONS, Variant, mobilenet_grid


# keras.applications networks that anchor the fit's element-wise and per-layer terms: residual
# adds, squeeze-and-excitation, hard-swish and swish, 5x5 and strided depthwise convolutions,
# which neither VGG16 nor MobileNet v1 holds. (NASNetMobile, for concatenations, does not build
# on Keras' PyTorch backend, so it has no ONNX export.) None of them is one of
# ``analysis.speed.predict.UNSEEN_NETWORKS``.
ZOO_ANCHORS = ("keras:MobileNetV3Small", "keras:MobileNetV3Large", "keras:EfficientNetV2B0")


# How the full study times each variant: at least 30 calls and 3 s, in 15 rounds interleaved over
# the variants. A network predicted by the fit is timed the same way
# (``analysis.speed.predict.validate_predictions``): a block of 2 calls right after another
# network's runs slower than a block of 70 (its weights are out of the cache), so timings taken
# otherwise would not compare with the ones the fit learned from.
STUDY_TIMING = Timing(repeats=30, rounds=15, min_seconds=3.0)


def validated_variants(quick=False):
    """The validated variants: the 16 MobileNet alpha x resolution ones and VGG16 (4 + VGG16 if quick)."""
    grid = mobilenet_grid((1.0, 0.25), (224, 128)) if quick else mobilenet_grid(ALPHAS, RESOLUTIONS)
    return grid + [Variant("vgg16")]


def anchor_variants(quick=False):
    """Variants that only anchor the latency fit: Conv MobileNets (full 3x3 convolutions, as
    VGG16 has, in place of the depthwise ones) and the shallow MobileNet (without its five
    14x14x512 blocks)."""
    small_conv = Variant("mobilenet", conv=True, alpha=0.5, resolution=160)
    if quick:
        return [small_conv]
    return [Variant("mobilenet", conv=True), small_conv, Variant("mobilenet", shallow=True)]


def zoo_anchor_variants(quick=False):
    """keras.applications networks (``ZOO_ANCHORS``; MobileNetV3Small alone if quick) that
    anchor the fp32 fits only: at int8 LiteRT runs their hard-swish and squeeze-and-excitation
    layers off its fast kernels (MobileNetV3Small 3x slower than at fp32), a cost no term models."""
    return [Variant(name) for name in ZOO_ANCHORS[:1 if quick else None]]


@dataclass(frozen=True)
class StudyNetworks:
    """The networks of a latency study: ``validated`` (default ``validated_variants()``) are fitted
    and predicted leave-one-out; ``anchors`` join every fit, ``fp32_anchors`` every fp32 fit,
    never predicted; ``held_out`` are timed at fp32 in the same rounds (on ``held_out_runtimes``,
    default all) and join no fit."""

    validated: tuple = ()
    anchors: tuple = ()
    fp32_anchors: tuple = ()
    held_out: tuple = ()
    held_out_runtimes: tuple = None

    def __post_init__(self):
        for name in ("validated", "anchors", "fp32_anchors", "held_out"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.validated:
            object.__setattr__(self, "validated", tuple(validated_variants()))

    def timed(self, config):
        """The variants timed on ``config``."""
        if config.precision != "fp32":
            return list(self.validated + self.anchors)
        held = self.held_out if self.held_out_runtimes is None or config.runtime in self.held_out_runtimes else ()
        return list(self.validated + self.anchors + self.fp32_anchors + held)

    def everything(self):
        """Every variant of the study, once."""
        return list(dict.fromkeys(self.validated + self.anchors + self.fp32_anchors + self.held_out))


def latency_fit_study(profile, configs, networks=StudyNetworks(), threads=None, timing=Timing(repeats=15, rounds=3),
                      progress=True, reuse=None):
    """Measure every network of ``networks`` end to end on each ``Configuration`` of ``configs``
    (batch 1, one configuration at a time, interleaved over the networks), then validate the
    latency fit on them, leave-one-out per configuration.

    Each row's features come from its fused, two-level roofline on ``profile`` at its precision.
    ``reuse``: a CSV of earlier measurements (``latency.benchmark``).

    Returns:
        (measurements, validation): a DataFrame of ``LatencyResult`` rows plus ``bound_ms``,
        ``anchor`` (True for an anchor variant), ``held_out`` and the fit's features
        (``feature_<name>`` columns), and one of per-variant predicted and measured ms and
        relative error per configuration (``runtime``, ``precision``).
    """
    models = {variant: variant.build() for variant in networks.everything()}
    features, bounds_ms = _features(models, networks, configs, profile)
    # One configuration at a time, each interleaved over the variants: holding every runtime's
    # compiled copies of 20 networks at once took more than 24 GiB.
    measurements = pd.concat([
        benchmark(networks.timed(config), [config], (1,), threads, timing, progress=progress, reuse=reuse,
                  models=models)
        for config in configs], ignore_index=True)
    measurements = measurements[measurements["repeats"] > 0].reset_index(drop=True)  # rows the CPU cannot run
    keys = list(zip(measurements["variant"], measurements["precision"]))
    measurements["bound_ms"] = [bounds_ms[key] for key in keys]
    measurements["anchor"] = measurements["variant"].isin({v.label for v in networks.anchors + networks.fp32_anchors})
    measurements["held_out"] = measurements["variant"].isin({v.label for v in networks.held_out})
    for name in FEATURE_NAMES:
        measurements[f"feature_{name}"] = [features[key][name] for key in keys]
    return measurements, _validation(measurements)


def _features(models, networks, configs, profile):
    """({(label, precision): latency features}, {(label, precision): bound ms}) of every timed network."""
    features, bounds_ms = {}, {}
    for variant, model in models.items():
        table = layer_table(model)
        for precision in dict.fromkeys(c.precision for c in configs if variant in networks.timed(c)):
            bounds = machine_bounds(table, profile, batch=1, precision=precision)
            features[variant.label, precision] = latency_features(bounds, 1)
            bounds_ms[variant.label, precision] = network_bound_ms(bounds)
    return features, bounds_ms


def _validation(measurements):
    """Leave-one-out validation of the fit per configuration, on the validated rows (held-out rows left out)."""
    validations = []
    fitted = measurements[~measurements["held_out"]]
    for (runtime, precision), subset in fitted.groupby(["runtime", "precision"], sort=False):
        validated, extra = subset[~subset["anchor"]], subset[subset["anchor"]]
        validation = validate_latency_fit(
            list(validated["variant"]), row_features(validated), list(validated["median_ms"]),
            Configuration(runtime, precision).label, anchors=(row_features(extra), list(extra["median_ms"])))
        validations.append(validation.assign(runtime=runtime, precision=precision,
                                             measured_ms_iqr=list(validated["iqr_ms"])))
    return pd.concat(validations, ignore_index=True)


def split_held_out(measurements):
    """(the study's rows, the held-out variants' rows) of ``latency_fit_study`` measurements, both
    without the ``held_out`` column."""
    held = measurements["held_out"] if "held_out" in measurements else pd.Series(False, index=measurements.index)
    parts = (measurements[~held], measurements[held])
    return tuple(part.drop(columns="held_out", errors="ignore").reset_index(drop=True) for part in parts)


__all__ = ["StudyNetworks", "anchor_variants", "latency_fit_study", "split_held_out", "validated_variants",
           "zoo_anchor_variants"]
