"""Per-layer roofline bounds and a latency model calibrated per layer role and runtime.

The roofline (Williams, Waterman and Patterson, CACM 2009): a layer cannot
run faster than ``max(ops / peak, bytes / bandwidth)``, with ``ops`` its
FLOPs (2 per multiply-add) plus its other operations and ``bytes`` the least
traffic it needs (read its input and weights once, write its output once;
float32). Peak and bandwidth come from ``analysis.machine``.

``fused=True`` merges batch norm and activations into the convolution
before them, as inference runtimes do (LiteRT, XLA): their operations stay,
the traffic of their separate input and output goes.

The latency model predicts a network's time as
``e_matrix * B_matrix + e_depthwise * B_depthwise + B_bound
+ c_layer * layers + c_position * depthwise_positions + c_channel * channels``,
with ``B_g`` the summed bound of a group of (fused) layers: matrix products
(full and pointwise convolutions), depthwise convolutions, and the layers
charged at their bound, factor 1 (``B_bound``: pooling, reshapes, and the
fully connected layers, which at batch 1 multiply a matrix by a vector and
so stream their weights once, at the measured bandwidth: MobileNets have
almost no such work and no fit could pin a factor down). The counts carry
the costs no bound sees: a fixed cost per layer (a kernel launch), per
output position of a depthwise convolution (its inner loop runs once per
position whatever the channel count, which dominates thin layers), and per
output channel of every layer (resolution-independent setup that grows with
the width: weight packing, per-channel parameters, XLA's per-group loops).
The coefficients are fitted per runtime by non-negative least squares on
measured end-to-end times, relative error weighted, over the validated
variants and a few calibration variants (``calibration_specs``) whose mix
of the groups differs from theirs.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.cost import BYTES_PER_FLOAT32, layer_role

_FUSED_INTO_PREVIOUS = ("BatchNormalization", "ReLU", "Activation", "Softmax", "Dropout", "Reshape")
# The latency model's fitted groups: matrix-product-like layers (full and
# pointwise convolutions) and depthwise convolutions, one efficiency factor
# each. The rest is charged at its bound (FIXED_GROUP): MobileNet's few such
# layers (a global pool, a reshape, a 1000-way classifier) have almost no
# bound, so a factor of their own would be fitted to nothing and then applied
# to VGG16's large pooling and fully connected layers.
MODEL_GROUPS = ("Matrix product", "Depthwise")
FIXED_GROUP = "Other"
# Layers that ``role_group`` puts in a fitted group but the model charges at
# their bound: at batch 1 a fully connected layer is a matrix-vector product,
# which streams its weights once.
BOUND_CHARGED_ROLES = ("Fully connected",)
# Counted features, each with a fitted cost per unit (ms).
COUNT_FEATURES = ("layers", "depthwise_positions", "channels")


def _elements(shape):
    if shape and isinstance(shape[0], tuple):
        return sum(int(np.prod(s)) for s in shape)
    return int(np.prod(shape)) if shape else 0


def layer_bounds(table, peak_gflops, bandwidth_gbs, batch=1, fused=False,
                 cache_bandwidth_gbs=None, cache_bytes=None):
    """``table`` (a layer_table) with roofline columns, for ``batch`` images.

    Adds: ops (FLOPs + other ops), traffic_bytes, intensity (ops per byte),
    compute_ms, memory_ms, bound_ms (the larger) and bound (``compute`` or
    ``memory``). Rows with no work (the input) are dropped. With
    ``cache_bandwidth_gbs`` and ``cache_bytes``, a layer whose traffic fits
    in the cache is bounded by the cache's bandwidth (a two-level roofline).
    """
    rows = table[table["type"] != "InputLayer"].copy()
    rows["role"] = [layer_role(n, t, k) for n, t, k in zip(rows["name"], rows["type"], rows["kernel_size"])]
    rows["ops"] = (rows["flops"].astype("float64") + rows["other_ops"].astype("float64")) * batch
    in_bytes = rows["input_shape"].map(_elements) * BYTES_PER_FLOAT32 * batch
    rows["traffic_bytes"] = in_bytes + rows["activation_bytes"] * batch + rows["weight_bytes"]
    if fused:
        rows = _fuse(rows)
    rows["intensity"] = rows["ops"] / rows["traffic_bytes"]
    rows["compute_ms"] = rows["ops"] / (peak_gflops * 1e9) * 1e3
    bandwidth = pd.Series(float(bandwidth_gbs), index=rows.index)
    if cache_bandwidth_gbs and cache_bytes:
        bandwidth[rows["traffic_bytes"] <= cache_bytes] = float(cache_bandwidth_gbs)
    rows["bandwidth_gbs"] = bandwidth
    rows["memory_ms"] = rows["traffic_bytes"] / (bandwidth * 1e9) * 1e3
    rows["bound_ms"] = rows[["compute_ms", "memory_ms"]].max(axis=1)
    rows["bound"] = np.where(rows["compute_ms"] >= rows["memory_ms"], "compute", "memory")
    return rows.reset_index(drop=True)


def _fuse(rows):
    """Merge element-wise layers into the layer before them (ops add up, inner traffic goes)."""
    groups, current = [], None
    for _, row in rows.iterrows():
        if current is not None and row["type"] in _FUSED_INTO_PREVIOUS:
            current["ops"] += row["ops"]
            current["fused"].append(row["name"])
            # The fused op reads nothing new (its input is the previous output, kept on chip)
            # and its output replaces the previous one: the traffic stays the previous layer's.
            continue
        current = row.to_dict()
        current["fused"] = []
        groups.append(current)
    return pd.DataFrame(groups)


def machine_bounds(table, profile, batch=1, fused=True):
    """``layer_bounds`` with the peak, bandwidths and cache size of a ``MachineProfile`` (or its dict)."""
    p = profile if isinstance(profile, dict) else profile.to_dict()
    return layer_bounds(table, p["peak_gflops"], p["bandwidth_gbs"], batch=batch, fused=fused,
                        cache_bandwidth_gbs=p.get("cache_bandwidth_gbs"), cache_bytes=p.get("last_level_cache_bytes"))


def network_bound_ms(bounds):
    """The roofline bound of a whole network: the sum of its layers' bounds, in ms."""
    return float(bounds["bound_ms"].sum())


def role_group(role):
    """The roofline group of a ``layer_role`` (the roofline plot's markers): Matrix product (full,
    pointwise and fully connected convolutions), Depthwise or Other. ``model_group`` refines it."""
    if role.startswith("Conv DW"):
        return "Depthwise"
    if role.startswith("Conv") or role == "Fully connected":
        return "Matrix product"
    return "Other"


def model_group(role):
    """The latency model's group of a ``layer_role``: a ``MODEL_GROUPS`` entry or ``FIXED_GROUP``."""
    return FIXED_GROUP if role in BOUND_CHARGED_ROLES else role_group(role)


def _spatial_positions(shape):
    return int(np.prod(shape[:-1])) if shape else 0


def model_features(bounds, batch=1):
    """Features of the latency model for one network (a fused ``layer_bounds`` table for ``batch``).

    Returns:
        A dict: the summed bound of each group (ms; ``MODEL_GROUPS`` and
        ``FIXED_GROUP``), ``layers`` (the layer count), ``depthwise_positions``
        (output positions of the depthwise convolutions, height x width summed
        over them, times ``batch``) and ``channels`` (output channels summed
        over every layer).
    """
    groups = bounds["role"].map(model_group)
    summed = bounds.groupby(groups)["bound_ms"].sum()
    features = {group: float(summed.get(group, 0.0)) for group in MODEL_GROUPS + (FIXED_GROUP,)}
    shapes = bounds["output_shape"]
    features["layers"] = float(len(bounds))
    features["depthwise_positions"] = float(batch * sum(
        _spatial_positions(shape) for shape, group in zip(shapes, groups) if group == "Depthwise"))
    features["channels"] = float(sum(shape[-1] for shape in shapes if shape))
    return features


@dataclass
class LatencyModel:
    """time_ms = sum(efficiency[group] * bound_ms of the group) + bound_ms of FIXED_GROUP
    + sum(unit_ms[count] * count) over ``COUNT_FEATURES``."""

    runtime: str
    efficiency: dict
    unit_ms: dict

    def terms(self, features):
        """The predicted time split by term, ms: one entry per fitted group, ``FIXED_GROUP``
        (charged at its bound) and one per ``COUNT_FEATURES`` entry."""
        return {**{g: self.efficiency[g] * features[g] for g in MODEL_GROUPS}, FIXED_GROUP: features[FIXED_GROUP],
                **{c: self.unit_ms[c] * features[c] for c in COUNT_FEATURES}}

    def predict(self, features):
        return sum(self.terms(features).values())


PRIOR_WEIGHT = 0.0


def fit_latency_model(features, measured_ms, runtime, prior_weight=PRIOR_WEIGHT):
    """Fit efficiencies (>= 0, one per fitted group) and costs per unit of ``COUNT_FEATURES`` by NNLS,
    on relative error.

    Args:
        features: list of ``model_features`` dicts, one per network variant.
        measured_ms: the measured median time of each, in ms.
        prior_weight: strength of an optional pull of each efficiency towards 1
            (time = roofline bound), for features too collinear to pin a
            group down; 0 (the default) turns it off: the calibration
            variants separate the groups instead, and a runtime such as XLA
            whose depthwise kernels run many times their bound must not be
            pulled towards it.
    """
    from scipy.optimize import nnls

    columns = list(MODEL_GROUPS) + list(COUNT_FEATURES)
    matrix = np.array([[f[c] for c in columns] for f in features], dtype=float)
    measured = np.asarray(measured_ms, dtype=float)
    target = measured - np.array([f[FIXED_GROUP] for f in features], dtype=float)
    weights = 1.0 / measured  # fit relative errors, so small variants count as much as VGG16
    rows, values = matrix * weights[:, None], target * weights
    if prior_weight:
        prior = np.zeros((len(MODEL_GROUPS), len(columns)))
        prior[:, :len(MODEL_GROUPS)] = np.sqrt(prior_weight) * np.eye(len(MODEL_GROUPS))
        rows = np.vstack([rows, prior])
        values = np.concatenate([values, np.full(len(MODEL_GROUPS), np.sqrt(prior_weight))])
    coefficients, _ = nnls(rows, values)
    groups = len(MODEL_GROUPS)
    return LatencyModel(runtime=runtime, efficiency=dict(zip(MODEL_GROUPS, map(float, coefficients[:groups]))),
                        unit_ms=dict(zip(COUNT_FEATURES, map(float, coefficients[groups:]))))


def validate_latency_model(labels, features, measured_ms, runtime, prior_weight=PRIOR_WEIGHT,
                           calibration=((), ())):
    """Leave-one-out validation: each variant predicted by a model fitted to all the others.

    ``calibration``: (features, measured_ms) of calibration variants, part of
    every fit and never predicted.

    Returns:
        A DataFrame with variant, measured_ms, predicted_ms and error (relative).
    """
    extra_features, extra_ms = (list(part) for part in calibration)
    rows = []
    for i, label in enumerate(labels):
        keep = [j for j in range(len(labels)) if j != i]
        model = fit_latency_model([features[j] for j in keep] + extra_features,
                                  [measured_ms[j] for j in keep] + extra_ms, runtime, prior_weight)
        predicted = model.predict(features[i])
        rows.append({"runtime": runtime, "variant": label, "measured_ms": float(measured_ms[i]),
                     "predicted_ms": predicted, "error": predicted / measured_ms[i] - 1.0})
    return pd.DataFrame(rows)


def _layer_call(layer):
    """``layer`` as a function of its input tensors, in inference mode.

    A closure rather than a lambda with a default argument: ``tf.function``
    would take the default argument for an input of its signature.
    """
    def call(*tensors):
        return layer(tensors[0], training=False) if len(tensors) == 1 else layer(list(tensors))

    return call


def time_layers(model, batch=1, repeats=10, warmup=2, jit_compile=False):
    """Each layer of ``model`` timed on its own input (TensorFlow backend), median ms.

    Returns:
        A DataFrame with name and measured_ms, one row per layer but the input.
    """
    import tensorflow as tf

    from analysis.latency import time_calls

    rows = []
    rng = np.random.default_rng(0)
    for layer in model.layers[1:]:
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        tensors = [tf.constant(rng.uniform(0, 1, (batch,) + tuple(t.shape[1:])).astype("float32")) for t in inputs]
        function = tf.function(_layer_call(layer), jit_compile=jit_compile)
        times = time_calls(lambda: function(*tensors).numpy(), repeats, warmup)
        rows.append({"name": layer.name, "measured_ms": float(np.median(times) * 1e3)})
    return pd.DataFrame(rows)


def variant_specs(quick=False):
    """The validated variants: the 16 MobileNet alpha x resolution ones and VGG16 (4 + VGG16 if quick)."""
    from analysis import variants

    alphas = (1.0, 0.25) if quick else variants.ALPHAS
    resolutions = (224, 128) if quick else variants.RESOLUTIONS
    specs = [("mobilenet", {"alpha": a, "resolution": r}) for a in alphas for r in resolutions]
    return specs + [("vgg16", {})]


def calibration_specs(quick=False):
    """Variants that only calibrate the latency model: Conv MobileNets (full 3x3
    convolutions, as VGG16 has, in place of the depthwise ones) and the shallow
    MobileNet (without its five 14x14x512 blocks). Their mix of the two groups
    differs from the validated variants', which grow both groups together."""
    if quick:
        return [("mobilenet", {"conv": True, "alpha": 0.5, "resolution": 160})]
    return [("mobilenet", {"conv": True}), ("mobilenet", {"conv": True, "alpha": 0.5, "resolution": 160}),
            ("mobilenet", {"shallow": True})]


def latency_model_study(profile, runtimes=("keras", "xla", "litert"), specs=None, calibration=(), batch=1,
                        threads=None, repeats=15, rounds=3, progress=True, reuse=None, min_seconds=0.0):
    """Measure every variant end to end, then validate the latency model on them.

    Every variant of ``specs`` and ``calibration`` is timed on each runtime
    (``analysis.latency.benchmark``, in ``rounds`` interleaved rounds, for
    ``repeats`` calls and ``min_seconds`` at least), or
    taken from the earlier measurements in the CSV ``reuse``; its features
    come from its fused, two-level roofline on ``profile``; the model is
    validated leave-one-out per runtime on ``specs``, the ``calibration``
    variants in every fit.

    Returns:
        (measurements, validation): a DataFrame of ``LatencyResult`` rows plus
        ``bound_ms``, ``calibration`` (True for a calibration variant) and the
        model's features (``feature_<name>`` columns, read by
        ``fit_by_runtime``), and one of per-variant predicted and measured ms
        and relative error per runtime.
    """
    from analysis import latency, variants
    from analysis.cost import layer_table

    specs = list(specs or variant_specs())
    calibration = list(calibration)
    models, features, bounds_ms = {}, {}, {}
    for name, options in specs + calibration:
        label = variants.label(name, **options)
        models[label] = variants.build(name, **options)
        bounds = machine_bounds(layer_table(models[label]), profile, batch=batch)
        features[label], bounds_ms[label] = model_features(bounds, batch), network_bound_ms(bounds)
    measurements = latency.benchmark(models, runtimes, (batch,), threads, repeats, progress=progress,
                                     reuse=reuse, rounds=rounds, min_seconds=min_seconds)
    measurements["bound_ms"] = measurements["model"].map(bounds_ms)
    calibration_labels = {variants.label(name, **options) for name, options in calibration}
    measurements["calibration"] = measurements["model"].isin(calibration_labels)
    for name in _FEATURE_NAMES:
        measurements[f"feature_{name}"] = [features[label][name] for label in measurements["model"]]
    validations = []
    for runtime in runtimes:
        subset = measurements[measurements["runtime"] == runtime]
        validated, extra = subset[~subset["calibration"]], subset[subset["calibration"]]
        validations.append(validate_latency_model(
            list(validated["model"]), _row_features(validated), list(validated["median_ms"]), runtime,
            calibration=(_row_features(extra), list(extra["median_ms"]))))
    return measurements, pd.concat(validations, ignore_index=True)


_FEATURE_NAMES = MODEL_GROUPS + (FIXED_GROUP,) + COUNT_FEATURES


def _row_features(measurements):
    """The ``model_features`` dicts of the rows of a ``latency_model_study`` table."""
    return [{name: row[f"feature_{name}"] for name in _FEATURE_NAMES} for _, row in measurements.iterrows()]


def predicted_terms(measurements, model):
    """How the latency model fitted on every row (``fit_by_runtime``) splits ``model``'s time on
    each runtime: a DataFrame, one row per runtime, one column per term (ms), and measured_ms."""
    rows = {}
    for runtime, fit in fit_by_runtime(measurements).items():
        row = measurements[(measurements["runtime"] == runtime) & (measurements["model"] == model)]
        if row.empty:
            raise ValueError(f"No measurement of {model!r} on {runtime}. Received models "
                             f"{sorted(measurements['model'].unique())}")
        rows[runtime] = {**fit.terms(_row_features(row)[0]), "measured_ms": float(row["median_ms"].iloc[0])}
    return pd.DataFrame(rows).T


def fit_by_runtime(measurements):
    """The latency model of each runtime, fitted on every row of a ``latency_model_study``
    table (calibration variants included): {runtime: ``LatencyModel``}."""
    return {runtime: fit_latency_model(_row_features(group), list(group["median_ms"]), runtime)
            for runtime, group in measurements.groupby("runtime", sort=False)}
