"""keras: the Keras network itself on TensorFlow, ``model(x, training=False)`` in a ``tf.function``
(not ``predict``, whose per-call overhead dominates small networks).

Its profiler is TensorFlow's (``tf.profiler.experimental``), read from the ``.xplane.pb`` it
writes: each TensorFlow op's event, named ``scope/op:Type`` after the Keras layer that made it;
under XLA (``analysis.speed.runtimes.xla``), each compiled HLO instruction's event, named after
the TensorFlow op in the module's HLO metadata.
"""

import re
import tempfile
from pathlib import Path

from analysis.speed.runtimes import Runtime, register

# A TensorFlow op's event: ``name/scope/op:OpType``.
_TF_OP = re.compile(r"^([^:\s]+):([A-Za-z0-9_]+)$")
_HLO_PROTO = "Hlo Proto"
_HLO_OP = "hlo_op"


def load(model, shape, threads, precision, jit_compile=False):
    """``run(x)``: one batch through ``model`` in a ``tf.function`` (XLA-compiled with ``jit_compile``)."""
    import tensorflow as tf

    function = tf.function(lambda t: model(t, training=False), jit_compile=jit_compile)
    return lambda x: function(x).numpy()


def to_tensor(x):
    """``x`` as a TensorFlow constant, made once before the timed calls."""
    import tensorflow as tf

    return tf.constant(x)


def profile(model, x, threads, precision, runs=20, warmup=3, jit_compile=False):
    """Per-op times of the batch ``x`` through ``model`` from TensorFlow's profiler: every op's (or,
    with ``jit_compile``, every HLO instruction's) events in the ``runs`` profiled calls summed,
    as ms per inference (``Runtime.profile`` says what the frame holds; ``scopes`` here)."""
    import tensorflow as tf

    from analysis.speed.latency import time_calls
    from analysis.speed.profile import node_frame

    run, tensor = load(model, x.shape, threads, precision, jit_compile), to_tensor(x)
    plain = time_calls(lambda: run(tensor), runs, warmup)
    with tempfile.TemporaryDirectory() as folder:
        tf.profiler.experimental.start(folder)
        try:
            times = time_calls(lambda: run(tensor), runs, 0)
        finally:
            tf.profiler.experimental.stop()
        space = _xspace(folder)
    durations, types, scopes = _hlo_events(space) if jit_compile else _op_events(space)
    return node_frame(durations, types, plain, times, scopes=scopes)


def _xspace(folder):
    """The ``XSpace`` the profiler wrote under ``folder`` (one host, one session)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    paths = sorted(Path(folder).rglob("*.xplane.pb"))
    if not paths:
        raise RuntimeError(f"TensorFlow's profiler wrote no .xplane.pb under {folder}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(paths[-1].read_bytes())
    return space


def _host(space, name="/host:CPU"):
    return next((plane for plane in space.planes if plane.name == name), None)


def _op_events(space):
    """({op: [seconds of each run]}, {op: op type}, {op: op}) from the TensorFlow ops' events."""
    host, durations, types = _host(space), {}, {}
    for line in host.lines:
        for event in line.events:
            match = _TF_OP.match(host.event_metadata[event.metadata_id].name)
            if match is None or match.group(2).startswith("__inference"):
                continue
            durations.setdefault(match.group(1), []).append(_timed(line, event))
            types[match.group(1)] = match.group(2)
    return _in_order(durations), types, {op: op for op in durations}


def _hlo_events(space):
    """({instruction: [seconds of each run]}, {instruction: opcode}, {instruction: TensorFlow op})
    from the events of the compiled HLO instructions, their TensorFlow ops read from the HLO
    module's metadata."""
    host = _host(space)
    stat_names = {key: meta.name for key, meta in host.stat_metadata.items()}
    opcodes, scopes = _hlo_metadata(space)
    durations = {}
    for line in host.lines:
        for event in line.events:
            meta = host.event_metadata[event.metadata_id]
            if any(stat_names.get(stat.metadata_id) == _HLO_OP for stat in event.stats):
                durations.setdefault(meta.name, []).append(_timed(line, event))
    return _in_order(durations), opcodes, {name: scopes.get(name, "") for name in durations}


def _timed(line, event):
    """(start in ps, seconds) of ``event`` on ``line``."""
    return line.timestamp_ns * 1000 + event.offset_ps, event.duration_ps / 1e12


def _in_order(durations):
    """{node: [seconds of each run]} from {node: [(start, seconds)]}: runs in the order they started."""
    return {node: [seconds for _, seconds in sorted(timed)] for node, timed in durations.items()}


def _hlo_metadata(space):
    """({instruction: opcode}, {instruction: TensorFlow op name}) of every compiled HLO module's
    entry computation; a fusion without a name of its own takes its fused instructions' first."""
    from tensorflow.compiler.xla.service import hlo_pb2

    opcodes, scopes = {}, {}
    metadata = _host(space, "/host:metadata")
    for meta in (metadata.event_metadata.values() if metadata else ()):
        for stat in meta.stats:
            if metadata.stat_metadata[stat.metadata_id].name != _HLO_PROTO:
                continue
            module = hlo_pb2.HloProto.FromString(stat.bytes_value).hlo_module
            computations = {c.id: c for c in module.computations}
            entry = next(c for c in module.computations if c.name == module.entry_computation_name)
            for instruction in entry.instructions:
                opcodes[instruction.name] = instruction.opcode
                names = [instruction.metadata.op_name] + [
                    inner.metadata.op_name for called in instruction.called_computation_ids
                    for inner in computations[called].instructions]
                scopes[instruction.name] = next((n for n in names if n), "")
    return opcodes, scopes


RUNTIME = register(Runtime(
    name="keras", precisions=("fp32",), packages=("tensorflow",), distribution="tensorflow-cpu", load=load,
    to_input=to_tensor, summary="the Keras network in a tf.function", profile=profile))
