"""Loading a whole Keras model from a file the user names, without running code from it.

A ``.keras`` file (Keras 3) or a legacy ``.h5`` that holds a whole model
(``model.save("x.h5")``) is read in Keras' safe mode. Before Keras sees it,
the file's model config is read as JSON and searched for layers that carry
serialized code (``Lambda``, or any config with a serialized Python
function): such a file is refused, naming the layer and the ``--unsafe``
flag that allows it. Legacy ``.h5`` files get the same rule, since Keras'
``.h5`` loader has no safe mode of its own.

A model whose input size is ``None`` is rebuilt at the ``resolution`` asked
for (``keras.models.clone_model`` with a fixed ``Input``; its weights are
copied), and without one it is refused in one line that asks for
``--resolution``.
"""

import json
import os
import re
import zipfile

from nets.errors import BadInput, MissingFile

MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")
UNSAFE_FLAG = "--unsafe"
# Layer classes whose config holds Python code (marshalled bytecode or a lambda's source).
_CODE_LAYERS = ("Lambda",)


class ModelFileError(BadInput):
    """A model file that cannot be loaded: not a Keras model, needs custom objects, or holds code."""


def is_model_file(text):
    """Whether ``text`` names a model file by its suffix (``.keras``, ``.h5``, ``.hdf5``)."""
    return isinstance(text, str) and text.lower().endswith(MODEL_FILE_SUFFIXES)


def model_config(path):
    """The model config that the Keras file at ``path`` holds, as a dict (no Keras needed).

    Raises:
        MissingFile: no file at ``path``.
        ModelFileError: the file is not a Keras model file, or holds weights only.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFile(f"No model file at {path!r}")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json"))
        with h5py.File(path, "r") as h5:
            config = h5.attrs.get("model_config")
            if config is None:
                raise ModelFileError(f"{path!r} holds weights only, not a whole model: load it with --weights")
            return json.loads(config.decode() if isinstance(config, bytes) else config)
    except ModelFileError:
        raise
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ModelFileError(f"{path!r} is not a Keras model file (.keras or a whole-model .h5): {error}") from None


def code_layers(config):
    """``(layer name, class name)`` of every layer in ``config`` that carries serialized code."""
    found = []

    def visit(node):
        if isinstance(node, dict):
            if node.get("class_name") in _CODE_LAYERS or _holds_function(node):
                found.append((node.get("config", {}).get("name", "?"), node.get("class_name", "?")))
                return
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(config)
    return found


def _holds_function(node):
    """A serialized Python function: Keras writes it as ``{"class_name": "__lambda__", ...}``
    (Keras 3) or as a ``function_type: "lambda"`` field (legacy)."""
    return node.get("class_name") == "__lambda__" or node.get("function_type") == "lambda"


def load_model_file(path, resolution=None, unsafe=False):
    """The ``keras.Model`` saved in ``path``, loaded in safe mode unless ``unsafe``.

    Args:
        path: a ``.keras`` file or a whole-model ``.h5``.
        resolution: input side in pixels, needed when the saved input size is None.
        unsafe: allow layers that carry serialized code (``Lambda``); they run when called.

    Raises:
        MissingFile: no file at ``path``.
        ModelFileError: not a Keras model, a layer class Keras cannot find (custom
            objects), serialized code without ``unsafe``, or a None input size
            without ``resolution``.
    """
    from nets.backend import keras

    config = model_config(path)
    risky = code_layers(config)
    if risky and not unsafe:
        names = ", ".join(f"{name} ({kind})" for name, kind in risky)
        raise ModelFileError(f"{os.fspath(path)!r} holds serialized code in layer {names}, which would run "
                             f"when loaded; load it only if you trust the file, with {UNSAFE_FLAG}")
    try:
        if unsafe:
            keras.config.enable_unsafe_deserialization()
        model = keras.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except (TypeError, ValueError) as error:
        missing = re.search(r"Could not locate (?:class|function) '([^']+)'", str(error))
        if missing:
            raise ModelFileError(f"{os.fspath(path)!r} needs the custom object {missing[1]!r}, which Keras "
                                 f"does not know: it cannot be loaded here") from None
        message = str(error).splitlines()[0]
        raise ModelFileError(f"{os.fspath(path)!r} could not be loaded as a Keras model: {message}") from None
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"{os.fspath(path)!r} holds a {type(model).__name__}, not a keras.Model")
    return _at_resolution(model, path, resolution)


def _at_resolution(model, path, resolution):
    """``model``, or a copy with a fixed input of ``resolution`` if its input size is None."""
    shape = tuple(model.inputs[0].shape[1:])
    if len(model.inputs) != 1 or len(shape) != 3:
        raise ModelFileError(f"{os.fspath(path)!r} must take one image input (height, width, channels). "
                             f"Received inputs {[tuple(t.shape) for t in model.inputs]}")
    if None not in shape[:2]:
        if resolution is not None and tuple(shape[:2]) != (resolution, resolution):
            raise ModelFileError(f"{os.fspath(path)!r} takes {shape[0]}x{shape[1]} images. "
                                 f"Received resolution={resolution}")
        return model
    if resolution is None:
        raise ModelFileError(f"{os.fspath(path)!r} has input size {shape[0]}x{shape[1]} (None): "
                             f"give one with --resolution")
    from nets.backend import keras

    fixed = keras.models.clone_model(model, input_tensors=keras.Input((resolution, resolution, shape[2])))
    fixed.set_weights(model.get_weights())
    return fixed
