"""The small tables notebooks 01 and 02 show: shape traces, the source notes' shapes checked,
receptive fields per layer, VGG's stacked 3x3 argument, and standard against separable layers
counted by Keras and by formula.

Every function reads a ``layer_table`` (``analysis.cost.table``) or a built Keras model and
returns a DataFrame; nothing here builds a network (``analysis`` never defines one).
"""

import pandas as pd

from analysis.cost.published import variant_costs
from analysis.cost.receptive import stacked_convolutions
from analysis.cost.groups import block_of, layer_role
from analysis.cost.table import layer_table
from nets.errors import BadInput

TRACE_COLUMNS = ("name", "type", "output_shape", "params")
RECEPTIVE_COLUMNS = ("name", "type", "kernel_size", "strides", "output_shape", "receptive_field", "jump")

# The shapes the source notes (seed/) write by hand in their comments.
# VGG16, on the slim code, after each pool and fc layer (keyed by layer name):
NOTES_VGG16_SHAPES = {
    "pool1": (112, 112, 64), "pool2": (56, 56, 128), "pool3": (28, 28, 256),
    "pool4": (14, 14, 512), "pool5": (7, 7, 512),
    "fc6": (1, 1, 4096), "fc7": (1, 1, 4096), "fc8": (1, 1, 1000),
}
# MobileNet, on the Keras code, per block (keyed by ``block_of`` label; a block's last layer):
NOTES_MOBILENET_SHAPES = {
    "conv1": (112, 112, 32), "block 1": (112, 112, 64), "block 2": (56, 56, 128),
    "block 3": (56, 56, 128), "block 4": (28, 28, 256), "block 5": (28, 28, 256),
    "block 6": (14, 14, 512), "block 7": (14, 14, 512), "block 12": (7, 7, 1024),
}


def _check_table(table, columns, argument="table"):
    missing = set(columns) - set(getattr(table, "columns", ()))
    if missing:
        raise BadInput(f"{argument} must be a layer_table with columns {sorted(columns)}. "
                       f"Received a table without {sorted(missing)}")


def overview(tables):
    """One row per network: its layers, input and output shape and parameters.

    Args:
        tables: dict of label -> ``layer_table`` (the input is its first row, the output its last).
    """
    rows = []
    for label, table in tables.items():
        _check_table(table, ("name", "output_shape", "params"), f"tables[{label!r}]")
        rows.append({"network": label, "layers": len(table), "input": table["output_shape"].iloc[0],
                     "output": table["output_shape"].iloc[-1], "params": int(table["params"].sum())})
    return pd.DataFrame(rows).set_index("network")


def shape_trace(table):
    """The shape trace: name, type, output shape and parameters of every layer, with its block
    (``analysis.cost.block_of``)."""
    _check_table(table, TRACE_COLUMNS)
    return table[list(TRACE_COLUMNS)].assign(block=table["name"].map(block_of))


def notes_check(table, notes, by="layer"):
    """The shapes the notes write beside the shapes of ``table``, and whether they agree.

    Args:
        table: a ``layer_table``.
        notes: dict of key -> shape, e.g. ``NOTES_VGG16_SHAPES``.
        by: ``"layer"`` (keys are layer names) or ``"block"`` (keys are ``block_of`` labels,
            compared with the block's last layer).

    Returns:
        A DataFrame indexed by key: name (of the layer compared), output_shape, notes, agrees.
    """
    if by not in ("layer", "block"):
        raise BadInput(f"by must be 'layer' or 'block'. Received by={by!r}")
    trace = shape_trace(table)
    rows = trace.set_index("name", drop=False) if by == "layer" else trace.groupby("block", sort=False).last()
    unknown = [key for key in notes if key not in rows.index]
    if unknown:
        raise BadInput(f"notes must name {by}s of the table. Received unknown keys {unknown}")
    checked = rows.loc[list(notes), ["name", "output_shape"]].rename_axis(by)
    checked["notes"] = [tuple(shape) for shape in notes.values()]
    checked["agrees"] = [tuple(a) == b for a, b in zip(checked["output_shape"], checked["notes"])]
    return checked


def receptive_trace(table):
    """The layers with a window (convolutions and poolings, 1x1 included) before the classifier,
    with their receptive field and jump, and ``depth``: how many of them the input has passed.

    The classifier (``layer_role`` "Fully connected": VGG16's fc6-fc8, MobileNet's conv_preds) and
    whole-map layers (global pooling, flatten) are left out.
    """
    _check_table(table, RECEPTIVE_COLUMNS)
    windowed = [k is not None and layer_role(n, t, k) != "Fully connected"
                for n, t, k in zip(table["name"], table["type"], table["kernel_size"])]
    trace = table.loc[windowed, list(RECEPTIVE_COLUMNS)].reset_index(drop=True)
    trace.insert(0, "depth", range(1, len(trace) + 1))
    return trace


def stacked_3x3(depths=(1, 2, 3), channels=512, kernel=3):
    """VGG's argument as a table: ``n`` stacked k x k convolutions of C -> C channels (stride 1)
    against the one convolution that sees as far (``analysis.cost.receptive.stacked_convolutions``).

    Columns: n, receptive_field (n (k - 1) + 1), stacked_per_C2 (n k^2), single_per_C2 (side^2),
    stacked_weights, single_weights (times C^2 = ``channels``^2, biases left out), weight_ratio
    (single / stacked) and the ReLUs of each (n against 1). For three 3x3 at C = 512: 27 C^2 =
    7,077,888 weights against 49 C^2 = 12,845,056.
    """
    rows = []
    for n in depths:
        per_c2 = stacked_convolutions(n, 1, kernel)
        full = stacked_convolutions(n, channels, kernel)
        rows.append({"n": n, "receptive_field": full["receptive_field"],
                     "stacked_per_C2": per_c2["stacked_weights"], "single_per_C2": per_c2["single_weights"],
                     "stacked_weights": full["stacked_weights"], "single_weights": full["single_weights"],
                     "weight_ratio": full["weight_ratio"], "stacked_relus": full["stacked_nonlinearities"],
                     "single_relus": full["single_nonlinearities"]})
    return pd.DataFrame(rows).set_index("n")


def variant_tables(variants):
    """``{variant.label: layer_table}`` for each ``Variant`` (tables cached per variant)."""
    return {variant.label: variant_costs(variant)[2] for variant in variants}


def variant_totals(tables):
    """Layers, parameters and MACs per image of each table of ``variant_tables``."""
    return pd.DataFrame([{"variant": label, "layers": len(table), "params": int(table["params"].sum()),
                          "macs": int(table["macs"].sum())} for label, table in tables.items()]).set_index("variant")


def kernel_shapes(*models):
    """The kernel of each layer of ``models`` that has one: model, layer, type, kernel shape and
    Keras's own ``count_params()``."""
    return pd.DataFrame([{"model": model.name, "layer": layer.name, "type": type(layer).__name__,
                          "kernel_shape": tuple(layer.kernel.shape), "count_params": layer.count_params()}
                         for model in models for layer in model.layers
                         if getattr(layer, "kernel", None) is not None])


def layer_tables(models):
    """The ``layer_table`` of each model, one below the other with a ``model`` column, input rows
    left out."""
    tables = [layer_table(model).assign(model=model.name) for model in models]
    joined = pd.concat(tables, ignore_index=True)
    return joined[joined["type"] != "InputLayer"]


def agreement(tables, formulas):
    """Parameters and MACs per model of ``layer_tables`` beside those of a formula, and whether
    they agree.

    Args:
        tables: a ``layer_tables`` result.
        formulas: dict of model name -> an object with ``params`` and ``macs``
            (``analysis.cost.separable.standard_conv_cost`` and ``separable_conv_cost``).
    """
    totals = tables.groupby("model", sort=False)[["params", "macs"]].sum()
    missing = [name for name in totals.index if name not in formulas]
    if missing:
        raise BadInput(f"formulas must have a cost for every model. Received none for {missing}")
    totals["formula_params"] = [formulas[name].params for name in totals.index]
    totals["formula_macs"] = [formulas[name].macs for name in totals.index]
    totals["agree"] = (totals["params"] == totals["formula_params"]) & (totals["macs"] == totals["formula_macs"])
    return totals


__all__ = ["NOTES_MOBILENET_SHAPES", "NOTES_VGG16_SHAPES", "RECEPTIVE_COLUMNS", "TRACE_COLUMNS", "agreement",
           "kernel_shapes", "layer_tables", "notes_check", "overview", "receptive_trace", "shape_trace",
           "stacked_3x3", "variant_tables", "variant_totals"]
