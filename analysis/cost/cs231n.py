"""The cs231n VGG16 memory table, recounted from our own VGG16.

CS231n's notes "Convolutional Neural Networks: Architectures, Convolution /
Pooling Layers", section "VGGNet in detail"
(https://cs231n.github.io/convolutional-networks/#case), list VGG16 layer by
layer with its "memory" (activations: values of the layer's output, one
image) and "weights", and print below the rows::

    TOTAL memory: 24M * 4 bytes ~= 93MB / image (only forward! ~*2 for bwd)
    TOTAL params: 138M parameters

The 22 rows ship in ``analysis/data/cs231n_vgg16_memory.csv`` (source in
``analysis/data/CS231N.md``). Recounted:

- **Activations.** Every row is exact (conv1_1: 224*224*64 = 3,211,264), and
  the rows sum to 15,237,608 values, 60.95 MB (58.1 MiB) in float32: 15.2M,
  not 24M, and 61 MB, not 93. Our ``layer_table`` gives the same per-layer
  outputs and the same sum. No count of these layers reaches 24M: keeping
  each convolution's output before *and* after its ReLU would give 28.8M.
  The printed total is not derived from the rows (as cs231n/cs231n.github.io
  issue #88, "Memory usage calculation for VGGNet", also finds). Nor is
  24M x 4 bytes 93 MB: it is 96 MB (91.6 MiB).
- **Weights.** The rows count kernel weights only, no biases (conv1_1:
  3*3*3*64 = 1,728; ours 1,792), and sum to 138,344,128; with the 13,416
  biases of the 16 layers ours is 138,357,544, keras.applications' count.
  Both round to the printed 138M.
- **Backward.** "~*2 for bwd" is the activations' gradients, as many as
  the activations. What training also keeps (gradients and optimizer state
  of the 138M weights) is in ``analysis.cost.memory``.

Bytes are float32 (4 per value); MB = 10**6 bytes, MiB = 2**20.
"""

import pandas as pd

from analysis import paths
from analysis.cost.table import BYTES_PER_FLOAT32, layer_table
from analysis.variants import Variant
from nets.vgg import VGG16_BLOCKS

CS231N_CSV = paths.DATA_DIR / "cs231n_vgg16_memory.csv"
CS231N_URL = "https://cs231n.github.io/convolutional-networks/#case"
# The totals printed below the rows.
PRINTED_ACTIVATIONS = 24_000_000
PRINTED_MEGABYTES = 93
PRINTED_PARAMS = 138_000_000


def cs231n_rows():
    """The cs231n table's 22 rows: ``row``, ``layer`` (cs231n's label), ``shape``, the printed
    ``memory_expression``, ``memory_printed``, ``weights_expression``, ``weights_printed``, and their
    exact values ``memory`` (activations, one image) and ``weights`` (kernel weights, no biases)."""
    table = pd.read_csv(CS231N_CSV, dtype={"memory_expression": str, "weights_expression": str},
                        keep_default_na=False)
    table.attrs["source"] = CS231N_URL
    return table


def our_layer_names():
    """Our layer name for each cs231n row, in order: input, conv1_1, conv1_2, pool1, ..., pool5, fc6, fc7, fc8."""
    names = ["input"]
    for block, (repeats, _) in enumerate(VGG16_BLOCKS, start=1):
        names += [f"conv{block}_{i}" for i in range(1, repeats + 1)] + [f"pool{block}"]
    return names + ["fc6", "fc7", "fc8"]


def recount(model_or_table=None):
    """cs231n's VGG16 rows beside our ``layer_table`` of the same layers.

    Args:
        model_or_table: our VGG16 (a model, ``Variant`` or its ``layer_table``);
            default ``Variant("vgg16")``.

    Returns:
        A ``pandas.DataFrame``, one row per cs231n row: ``row``, ``layer``,
        ``shape``, ``cs231n_memory``, ``cs231n_weights`` (values), then ours:
        ``name``, ``output_shape``, ``activations``, ``params`` (biases
        included), ``biases`` (one per output channel of a layer with
        weights), and ``activations_diff`` (ours - cs231n) and
        ``weights_diff`` (our params - cs231n weights, the biases).
        ``recount_totals`` sums it.
    """
    if model_or_table is None:
        model_or_table = Variant("vgg16")
    if isinstance(model_or_table, Variant):
        model_or_table = model_or_table.build()
    table = model_or_table if isinstance(model_or_table, pd.DataFrame) else layer_table(model_or_table)
    ours = table.set_index("name").loc[our_layer_names()].reset_index()
    rows = cs231n_rows()
    biases = [shape[-1] if params else 0 for shape, params in zip(ours["output_shape"], ours["params"])]
    out = pd.DataFrame({
        "row": rows["row"], "layer": rows["layer"], "shape": rows["shape"],
        "cs231n_memory": rows["memory"], "cs231n_weights": rows["weights"],
        "name": ours["name"], "output_shape": ours["output_shape"],
        "activations": ours["activations"].astype(int), "params": ours["params"].astype(int), "biases": biases,
    })
    out["activations_diff"] = out["activations"] - out["cs231n_memory"]
    out["weights_diff"] = out["params"] - out["cs231n_weights"]
    out.attrs["source"] = CS231N_URL
    return out


def recount_totals(recounted=None):
    """The sums of ``recount`` against cs231n's printed totals.

    Returns:
        A dict: ``rows_activations`` (sum of cs231n's rows, values),
        ``our_activations`` (sum of ours over the same layers),
        ``printed_activations`` (24M), ``rows_bytes`` and ``our_bytes``
        (float32), ``printed_megabytes`` (93), ``rows_megabytes`` (MB,
        10**6 bytes), ``rows_mebibytes`` (MiB), ``printed_bytes_of_24M``
        (24M x 4), ``printed_to_rows`` (24M / the rows' sum),
        ``rows_weights`` (cs231n, no biases), ``our_params``, ``biases``,
        ``printed_params`` (138M).
    """
    recounted = recount() if recounted is None else recounted
    rows_activations = int(recounted["cs231n_memory"].sum())
    rows_bytes = BYTES_PER_FLOAT32 * rows_activations
    return {
        "rows_activations": rows_activations,
        "our_activations": int(recounted["activations"].sum()),
        "printed_activations": PRINTED_ACTIVATIONS,
        "rows_bytes": rows_bytes,
        "our_bytes": BYTES_PER_FLOAT32 * int(recounted["activations"].sum()),
        "printed_megabytes": PRINTED_MEGABYTES,
        "rows_megabytes": rows_bytes / 1e6,
        "rows_mebibytes": rows_bytes / 2**20,
        "printed_bytes_of_24M": BYTES_PER_FLOAT32 * PRINTED_ACTIVATIONS,
        "printed_to_rows": PRINTED_ACTIVATIONS / rows_activations,
        "rows_weights": int(recounted["cs231n_weights"].sum()),
        "our_params": int(recounted["params"].sum()),
        "biases": int(recounted["biases"].sum()),
        "printed_params": PRINTED_PARAMS,
    }
