"""Loading published Keras weight files into the networks of ``nets``.

Two file layouts are read:

- the Keras HDF5 layout, by layer name: the published files such as
  ``mobilenet_1_0_224_tf.h5`` and ``vgg16_weights_tf_dim_ordering_tf_kernels.h5``,
  and any ``model.save("....h5")`` of a Keras model (weights under
  ``model_weights``). keras.applications.VGG16's names (``block1_conv1``,
  ``fc1``, ``fc2``, ``predictions``) are mapped to the notes' names
  (``conv1_1``, ``fc6``, ``fc7``, ``fc8``), and the Dense kernels of its head
  are reshaped into the convolutional head (fc1's 25088x4096 kernel becomes
  7x7x512x4096: Keras flattens a channels-last map row by row, so the
  reshape is exact).
- the Keras 3 ``.weights.h5`` layout written by ``model.save_weights``, which
  matches layers by position, not name: it loads only into the same
  architecture.

Every array is read and checked before any is assigned, so a failed load
leaves the model as it was.
"""

import os
import re
import warnings

import h5py
import numpy as np

from nets.backend import keras
from nets.errors import BadInput, MissingFile


class WeightFileError(BadInput):
    """A weight file that cannot be loaded into the given model."""


# keras.applications.VGG16 layer names -> the source notes' slim names.
_KERAS_VGG16_RENAMES = {"fc1": "fc6", "fc2": "fc7", "predictions": "fc8"}
_KERAS_VGG16_CONV = re.compile(r"^block(\d)_conv(\d)$")


def keras_vgg16_name(name):
    """Map a keras.applications.VGG16 layer name to the notes' name."""
    match = _KERAS_VGG16_CONV.match(name)
    if match:
        return f"conv{match.group(1)}_{match.group(2)}"
    return _KERAS_VGG16_RENAMES.get(name, name)


def load_weights(model, path):
    """Load the weight file at ``path`` into ``model``, all or nothing.

    Args:
        model: a ``keras.Model`` built by ``nets``.
        path: path of a Keras HDF5 weight file.

    Raises:
        FileNotFoundError: no file at ``path``.
        WeightFileError: the file is not HDF5, holds no Keras weights, or
            holds weights of another network (missing layers or shapes that
            differ); the message names the file and what is wrong.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFile(f"Weight file not found: weights={path!r}")
    if not h5py.is_hdf5(path):
        raise WeightFileError(f"Weight file {path!r} is not an HDF5 file")
    with h5py.File(path, "r") as f:
        if "layer_names" in f.attrs or "model_weights" in f:
            group = f if "layer_names" in f.attrs else f["model_weights"]
            arrays = _read_by_name(group, model, path)
        elif "layers" in f:
            arrays = None
        else:
            raise WeightFileError(
                f"Weight file {path!r} holds no Keras weights "
                "(no 'layer_names' attribute, 'model_weights' or 'layers' group)"
            )
    if arrays is None:
        _load_keras3_layout(model, path)
        return model
    for layer, values in arrays:
        layer.set_weights(values)
    return model


def _read_by_name(group, model, path):
    """Read and check every weighted layer of ``model``; return (layer, arrays) pairs."""
    stored = {}
    for raw in group.attrs["layer_names"]:
        file_name = raw.decode("utf8") if isinstance(raw, bytes) else str(raw)
        layer_group = group[file_name]
        weight_names = [
            w.decode("utf8") if isinstance(w, bytes) else str(w)
            for w in layer_group.attrs.get("weight_names", [])
        ]
        if weight_names:
            stored[keras_vgg16_name(file_name)] = [np.asarray(layer_group[w]) for w in weight_names]

    weighted = [layer for layer in model.layers if layer.weights]
    missing = [layer.name for layer in weighted if layer.name not in stored]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise WeightFileError(
            f"Weight file {path!r} does not fit model {model.name!r}: it has no weights for "
            f"{len(missing)} of its {len(weighted)} weighted layers ({shown}). "
            "Is it a weight file of another network?"
        )
    result = []
    for layer in weighted:
        values = stored[layer.name]
        expected = [tuple(w.shape) for w in layer.weights]
        if len(values) != len(expected):
            raise WeightFileError(
                f"Weight file {path!r} does not fit layer {layer.name!r}: "
                f"{len(values)} arrays in the file, {len(expected)} in the layer"
            )
        fitted = []
        for value, shape in zip(values, expected):
            if value.shape != shape and value.size == int(np.prod(shape)) and value.ndim == 2:
                # A Dense kernel of keras' VGG16 head into our convolutional head.
                value = value.reshape(shape)
            if value.shape != shape:
                raise WeightFileError(
                    f"Weight file {path!r} does not fit layer {layer.name!r}: "
                    f"file shape {value.shape}, layer shape {shape}"
                )
            fitted.append(value)
        result.append((layer, fitted))
    return result


def _load_keras3_layout(model, path):
    """Load a ``save_weights`` file into a clone first, so a mismatch changes nothing."""
    clone = keras.models.clone_model(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            clone.load_weights(path)
            error = None
        except Exception as raised:  # Keras raises several types for a mismatch.
            error = raised
    # Keras only warns when it skips layers that the file lacks: a partial load.
    skipped = [w for w in caught if "Skipping" in str(w.message) or "mismatch" in str(w.message)]
    if error is not None or skipped:
        reason = str(error) if error is not None else str(skipped[0].message)
        raise WeightFileError(
            f"Weight file {path!r} does not fit model {model.name!r}: {reason.splitlines()[0]}"
        )
    model.set_weights(clone.get_weights())
