"""Per-layer roofline bounds: the least time each layer can take on this machine.

The roofline (Williams, Waterman and Patterson, CACM 2009): a layer cannot
run faster than ``max(ops / peak, bytes / bandwidth)``, with ``ops`` its
FLOPs (2 per multiply-add) plus its other operations and ``bytes`` the least
traffic it needs (read its input and weights once, write its output once).
Peak and bandwidth come from ``analysis.speed.machine``.

Per precision (``precision="fp32"``, ``"bf16"`` or ``"int8"``), the peak is
that precision's and every element moved is ``BYTES_PER_ELEMENT`` wide:
4, 2 or 1 bytes for weights, inputs and outputs alike. For int8 that is a
full-integer network, whose activations stay int8 between layers (its int32
biases, a small share of the weights, are counted at 1 byte too); for bf16,
a network whose weights and activations are both bfloat16.

``fused=True`` merges batch norm and activations into the convolution
before them, as inference runtimes do (LiteRT, XLA): their operations stay,
the traffic of their separate input and output goes.

``time_layers`` measures each layer alone, to set beside its bound.
"""

import numbers

import numpy as np
import pandas as pd

from analysis.cost.formulas import tensor_elements
from analysis.cost.groups import layer_role
from analysis.cost.table import BYTES_PER_FLOAT32
from analysis.speed.runtimes import PRECISIONS
from analysis.speed.latency import time_calls
from nets import checks
from nets.errors import BadInput

BYTES_PER_ELEMENT = {"fp32": 4, "bf16": 2, "int8": 1}

# Layer classes a runtime merges into the layer before them (``fused=True``).
FUSED_INTO_PREVIOUS = ("BatchNormalization", "ReLU", "Activation", "Softmax", "Dropout", "Reshape")


def two_levels(bandwidth_gbs, cache_bandwidth_gbs=None, cache_bytes=None):
    """Memory levels of a two-level roofline: a ``"cache"`` of ``cache_bytes`` at
    ``cache_bandwidth_gbs`` (where both are given), then ``"DRAM"`` at ``bandwidth_gbs``."""
    levels = [{"name": "DRAM", "capacity_bytes": None, "gbs": bandwidth_gbs}]
    if cache_bandwidth_gbs and cache_bytes:
        levels.insert(0, {"name": "cache", "capacity_bytes": cache_bytes, "gbs": cache_bandwidth_gbs})
    return levels


def layer_bounds(table, peak_gflops, bandwidth_gbs, batch=1, fused=False, precision="fp32", levels=None):
    """``table`` (a layer_table) with roofline columns, for ``batch`` images at ``precision``.

    Adds: ops (FLOPs + other ops), traffic_bytes, intensity (ops per byte),
    compute_ms, memory_ms, bound_ms (the larger), bound (``compute`` or
    ``memory``), bandwidth_gbs and memory_level (the level whose bandwidth bounds the layer's
    traffic) and activations_applied (the activation names a row applies, fused ones
    included). Rows with no work (the input) are dropped. With ``levels`` (measured memory levels,
    ``analysis.speed.memory.memory_levels``: fastest first, the last DRAM with capacity None), a
    layer is bounded by the bandwidth of the smallest level whose capacity holds its traffic, DRAM
    beyond the last (``bandwidth_gbs`` is then unused; ``two_levels`` makes a cache and DRAM).
    Without levels, DRAM's ``bandwidth_gbs`` bounds every layer.
    ``peak_gflops`` is the peak of ``precision`` (GOP/s for int8); the traffic
    counts ``BYTES_PER_ELEMENT[precision]`` bytes per weight and activation
    (the table's float32 bytes scaled).
    """
    width = BYTES_PER_ELEMENT[checks.one_of("precision", precision, PRECISIONS)]
    rows = table[table["type"] != "InputLayer"].copy()
    rows["role"] = [layer_role(n, t, k) for n, t, k in zip(rows["name"], rows["type"], rows["kernel_size"])]
    rows["ops"] = (rows["flops"].astype("float64") + rows["other_ops"].astype("float64")) * batch
    in_bytes = rows["input_shape"].map(tensor_elements) * width * batch
    out_bytes = rows["activation_bytes"] * width // BYTES_PER_FLOAT32 * batch
    rows["traffic_bytes"] = in_bytes + out_bytes + rows["weight_bytes"] * width // BYTES_PER_FLOAT32
    own = rows["activation"] if "activation" in rows else pd.Series(None, index=rows.index, dtype=object)
    rows["activations_applied"] = [(name,) if isinstance(name, str) and name else () for name in own]
    if fused:
        rows = _fuse(rows)
    rows["intensity"] = rows["ops"] / rows["traffic_bytes"]
    rows["compute_ms"] = rows["ops"] / (peak_gflops * 1e9) * 1e3
    if levels is None:
        levels = two_levels(bandwidth_gbs)
    else:
        check_levels(levels)
    chosen = [_memory_level(levels, traffic) for traffic in rows["traffic_bytes"]]
    rows["memory_level"] = [level["name"] for level in chosen]
    bandwidth = pd.Series([float(level["gbs"]) for level in chosen], index=rows.index, dtype="float64")
    rows["bandwidth_gbs"] = bandwidth
    rows["memory_ms"] = rows["traffic_bytes"] / (bandwidth * 1e9) * 1e3
    rows["bound_ms"] = rows[["compute_ms", "memory_ms"]].max(axis=1)
    rows["bound"] = np.where(rows["compute_ms"] >= rows["memory_ms"], "compute", "memory")
    return rows.reset_index(drop=True)


def check_levels(levels):
    """``levels`` if they are memory levels: a non-empty list of ``{"name", "capacity_bytes", "gbs"}``,
    capacities increasing, the last (DRAM) with capacity None, every GB/s positive."""
    ok = isinstance(levels, (list, tuple)) and levels and all(
        isinstance(level, dict) and {"name", "capacity_bytes", "gbs"} <= set(level) for level in levels)
    if ok:
        capacities = [level["capacity_bytes"] for level in levels]
        ok = (capacities[-1] is None and None not in capacities[:-1]
              and all(a < b for a, b in zip(capacities[:-2], capacities[1:-1]))
              and all(isinstance(level["gbs"], numbers.Real) and level["gbs"] > 0 for level in levels))
    if not ok:
        raise BadInput("levels must be memory levels (name, capacity_bytes increasing, the last None, gbs > 0). "
                       f"Received levels={levels!r:.160}")
    return levels


def _memory_level(levels, traffic_bytes):
    """The smallest of ``levels`` whose capacity holds ``traffic_bytes`` (the last, DRAM, beyond)."""
    return next(level for level in levels
                if level["capacity_bytes"] is None or traffic_bytes <= level["capacity_bytes"])


def _fuse(rows):
    """Merge element-wise layers into the layer before them (ops add up, inner traffic goes; the
    merged row's ``activation`` is the last one it applies, ``activations_applied`` every one, in
    order, its own first)."""
    groups, current = [], None
    for _, row in rows.iterrows():
        if current is not None and row["type"] in FUSED_INTO_PREVIOUS:
            current["ops"] += row["ops"]
            current["fused"].append(row["name"])
            if row["activations_applied"]:  # the group now ends in this activation
                current["activation"] = row["activation"]
                current["activations_applied"] += row["activations_applied"]
            # The fused op reads nothing new (its input is the previous output, kept on chip)
            # and its output replaces the previous one: the traffic stays the previous layer's.
            continue
        current = row.to_dict()
        current["fused"] = []
        groups.append(current)
    return pd.DataFrame(groups)


def machine_bounds(table, profile, batch=1, fused=True, precision="fp32"):
    """``layer_bounds`` at ``precision`` with the memory and that precision's peak of a
    ``MachineProfile`` (or its dict): ``peak_gflops`` for fp32, ``peaks[precision]`` for the others;
    its measured ``memory_levels`` where it has them, else its DRAM and cache bandwidths with the
    last-level cache the CPU reports (a two-level roofline).

    Raises:
        BadInput: an unknown precision, or one whose peak the profile does not have (None: the CPU
            lacks it, or no kernel of it ran).
    """
    checks.one_of("precision", precision, PRECISIONS)
    p = profile if isinstance(profile, dict) else profile.to_dict()
    peak = p["peak_gflops"] if precision == "fp32" else (p.get("peaks") or {}).get(precision)
    if peak is None:
        raise BadInput(f"The machine profile has no {precision} peak (the CPU lacks {precision}, or it "
                              f"was not measured), so no {precision} bound. Received precision={precision!r}")
    levels = p.get("memory_levels") or two_levels(p["bandwidth_gbs"], p.get("cache_bandwidth_gbs"),
                                                  p.get("last_level_cache_bytes"))
    return layer_bounds(table, peak, p["bandwidth_gbs"], batch=batch, fused=fused, precision=precision, levels=levels)


def network_bound_ms(bounds):
    """The roofline bound of a whole network: the sum of its layers' bounds, in ms."""
    return float(bounds["bound_ms"].sum())


def role_group(role):
    """The roofline group of a ``layer_role`` (the roofline plot's markers): Matrix product (full,
    pointwise and fully connected convolutions), Depthwise or Other.
    ``analysis.speed.latency_fit.fit_group`` refines it."""
    if role.startswith("Conv DW"):
        return "Depthwise"
    if role.startswith("Conv") or role == "Fully connected":
        return "Matrix product"
    return "Other"


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
        A DataFrame with name, measured_ms and its interquartile range measured_ms_iqr, one row per
        layer but the input.
    """
    import tensorflow as tf  # this measurement runs on the TensorFlow backend only

    rows = []
    rng = np.random.default_rng(0)
    for layer in model.layers[1:]:
        inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
        tensors = [tf.constant(rng.uniform(0, 1, (batch,) + tuple(t.shape[1:])).astype("float32")) for t in inputs]
        function = tf.function(_layer_call(layer), jit_compile=jit_compile)
        times = time_calls(lambda: function(*tensors).numpy(), repeats, warmup)
        q1, q3 = np.percentile(times, [25, 75])
        rows.append({"name": layer.name, "measured_ms": float(np.median(times) * 1e3),
                     "measured_ms_iqr": float(q3 - q1) * 1e3})
    return pd.DataFrame(rows)

