"""Independent counts of the networks' cost: fvcore and the TensorFlow profiler.

Three counters, each with its own convention, compared layer by layer:

- **ours** (``analysis.cost.layer_table``): ``macs`` = multiply-adds of
  convolutions and dense layers; ``other_ops`` = bias, batch norm,
  activation, pooling and element-wise operations by the formulas stated in
  ``analysis.cost``; ``flops`` = 2 x ``macs``.
- **fvcore** (``analysis.cost.fvcore_count``: ``FlopCountAnalysis`` on the
  Keras PyTorch backend, in a subprocess): 1 "flop" per multiply-add of the aten operators it has a
  handle for (``aten::_convolution`` with groups, so depthwise too;
  ``aten::matmul``/``linear``); the other operators it meets (bias
  ``aten::add``, Keras' element-wise batch norm, ``aten::relu6``,
  ``aten::max_pool2d``, ``aten::mean``, ``aten::softmax``) are listed in
  ``unsupported_ops()`` and counted 0, except those it ignores by design
  (``aten::relu``), which are neither counted nor listed. A few non-MAC
  operators have a handle of their own and count there
  (``aten::layer_norm``: 5 per element with scale, 4 without, as in
  ConvNeXt), in the ``fvcore_macs`` of a layer that has no MACs of ours.
- **TF profiler** (``analysis.cost.tf_profiler``: ``ProfileOptionBuilder.float_operation()`` on the frozen
  graph at batch 1): 2 per multiply-add for ``Conv2D``,
  ``DepthwiseConv2dNative`` and ``MatMul``, plus its own registered counts
  for element-wise ops (``BiasAdd``, ``Mul``, ``AddV2``, ``Sub`` 1 per
  output element, ``Rsqrt`` 2 per element, ``Softmax`` 5 per element,
  ``Mean`` 1 per input element, ``MaxPool``/``AvgPool`` k*k per output);
  ops without a registered count (``Relu``, ``Relu6``) are 0. ``keras.ops``
  operations of a functional graph (MobileNetV3's ``x + 3.0``) open no
  name scope, so the profiler's ops for them are in ``(outside layers)``.

So the convolution and dense multiply-adds must agree exactly across the
three (ours ``macs`` == fvcore == TF conv/matmul FLOPs / 2), on every
keras.applications model; everything else differs by convention, and each
row's ``note`` says how. One exception of the TF profiler's own: its
``Conv2DBackpropInput`` (transposed convolution) formula counts output
positions / stride^2, exact only for padding ``'same'``, and
``Conv3DBackpropInputV2`` has no count; no keras.applications model has
either.

All counts are per image (batch 1) and exact integers.
"""

import pandas as pd

from analysis.cost.fvcore_count import fvcore_counts, fvcore_counts_many
from analysis.cost.graph import OPERATION_PREFIX
from analysis.cost.table import layer_table
from analysis.cost.tf_profiler import TF_MAC_OP_TYPES, UNATTRIBUTED, tf_profiler_counts
from analysis.variants import Variant
from nets.backend import keras

COUNTERS = (
    "fvcore: 1 per multiply-add of conv/matmul aten ops (fvcore_macs); a few other aten ops have "
    "a handle of their own and count in fvcore_macs of layers that are not conv/dense "
    "(aten::layer_norm 5 per element with scale, 4 without; aten::batch_norm, aten::upsample_*, "
    "aten::adaptive_avg_pool2d, aten::einsum); other aten ops are "
    "listed as unsupported and count 0, except aten::relu, which it ignores by design. "
    "TF profiler: 2 per multiply-add of Conv2D/DepthwiseConv2dNative/MatMul (tf_conv_flops) "
    "plus its own element-wise counts (tf_other_flops: BiasAdd/Mul/AddV2/Sub 1 per output, "
    "Rsqrt 2, Softmax 5 per element, Mean 1 per input, pools k*k per output; Relu/Relu6 0). "
    "ours: macs (multiply-adds) + other_ops (bias, BN, activation, pooling, element-wise)."
)
TRANSPOSED_TYPES = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
# Keras layer classes whose work is multiply-adds: the rows that must agree.
MAC_LAYER_TYPES = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D",
                   "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Dense")


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
        if row["type"] in TRANSPOSED_TYPES:
            parts.append("the TF profiler's Conv2DBackpropInput formula counts output positions / stride^2, "
                         "exact only where output = input x stride (padding='same'); Conv3DBackpropInputV2 "
                         "has no count")
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
    if row["type"] not in MAC_LAYER_TYPES and row["fvcore_by_operator"]:
        counted = ", ".join(f"{k} {v} ({_rate(v, elements, channels)})" for k, v in row["fvcore_by_operator"].items())
        parts.append(f"fvcore counts {counted} with its own handle (not multiply-adds of ours)")
    if row["type"].startswith(OPERATION_PREFIX):
        parts.append(f"a keras.ops operation: it opens no TF name scope, so the TF profiler's ops for it "
                     f"are in '{UNATTRIBUTED}'")
    if row["fvcore_ignored"]:
        parts.append(f"fvcore ignores {_counted(row['fvcore_ignored'])} by design (not counted, not listed)")
    return "; ".join(parts)


def crosscheck(source, *, seed=0, freeze=True):
    """Our per-layer counts of a network beside fvcore's and the TensorFlow profiler's.

    ``source`` is a ``Variant`` (built here on the TF backend) or a
    functional or Sequential ``keras.Model`` (any keras.applications model,
    a loaded file). The torch subprocess for fvcore rebuilds that very model
    from its config (Keras' safe mode), so the layer names match even where
    Keras numbers them (``add_18``) and where a builder refuses the torch
    backend (NASNet's). Rows are the
    calls of ``analysis.cost.graph.calls``: nested models through their
    layers (``outer/inner``). ``agree`` is True where a convolution or dense
    layer has ours ``macs`` == ``fvcore_macs`` and 2 x ``macs`` ==
    ``tf_conv_flops`` (<NA> for other layers). ``note`` explains the
    differences in other ops. ``freeze`` is passed to ``tf_profiler_counts``.

    Returns:
        ``layer_table``'s columns name, type, output_shape, activations,
        macs, flops, other_ops, then fvcore_macs, fvcore_by_operator,
        fvcore_unsupported, fvcore_size_arithmetic, fvcore_ignored,
        fvcore_error, tf_flops, tf_conv_flops, tf_other_flops, tf_ops,
        tf_uncounted, agree, note.
        ``attrs`` holds ``counters`` (which counter counts what),
        ``fvcore_total_macs``, ``fvcore_unsupported`` (whole model),
        ``tf_total_flops``, ``tf_unattributed_flops`` and ``tf_frozen``.
    """
    if isinstance(source, Variant):
        keras.utils.set_random_seed(seed)
        model = source.build()
    else:
        model = source
    ours = layer_table(model)  # first: a model it cannot count is refused before the worker starts
    return _joined(model, ours, fvcore_counts(model, seed=seed), freeze)


def crosscheck_many(models, *, seed=0, freeze=True):
    """``crosscheck`` of each of ``models`` (built ``keras.Model``s), with one fvcore worker for all."""
    ours = [layer_table(model) for model in models]
    return [_joined(model, table, fv, freeze)
            for model, table, fv in zip(models, ours, fvcore_counts_many(models, seed=seed))]


def _joined(model, ours, fv, freeze):
    """Our table, fvcore's and the TF profiler's of ``model``, joined on the layer names."""
    ours = ours[["name", "type", "output_shape", "activations", "macs", "flops", "other_ops"]]
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
        tf_frozen=tf_table.attrs["frozen"],
    )
    return table


def crosscheck_summary(table):
    """Totals per counter of a ``crosscheck`` table, as a plain dict.

    Keys: model; ours_macs, ours_flops (2 x MACs), ours_other_ops;
    fvcore_macs (sum over layers), fvcore_total_macs (whole model),
    fvcore_outside_mac_layers (what fvcore counts in layers that are not
    conv/dense, e.g. aten::layer_norm);
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
        "fvcore_outside_mac_layers": int(table.loc[~table["type"].isin(MAC_LAYER_TYPES), "fvcore_macs"]
                                         .sum(skipna=True)),
        "mac_layers": len(mac_rows),
        "all_agree": bool(len(mac_rows)) and bool(mac_rows["agree"].all()),
        "disagreeing": [str(n) for n in mac_rows.loc[~mac_rows["agree"].astype(bool), "name"]],
        "fvcore_errors": [str(n) for n in table.loc[table["fvcore_error"].notna(), "name"]],
        "counters": table.attrs.get("counters", COUNTERS),
    }

