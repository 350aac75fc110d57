"""A network made ready to run one batch on a configuration (a runtime at a precision).

``prepare`` builds what the runtime's record asks for: the converted copy
(``analysis.speed.conversions``) or the ``keras.Model`` itself, loaded by
the record's ``load``, with the batch made ready once before any timed call.
"""

import numpy as np

from analysis.speed import conversions
from analysis.speed.cpu import bf16_supported, core_count
from analysis.speed.runtimes import PrecisionUnsupported
from nets import checks
from nets.errors import BadInput


def check_runnable(config):
    """Raise ``RuntimeUnavailable`` where ``config``'s runtime or its Keras backend is missing here."""
    from nets.backend import keras

    config.record.check_installed().check_backend(keras.backend.backend())


def configure_threads(threads):
    """Ask TensorFlow and PyTorch for ``threads`` intra-op threads; return what is in force.

    TensorFlow accepts this only before its runtime starts (before the first
    model is built): call it first. ``None`` keeps the default (all cores).
    """
    if threads is None:
        return core_count()
    threads = checks.positive_int("threads", threads)
    from nets.backend import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            current = tf.config.threading.get_intra_op_parallelism_threads() or core_count()
            if current != threads:
                raise BadInput(
                    f"TensorFlow already runs with {current} threads; set threads before building a model "
                    f"(in a fresh process). Received threads={threads}") from None
    else:
        import torch

        torch.set_num_threads(threads)
    return threads


def input_batch(model, batch, seed=0):
    """A batch of ``batch`` random images in [0, 1) of ``model``'s input shape (float32)."""
    shape = (batch,) + tuple(int(d) for d in model.input_shape[1:])
    return np.random.default_rng(seed).uniform(0, 1, shape).astype("float32")


def deployable(variant, config, model, batch, calibration=None):
    """(source, x): what ``config``'s runtime loads (the converted file, converted once, or
    ``model`` itself) and a batch of ``batch`` random images for it.

    Raises:
        PrecisionUnsupported: bf16 on a CPU without bf16 instructions.
    """
    check_runnable(config)
    if config.precision == "bf16" and not bf16_supported():
        raise PrecisionUnsupported("bf16 is not supported by this CPU (no avx512_bf16 or amx_bf16)")
    x = input_batch(model, batch)
    if not config.record.deployed:
        return model, x
    return conversions.converted(variant, config, model, batch=batch, calibration=calibration), x


def prepare(variant, config, model, batch, threads, calibration=None):
    """Return (call, device): ``call()`` runs one synchronised batch of ``variant`` on the
    ``Configuration`` ``config``.

    ``model`` is the variant's built ``keras.Model`` (its weights are the ones converted);
    ``calibration`` the int8 calibration images (a ``conversions.Calibration``).

    Raises:
        PrecisionUnsupported: bf16 on a CPU without bf16 instructions.
    """
    record = config.record
    source, x = deployable(variant, config, model, batch, calibration)
    run = record.load(source, x.shape, threads, config.precision)
    inputs = record.to_input(x)
    return (lambda: run(inputs)), record.device()
