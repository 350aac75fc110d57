"""The latency study: every variant measured end to end, and the latency fit validated on them.

The validated variants are the MobileNet paper's 16 alpha x resolution
networks and VGG16; calibration variants (Conv MobileNets and the shallow
MobileNet) join every fit without being predicted, because their mix of
matrix-product and depthwise work differs from the validated ones', which
grow both together.
"""

import pandas as pd

from analysis.cost.table import layer_table

from analysis.speed import configuration, runtime_precision_pairs
from analysis.speed.latency import benchmark
from analysis.speed.latency_fit import FEATURE_NAMES, latency_features, row_features, validate_latency_fit
from analysis.speed.roofline import machine_bounds, network_bound_ms
from analysis.variants import ALPHAS, RESOLUTIONS, Variant, mobilenet_grid


def validated_variants(quick=False):
    """The validated variants: the 16 MobileNet alpha x resolution ones and VGG16 (4 + VGG16 if quick)."""
    grid = mobilenet_grid((1.0, 0.25), (224, 128)) if quick else mobilenet_grid(ALPHAS, RESOLUTIONS)
    return grid + [Variant("vgg16")]


def calibration_variants(quick=False):
    """Variants that only calibrate the latency fit: Conv MobileNets (full 3x3 convolutions, as
    VGG16 has, in place of the depthwise ones) and the shallow MobileNet (without its five
    14x14x512 blocks)."""
    small_conv = Variant("mobilenet", conv=True, alpha=0.5, resolution=160)
    if quick:
        return [small_conv]
    return [Variant("mobilenet", conv=True), small_conv, Variant("mobilenet", shallow=True)]


def latency_fit_study(profile, runtimes=("keras", "xla", "litert"), variants=None, calibration=(), batch=1,
                      threads=None, repeats=15, rounds=3, progress=True, reuse=None, min_seconds=0.0,
                      precisions=("fp32",)):
    """Measure every variant end to end, then validate the latency fit on them.

    Every variant of ``variants`` (default ``validated_variants()``) and
    ``calibration`` is timed on each runtime at each of ``precisions`` it
    offers (``analysis.speed.latency.benchmark``, one configuration at a time,
    in ``rounds`` rounds interleaved over the variants, for ``repeats`` calls
    and ``min_seconds`` at least), or taken
    from the earlier measurements in the CSV ``reuse``; its features come
    from its fused, two-level roofline on ``profile`` at that precision; the
    fit is validated leave-one-out per runtime and precision on
    ``variants``, the ``calibration`` variants in every fit.

    Returns:
        (measurements, validation): a DataFrame of ``LatencyResult`` rows plus
        ``bound_ms``, ``calibration_variant`` (True for a calibration variant) and the
        fit's features (``feature_<name>`` columns, read by
        ``latency_fit.fit_by_runtime``), and one of per-variant predicted and
        measured ms and relative error per configuration (``runtime``, ``precision``).
    """
    variants = list(variants or validated_variants())
    calibration = list(calibration)
    pairs = runtime_precision_pairs(runtimes, precisions)
    models, features, bounds_ms = {}, {}, {}
    for variant in variants + calibration:
        models[variant] = variant.build()
        table = layer_table(models[variant])
        for precision in dict.fromkeys(p for _, p in pairs):
            bounds = machine_bounds(table, profile, batch=batch, precision=precision)
            features[variant.label, precision] = latency_features(bounds, batch)
            bounds_ms[variant.label, precision] = network_bound_ms(bounds)
    # One configuration at a time, each interleaved over the variants: holding every runtime's
    # compiled copies of 20 networks at once took more than 24 GiB.
    measurements = pd.concat([
        benchmark(variants + calibration, (runtime,), (batch,), threads, repeats, progress=progress, reuse=reuse,
                  rounds=rounds, min_seconds=min_seconds, models=models, precisions=(precision,))
        for runtime, precision in pairs], ignore_index=True)
    measurements = measurements[measurements["repeats"] > 0].reset_index(drop=True)  # rows the CPU cannot run
    keys = list(zip(measurements["variant"], measurements["precision"]))
    measurements["bound_ms"] = [bounds_ms[key] for key in keys]
    measurements["calibration_variant"] = measurements["variant"].isin({v.label for v in calibration})
    for name in FEATURE_NAMES:
        measurements[f"feature_{name}"] = [features[key][name] for key in keys]
    validations = []
    for (runtime, precision), subset in measurements.groupby(["runtime", "precision"], sort=False):
        validated, extra = subset[~subset["calibration_variant"]], subset[subset["calibration_variant"]]
        validation = validate_latency_fit(
            list(validated["variant"]), row_features(validated), list(validated["median_ms"]),
            configuration(runtime, precision), calibration=(row_features(extra), list(extra["median_ms"])))
        validations.append(validation.assign(runtime=runtime, precision=precision,
                                             measured_ms_iqr=list(validated["iqr_ms"])))
    return measurements, pd.concat(validations, ignore_index=True)


__all__ = ["calibration_variants", "latency_fit_study", "validated_variants"]
