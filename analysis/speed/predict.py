"""The latency fit applied to a network it was never fitted on: ``python -m analysis predict``.

``predict(variant, config)`` fits the configuration on the latency study of
this machine (the shipped result ``latency_study``, or the study given),
computes the variant's fused roofline features on the machine profile that
study measured, and returns the predicted time split by term. Where no
study of this machine holds the configuration it says so, with the command
that measures one; it never starts a measurement itself.
"""

from dataclasses import dataclass

import pandas as pd

from analysis import results
from analysis.cost.table import layer_table
from analysis.speed.cpu import core_count, cpu_model
from analysis.speed.latency import benchmark
from analysis.speed.latency_fit import configurations, fit_by_configuration, latency_features
from analysis.speed.roofline import machine_bounds, network_bound_ms
from analysis.speed.runtimes import configuration
from analysis.speed.study import STUDY_TIMING
from analysis.variants import Variant
from nets.errors import BadInput, MissingFile, Unavailable

STUDY = "latency_study"
MEASURE_COMMAND = "python benchmarks/bench_latency.py --runtimes {runtime} --precisions {precision}"


@dataclass
class Prediction:
    """A predicted latency (ms per batch, batch 1) and its terms, with where the fit came from."""

    variant: str
    runtime: str
    precision: str
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
        return {"variant": self.variant, "runtime": self.runtime, "precision": self.precision, "batch": 1,
                "predicted_ms": self.predicted_ms, "bound_ms": self.bound_ms, "terms": self.terms,
                "fit_source": self.fit_source}


def study_profile(study):
    """The machine profile (dict) that a latency study's bounds used, saved in its provenance."""
    return study.attrs["profile"]


def _same_machine(attrs):
    return attrs.get("cpu") == cpu_model() and attrs.get("cores") == core_count()


def fitted_study(config, study=None):
    """(measurements, machine profile, source) of the latency study to fit ``config`` on: ``study``,
    else this machine's shipped one.

    Raises:
        BadInput: ``study`` holds no row of ``config``.
        Unavailable: no study of this machine holds ``config`` (the message gives the command).
    """
    if study is not None:
        if config.label not in configurations(study):
            raise BadInput(f"The latency study given holds no {config.label} rows. "
                           f"Received {sorted(set(configurations(study)))}")
        return study, study_profile(study), f"fitted on the latency study given ({results.describe(study)})"
    try:
        study = results.results(STUDY)
    except MissingFile:
        study = None
    if study is None or not _same_machine(study.attrs) or config.label not in configurations(study):
        why = ("no latency study was saved" if study is None else
               f"the latency study holds no {config.label} rows" if _same_machine(study.attrs) else
               f"the latency study was measured on {results.machine(study.attrs)}, not on this machine")
        command = MEASURE_COMMAND.format(runtime=config.runtime, precision=config.precision)
        raise Unavailable(f"Cannot predict {config.label} here: {why}. Measure one with: {command}")
    source = f"fitted on the latency study of {study.attrs.get('date', '?')} ({results.describe(study)})"
    return study, study_profile(study), source


def predict(variant, config, study=None, table=None):
    """The latency fit's prediction for ``variant`` on the ``Configuration`` ``config`` at batch 1:
    a ``Prediction``.

    ``study``: a latency study table (with its attrs) to fit on, in place of this machine's.
    ``table``: ``variant``'s layer table, where it is counted already.
    """
    measurements, profile, source = fitted_study(config, study)
    fit = fit_by_configuration(measurements[[c == config.label for c in configurations(measurements)]])[config.label]
    table = layer_table(variant.build()) if table is None else table
    bounds = machine_bounds(table, profile, batch=1, precision=config.precision)
    terms = fit.terms(latency_features(bounds, 1))
    return Prediction(variant=variant.label, runtime=config.runtime, precision=config.precision,
                      predicted_ms=float(sum(terms.values())), bound_ms=network_bound_ms(bounds),
                      terms={k: float(v) for k, v in terms.items()}, fit_source=source)


# keras.applications networks that no latency fit has seen: inverted residuals, residual adds,
# squeeze-and-excitation, dense concatenation and separable convolutions.
UNSEEN_NETWORKS = ("keras:MobileNetV2", "keras:ResNet50", "keras:EfficientNetB0", "keras:DenseNet121",
                   "keras:Xception")


# The runtimes the unseen networks are validated on. Not onnxruntime: torch.onnx fails on
# Xception's separable convolutions on Keras' PyTorch backend.
VALIDATION_RUNTIMES = ("keras", "litert", "openvino")


def validate_predictions(variants=None, configs=None, study=None, threads=None, timing=None, progress=True):
    """Each variant measured end to end on each configuration and predicted by the latency fit of the study.

    Each is timed as the full latency study times its variants (``study.STUDY_TIMING``) unless
    ``timing`` says otherwise.

    Args:
        variants: ``Variant`` values (default ``UNSEEN_NETWORKS``), none of them in the study.
        configs: ``Configuration`` values (default ``VALIDATION_RUNTIMES`` at fp32).
        study: the latency study to fit on (default: this machine's, as ``predict``).

    Returns:
        A DataFrame: variant, runtime, precision, measured_ms, measured_ms_iqr, predicted_ms,
        error (predicted / measured - 1) and one ``term_<name>`` column per term of the prediction (ms).
    """
    variants = list(variants or unseen_variants())
    configs = configs or [configuration(runtime) for runtime in VALIDATION_RUNTIMES]
    models = {variant: variant.build() for variant in variants}
    measured = pd.concat([benchmark(variants, [config], (1,), threads, timing or STUDY_TIMING, progress=progress,
                                    models=models) for config in configs], ignore_index=True)
    return prediction_errors(measured, study)


def unseen_variants():
    """``UNSEEN_NETWORKS`` as ``Variant`` values."""
    return [Variant(name) for name in UNSEEN_NETWORKS]


def prediction_errors(measured, study=None):
    """Measured networks (``LatencyResult`` rows: variant, runtime, precision, median_ms, iqr_ms)
    against the latency fit's predictions on ``study`` (default: this machine's last, as ``predict``).

    Returns:
        A DataFrame: variant, runtime, precision, measured_ms, measured_ms_iqr, predicted_ms,
        error (predicted / measured - 1) and one ``term_<name>`` column per term of the prediction (ms).
    """
    tables = {label: layer_table(Variant.parse(label).build()) for label in dict.fromkeys(measured["variant"])}
    rows = []
    for _, row in measured.iterrows():
        prediction = predict(Variant.parse(row["variant"]), configuration(row["runtime"], row["precision"]),
                             study=study, table=tables[row["variant"]])
        rows.append({"variant": row["variant"], "runtime": row["runtime"], "precision": row["precision"],
                     "measured_ms": row["median_ms"], "measured_ms_iqr": row["iqr_ms"],
                     "predicted_ms": prediction.predicted_ms,
                     "error": prediction.predicted_ms / row["median_ms"] - 1.0,
                     **{f"term_{k}": v for k, v in prediction.terms.items()}})
    return pd.DataFrame(rows)
