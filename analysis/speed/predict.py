"""The latency fit applied to a network it was never fitted on: ``python -m analysis predict``.

``predict(variant, runtime, precision)`` fits each runtime and precision on
the last latency study of this machine (the shipped result ``latency_study``,
written by ``benchmarks/bench_latency.py`` and ``report --refresh-results``),
computes the variant's fused roofline features on the machine profile that
study measured, and returns the predicted time split by term. Where the study
holds no row of that configuration, or was measured on another machine, a
small study is run and fitted now (``QUICK`` variants, a minute or two), and
the result says so.
"""

from dataclasses import dataclass

import pandas as pd

from analysis import results
from analysis.cost.table import layer_table
from nets.errors import BadInput, MissingFile
from analysis.speed import check_precision, configuration
from analysis.speed.cpu import core_count, cpu_model, last_level_cache_bytes
from analysis.speed.latency_fit import FIT_GROUPS, FIXED_GROUP, configurations, fit_by_runtime, latency_features
from analysis.speed.roofline import machine_bounds, network_bound_ms

STUDY = "latency_study"


@dataclass
class Prediction:
    """A predicted latency (ms per batch) and its terms, with where the fit came from."""

    variant: str
    runtime: str
    precision: str
    batch: int
    predicted_ms: float
    bound_ms: float
    terms: dict
    fit_source: str

    def table(self):
        """The terms as a DataFrame (term, ms, share %), the total last."""
        rows = [{"term": term, "ms": ms} for term, ms in self.terms.items()]
        rows.append({"term": "predicted", "ms": self.predicted_ms})
        frame = pd.DataFrame(rows)
        frame["share_%"] = 100.0 * frame["ms"] / self.predicted_ms if self.predicted_ms else float("nan")
        return frame

    def to_dict(self):
        return {"variant": self.variant, "runtime": self.runtime, "precision": self.precision, "batch": self.batch,
                "predicted_ms": self.predicted_ms, "bound_ms": self.bound_ms, "terms": self.terms,
                "fit_source": self.fit_source}


def study_profile(study):
    """The machine profile (dict) that a latency study's bounds used.

    A study saved with its whole profile gives it back. One saved with its peaks and DRAM
    bandwidth only gets this machine's cache size and the cache bandwidth that reproduces the
    study's own features (bisection on one of its fp32 rows: the bound falls as that bandwidth
    rises), so that a new network's features are computed as the fitted ones were.
    """
    attrs = study.attrs
    if "profile" in attrs:
        return attrs["profile"]
    if "peaks" not in attrs or "bandwidth_gbs" not in attrs:
        raise MissingFile("The latency study saved no machine profile: rerun benchmarks/bench_latency.py")
    profile = {"peak_gflops": attrs["peaks"]["fp32"], "peaks": attrs["peaks"], "bandwidth_gbs": attrs["bandwidth_gbs"],
               "last_level_cache_bytes": last_level_cache_bytes()}
    return {**profile, "cache_bandwidth_gbs": _recovered_cache_bandwidth(study, profile)}


def _recovered_cache_bandwidth(study, profile, steps=40):
    from analysis.variants import Variant

    row = study[(study["precision"] == "fp32") & ~study["variant"].str.startswith("VGG16")].iloc[0]
    table = layer_table(Variant.parse(row["variant"]).build())
    target = sum(row[f"feature_{group}"] for group in FIT_GROUPS + (FIXED_GROUP,))
    low, high = profile["bandwidth_gbs"], 100 * profile["bandwidth_gbs"]
    for _ in range(steps):
        middle = (low * high) ** 0.5
        bound = network_bound_ms(machine_bounds(table, {**profile, "cache_bandwidth_gbs": middle}))
        low, high = (middle, high) if bound > target else (low, middle)
    return (low * high) ** 0.5


def _same_machine(attrs):
    return attrs.get("cpu") == cpu_model() and attrs.get("cores") == core_count()


def fitted_study(runtime, precision, progress=True, study=None):
    """(measurements, profile, source): ``study``, else the latency study that holds ``runtime``
    at ``precision`` on this machine, or one measured now (QUICK variants) when none does."""
    name = configuration(runtime, precision)
    if study is not None:
        if name not in configurations(study):
            raise BadInput(f"The latency study given holds no {name} rows. Received {sorted(set(configurations(study)))}")
        return study, study_profile(study), f"fitted on the latency study given ({results.describe(study)})"
    try:
        study = results.results(STUDY)
    except MissingFile:
        study = None
    if study is not None and _same_machine(study.attrs) and name in configurations(study):
        source = f"fitted on the latency study of {study.attrs.get('date', '?')} ({results.describe(study)})"
        return study, study_profile(study), source
    from analysis.speed.machine import measure
    from analysis.speed.study import calibration_variants, latency_fit_study, validated_variants, zoo_calibration_variants

    why = "no latency study on this machine holds it" if study is not None else "no latency study was saved"
    profile = measure().to_dict()
    measurements, _ = latency_fit_study(profile, (runtime,), validated_variants(quick=True),
                                        calibration_variants(quick=True), repeats=6, rounds=2,
                                        progress=progress, precisions=(precision,),
                                        fp32_calibration=zoo_calibration_variants(quick=True))
    return measurements, profile, f"fitted now on {measurements['variant'].nunique()} variants ({why})"


def predict(variant, runtime, precision="fp32", batch=1, progress=True, study=None, table=None):
    """The latency fit's prediction for ``variant`` on ``runtime`` at ``precision``: a ``Prediction``.

    ``study``: a latency study table (with its attrs) to fit on, in place of this machine's last.
    ``table``: ``variant``'s layer table, where it is counted already (it is built and counted
    otherwise).

    Raises:
        BadInput: a precision the runtime does not offer, or that the study's machine lacks.
    """
    check_precision(runtime, precision)
    if batch != 1:
        raise BadInput(f"The latency study fits batch 1 only. Received batch={batch}")
    measurements, profile, source = fitted_study(runtime, precision, progress, study)
    name = configuration(runtime, precision)
    fit = fit_by_runtime(measurements[[c == name for c in configurations(measurements)]])[name]
    table = layer_table(variant.build()) if table is None else table
    bounds = machine_bounds(table, profile, batch=batch, precision=precision)
    terms = fit.terms(latency_features(bounds, batch))
    return Prediction(variant=variant.label, runtime=runtime, precision=precision, batch=batch,
                      predicted_ms=float(sum(terms.values())), bound_ms=network_bound_ms(bounds),
                      terms={k: float(v) for k, v in terms.items()}, fit_source=source)


# keras.applications networks that no latency fit has seen: inverted residuals, residual adds,
# squeeze-and-excitation, dense concatenation and separable convolutions.
UNSEEN_NETWORKS = ("keras:MobileNetV2", "keras:ResNet50", "keras:EfficientNetB0", "keras:DenseNet121",
                   "keras:Xception")


# The runtimes the unseen networks are validated on. Not onnxruntime: torch.onnx fails on
# Xception's separable convolutions on Keras' PyTorch backend.
VALIDATION_RUNTIMES = ("keras", "litert", "openvino")


def validate_predictions(variants=None, runtimes=VALIDATION_RUNTIMES, precision="fp32", study=None,
                         threads=None, repeats=None, rounds=None, min_seconds=None, progress=True):
    """Each variant measured end to end on each runtime and predicted by the latency fit of the study.

    Each is timed as the full latency study times its variants (``study.STUDY_TIMING``: 30 calls and
    3 s at least, in 15 rounds interleaved over the variants) unless ``repeats``, ``rounds`` or
    ``min_seconds`` say otherwise.

    Args:
        variants: ``Variant`` values (default ``UNSEEN_NETWORKS``), none of them in the study.
        study: the latency study to fit on (default: this machine's last, as ``predict``).

    Returns:
        A DataFrame: variant, runtime, precision, measured_ms, measured_ms_iqr, predicted_ms,
        error (predicted / measured - 1) and one ``term_<name>`` column per term of the prediction (ms).
    """
    from analysis.speed.latency import benchmark
    from analysis.speed.study import STUDY_TIMING

    timing = {key: STUDY_TIMING[key] if given is None else given
              for key, given in (("repeats", repeats), ("rounds", rounds), ("min_seconds", min_seconds))}
    variants = list(variants or unseen_variants())
    models = {variant: variant.build() for variant in variants}
    measured = pd.concat([
        benchmark(variants, (runtime,), (1,), threads, timing["repeats"], progress=progress, rounds=timing["rounds"],
                  min_seconds=timing["min_seconds"], models=models, precisions=(precision,))
        for runtime in runtimes], ignore_index=True)
    return prediction_errors(measured, study, progress)


def unseen_variants():
    """``UNSEEN_NETWORKS`` as ``Variant`` values."""
    from analysis.variants import Variant

    return [Variant(name) for name in UNSEEN_NETWORKS]


def prediction_errors(measured, study=None, progress=False):
    """Measured networks (``LatencyResult`` rows: variant, runtime, precision, median_ms, iqr_ms)
    against the latency fit's predictions on ``study`` (default: this machine's last, as ``predict``).

    Returns:
        A DataFrame: variant, runtime, precision, measured_ms, measured_ms_iqr, predicted_ms,
        error (predicted / measured - 1) and one ``term_<name>`` column per term of the prediction (ms).
    """
    from analysis.variants import Variant

    tables = {label: layer_table(Variant.parse(label).build()) for label in dict.fromkeys(measured["variant"])}
    rows = []
    for _, row in measured.iterrows():
        prediction = predict(Variant.parse(row["variant"]), row["runtime"], row["precision"], progress=progress,
                             study=study, table=tables[row["variant"]])
        rows.append({"variant": row["variant"], "runtime": row["runtime"], "precision": row["precision"],
                     "measured_ms": row["median_ms"], "measured_ms_iqr": row["iqr_ms"],
                     "predicted_ms": prediction.predicted_ms,
                     "error": prediction.predicted_ms / row["median_ms"] - 1.0,
                     **{f"term_{k}": v for k, v in prediction.terms.items()}})
    return pd.DataFrame(rows)
