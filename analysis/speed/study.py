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


# keras.applications networks that calibrate the fit's element-wise and per-layer terms: residual
# adds, squeeze-and-excitation, hard-swish and swish, 5x5 and strided depthwise convolutions,
# which neither VGG16 nor MobileNet v1 holds. (NASNetMobile, for concatenations, does not build
# on Keras' PyTorch backend, so it has no ONNX export.) None of them is one of
# ``analysis.speed.predict.UNSEEN_NETWORKS``.
ZOO_CALIBRATION = ("keras:MobileNetV3Small", "keras:MobileNetV3Large", "keras:EfficientNetV2B0")


# How the full study times each variant (``benchmarks/bench_latency.py``): at least this many calls
# and seconds, in this many rounds interleaved over the variants. A network predicted by the fit is
# timed the same way (``analysis.speed.predict.validate_predictions``): a block of 2 calls right
# after another network's runs slower than a block of 70 (its weights are out of the cache), so
# timings taken otherwise would not compare with the ones the fit learned from.
STUDY_TIMING = {"repeats": 30, "rounds": 15, "min_seconds": 3.0}


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


def zoo_calibration_variants(quick=False):
    """keras.applications networks (``ZOO_CALIBRATION``; MobileNetV3Small alone if quick) that
    calibrate the fp32 fits only: at int8 LiteRT runs their hard-swish and squeeze-and-excitation
    layers off its fast kernels (MobileNetV3Small 3x slower than at fp32), a cost no term models."""
    return [Variant(name) for name in ZOO_CALIBRATION[:1 if quick else None]]


def latency_fit_study(profile, runtimes=("keras", "xla", "litert"), variants=None, calibration=(), batch=1,
                      threads=None, repeats=15, rounds=3, progress=True, reuse=None, min_seconds=0.0,
                      precisions=("fp32",), fp32_calibration=(), held_out=(), held_out_runtimes=None):
    """Measure every variant end to end, then validate the latency fit on them.

    Every variant of ``variants`` (default ``validated_variants()``) and
    ``calibration`` is timed on each runtime at each of ``precisions`` it
    offers (``analysis.speed.latency.benchmark``, one configuration at a time,
    in ``rounds`` rounds interleaved over the variants, for ``repeats`` calls
    and ``min_seconds`` at least), or taken
    from the earlier measurements in the CSV ``reuse``; its features come
    from its fused, two-level roofline on ``profile`` at that precision; the
    fit is validated leave-one-out per runtime and precision on
    ``variants``, the ``calibration`` variants in every fit and the
    ``fp32_calibration`` variants (timed at fp32 only) in every fp32 fit.
    The ``held_out`` variants are timed at fp32 too (on ``held_out_runtimes``,
    default all), in the same interleaved
    rounds (so that a machine that slows down mid-run slows them and the
    fitted variants alike), and join no fit: ``split_held_out`` takes their
    rows out, for ``analysis.speed.predict.prediction_errors``.

    Returns:
        (measurements, validation): a DataFrame of ``LatencyResult`` rows plus
        ``bound_ms``, ``calibration_variant`` (True for a calibration variant),
        ``held_out`` (True for a ``held_out`` variant) and the
        fit's features (``feature_<name>`` columns, read by
        ``latency_fit.fit_by_runtime``), and one of per-variant predicted and
        measured ms and relative error per configuration (``runtime``, ``precision``).
    """
    variants = list(variants or validated_variants())
    calibration, fp32_calibration, held_out = list(calibration), list(fp32_calibration), list(held_out)
    pairs = runtime_precision_pairs(runtimes, precisions)

    def timed(precision, runtime=None):
        held = held_out if runtime is None or held_out_runtimes is None or runtime in held_out_runtimes else []
        return variants + calibration + (fp32_calibration + held if precision == "fp32" else [])

    models, features, bounds_ms = {}, {}, {}
    for variant in variants + calibration + fp32_calibration + held_out:
        models[variant] = variant.build()
        table = layer_table(models[variant])
        for precision in dict.fromkeys(p for _, p in pairs if variant in timed(p)):
            bounds = machine_bounds(table, profile, batch=batch, precision=precision)
            features[variant.label, precision] = latency_features(bounds, batch)
            bounds_ms[variant.label, precision] = network_bound_ms(bounds)
    # One configuration at a time, each interleaved over the variants: holding every runtime's
    # compiled copies of 20 networks at once took more than 24 GiB.
    measurements = pd.concat([
        benchmark(timed(precision, runtime), (runtime,), (batch,), threads, repeats, progress=progress, reuse=reuse,
                  rounds=rounds, min_seconds=min_seconds, models=models, precisions=(precision,))
        for runtime, precision in pairs], ignore_index=True)
    measurements = measurements[measurements["repeats"] > 0].reset_index(drop=True)  # rows the CPU cannot run
    keys = list(zip(measurements["variant"], measurements["precision"]))
    measurements["bound_ms"] = [bounds_ms[key] for key in keys]
    measurements["calibration_variant"] = measurements["variant"].isin(
        {v.label for v in calibration + fp32_calibration})
    measurements["held_out"] = measurements["variant"].isin({v.label for v in held_out})
    for name in FEATURE_NAMES:
        measurements[f"feature_{name}"] = [features[key][name] for key in keys]
    validations = []
    fitted = measurements[~measurements["held_out"]]
    for (runtime, precision), subset in fitted.groupby(["runtime", "precision"], sort=False):
        validated, extra = subset[~subset["calibration_variant"]], subset[subset["calibration_variant"]]
        validation = validate_latency_fit(
            list(validated["variant"]), row_features(validated), list(validated["median_ms"]),
            configuration(runtime, precision), calibration=(row_features(extra), list(extra["median_ms"])))
        validations.append(validation.assign(runtime=runtime, precision=precision,
                                             measured_ms_iqr=list(validated["iqr_ms"])))
    return measurements, pd.concat(validations, ignore_index=True)


def split_held_out(measurements):
    """(the study's rows, the held-out variants' rows) of ``latency_fit_study`` measurements, both
    without the ``held_out`` column."""
    held = measurements["held_out"] if "held_out" in measurements else pd.Series(False, index=measurements.index)
    parts = (measurements[~held], measurements[held])
    return tuple(part.drop(columns="held_out", errors="ignore").reset_index(drop=True) for part in parts)


__all__ = ["split_held_out", "calibration_variants", "latency_fit_study", "validated_variants", "zoo_calibration_variants"]
