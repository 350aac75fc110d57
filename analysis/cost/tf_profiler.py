"""The TensorFlow profiler's count of a network, layer by layer.

The profiler (``ProfileOptionBuilder.float_operation()`` on the frozen graph
at batch 1) counts 2 per multiply-add for ``Conv2D``,
``DepthwiseConv2dNative`` and ``MatMul``, plus its own registered counts for
element-wise ops (``BiasAdd``, ``Mul``, ``AddV2``, ``Sub`` 1 per output
element, ``Rsqrt`` 2 per element, ``Softmax`` 5 per element, ``Mean`` 1 per
input element, ``MaxPool``/``AvgPool`` k*k per output); ops without a
registered count (``Relu``, ``Relu6``) are 0. Each op goes to the layer
named in its scope. Counts are per image and exact integers.
"""

import logging
import re

import pandas as pd

from analysis.cost.graph import calls, nested_models
from nets.backend import keras
from nets.errors import Unavailable

# After Keras (nets.backend), so that TensorFlow starts quietly.
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

# TensorFlow op types whose float_ops are 2 per multiply-add.
TF_MAC_OP_TYPES = frozenset({
    "Conv2D", "Conv3D", "DepthwiseConv2dNative", "MatMul",
    "Conv2DBackpropInput", "Conv3DBackpropInputV2",
    "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3",
})
# TensorFlow op types that move or name data but do no arithmetic.
TF_NO_ARITHMETIC_OP_TYPES = frozenset({
    "Const", "Identity", "IdentityN", "NoOp", "Placeholder", "ReadVariableOp",
    "Reshape", "Squeeze", "ExpandDims", "Shape", "Pad", "Transpose",
    "ConcatV2", "Pack", "StridedSlice", "Cast",
})
UNATTRIBUTED = "(outside layers)"
_SCOPE_SUFFIX = re.compile(r"^(.+)_\d+$")


_CALL_OP_TYPES = frozenset({"PartitionedCall", "StatefulPartitionedCall"})


def _inference_graph(model, freeze=True):
    """The batch-1 inference graph of ``model`` and whether its variables were folded into constants.

    A graph that calls functions (Keras runs a grouped convolution on CPU as
    an XLA-compiled ``tf.function``) is not frozen: freezing inlines the
    call and loses the static shapes that the profiler needs.
    """
    spec = tf.TensorSpec((1,) + tuple(model.input_shape[1:]), tf.float32)
    function = tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(spec)
    calls_functions = any(op.type in _CALL_OP_TYPES for op in function.graph.get_operations())
    if freeze and not calls_functions:
        return convert_variables_to_constants_v2(function).graph, True
    return function.graph, False


def _called_graph(graph, op):
    """The traced graph (static shapes) of the function that the call ``op`` runs, or None."""
    try:
        return graph._get_function(op.get_attr("f").name).graph
    except (AttributeError, KeyError, ValueError):
        return None


def _function_op_flops(graph, op):
    """{op type: float ops} of everything the call ``op`` runs (nested calls included), or None
    if its function's graph is not at hand."""
    called = _called_graph(graph, op)
    if called is None:
        return None
    totals, float_ops = {}, _profile_float_ops(called)
    for inner in called.get_operations():
        flops = float_ops.get(inner.name, 0)
        if inner.type in _CALL_OP_TYPES:
            for kind, count in (_function_op_flops(called, inner) or {}).items():
                totals[kind] = totals.get(kind, 0) + count
        elif flops:
            totals[inner.type] = totals.get(inner.type, 0) + flops
    return totals


def _profile_float_ops(graph):
    """{op name: float_ops} for every op of ``graph`` the TF profiler counts (> 0)."""
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


def layer_of_op(op_name, layer_names, containers=()):
    """The layer an op belongs to, from the name scopes in its name, or None.

    A scope matches a layer on a whole path component: ``conv_dw_1`` or
    ``conv_dw_1_<n>`` (Keras 3.15's ``Layer.__call__`` opens the layer's name
    scope twice, so TF makes the second, which holds the ops, ``conv_dw_1_1``);
    ``conv1`` never matches ``conv1_bn``, nor ``conv_dw_1`` ``conv_dw_13``.
    The outermost matching component wins; the uniquified form is preferred.
    A component that names one of ``containers`` (nested models, qualified
    ``outer/inner``) opens it: the components after it are matched against
    its layers, so ``m/stem_1/stem_conv_1/convolution`` is ``stem/stem_conv``.
    """
    prefix = ""
    for component in op_name.split("/")[:-1]:
        match = _SCOPE_SUFFIX.match(component)
        candidates = ([match.group(1)] if match else []) + [component]
        for candidate in candidates:
            qualified = prefix + candidate
            if qualified in containers:
                prefix = qualified + "/"
                break
            if qualified in layer_names:
                return qualified
    return None


def tf_profiler_counts(model, *, freeze=True):
    """Count ``model`` (a TF-backend Keras model) with the TensorFlow profiler, per layer.

    The batch-1 inference function is frozen (``convert_variables_to_constants_v2``)
    and its graph profiled with ``ProfileOptionBuilder.float_operation()``;
    each op's float_ops go to the layer named in its scope. The profiler
    counts 2 per multiply-add. ``freeze=False`` profiles the graph with its
    variables instead: the same ops and static shapes, hence the same counts,
    without copying every weight into the graph.

    Returns:
        A ``pandas.DataFrame``, one row per call of ``analysis.cost.graph.calls``
        (nested models through their layers, ``outer/inner``; plus a row
        ``"(outside layers)"`` if any counted op lies outside every layer):
        ``name``, ``tf_flops`` (all float ops), ``tf_conv_flops``
        (Conv2D/DepthwiseConv2dNative/MatMul: 2 per multiply-add),
        ``tf_other_flops`` (the rest), ``tf_ops`` (dict: op type -> float
        ops) and ``tf_uncounted`` (op types in the layer that do arithmetic
        but have no registered count, e.g. Relu6). ``attrs["total_flops"]``
        is the profiler's total for the graph and the functions it calls;
        ``attrs["frozen"]`` says whether the profiled graph was frozen.

    The profiler does not look inside a function call (Keras runs a grouped
    convolution on CPU as an XLA-compiled function): each called function's
    traced graph is profiled and its ops go to the layer of the call; such a
    graph is never frozen. ``keras.ops`` operations in a functional graph
    (``x + 3.0``) open no name scope, so their ops land in ``"(outside layers)"``.
    """
    if keras.backend.backend() != "tensorflow":
        raise Unavailable(f"tf_profiler_counts needs the TensorFlow backend, Keras runs on "
                          f"{keras.backend.backend()!r}: run it without KERAS_BACKEND set")
    graph, frozen = _inference_graph(model, freeze)
    float_ops = _profile_float_ops(graph)
    names = [call.name for call in calls(model)]
    per_layer, function_flops = _ops_per_layer(graph, float_ops, names, set(nested_models(model)))
    rows = [_profiler_row(name, counts) for name, counts in per_layer.items()
            if name != UNATTRIBUTED or counts["tf_ops"]]
    table = pd.DataFrame(rows)
    for column in ("tf_flops", "tf_conv_flops", "tf_other_flops"):
        table[column] = table[column].astype("Int64")
    table.attrs.update(total_flops=sum(float_ops.values()) + function_flops, model=model.name, frozen=frozen)
    return table


def _ops_per_layer(graph, float_ops, names, containers):
    """``({layer: {"tf_ops": {op type: float ops}, "tf_uncounted": {op type}}}, float ops of called
    functions)``: each op of ``graph`` under the layer of its scope (``UNATTRIBUTED`` last)."""
    function_flops = 0
    known = set(names)
    per_layer = {name: {"tf_ops": {}, "tf_uncounted": set()} for name in names + [UNATTRIBUTED]}
    for op in graph.get_operations():
        layer = per_layer[layer_of_op(op.name, known, containers) or UNATTRIBUTED]
        flops = float_ops.get(op.name, 0)
        called = _function_op_flops(graph, op) if op.type in _CALL_OP_TYPES else None
        if called is not None:
            for kind, count in called.items():
                layer["tf_ops"][kind] = layer["tf_ops"].get(kind, 0) + count
                function_flops += count
        elif flops:
            layer["tf_ops"][op.type] = layer["tf_ops"].get(op.type, 0) + flops
        elif op.type not in TF_NO_ARITHMETIC_OP_TYPES:
            layer["tf_uncounted"].add(op.type)
    return per_layer, function_flops


def _profiler_row(name, counts):
    """The ``tf_profiler_counts`` row of layer ``name`` from its entry of ``_ops_per_layer``."""
    ops = dict(sorted(counts["tf_ops"].items()))
    conv = sum(v for k, v in ops.items() if k in TF_MAC_OP_TYPES)
    return {"name": name, "tf_flops": sum(ops.values()), "tf_conv_flops": conv,
            "tf_other_flops": sum(ops.values()) - conv, "tf_ops": ops,
            "tf_uncounted": sorted(counts["tf_uncounted"])}

