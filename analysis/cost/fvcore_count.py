"""fvcore's count of a network, layer by layer, on Keras' PyTorch backend.

fvcore (``FlopCountAnalysis``) counts 1 "flop" per multiply-add of the aten
operators it has a handle for (``aten::_convolution`` with groups, so
depthwise too; ``aten::matmul``/``linear``); the other operators it meets
(bias ``aten::add``, Keras' element-wise batch norm, ``aten::relu6``,
``aten::max_pool2d``, ``aten::mean``, ``aten::softmax``) are listed in
``unsupported_ops()`` and counted 0, except those it ignores by design
(``aten::relu``), which are neither counted nor listed.

fvcore is a PyTorch counter; it counts our Keras networks because on the
PyTorch backend a Keras model is a ``torch.nn.Module``. This process runs
TensorFlow, so ``fvcore_counts`` runs a worker subprocess with
``KERAS_BACKEND=torch``: ``python -m analysis.cost.fvcore_count --worker`` with the
request as JSON on its standard input (a model's config can exceed a
command line's limit).
Counts are per image (batch 1) and exact integers.
"""

import contextlib
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd

from analysis.cost.graph import calls
from nets.errors import Failed
from analysis.variants import Variant
from nets.backend import keras

_WORKER_FLAG = "--worker"
# The folder that holds the ``analysis`` package: a checkout or site-packages.
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]
# aten ops that compute on data (rather than move it), checked against fvcore's ignore list.
_ARITHMETIC_ATEN_OPS = frozenset({
    "aten::relu", "aten::relu_", "aten::clamp", "aten::clamp_", "aten::max", "aten::floor",
    "aten::remainder", "aten::eq", "aten::ge", "aten::gt", "aten::masked_fill",
})
FVCORE_COLUMNS = ("name", "type", "fvcore_macs", "fvcore_by_operator", "fvcore_unsupported",
                  "fvcore_size_arithmetic", "fvcore_ignored", "fvcore_error")


def fvcore_counts(source, *, seed=0, timeout=900):
    """Count a network with fvcore, layer by layer, on the Keras PyTorch backend.

    ``source`` is a ``Variant`` (the worker builds it) or a functional or
    Sequential ``keras.Model`` of any backend (the worker rebuilds it from
    its config, in Keras' safe mode, with random weights: counts do not
    depend on weights). A subprocess (``KERAS_BACKEND=torch``, no GPU)
    builds the model (``seed``) and runs ``fvcore.nn.FlopCountAnalysis`` on
    each call of ``analysis.cost.graph.calls`` (layers of nested models
    included, ``outer/inner``; ``keras.ops`` operations too) with batch-1
    tensors of that call's input shapes, and on the whole model. fvcore
    counts 1 per multiply-add.

    Returns:
        A ``pandas.DataFrame``, one row per call: ``name``, ``type``,
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
        Failed: the worker failed or timed out; its stderr is in the message.
    """
    return fvcore_counts_many([source], seed=seed, timeout=timeout)[0]


def _request(source):
    if isinstance(source, Variant):
        return {"variant": source.to_dict()}, source.label
    return {"model_json": source.to_json()}, source.name


def fvcore_counts_many(sources, *, seed=0, timeout=None):
    """``fvcore_counts`` of each of ``sources``, in one worker process (one start-up for all).

    ``timeout`` is for the whole run (default 900 s per source). Returns a list of tables.
    """
    requests, labels = zip(*(_request(source) for source in sources)) if sources else ((), ())
    timeout = timeout or 900 * max(len(requests), 1)
    label = ", ".join(labels)
    env = dict(os.environ, KERAS_BACKEND="torch", CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_PARENT), env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run([sys.executable, "-m", "analysis.cost.fvcore_count", _WORKER_FLAG],
                              input=json.dumps({"models": list(requests), "seed": seed}),
                              capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed(f"fvcore worker for {label} did not finish within {timeout} s") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise Failed(f"fvcore worker failed for {label} (exit {done.returncode}):\n{done.stderr[-4000:]}")
    tables = []
    for result in json.loads(lines[-1]):
        table = pd.DataFrame(result["layers"], columns=list(FVCORE_COLUMNS))
        table["fvcore_macs"] = table["fvcore_macs"].astype("Int64")
        table.attrs.update(total_macs=result["total_macs"], unsupported=result["unsupported"],
                           model=result["model"])
        tables.append(table)
    return tables


def _fvcore_analysis(module, inputs):
    """fvcore's count of ``module(*inputs)``, its warnings off: (multiply-adds, by operator,
    unsupported ops, the ops fvcore ignores by design)."""
    from fvcore.nn import FlopCountAnalysis  # the worker's (torch) process only

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


def _build(request):
    """The model a worker request names: a variant's build, or a model config rebuilt in safe mode."""
    if "variant" in request:
        return Variant.from_dict(request["variant"]).build()
    return keras.models.model_from_json(request["model_json"])  # safe mode: no code runs from it


def _signature(call):
    """What fvcore's count of a call depends on: class, configuration (name aside), the call's
    arguments with each tensor as its shape. None if the configuration cannot be read."""
    try:
        config = dict(call.operation.get_config())
    except Exception:  # noqa: BLE001 (an operation without a config is simply not cached)
        return None
    config.pop("name", None)

    def described(value):
        return ("tensor", tuple(value.shape)) if keras.KerasTensor in type(value).__mro__ else value

    arguments = keras.tree.map_structure(described, (call.node.arguments.args, call.node.arguments.kwargs))
    return json.dumps([call.type_name, config, repr(arguments)], sort_keys=True, default=repr)


def _fvcore_worker(request, seed):
    """Runs in the subprocess (Keras on torch): the fvcore counts of one model as a JSON-able dict.

    Calls of the same signature (``_signature``: the same class, configuration
    and input shapes, as the repeated blocks of a network) are counted once.
    """
    import torch  # the worker's process only: the parent runs TensorFlow

    if keras.backend.backend() != "torch":
        raise RuntimeError(f"the fvcore worker needs KERAS_BACKEND=torch, got {keras.backend.backend()!r}")
    logging.getLogger("fvcore").setLevel(logging.ERROR)  # unsupported ops are returned instead
    keras.utils.set_random_seed(seed)
    model = _build(request)
    generator = torch.Generator().manual_seed(seed)

    def batch_of(tensor):
        shape = (1,) + tuple(int(d) for d in tensor.shape[1:])  # channels_last, as on TF
        return torch.rand(shape, generator=generator)

    class NodeCall(torch.nn.Module):
        """One call of a layer or keras.ops operation, replayed with its own arguments."""

        def __init__(self, call):
            super().__init__()
            self.operation, self.node = call.operation, call.node

        def forward(self, *tensors):
            values = {id(t): x for t, x in zip(self.node.input_tensors, tensors)}
            args, kwargs = self.node.arguments.fill_in(values)
            return self.operation(*args, **kwargs)

    layers, counted = [], {}
    for call in calls(model):
        row = {"name": call.name, "type": call.type_name, "fvcore_macs": None,
               "fvcore_by_operator": {}, "fvcore_unsupported": {}, "fvcore_size_arithmetic": {},
               "fvcore_ignored": {}, "fvcore_error": None}
        signature = None if call.is_input else _signature(call)
        if signature in counted:
            layers.append({**counted[signature], "name": call.name})
            continue
        try:
            if call.is_input:
                raise TypeError("an InputLayer holds the model's input; it is not called on data")
            module, inputs = NodeCall(call), tuple(batch_of(t) for t in call.node.input_tensors)
            graph, out = torch.jit._get_trace_graph(module, inputs)  # as fvcore traces it
            out = out[0] if isinstance(out, (list, tuple)) else out
            expected = tuple(int(d) for d in call.outputs[0].shape[1:])
            if tuple(out.shape[1:]) != expected:
                raise ValueError(f"output shape {tuple(out.shape[1:])} on torch, {expected} on Keras")
            macs, by_operator, unsupported, ignored = _fvcore_analysis(module, inputs)
            sizes, silent = _classify(graph, unsupported, ignored)
            row.update(fvcore_macs=macs, fvcore_by_operator=by_operator, fvcore_unsupported=unsupported,
                       fvcore_size_arithmetic=sizes, fvcore_ignored=silent)
        except Exception as error:  # noqa: BLE001 (reported per layer, never dropped)
            row["fvcore_error"] = f"{type(error).__name__}: {error}".strip()
        layers.append(row)
        if signature is not None:
            counted[signature] = row
    total, _, unsupported, _ = _fvcore_analysis(model, (batch_of(model.input),))
    return {"model": model.name, "layers": layers, "total_macs": total, "unsupported": unsupported}


def _main(argv):
    if argv != [_WORKER_FLAG]:
        raise SystemExit(f"usage: python -m analysis.cost.fvcore_count {_WORKER_FLAG} < JSON (run by fvcore_counts)")
    request = json.loads(sys.stdin.read())
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit tracer warnings; unsupported ops are returned
        results = []
        for model_request in request["models"]:
            results.append(_fvcore_worker(model_request, request["seed"]))
            keras.backend.clear_session()
    print(json.dumps(results))


if __name__ == "__main__":
    _main(sys.argv[1:])
