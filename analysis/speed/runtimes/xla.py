"""xla: the Keras network in a ``tf.function`` compiled by XLA (``jit_compile=True``)."""

import functools

from analysis.speed.runtimes import Runtime, register
from analysis.speed.runtimes.keras import load, profile, to_tensor

RUNTIME = register(Runtime(
    name="xla", precisions=("fp32",), packages=("tensorflow",), distribution="tensorflow-cpu",
    load=functools.partial(load, jit_compile=True), to_input=to_tensor,
    summary="the Keras network in a tf.function compiled by XLA", profile=functools.partial(profile, jit_compile=True)))
