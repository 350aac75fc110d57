"""Memory to train a network: weights, gradients, optimizer state and activations, per batch.

What is counted (float32, 4 bytes per value; exact integers):

- **weights**: every parameter, trainable or not (batch-norm moving
  statistics included);
- **gradients**: one value per *trainable* parameter;
- **optimizer state**: slots per trainable parameter, as Keras 3 keeps them:
  ``sgd`` 0, ``momentum`` (SGD with momentum) 1, ``rmsprop`` 1 (the
  velocity), ``adam`` 2 (first and second moments). The optimizer's two
  scalars (``iteration``, ``learning_rate``) are left out;
- **activations**: what the forward pass keeps for the backward pass,
  counted as every layer's output for each image of the batch, the input
  batch included (``layer_table``'s ``activations`` column, the convention
  of cs231n's table). Layers whose output is a view of their input
  (``Reshape``, ``Flatten``) add nothing. In-place or fused ReLU and batch
  norm, dropout masks, the activation gradients of the backward pass (at
  any moment about one layer's input and output), workspace of the
  convolution kernels and the allocator's rounding are not counted: this is
  the tensor count a framework starts from, not a measured peak.

Weights, gradients and optimizer state do not grow with the batch;
activations are batch x the per-image count.

So counted, MobileNet 1.0/224 keeps about as many activations per image as
VGG16 (15.28M against 15.25M values, ~61 MB each): each of its 27
convolutions is followed by a batch norm and a ReLU6, three tensors of the
same size (5.04M values each in all), and each is needed by the backward
pass. Its weights, gradients and Adam state are 32x smaller, so from a
batch of a few images on its training memory is almost all activations.
"""

import pandas as pd

from analysis.cost.table import BYTES_PER_FLOAT32, table_of
from analysis.variants import Variant
from nets.checks import one_of, positive_int

# Values kept per trainable parameter by each optimizer (Keras 3).
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}
VIEW_TYPES = ("Reshape", "Flatten")
DEFAULT_BATCHES = (1, 8, 32, 128)
PARTS = ("weights", "gradients", "optimizer_state", "activations")


def activations_per_image(table):
    """Values kept for the backward pass per image: every layer's output, input included, views excluded."""
    kept = ~table["type"].isin(VIEW_TYPES)
    return int(table.loc[kept, "activations"].sum())


def training_memory(variant_or_model, batch, optimizer="adam"):
    """Bytes needed to train ``variant_or_model`` on batches of ``batch`` images with ``optimizer``.

    Args:
        variant_or_model: a ``Variant``, a ``keras.Model`` or its ``layer_table``.
        batch: images per batch, at least 1.
        optimizer: ``"adam"`` (default), ``"sgd"``, ``"momentum"`` or ``"rmsprop"``.

    Returns:
        A dict: ``network``, ``batch``, ``optimizer``, ``params``,
        ``trainable_params``, ``optimizer_slots``, ``activations_per_image``
        (values), then float32 bytes ``weights``, ``gradients``,
        ``optimizer_state``, ``activations`` (for the whole batch) and
        ``total``. See the module docstring for what each counts.
    """
    batch = positive_int("batch", batch)
    one_of("optimizer", optimizer, tuple(OPTIMIZER_SLOTS))
    table = table_of(variant_or_model, "variant_or_model")
    params = int(table["params"].sum())
    trainable = int(table["trainable_params"].sum())
    slots = OPTIMIZER_SLOTS[optimizer]
    per_image = activations_per_image(table)
    parts = {
        "weights": BYTES_PER_FLOAT32 * params,
        "gradients": BYTES_PER_FLOAT32 * trainable,
        "optimizer_state": BYTES_PER_FLOAT32 * slots * trainable,
        "activations": BYTES_PER_FLOAT32 * batch * per_image,
    }
    return {"network": table.attrs.get("model", ""), "batch": batch, "optimizer": optimizer,
            "params": params, "trainable_params": trainable, "optimizer_slots": slots,
            "activations_per_image": per_image, **parts, "total": sum(parts.values())}


def training_memory_table(variants=None, batches=DEFAULT_BATCHES, optimizer="adam"):
    """``training_memory`` of each variant (default VGG16 and MobileNet 1.0/224) at each batch size.

    Returns:
        A tidy ``pandas.DataFrame``, one row per network and batch, with the
        columns of ``training_memory`` plus ``total_mib`` (total / 2**20) and
        ``activations_share_%`` (activations / total).
    """
    variants = (Variant("vgg16"), Variant("mobilenet")) if variants is None else variants
    rows = []
    for variant in variants:
        table = table_of(variant, "variant_or_model")  # built once, reused for every batch
        for batch in batches:
            row = training_memory(table, batch, optimizer)
            row["total_mib"] = row["total"] / 2**20
            row["activations_share_%"] = 100.0 * row["activations"] / row["total"]
            rows.append(row)
    return pd.DataFrame(rows)
