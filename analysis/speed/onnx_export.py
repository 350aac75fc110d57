"""The ONNX export worker: a variant rebuilt on Keras' PyTorch backend and exported by torch.onnx.

Run by ``analysis.speed.conversions`` as
``python -m analysis.speed.onnx_export JSON`` with ``KERAS_BACKEND=torch``.
The request names the variant (``Variant.to_dict``), a ``.weights.h5``
file with the weights to carry over, the batch size and the output path.

The export has static shapes, so that ONNX Runtime's constant folding
removes Keras' shape arithmetic. Keras writes batch norm as
``(x - mean) * scale + offset``; ONNX Runtime fuses a convolution with a
following ``Mul`` or ``Add`` by a constant, but not with a ``Sub``, so each
``Sub`` of a constant is rewritten as the ``Add`` of its negation, and the
whole batch norm folds into the convolution (``fold_batch_norm``).
"""

import contextlib
import json
import sys
import warnings
from pathlib import Path

from analysis.variants import Variant
from nets.backend import keras


def fold_batch_norm(source, target):
    """Write ``source`` (an ONNX file) to ``target`` with constants folded and every
    ``Sub(x, constant)`` rewritten as ``Add(x, -constant)``, then optimized again by
    ONNX Runtime (basic level: hardware-independent), which fuses them into convolutions."""
    import onnx
    from onnx import numpy_helper

    folded = Path(target).with_suffix(".folded.onnx")
    _optimize(source, folded)
    graph_model = onnx.load(str(folded))
    graph = graph_model.graph
    constants = {tensor.name: tensor for tensor in graph.initializer}
    for index, node in enumerate(graph.node):
        if node.op_type == "Sub" and node.input[1] in constants:
            name = f"{node.input[1]}_negated_{index}"
            graph.initializer.append(numpy_helper.from_array(-numpy_helper.to_array(constants[node.input[1]]), name))
            node.op_type, node.input[1] = "Add", name
    onnx.save(graph_model, str(folded))
    _optimize(folded, target)
    folded.unlink()


def _optimize(source, target):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(target)
    options.log_severity_level = 3
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def export(variant, weights, batch, out):
    """Build ``variant`` on the PyTorch backend, load ``weights`` and export it to ``out``."""
    import torch  # this worker's process only: the parent runs TensorFlow

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"the ONNX export worker needs KERAS_BACKEND=torch, got {keras.backend.backend()!r}")
    model = variant.build()
    model.load_weights(weights)
    example = torch.zeros((batch,) + tuple(int(d) for d in model.input_shape[1:]))
    raw = Path(out).with_suffix(".raw.onnx")
    with torch.inference_mode():
        torch.onnx.export(model, (example,), str(raw), dynamo=False, input_names=["input"],
                          output_names=["output"], opset_version=17)
    fold_batch_norm(raw, out)
    raw.unlink()


def _main(argv):
    if len(argv) != 1:
        raise SystemExit("usage: python -m analysis.speed.onnx_export JSON (run by analysis.speed.conversions)")
    request = json.loads(argv[0])
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript tracer's warnings on Keras' shape arithmetic
        export(Variant.from_dict(request["variant"]), request["weights"], request["batch"], request["out"])


if __name__ == "__main__":
    _main(sys.argv[1:])
