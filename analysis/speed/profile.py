"""Time per layer inside the network, from the runtime's own profiler, joined with each layer's
cost and roofline bound.

A runtime's ``profile`` (``analysis.speed.runtimes``) times every node it runs. Nodes map back
to Keras layers in one of two ways:

- by name (``scopes``): TensorFlow names each op ``model/layer_1/op``; the first path component
  that is a layer's name, without the ``_1`` TensorFlow appends, names the layer
  (``layer_of_scope``);
- by graph (``graph``), where conversion dropped the names (OpenVINO's transpose sinking, the
  TorchScript export to ONNX): each node that does a layer's work (a convolution, a depthwise
  convolution, a matrix product, a pooling...) is matched, in graph order, to the first layer of
  the same kind and output size whose nearest matched layers upstream are the node's
  (``match_graph``). A node that does no layer's work (a layout change, a padding, a quantize or
  dequantize, a bias) belongs to the layer whose node it feeds if it readies a tensor, else to the
  layer whose node feeds it; where that is not one layer, it is unattributed.

A node that fuses several layers (convolution, batch norm and ReLU) belongs to the convolution's
layer: the rows are the fused rows of ``analysis.speed.roofline.machine_bounds``, whose
convolution row carries its batch norm and activation. Nodes that map to no layer are one row,
``unattributed``, with their names; none is dropped. Times are ms per batch (a node's mean over
the profiled runs); MACs, traffic and bounds are per batch too; achieved GFLOP/s is 2 x MACs over
the time (GOP/s at int8).
"""

import re
import time

import numpy as np
import pandas as pd

from analysis.cost.formulas import activation_name
from analysis.cost.graph import calls

UNATTRIBUTED = "unattributed"
_RUN_SUFFIX = re.compile(r"_\d+$")
_KINDS = {**dict.fromkeys(("Conv1D", "Conv2D", "Conv3D"), "conv"),
          **dict.fromkeys(("DepthwiseConv1D", "DepthwiseConv2D"), "depthwise"), "Dense": "dense",
          **{f"{kind}Pooling{d}D": "pool" for kind in ("Max", "Average") for d in (1, 2, 3)},
          **{f"Global{kind}Pooling{d}D": "global_pool" for kind in ("Max", "Average") for d in (1, 2, 3)},
          "Softmax": "softmax", "Add": "add", "ops.Add": "add", "Multiply": "multiply", "ops.Multiply": "multiply",
          "Concatenate": "concat", "ReLU": "activation"}
COLUMNS = ("layer", "group", "role", "type", "nodes", "ms", "time_share", "macs", "mac_share", "traffic_bytes",
           "intensity", "bound_ms", "achieved_gflops", "bound_fraction")


def node_frame(durations, types, plain_s, profiled_s, **attrs):
    """A runtime's profile frame from ``durations`` ({node: [seconds of each of its runs, in
    order]}) over the profiled runs, whose end-to-end seconds are ``profiled_s`` (``plain_s``: as
    many runs without profiling): ``node``, ``node_type``, ``ms`` (the mean per inference) and
    ``ms_median`` (the median of its runs where it ran once per inference, else ``ms``).

    ``attrs`` (with those given) hold ``runs``, ``median_ms`` and ``profiled_median_ms`` (the
    end-to-end medians) and ``run_coverage``: the median over the profiled runs of the nodes' time
    in the run over the run's time (None where a node did not run once per run).
    """
    runs = len(profiled_s)
    rows = [{"node": node, "node_type": types.get(node, "?"), "ms": 1e3 * sum(seconds) / runs,
             "ms_median": 1e3 * (float(np.median(seconds)) if len(seconds) == runs else sum(seconds) / runs)}
            for node, seconds in durations.items()]
    frame = pd.DataFrame(rows, columns=["node", "node_type", "ms", "ms_median"])
    once = durations and all(len(seconds) == runs for seconds in durations.values())
    in_runs = [sum(seconds[i] for seconds in durations.values()) / profiled_s[i] for i in range(runs)] if once else []
    frame.attrs.update(runs=runs, median_ms=1e3 * float(np.median(plain_s)),
                       profiled_median_ms=1e3 * float(np.median(profiled_s)),
                       run_coverage=float(np.median(in_runs)) if in_runs else None, **attrs)
    return frame


def layer_kind(type_name, activation=None):
    """The kind of work a layer class does, as runtimes' nodes are matched to it (None: none of them)."""
    if type_name == "Activation":
        return "softmax" if activation == "softmax" else "activation"
    return _KINDS.get(type_name)


def layer_graph(model):
    """Every call of ``model`` (``analysis.cost.graph.calls``) as a dict: ``name``, ``kind``,
    ``spatial`` (output size without batch and channels, channels last) and ``inputs`` (names)."""
    made_by, layers = {}, []
    for call in calls(model):
        inputs = tuple(dict.fromkeys(made_by[id(t)] for t in call.inputs if id(t) in made_by))
        for tensor in call.outputs:
            made_by[id(tensor)] = call.name
        shape = tuple(call.outputs[0].shape[1:]) if call.outputs else ()
        layers.append({"name": call.name, "kind": layer_kind(call.type_name, activation_name(call.operation)),
                       "spatial": shape[:-1], "inputs": inputs})
    return layers


def layer_of_scope(scope, names):
    """The layer of ``names`` that the op name ``scope`` (``model_1/conv_dw_1_1/depthwise``) was made
    in: the first run of path components that names one (each without TensorFlow's ``_1``), else None."""
    parts = {part for name in names for part in name.split("/")}
    components = [c if c in parts else _RUN_SUFFIX.sub("", c) for c in str(scope).split("/")]
    for start in range(len(components)):
        for end in range(start + 1, len(components) + 1):
            name = "/".join(components[start:end])
            if name in names:
                return name
    return None


def _nearest(start, neighbours, label):
    """The labels of the nodes nearest ``start`` along ``neighbours`` that have one (searched
    through those that have none)."""
    found, seen, stack = set(), set(), list(neighbours(start))
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if label(name) is not None:
            found.add(label(name))
        else:
            stack.extend(neighbours(name))
    return frozenset(found)


def _fits(node, layer):
    spatial = node.get("spatial")
    return spatial is None or tuple(spatial) == tuple(layer["spatial"])


def match_graph(nodes, layers):
    """{node name: layer name} for the nodes of a runtime's graph (``Runtime.profile``'s ``graph``)
    that do a layer's work: matched in graph order to the first layer of ``layer_graph`` of the same
    kind and output size whose nearest matched layers upstream are the node's."""
    by_node = {n["name"]: n for n in nodes}
    by_layer = {layer["name"]: layer for layer in layers}
    matched, taken = {}, {}
    for node in nodes:
        if node["kind"] is None:
            continue
        above = _nearest(node["name"], lambda n: by_node[n]["inputs"] if n in by_node else (), matched.get)
        for layer in layers:
            if layer["name"] in taken or layer["kind"] != node["kind"] or not _fits(node, layer):
                continue
            if _nearest(layer["name"], lambda n: by_layer[n]["inputs"], taken.get) == above:
                matched[node["name"]] = taken[layer["name"]] = layer["name"]
                break
    return matched


def attribute(nodes, matched):
    """{node name: layer name} for every node of ``nodes``: ``matched`` (``match_graph``), and each
    other node by its neighbours (the module's rule), else ``UNATTRIBUTED``."""
    by_node = {n["name"]: n for n in nodes}
    consumers = {}
    for node in nodes:
        for source in node["inputs"]:
            consumers.setdefault(source, []).append(node["name"])
    layers = {}
    for node in nodes:
        name = node["name"]
        if name in matched:
            layers[name] = matched[name]
            continue
        up = _nearest(name, lambda n: by_node[n]["inputs"] if n in by_node else (), matched.get)
        down = _nearest(name, lambda n: consumers.get(n, ()), matched.get)
        found = next((side for side in ((down, up) if node["prepares"] else (up, down)) if side), frozenset())
        layers[name] = next(iter(found)) if len(found) == 1 else UNATTRIBUTED
    return layers


def node_layers(frame, model):
    """The layer (a ``layer_table`` name, or ``UNATTRIBUTED``) of each row of a runtime's profile."""
    if frame.attrs.get("scopes") is not None:
        names = [call.name for call in calls(model)]
        scopes = frame.attrs["scopes"]
        return [layer_of_scope(scopes.get(node, node), names) or UNATTRIBUTED for node in frame["node"]]
    graph = frame.attrs["graph"]
    layers = attribute(graph, match_graph(graph, layer_graph(model)))
    return [layers.get(node, UNATTRIBUTED) for node in frame["node"]]


def profile_group(role):
    """The group of a ``layer_role`` in a profile: Convolution (full, such as MobileNet's first
    3x3), Depthwise, Pointwise, Fully connected or Other."""
    if role.startswith("Conv DW"):
        return "Depthwise"
    if role == "Conv 1x1":
        return "Pointwise"
    if role == "Fully connected":
        return "Fully connected"
    return "Convolution" if role.startswith("Conv") else "Other"


def join(frame, bounds, batch=1):
    """One row per fused layer of ``bounds`` (``machine_bounds`` for ``batch``) with the time of its
    nodes (``frame``'s rows, with a ``layer`` column), then one ``UNATTRIBUTED`` row if any node is."""
    row_of = {member: row["name"] for _, row in bounds.iterrows() for member in [row["name"], *row["fused"]]}
    owner = frame["layer"].map(row_of).fillna(UNATTRIBUTED)
    total_ms = float(frame["ms"].sum())
    macs = bounds["macs"].astype("Float64") * batch
    rows = []
    for index, row in bounds.iterrows():
        mine = frame[owner == row["name"]]
        ms = float(mine["ms"].sum())
        achieved = 2 * macs[index] / (ms * 1e-3) / 1e9 if ms > 0 else np.nan
        rows.append({"layer": row["name"], "group": profile_group(row["role"]), "role": row["role"],
                     "type": row["type"], "nodes": " + ".join(mine["node"]), "ms": ms,
                     "time_share": ms / total_ms if total_ms else np.nan, "macs": macs[index],
                     "mac_share": macs[index] / macs.sum() if macs.sum() else np.nan,
                     "traffic_bytes": row["traffic_bytes"], "intensity": row["intensity"],
                     "bound_ms": row["bound_ms"], "achieved_gflops": achieved,
                     "bound_fraction": row["bound_ms"] / ms if ms > 0 else np.nan})
    left = frame[owner == UNATTRIBUTED]
    if len(left):
        ms = float(left["ms"].sum())
        rows.append({"layer": UNATTRIBUTED, "group": "", "role": "", "type": "", "nodes": " + ".join(left["node"]),
                     "ms": ms, "time_share": ms / total_ms})
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["macs"] = table["macs"].astype("Int64")
    return table


def machine_of_study(study=None):
    """(machine profile dict, description) of the study ``study`` (a folder; default the study a
    report uses, ``analysis.study.folder.report_study``)."""
    from analysis.study.folder import report_study

    folder = report_study(study)
    return folder.read("machine_profile").attrs["profile"], folder.describe()


# Calls of each kind (profiled and plain) before the timed ones.
PROFILE_WARMUP = 3


def profile_network(variant, config, batch=1, threads=None, runs=20, machine=None, model=None, calibration=None):
    """The in-network time of every layer of ``variant`` on the ``Configuration`` ``config``, from
    the runtime's own profiler, joined with its cost and roofline bound (``join``).

    Args:
        machine: (machine profile dict, description) for the bounds; default ``machine_of_study()``.
        calibration: the int8 calibration images (default ``conversions.speed_calibration(variant)``).

    Returns:
        (table, nodes): the per-layer table, whose ``attrs`` hold the totals (``coverage``: the
        layers' summed time over the unprofiled median; ``run_coverage``: the median over the
        profiled runs of the nodes' time in a run over that run's time, which slow runs on a
        loaded machine do not skew; ``overhead``: the profiled median over the unprofiled one),
        and the runtime's per-node frame with its ``layer``.

    Raises:
        BadInput: the runtime has no profiler. ConversionError: the network does not convert.
    """
    from analysis.cost.table import layer_table
    from analysis.speed import conversions, harness
    from analysis.speed.cpu import core_count
    from analysis.speed.roofline import machine_bounds

    record = config.record.check_profiler()
    model = variant.build() if model is None else model
    if config.precision == "int8" and calibration is None:
        calibration = conversions.speed_calibration(variant)
    source, x = harness.deployable(variant, config, model, batch, calibration)
    threads = threads or core_count()
    started = time.perf_counter()
    nodes = record.profile(source, x, threads, config.precision, runs=runs, warmup=PROFILE_WARMUP)
    seconds = time.perf_counter() - started
    nodes["layer"] = node_layers(nodes, model)
    machine, machine_label = machine_of_study() if machine is None else machine
    bounds = machine_bounds(layer_table(model), machine, batch=batch, fused=True, precision=config.precision)
    table = join(nodes, bounds, batch)
    median, profiled = float(nodes.attrs["median_ms"]), float(nodes.attrs["profiled_median_ms"])
    layers_ms = float(table["ms"].sum())
    table.attrs.update(
        variant=variant.label, runtime=config.runtime, precision=config.precision, batch=batch, threads=threads,
        runs=runs, runtime_version=record.version(), machine=machine_label, median_ms=median,
        profiled_median_ms=profiled, layers_ms=layers_ms, coverage=layers_ms / median,
        run_coverage=nodes.attrs["run_coverage"], overhead=profiled / median,
        unattributed_nodes=int((nodes["layer"] == UNATTRIBUTED).sum()), nodes=len(nodes), profile_seconds=seconds)
    return table, nodes
