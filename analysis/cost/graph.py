"""The calls of a Keras model, in order, nested models walked through.

Every counter of ``analysis.cost`` (the layer table, fvcore's worker, the
TensorFlow profiler's attribution) sees a model as the same list of calls:

- one ``Call`` per call site (node) of a layer or of a ``keras.ops``
  operation in a functional graph, in Keras' topological order
  (``model.operations``), so ``x + 3.0`` in MobileNetV3 is a row too (its
  type ``ops.Add``, apart from the layer ``Add``);
- a nested functional model or ``Sequential`` is never a row: its layers are,
  with qualified names ``outer/inner`` (ConvNeXt's stem is
  ``convnext_tiny_stem/convnext_tiny_stem_conv``), and its input layers are
  left out (they are the outer tensors);
- an operation called at several sites of one graph (a shared layer) gives
  one row per call, the second named ``name@1``, the third ``name@2``.

Call inputs are resolved across nesting: an inner layer fed by a nested
model's input sees the outer tensor, and a tensor a nested model returns is
the inner tensor that made it, so a per-tensor quantity (the receptive
field) flows through. If a nested model is called twice, tensors inside it
hold the latest call's values.

Pure Keras (any backend): the fvcore worker walks a model on PyTorch with it.
"""

from dataclasses import dataclass

from nets.backend import keras
from nets.errors import BadInput


OPERATION_PREFIX = "ops."


@dataclass(frozen=True, eq=False)
class Call:
    """One call site: the operation, its Keras node, and its input and output tensors."""

    name: str
    operation: object
    node: object
    inputs: tuple
    outputs: tuple

    @property
    def is_input(self):
        return isinstance(self.operation, keras.layers.InputLayer)

    @property
    def type_name(self):
        """The class name; ``ops.<Class>`` for a ``keras.ops`` operation (``ops.Add`` is ``x + y``,
        ``Add`` the layer)."""
        name = type(self.operation).__name__
        return name if isinstance(self.operation, keras.layers.Layer) else f"{OPERATION_PREFIX}{name}"


def functional_graph(model):
    """The functional graph of ``model`` (a functional model, or a built ``Sequential``'s own).

    Raises:
        BadInput: a subclassed model, or a ``Sequential`` not built yet.
    """
    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise BadInput(f"The Sequential model {model.name!r} has no input shape yet: build it "
                           "(keras.Input first, or model.build(shape)) before counting it")
        return graph
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "operations"):
        return model
    raise BadInput(f"Only functional and Sequential Keras models can be counted layer by layer. "
                   f"Received the subclassed model {model.name!r} ({type(model).__name__})")


def _is_graph_model(operation):
    return isinstance(operation, keras.Sequential) or (
        isinstance(operation, keras.Model) and hasattr(operation, "_nodes_by_depth"))


def calls(model):
    """The ``Call`` of every layer and operation of ``model``, nested models walked through."""
    found, canonical = [], {}
    _walk(model, "", found, canonical, top=True)
    return found


def nested_models(model):
    """Qualified names of the nested functional models and Sequentials of ``model`` (``outer/inner``)."""
    names = []

    def visit(graph_model, prefix):
        for operation in functional_graph(graph_model).operations:
            if _is_graph_model(operation):
                names.append(prefix + operation.name)
                visit(operation, prefix + operation.name + "/")

    visit(model, "")
    return names


def _walk(model, prefix, found, canonical, top):
    graph = functional_graph(model)
    in_graph = {id(node) for nodes in graph._nodes_by_depth.values() for node in nodes}

    def resolve(tensor):
        return canonical.get(id(tensor), tensor)

    for operation in graph.operations:
        nodes = [node for node in operation._inbound_nodes if id(node) in in_graph]
        for index, node in enumerate(nodes):
            name = prefix + operation.name + (f"@{index}" if index else "")
            inputs = tuple(resolve(t) for t in node.input_tensors)
            if _is_graph_model(operation):
                inner = functional_graph(operation)
                for inner_input, outer_input in zip(inner.inputs, inputs):
                    canonical[id(inner_input)] = outer_input
                _walk(operation, name + "/", found, canonical, top=False)
                for outer_output, inner_output in zip(node.outputs, inner.outputs):
                    canonical[id(outer_output)] = resolve(inner_output)
            elif isinstance(operation, keras.layers.InputLayer) and not top:
                continue
            else:
                found.append(Call(name, operation, node, inputs, tuple(node.outputs)))
