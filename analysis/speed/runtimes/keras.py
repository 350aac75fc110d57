"""keras: the Keras network itself on TensorFlow, ``model(x, training=False)`` in a ``tf.function``
(not ``predict``, whose per-call overhead dominates small networks)."""

from analysis.speed.runtimes import Runtime, register


def load(model, shape, threads, precision, jit_compile=False):
    """``run(x)``: one batch through ``model`` in a ``tf.function`` (XLA-compiled with ``jit_compile``)."""
    import tensorflow as tf

    function = tf.function(lambda t: model(t, training=False), jit_compile=jit_compile)
    return lambda x: function(x).numpy()


def to_tensor(x):
    """``x`` as a TensorFlow constant, made once before the timed calls."""
    import tensorflow as tf

    return tf.constant(x)


RUNTIME = register(Runtime(
    name="keras", precisions=("fp32",), packages=("tensorflow",), distribution="tensorflow-cpu", load=load,
    to_input=to_tensor, summary="the Keras network in a tf.function"))
