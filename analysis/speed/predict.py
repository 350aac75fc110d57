"""The latency fit applied to a network it was never fitted on: ``python -m analysis predict``.

``predict(variant, config)`` fits the configuration on the latency study of
a study (``analysis.study``: the one given, else this machine's, matched by
fingerprint), computes the variant's fused roofline features on the machine
profile that study measured, and returns the predicted time split by term.
Where no study of this machine exists it says so, with the command that
measures one; it never starts a measurement itself.
"""

from dataclasses import dataclass

import pandas as pd

from analysis.cost.table import layer_table
from analysis.speed.fingerprint import this_machine
from analysis.speed.latency import benchmark
from analysis.speed.latency_fit import configurations, fit_by_configuration, latency_features
from analysis.speed.roofline import machine_bounds, network_bound_ms
from analysis.speed.runtimes import configuration
from analysis.speed.study import STUDY_TIMING
from analysis.variants import Variant
from analysis.study.folder import this_machines_study
from nets.errors import BadInput, Unavailable

MEASURE_COMMAND = "python -m analysis study"


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


def _study_of(study):
    """(study, which): ``study`` (a ``StudyFolder``), else this machine's (local, then the reference).

    Raises:
        Unavailable: no study of this machine (the message gives the command that measures one).
    """
    if study is not None:
        return study, "given"
    study, which = this_machines_study()
    if study is None:
        raise Unavailable(f"Cannot predict: no study was measured on this machine ({this_machine().describe()}). "
                          f"Measure one with: {MEASURE_COMMAND}, or name one with --study DIR")
    return study, which


def latency_rows(study=None):
    """(the ``latency_study`` part, where it comes from) of ``study`` (a ``StudyFolder``), else of this
    machine's study (``analysis.study.folder.this_machines_study``: local, then the shipped reference).

    Raises:
        Unavailable: no study of this machine (the message gives the command that measures one).
    """
    study, which = _study_of(study)
    return study.read("latency_study"), f"fitted on the {which} study ({study.describe()})"


def predict(variant, config, study=None, table=None):
    """The prediction for ``variant`` on the ``Configuration`` ``config`` at batch 1 by whichever of
    the study's two fits predicts its own networks better (the smaller median leave-one-out error):
    the network-level fit (``latency_study``) or the per-layer fit (``layer_profiles``); its
    ``fit_source`` says which, and why.

    Raises:
        BadInput: the study holds neither fit of ``config``.
    """
    study, which = _study_of(study)
    source = f"the {which} study ({study.describe()})"
    table = layer_table(variant.build()) if table is None else table
    candidates = [c for c in (_network_level(study, variant, config, table, source),
                              _per_layer(study, variant, config, table, source)) if c is not None]
    if not candidates:
        raise BadInput(f"The study {study.path} holds no {config.label} measurements to fit (neither its latency "
                       f"study nor its layer profiles). Received {config.label!r}")
    error, best, _ = min(candidates, key=lambda c: c[0])
    others = [f"{name}'s {e:.1%}" for e, p, name in candidates if p is not best]
    best.fit_source += (f"; its median leave-one-out error {error:.1%}"
                        + (f", against the {others[0]}" if others else ""))
    return best


def _network_level(study, variant, config, table, source):
    """(median leave-one-out error, Prediction, name) of the network-level fit, or None where it has no rows."""
    if "latency_study" not in study.done:
        return None
    measurements = study.read("latency_study")
    if config.label not in set(configurations(measurements)):
        return None
    validation = study.read("latency_fit_validation")
    mine = validation[(validation["runtime"] == config.runtime) & (validation["precision"] == config.precision)]
    prediction = predict_from(measurements, variant, config, table, f"the network-level fit on {source}")
    return float(mine["error"].abs().median()), prediction, "network-level fit"


def _per_layer(study, variant, config, table, source):
    """(median leave-one-out error, Prediction, name) of the per-layer fit, or None where too few networks
    were profiled."""
    from analysis.speed import layer_fit
    from analysis.speed.profile import profile_group

    if "layer_profiles" not in study.done:
        return None
    profiles, totals = study.read("layer_profiles"), study.read("layer_profile_totals")
    if config.label not in layer_fit.fitted_configurations(totals):
        return None
    profile = study.read("machine_profile").attrs["profile"]
    bounds = machine_bounds(table, profile, batch=1, precision=config.precision)
    bounds["group"] = [profile_group(role) for role in bounds["role"]]
    terms = layer_fit.predicted_terms(profiles, totals, config.label, bounds)
    validation = layer_fit.validate_layer_fit(profiles, totals, config.label)
    prediction = Prediction(variant=variant.label, runtime=config.runtime, precision=config.precision,
                            predicted_ms=float(sum(terms.values())), bound_ms=network_bound_ms(bounds), terms=terms,
                            fit_source=f"the per-layer fit on {source}")
    return float(validation["error"].abs().median()), prediction, "per-layer fit"


def predict_from(measurements, variant, config, table=None, source="fitted on the latency study given"):
    """The prediction for ``variant`` on ``config`` by the fit to ``measurements`` (a latency study
    table whose attrs hold its machine ``profile``): a ``Prediction``. ``table``: ``variant``'s
    layer table, where it is counted already.

    Raises:
        BadInput: ``measurements`` hold no row of ``config``.
    """
    chosen = measurements[[c == config.label for c in configurations(measurements)]]
    if chosen.empty:
        raise BadInput(f"The latency study holds no {config.label} rows. "
                       f"Received {sorted(set(configurations(measurements)))}")
    fit = fit_by_configuration(chosen)[config.label]
    table = layer_table(variant.build()) if table is None else table
    bounds = machine_bounds(table, study_profile(measurements), batch=1, precision=config.precision)
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
        study: the ``StudyFolder`` to fit on (default: this machine's, as ``predict``).

    Returns:
        A DataFrame: variant, runtime, precision, measured_ms, measured_ms_iqr, predicted_ms,
        error (predicted / measured - 1) and one ``term_<name>`` column per term of the prediction (ms).
    """
    variants = list(variants or unseen_variants())
    configs = configs or [configuration(runtime) for runtime in VALIDATION_RUNTIMES]
    models = {variant: variant.build() for variant in variants}
    measured = pd.concat([benchmark(variants, [config], (1,), threads, timing or STUDY_TIMING, progress=progress,
                                    models=models) for config in configs], ignore_index=True)
    return prediction_errors(measured, latency_rows(study)[0])


def unseen_variants():
    """``UNSEEN_NETWORKS`` as ``Variant`` values."""
    return [Variant(name) for name in UNSEEN_NETWORKS]


def prediction_errors(measured, measurements):
    """Measured networks (``LatencyResult`` rows: variant, runtime, precision, median_ms, iqr_ms)
    against the predictions of the latency fit to ``measurements`` (a latency study table).

    Returns:
        A DataFrame: variant, runtime, precision, measured_ms, measured_ms_iqr, predicted_ms,
        error (predicted / measured - 1) and one ``term_<name>`` column per term of the prediction (ms).
    """
    tables = {label: layer_table(Variant.parse(label).build()) for label in dict.fromkeys(measured["variant"])}
    rows = []
    for _, row in measured.iterrows():
        prediction = predict_from(measurements, Variant.parse(row["variant"]),
                                  configuration(row["runtime"], row["precision"]), tables[row["variant"]])
        rows.append({"variant": row["variant"], "runtime": row["runtime"], "precision": row["precision"],
                     "measured_ms": row["median_ms"], "measured_ms_iqr": row["iqr_ms"],
                     "predicted_ms": prediction.predicted_ms,
                     "error": prediction.predicted_ms / row["median_ms"] - 1.0,
                     **{f"term_{k}": v for k, v in prediction.terms.items()}})
    return pd.DataFrame(rows)
