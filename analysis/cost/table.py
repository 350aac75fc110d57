"""The per-layer cost table: shapes, parameters, MACs, FLOPs, memory and receptive field.

Conventions, stated once here and in every table header:

- One **MAC** is one multiply-add (the MobileNet paper's "Mult-Adds", what
  fvcore calls a "flop"). **FLOPs = 2 x MACs** (what the TensorFlow
  profiler reports).
- Counts are **per image** (batch 1) and exact integers.
- Only convolutions and dense layers have MACs; everything else goes to
  **other_ops**, never into MACs, by the rules of ``analysis.cost.formulas``.
- Memory is float32: **activation_bytes** = 4 x output elements,
  **weight_bytes** = 4 x parameters. **arithmetic_intensity** is FLOPs per byte
  of the least traffic a layer needs: read its inputs and weights once,
  write its output once.
- **receptive_field** and **jump** follow ``analysis.cost.receptive``:
  r = r_prev + (k - 1) * j_prev, j = j_prev * s (padding changes neither);
  with several inputs, the largest r among them.
- A layer class without a formula is marked ``supported=False`` and its
  counts are missing (<NA>), never zero; the totals of ``summarize`` are
  then a lower bound and say so (``lower_bound``, ``unsupported_types``).

A model is counted through its calls (``analysis.cost.graph``): nested
functional models and ``Sequential`` through their layers, with qualified
names ``outer/inner``; a shared layer's parameters once, on its first call.

Counting is a table from Keras layer class to a pure shape formula, in the
manner of fvcore's operator handles (``analysis.cost.formulas``); display
lives elsewhere.
"""

import math

import pandas as pd
from tqdm.auto import tqdm

from analysis.cost import receptive
from analysis.cost.formulas import MAC_CONVENTION, activation_name, count_layer, tensor_elements
from analysis.cost.graph import calls, functional_graph
from analysis.variants import Variant, mobilenet_grid
from nets.errors import BadInput

BYTES_PER_FLOAT32 = 4
COLUMNS = (
    "name", "type", "input_shape", "output_shape", "kernel_size", "strides", "activation",
    "params", "trainable_params", "non_trainable_params",
    "macs", "flops", "other_ops", "activations", "activation_bytes",
    "weight_bytes", "arithmetic_intensity", "supported", "receptive_field", "jump",
)


def _shape(tensor):
    return tuple(None if d is None else int(d) for d in tensor.shape[1:])


def _fixed_input(model):
    """BadInput if an input of ``model`` has a size left open (``None``)."""
    for tensor in functional_graph(model).inputs:
        shape = tuple(tensor.shape)
        if any(d is None for d in shape[1:]):
            raise BadInput(f"Model {model.name!r} has no fixed input size (input shape {shape}): "
                           "give a resolution to count it, e.g. --resolution 224")


def layer_table(model):
    """One row per layer of ``model``: shapes, parameters, MACs, FLOPs, memory and receptive field.

    Shapes exclude the batch dimension; the columns follow the conventions
    above (per image, MACs and FLOPs = 2 x MACs, float32 bytes, receptive
    field and jump in input pixels, the largest over the spatial axes).
    Rows of a layer class the counter does not know have ``supported=False``
    and <NA> counts (and no receptive field from there on).

    Rows are the calls of ``analysis.cost.graph.calls``: ``keras.ops``
    operations of the graph included, nested models through their layers
    (``outer/inner``). ``params`` sum to ``model.count_params()``.

    ``table.attrs`` holds ``convention``, ``model``, ``lower_bound`` (True
    if a row is unsupported: the totals are then a lower bound) and
    ``unsupported_types`` (their class names).

    Raises:
        BadInput: an input size is ``None`` (a resolution is needed), or
            the model is subclassed.

    Returns:
        A ``pandas.DataFrame`` with the columns of ``COLUMNS``.
    """
    _fixed_input(model)
    seen, states = set(), {}  # weights counted so far (ids); receptive-field state per tensor (ids)
    rows = [_row(model, call, seen, states) for call in calls(model)]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("macs", "flops", "other_ops"):
        table[column] = table[column].astype("Int64")
    for column in ("receptive_field", "jump"):
        values = receptive.as_column_values([row[column] for row in rows])
        whole = all(v is None or isinstance(v, int) for v in values)
        table[column] = pd.array([pd.NA if v is None else v for v in values], dtype="Int64" if whole else "Float64")
    unsupported = table.loc[~table["supported"], "type"]
    table.attrs["convention"] = MAC_CONVENTION
    table.attrs["model"] = model.name
    table.attrs["lower_bound"] = bool(len(unsupported))
    table.attrs["unsupported_types"] = sorted(set(unsupported))
    return table


def _call_shapes(model, call):
    """The input and output shapes of ``call`` (an input's are its output's); BadInput if one is open."""
    outs = tuple(_shape(t) for t in call.outputs)
    ins = outs if call.is_input else tuple(_shape(t) for t in call.inputs)
    if any(d is None for shape in ins + outs for d in shape):
        raise BadInput(f"Layer {call.name!r} of {model.name!r} has a size left open (input {ins}, "
                       f"output {outs}): give a resolution to count it, e.g. --resolution 224")
    return ins, outs


def _new_params(layer, seen):
    """(parameters, trainable parameters) of the weights of ``layer`` not in ``seen`` (ids), now added to it."""
    weights = [w for w in getattr(layer, "weights", ()) if id(w) not in seen]
    trainable_ids = {id(w) for w in getattr(layer, "trainable_weights", ())}
    seen.update(id(w) for w in weights)
    params = sum(tensor_elements(w.shape) for w in weights)
    return params, sum(tensor_elements(w.shape) for w in weights if id(w) in trainable_ids)


def _receptive(call, count, ins, outs, states):
    """(receptive field, jump) after ``call``, its state recorded in ``states`` under each output tensor."""
    layer = call.operation
    state = receptive.propagate(layer, [states.get(id(t)) for t in call.inputs], ins, outs[0]) \
        if count is not None and outs else None
    for tensor in call.outputs:
        states[id(tensor)] = state
    return receptive.reported(state)


def _row(model, call, seen, states):
    """The ``layer_table`` row of ``call``; ``seen`` and ``states`` carry weights and receptive fields."""
    layer = call.operation
    ins, outs = _call_shapes(model, call)
    count = count_layer(layer, ins, outs[0]) if outs else None
    params, trainable = _new_params(layer, seen)
    out_elements = tensor_elements(outs[0]) if len(outs) == 1 else 0
    r, j = _receptive(call, count, ins, outs, states)
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    strides = getattr(layer, "strides", None)
    weight_bytes = BYTES_PER_FLOAT32 * params
    traffic = BYTES_PER_FLOAT32 * (sum(tensor_elements(s) for s in ins) + out_elements) + weight_bytes
    return {
        "name": call.name,
        "type": call.type_name,
        "input_shape": ins[0] if len(ins) == 1 else ins,
        "output_shape": outs[0] if len(outs) == 1 else outs,
        "kernel_size": tuple(kernel) if kernel else None,
        "strides": tuple(strides) if isinstance(strides, (tuple, list)) and strides else None,
        "activation": activation_name(layer),
        "params": params,
        "trainable_params": trainable,
        "non_trainable_params": params - trainable,
        "macs": count.macs if count else pd.NA,
        "flops": 2 * count.macs if count else pd.NA,
        "other_ops": count.other_ops if count else pd.NA,
        "activations": out_elements,
        "activation_bytes": BYTES_PER_FLOAT32 * out_elements,
        "weight_bytes": weight_bytes,
        "arithmetic_intensity": (2 * count.macs / traffic) if count and traffic else (0.0 if count else math.nan),
        "supported": count is not None,
        "receptive_field": r,
        "jump": j,
    }


def table_of(subject, argument="subject"):
    """The ``layer_table`` of ``subject``: a ``Variant`` (built, the table labelled with its
    label), a ``keras.Model``, or a table already made (returned as it is).

    Raises:
        BadInput: anything else, naming ``argument``.
    """
    if isinstance(subject, pd.DataFrame):
        return subject
    if isinstance(subject, Variant):
        table = layer_table(subject.build())
        table.attrs["model"] = subject.label
        return table
    if hasattr(subject, "layers"):
        return layer_table(subject)
    raise BadInput(f"{argument} must be a Variant, a keras.Model or its layer_table. Received {argument}={subject!r}")


def summarize(model_or_table):
    """Totals of a model (or of its ``layer_table``) as a plain dict.

    Keys: model, params, trainable_params, non_trainable_params, macs,
    flops (= 2 x macs), other_ops, activation_bytes (sum of every layer's
    float32 output), peak_activation_bytes (largest input + output of one
    layer), weight_bytes, unsupported (names of layers not counted),
    unsupported_types (their class names) and lower_bound. MACs and FLOPs
    are per image and cover the supported layers: ``lower_bound`` is True
    when a layer is unsupported, and the counts are then a lower bound.
    """
    table = model_or_table if isinstance(model_or_table, pd.DataFrame) else layer_table(model_or_table)
    in_bytes = [
        BYTES_PER_FLOAT32 * tensor_elements(s)
        for s in table["input_shape"]
    ]
    return {
        "model": table.attrs.get("model", ""),
        "params": int(table["params"].sum()),
        "trainable_params": int(table["trainable_params"].sum()),
        "non_trainable_params": int(table["non_trainable_params"].sum()),
        "macs": int(table["macs"].sum(skipna=True)),
        "flops": int(table["flops"].sum(skipna=True)),
        "other_ops": int(table["other_ops"].sum(skipna=True)),
        "activation_bytes": int(table["activation_bytes"].sum()),
        "peak_activation_bytes": int(max(i + o for i, o in zip(in_bytes, table["activation_bytes"]))),
        "weight_bytes": int(table["weight_bytes"].sum()),
        "unsupported": [str(n) for n in table.loc[~table["supported"], "name"]],
        "unsupported_types": sorted({str(t) for t in table.loc[~table["supported"], "type"]}),
        "lower_bound": bool((~table["supported"]).any()),
    }


COMPARED_QUANTITIES = ("params", "trainable_params", "macs", "flops", "other_ops",
                       "activation_bytes", "peak_activation_bytes", "weight_bytes")


def compare_table(first, second):
    """Two ``summarize`` dicts side by side, with the ratio first / second per quantity.

    Rows are COMPARED_QUANTITIES (MACs per image, bytes as float32); columns
    are the two models' names and ``ratio``.
    """
    rows = []
    for quantity in COMPARED_QUANTITIES:
        a, b = first[quantity], second[quantity]
        rows.append({"quantity": quantity, first["model"]: a, second["model"]: b,
                     "ratio": a / b if b else math.nan})
    return pd.DataFrame(rows)


def cost_sweep(variants=None, progress=True):
    """Totals of each variant (default: the paper's 16 MobileNet alpha x resolution ones).

    Returns:
        A DataFrame with one row per variant: alpha, resolution, label, and
        the ``summarize`` totals (MACs per image, parameters, float32 bytes).
    """
    rows = []
    for variant in tqdm(variants or mobilenet_grid(), desc="variants", disable=not progress):
        totals = summarize(variant.build())
        totals.pop("unsupported")
        totals.pop("unsupported_types")
        rows.append({"alpha": variant.alpha, "resolution": variant.resolution, "label": variant.label, **totals})
    return pd.DataFrame(rows)
