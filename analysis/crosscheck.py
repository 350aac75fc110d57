"""Independent counts of the networks' cost: fvcore and the TensorFlow profiler.

Three counters, each with its own convention, compared layer by layer:

- **ours** (``analysis.cost.layer_table``): ``macs`` = multiply-adds of
  convolutions and dense layers; ``other_ops`` = bias, batch norm,
  activation, pooling and element-wise operations by the formulas stated in
  ``analysis.cost``; ``flops`` = 2 x ``macs``.
- **fvcore** (``FlopCountAnalysis`` on the Keras PyTorch backend, in a
  subprocess): 1 "flop" per multiply-add of the aten operators it has a
  handle for (``aten::_convolution`` with groups, so depthwise too;
  ``aten::matmul``/``linear``); the other operators it meets (bias
  ``aten::add``, Keras' element-wise batch norm, ``aten::relu6``,
  ``aten::max_pool2d``, ``aten::mean``, ``aten::softmax``) are listed in
  ``unsupported_ops()`` and counted 0, except those it ignores by design
  (``aten::relu``), which are neither counted nor listed.
- **TF profiler** (``ProfileOptionBuilder.float_operation()`` on the frozen
  graph at batch 1): 2 per multiply-add for ``Conv2D``,
  ``DepthwiseConv2dNative`` and ``MatMul``, plus its own registered counts
  for element-wise ops (``BiasAdd``, ``Mul``, ``AddV2``, ``Sub`` 1 per
  output element, ``Rsqrt`` 2 per element, ``Softmax`` 5 per element,
  ``Mean`` 1 per input element, ``MaxPool``/``AvgPool`` k*k per output);
  ops without a registered count (``Relu``, ``Relu6``) are 0.

So the convolution and dense multiply-adds must agree exactly across the
three (ours ``macs`` == fvcore == TF conv/matmul FLOPs / 2); everything else
differs by convention, and each row's ``note`` says how.

All counts are per image (batch 1) and exact integers.
"""

import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import warnings

import keras
import pandas as pd

from analysis.cost import layer_table
from analysis.paths import PROJECT_ROOT
from analysis.variants import MODEL_NAMES, build

COUNTERS = (
    "fvcore: 1 per multiply-add of conv/matmul aten ops (fvcore_macs); other aten ops are "
    "listed as unsupported and count 0, except aten::relu, which it ignores by design. "
    "TF profiler: 2 per multiply-add of Conv2D/DepthwiseConv2dNative/MatMul (tf_conv_flops) "
    "plus its own element-wise counts (tf_other_flops: BiasAdd/Mul/AddV2/Sub 1 per output, "
    "Rsqrt 2, Softmax 5 per element, Mean 1 per input, pools k*k per output; Relu/Relu6 0). "
    "ours: macs (multiply-adds) + other_ops (bias, BN, activation, pooling, element-wise)."
)
# Keras layer classes whose work is multiply-adds: the rows that must agree.
MAC_LAYER_TYPES = ("Conv1D", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Dense")
# TensorFlow op types whose float_ops are 2 per multiply-add.
TF_MAC_OP_TYPES = frozenset({
    "Conv2D", "Conv3D", "DepthwiseConv2dNative", "MatMul",
    "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3",
})
# TensorFlow op types that move or name data but do no arithmetic.
TF_NO_ARITHMETIC_OP_TYPES = frozenset({
    "Const", "Identity", "IdentityN", "NoOp", "Placeholder", "ReadVariableOp",
    "Reshape", "Squeeze", "ExpandDims", "Shape", "Pad", "Transpose",
    "ConcatV2", "Pack", "StridedSlice", "Cast",
})
UNATTRIBUTED = "(outside layers)"
_WORKER_FLAG = "--fvcore-worker"
_SCOPE_SUFFIX = re.compile(r"^(.+)_\d+$")
# aten ops that compute on data (rather than move it), checked against fvcore's ignore list.
_ARITHMETIC_ATEN_OPS = frozenset({
    "aten::relu", "aten::relu_", "aten::clamp", "aten::clamp_", "aten::max", "aten::floor",
    "aten::remainder", "aten::eq", "aten::ge", "aten::gt", "aten::masked_fill",
})


# ---------------------------------------------------------------- fvcore


def fvcore_counts(model_name, *, seed=0, timeout=900, **variant_options):
    """Count ``model_name`` with fvcore, layer by layer, on the Keras PyTorch backend.

    A subprocess (``KERAS_BACKEND=torch``, no GPU) builds the variant with
    ``analysis.variants.build(model_name, **variant_options)`` (random
    weights, ``seed``) and runs ``fvcore.nn.FlopCountAnalysis`` on each
    layer with a batch-1 tensor of that layer's input shape, and on the
    whole model. fvcore counts 1 per multiply-add.

    Returns:
        A ``pandas.DataFrame``, one row per layer: ``name``, ``type``,
        ``fvcore_macs`` (Int64; <NA> where the layer could not run),
        ``fvcore_by_operator`` (dict: fvcore handle -> multiply-adds),
        ``fvcore_unsupported`` (dict: aten op -> occurrences that fvcore
        skipped, i.e. counted 0), ``fvcore_size_arithmetic`` (the part of
        those that only computes sizes on 0-d tensors, e.g. SAME padding of a
        strided convolution, no work on data), ``fvcore_ignored`` (ops on
        data that fvcore ignores by design, neither counted nor listed, e.g.
        ``aten::relu``) and ``fvcore_error`` (None or the error of a layer
        that could not run standalone). ``attrs`` holds
        ``total_macs`` and ``unsupported`` of the whole model.

    Raises:
        ValueError: an unknown model or option (from ``analysis.variants.build``).
        RuntimeError: the worker failed; its stderr is in the message.
    """
    if model_name not in MODEL_NAMES:
        build(model_name)  # raises its ValueError here, before a subprocess starts
    request = json.dumps({"model": model_name, "options": variant_options, "seed": seed})
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-m", "analysis.crosscheck", _WORKER_FLAG, request],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=timeout,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"fvcore worker failed for model={model_name!r}, options={variant_options!r} "
            f"(exit {done.returncode}):\n{done.stderr[-4000:]}"
        )
    result = json.loads(lines[-1])
    if "value_error" in result:  # a bad model name or option, as analysis.variants.build words it
        raise ValueError(result["value_error"])
    table = pd.DataFrame(result["layers"], columns=[
        "name", "type", "fvcore_macs", "fvcore_by_operator", "fvcore_unsupported",
        "fvcore_size_arithmetic", "fvcore_ignored", "fvcore_error"])
    table["fvcore_macs"] = table["fvcore_macs"].astype("Int64")
    table.attrs.update(total_macs=result["total_macs"], unsupported=result["unsupported"],
                       model=result["model"])
    return table


def _fvcore_analysis(module, inputs):
    """fvcore's count of ``module(*inputs)``, its warnings off: (multiply-adds, by operator,
    unsupported ops, the ops fvcore ignores by design)."""
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(module, inputs)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return (int(analysis.total()), {k: int(v) for k, v in analysis.by_operator().items() if v},
            dict(sorted(analysis.unsupported_ops().items())), set(analysis._ignored_ops))


def _classify(graph, unsupported, ignored):
    """Two tallies of a traced graph's nodes, by aten op.

    - size arithmetic: unsupported ops whose tensor inputs are all 0-d.
      Keras' torch backend computes, for instance, the explicit SAME padding
      of a strided convolution from the input's sizes; the trace records it
      as ``aten::sub``/``mul``/``add`` on scalars, no work on the data.
    - ignored arithmetic: ops on data that fvcore ignores by design (in its
      ``_IGNORED_OPS``, e.g. ``aten::relu``): neither counted nor listed as
      unsupported.
    """
    sizes, silent = {}, {}
    for node in graph.nodes():
        kind = node.kind()
        tensors = [v for v in node.inputs() if v.isCompleteTensor()]
        on_data = any(v.type().sizes() for v in tensors)
        if kind in unsupported and tensors and not on_data:
            sizes[kind] = sizes.get(kind, 0) + 1
        elif kind in ignored and kind in _ARITHMETIC_ATEN_OPS and on_data:
            silent[kind] = silent.get(kind, 0) + 1
    return dict(sorted(sizes.items())), dict(sorted(silent.items()))


def _fvcore_worker(model_name, options, seed):
    """Runs in the subprocess (Keras on torch): the fvcore counts as a JSON-able dict."""
    import torch

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"the fvcore worker needs KERAS_BACKEND=torch, got {keras.backend.backend()!r}")
    logging.getLogger("fvcore").setLevel(logging.ERROR)  # unsupported ops are returned instead
    keras.utils.set_random_seed(seed)
    try:
        model = build(model_name, **options)
    except ValueError as error:  # the user's, reported by the parent as ValueError
        return {"value_error": str(error)}
    generator = torch.Generator().manual_seed(seed)

    def batch_of(tensor):
        shape = (1,) + tuple(int(d) for d in tensor.shape[1:])  # channels_last, as on TF
        return torch.rand(shape, generator=generator)

    layers = []
    for layer in model.layers:
        row = {"name": layer.name, "type": type(layer).__name__, "fvcore_macs": None,
               "fvcore_by_operator": {}, "fvcore_unsupported": {}, "fvcore_size_arithmetic": {},
               "fvcore_ignored": {}, "fvcore_error": None}
        try:
            inputs = [batch_of(t) for t in layer.input] if isinstance(layer.input, (list, tuple)) \
                else batch_of(layer.input)
            graph, out = torch.jit._get_trace_graph(layer, (inputs,))  # as fvcore traces it
            expected = tuple(int(d) for d in layer.output.shape[1:])
            if tuple(out.shape[1:]) != expected:
                raise ValueError(f"output shape {tuple(out.shape[1:])} on torch, {expected} on Keras")
            macs, by_operator, unsupported, ignored = _fvcore_analysis(layer, (inputs,))
            sizes, silent = _classify(graph, unsupported, ignored)
            row.update(fvcore_macs=macs, fvcore_by_operator=by_operator, fvcore_unsupported=unsupported,
                       fvcore_size_arithmetic=sizes, fvcore_ignored=silent)
        except Exception as error:  # noqa: BLE001 (reported per layer, never dropped)
            row["fvcore_error"] = f"{type(error).__name__}: {error}".strip()
        layers.append(row)
    total, _, unsupported, _ = _fvcore_analysis(model, (batch_of(model.input),))
    return {"model": model.name, "layers": layers, "total_macs": total, "unsupported": unsupported}


# ---------------------------------------------------------------- TF profiler


def _inference_graph(model, freeze=True):
    """The batch-1 inference graph of ``model``, its variables folded into constants if ``freeze``."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec((1,) + tuple(model.input_shape[1:]), tf.float32)
    function = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(spec)
    return convert_variables_to_constants_v2(function).graph if freeze else function.graph


def _profile_float_ops(graph):
    """{op name: float_ops} for every op of ``graph`` the TF profiler counts (> 0)."""
    import tensorflow as tf

    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # a deprecation notice of the v1 profiler
    try:
        root = tf.compat.v1.profiler.profile(graph, cmd="scope", options=options)
    finally:
        logger.setLevel(level)
    counts, stack = {}, [root]
    while stack:
        node = stack.pop()
        if node.float_ops:
            counts[node.name] = int(node.float_ops)
        stack.extend(node.children)
    if sum(counts.values()) != root.total_float_ops:
        raise RuntimeError(
            f"per-op float_ops sum to {sum(counts.values())}, the profiler's total is {root.total_float_ops}"
        )
    return counts


def layer_of_op(op_name, layer_names):
    """The layer an op belongs to, from the name scopes in its name, or None.

    A scope matches a layer on a whole path component: ``conv_dw_1`` or
    ``conv_dw_1_<n>`` (Keras 3.15's ``Layer.__call__`` opens the layer's name
    scope twice, so TF makes the second, which holds the ops, ``conv_dw_1_1``);
    ``conv1`` never matches ``conv1_bn``, nor ``conv_dw_1`` ``conv_dw_13``.
    The outermost matching component wins; the uniquified form is preferred.
    """
    for component in op_name.split("/")[:-1]:
        match = _SCOPE_SUFFIX.match(component)
        if match and match.group(1) in layer_names:
            return match.group(1)
        if component in layer_names:
            return component
    return None


def tf_profiler_counts(model, *, freeze=True):
    """Count ``model`` (a TF-backend Keras model) with the TensorFlow profiler, per layer.

    The batch-1 inference function is frozen (``convert_variables_to_constants_v2``)
    and its graph profiled with ``ProfileOptionBuilder.float_operation()``;
    each op's float_ops go to the layer named in its scope. The profiler
    counts 2 per multiply-add. ``freeze=False`` profiles the graph with its
    variables instead: the same ops with the same static shapes, hence the
    same counts, without copying every weight into the graph (VGG16's 138M
    parameters take tens of seconds to freeze).

    Returns:
        A ``pandas.DataFrame``, one row per layer (plus a row
        ``"(outside layers)"`` if any counted op lies outside every layer):
        ``name``, ``tf_flops`` (all float ops), ``tf_conv_flops``
        (Conv2D/DepthwiseConv2dNative/MatMul: 2 per multiply-add),
        ``tf_other_flops`` (the rest), ``tf_ops`` (dict: op type -> float
        ops) and ``tf_uncounted`` (op types in the layer that do arithmetic
        but have no registered count, e.g. Relu6). ``attrs["total_flops"]``
        is the profiler's total for the graph.
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"tf_profiler_counts needs the TensorFlow backend, Keras runs on {keras.backend.backend()!r}"
        )
    graph = _inference_graph(model, freeze)
    float_ops = _profile_float_ops(graph)
    names = [layer.name for layer in model.layers]
    known = set(names)
    per_layer = {name: {"tf_ops": {}, "tf_uncounted": set()} for name in names + [UNATTRIBUTED]}
    for op in graph.get_operations():
        layer = layer_of_op(op.name, known) or UNATTRIBUTED
        flops = float_ops.get(op.name, 0)
        if flops:
            ops = per_layer[layer]["tf_ops"]
            ops[op.type] = ops.get(op.type, 0) + flops
        elif op.type not in TF_NO_ARITHMETIC_OP_TYPES:
            per_layer[layer]["tf_uncounted"].add(op.type)
    rows = []
    for name, counts in per_layer.items():
        ops = dict(sorted(counts["tf_ops"].items()))
        if name == UNATTRIBUTED and not ops:
            continue
        conv = sum(v for k, v in ops.items() if k in TF_MAC_OP_TYPES)
        rows.append({"name": name, "tf_flops": sum(ops.values()), "tf_conv_flops": conv,
                     "tf_other_flops": sum(ops.values()) - conv, "tf_ops": ops,
                     "tf_uncounted": sorted(counts["tf_uncounted"])})
    table = pd.DataFrame(rows)
    for column in ("tf_flops", "tf_conv_flops", "tf_other_flops"):
        table[column] = table[column].astype("Int64")
    table.attrs.update(total_flops=sum(float_ops.values()), model=model.name)
    return table


# ---------------------------------------------------------------- comparison


def _rate(count, elements, channels):
    """``count`` as ``a/output + b/channel`` (or plain) for a layer of ``elements`` outputs."""
    if not elements or count == 0:
        return f"{count}"
    per_output, rest = divmod(count, elements)
    if per_output and not rest:
        return f"{per_output}/output"
    if rest and channels and rest % channels == 0:
        tail = f"{rest // channels}/channel"
        return f"{per_output}/output + {tail}" if per_output else tail
    return f"{per_output}/output + {rest}" if per_output else f"{count}"


def _counted(ops):
    return ", ".join(f"{k} x{v}" for k, v in ops.items())


def _note(row):
    """Explain, from the observed counts, how the three counters differ on one layer."""
    parts = []
    elements = row["activations"]
    out_shape = row["output_shape"]
    channels = out_shape[-1] if out_shape and isinstance(out_shape[-1], int) else 0
    if row["type"] in MAC_LAYER_TYPES and not bool(row["agree"]):
        parts.append(f"MACs differ: ours {row['macs']}, fvcore {row['fvcore_macs']}, "
                     f"TF conv/matmul FLOPs {row['tf_conv_flops']} (2 per MAC)")
    other, tf_other = row["other_ops"], row["tf_other_flops"]
    tf_ops = {k: v for k, v in row["tf_ops"].items() if k not in TF_MAC_OP_TYPES}
    if tf_ops or (other is not pd.NA and other):
        if other is not pd.NA and other == tf_other:
            parts.append(f"other ops: ours = TF profiler = {other} ({_rate(other, elements, channels)})")
        else:
            ours = "<NA> (layer unsupported)" if other is pd.NA else f"{other} ({_rate(other, elements, channels)})"
            detail = ", ".join(f"{k} {v} ({_rate(v, elements, channels)})" for k, v in tf_ops.items()) or "0"
            parts.append(f"other ops: ours {ours}, TF profiler {detail}")
    if row["tf_uncounted"]:
        parts.append(f"TF profiler counts 0 for {', '.join(row['tf_uncounted'])}")
    if isinstance(row["fvcore_error"], str):
        parts.append(f"fvcore could not run the layer alone ({row['fvcore_error']})")
    elif row["fvcore_unsupported"]:
        sizes = row["fvcore_size_arithmetic"]
        data = {k: v - sizes.get(k, 0) for k, v in row["fvcore_unsupported"].items() if v > sizes.get(k, 0)}
        if data:
            parts.append(f"fvcore counts 0 for unsupported {_counted(data)}")
        if sizes:
            parts.append(f"fvcore also lists size arithmetic {_counted(sizes)} (0-d, no data)")
    if row["fvcore_ignored"]:
        parts.append(f"fvcore ignores {_counted(row['fvcore_ignored'])} by design (not counted, not listed)")
    return "; ".join(parts)


def crosscheck(model_name, *, seed=0, freeze=True, **variant_options):
    """Our per-layer counts beside fvcore's and the TensorFlow profiler's.

    Builds the variant (``analysis.variants.build``) on the TF backend for
    ``layer_table`` and the profiler, and again in a torch subprocess for
    fvcore. ``agree`` is True where a convolution or dense layer has
    ours ``macs`` == ``fvcore_macs`` and 2 x ``macs`` == ``tf_conv_flops``
    (<NA> for other layers). ``note`` explains the differences in other ops.
    ``freeze`` is passed to ``tf_profiler_counts``.

    Returns:
        ``layer_table``'s columns name, type, output_shape, activations,
        macs, flops, other_ops, then fvcore_macs, fvcore_by_operator,
        fvcore_unsupported, fvcore_size_arithmetic, fvcore_ignored,
        fvcore_error, tf_flops, tf_conv_flops, tf_other_flops, tf_ops,
        tf_uncounted, agree, note.
        ``attrs`` holds ``counters`` (which counter counts what),
        ``fvcore_total_macs``, ``fvcore_unsupported`` (whole model),
        ``tf_total_flops`` and ``tf_unattributed_flops``.
    """
    keras.utils.set_random_seed(seed)
    model = build(model_name, **variant_options)
    ours = layer_table(model)[["name", "type", "output_shape", "activations", "macs", "flops", "other_ops"]]
    fv = fvcore_counts(model_name, seed=seed, **variant_options)
    tf_table = tf_profiler_counts(model, freeze=freeze)
    table = ours.merge(fv.drop(columns=["type"]), on="name", how="left")
    table = table.merge(tf_table, on="name", how="left")
    for column in ("tf_flops", "tf_conv_flops", "tf_other_flops"):
        table[column] = table[column].fillna(0).astype("Int64")
    table["tf_ops"] = [ops if isinstance(ops, dict) else {} for ops in table["tf_ops"]]
    table["tf_uncounted"] = [ops if isinstance(ops, list) else [] for ops in table["tf_uncounted"]]
    for column in ("fvcore_by_operator", "fvcore_unsupported", "fvcore_size_arithmetic", "fvcore_ignored"):
        table[column] = [ops if isinstance(ops, dict) else {} for ops in table[column]]
    is_mac = table["type"].isin(MAC_LAYER_TYPES)
    agree = (table["macs"] == table["fvcore_macs"]) & (2 * table["macs"] == table["tf_conv_flops"])
    table["agree"] = agree.fillna(False).astype("boolean").where(is_mac, pd.NA)
    table["note"] = [_note(row) for _, row in table.iterrows()]
    unattributed = tf_table.loc[tf_table["name"] == UNATTRIBUTED, "tf_flops"]
    table.attrs.update(
        counters=COUNTERS, model=model.name,
        fvcore_total_macs=fv.attrs["total_macs"], fvcore_unsupported=fv.attrs["unsupported"],
        tf_total_flops=tf_table.attrs["total_flops"],
        tf_unattributed_flops=int(unattributed.sum()) if len(unattributed) else 0,
    )
    return table


def crosscheck_summary(table):
    """Totals per counter of a ``crosscheck`` table, as a plain dict.

    Keys: model; ours_macs, ours_flops (2 x MACs), ours_other_ops;
    fvcore_macs (sum over layers), fvcore_total_macs (whole model);
    tf_conv_flops, tf_other_flops (sums over layers), tf_total_flops (whole
    graph), tf_unattributed_flops; mac_layers (count of conv/dense layers),
    all_agree, disagreeing (names), fvcore_errors (names of layers fvcore
    could not run) and counters.
    """
    mac_rows = table[table["type"].isin(MAC_LAYER_TYPES)]
    return {
        "model": table.attrs.get("model", ""),
        "ours_macs": int(table["macs"].sum(skipna=True)),
        "ours_flops": int(table["flops"].sum(skipna=True)),
        "ours_other_ops": int(table["other_ops"].sum(skipna=True)),
        "fvcore_macs": int(table["fvcore_macs"].sum(skipna=True)),
        "fvcore_total_macs": table.attrs.get("fvcore_total_macs"),
        "tf_conv_flops": int(table["tf_conv_flops"].sum()),
        "tf_other_flops": int(table["tf_other_flops"].sum()),
        "tf_total_flops": table.attrs.get("tf_total_flops"),
        "tf_unattributed_flops": table.attrs.get("tf_unattributed_flops", 0),
        "mac_layers": len(mac_rows),
        "all_agree": bool(len(mac_rows)) and bool(mac_rows["agree"].all()),
        "disagreeing": [str(n) for n in mac_rows.loc[~mac_rows["agree"].astype(bool), "name"]],
        "fvcore_errors": [str(n) for n in table.loc[table["fvcore_error"].notna(), "name"]],
        "counters": table.attrs.get("counters", COUNTERS),
    }


def _main(argv):
    if len(argv) != 2 or argv[0] != _WORKER_FLAG:
        raise SystemExit(f"usage: python -m analysis.crosscheck {_WORKER_FLAG} JSON (run by fvcore_counts)")
    request = json.loads(argv[1])
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit tracer warnings; unsupported ops are returned
        result = _fvcore_worker(request["model"], request["options"], request["seed"])
    print(json.dumps(result))


if __name__ == "__main__":
    _main(sys.argv[1:])
