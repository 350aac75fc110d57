"""The TensorFlow side of multi-worker training: starting ``MultiWorkerMirroredStrategy``
on a cluster (``start``), making Keras 3's ``fit`` run under it (``keras_workarounds``),
telling which worker was lost (``peer_message``) and letting all workers decide together
(``agreement``). The cluster itself (``TF_CONFIG``, the rendezvous) is ``distributed``'s.
"""

import faulthandler
import re

from analysis.accuracy import distributed
from nets.backend import keras  # noqa: F401 (Keras first, so that TensorFlow starts quietly)

import tensorflow as tf

# TensorFlow errors by which a collective tells that a peer is gone.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError,
               tf.errors.AbortedError, tf.errors.FailedPreconditionError, tf.errors.InternalError)


def start(cluster, timeout):
    """``MultiWorkerMirroredStrategy`` on ``TF_CONFIG``'s cluster, giving up on a worker that
    does not join or stops answering within ``timeout`` seconds.

    Joining: TensorFlow waits for every worker for ever, inside a call that
    holds the interpreter and that not even SIGTERM interrupts (TensorFlow takes
    it as a preemption notice). So the workers first meet on their own ports
    (``distributed.rendezvous``, which names any worker missing after
    ``timeout``), and a last-resort timer ends the process (status 1) should the
    start still hang. Training: TensorFlow's coordination service tells a lost
    worker by its missing heartbeats; its timeout is set to ``timeout``
    (TensorFlow configures the service the same way when left to itself).
    """
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    distributed.rendezvous(cluster, timeout)
    jobs = {}
    for job, _, address in cluster.tasks:
        jobs.setdefault(job, []).append(address)
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(tf.train.ClusterSpec(jobs)),
        heartbeat_timeout_in_ms=int(max(1.0, timeout) * 1000),
        coordinated_jobs=[coordination_config_pb2.CoordinatedJob(name=job, num_tasks=len(addresses))
                          for job, addresses in jobs.items()])
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING)
    faulthandler.dump_traceback_later(max(1.0, timeout), exit=True)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    finally:
        faulthandler.cancel_dump_traceback_later()


def keras_workarounds(network, strategy, sample):
    """Let Keras 3's ``fit`` run under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).

    Keras 3.15 fails there twice: before the first epoch, its symbolic build
    reduces a batch of (images, labels) with ``strategy.reduce``, which takes no
    nested values; and each step reduces the scalar metrics with ``axis=0``.
    So the network is built here from one plain batch (the same build, in the
    strategy's scope) and the build in ``fit`` skipped; and the metrics are
    taken as each worker holds them, which is the global value: Keras' metric
    variables are mirrored and summed across workers on every update (the
    workers' histories are identical, tests/test_distributed.py).
    """
    from keras.src.backend.tensorflow import trainer

    trainer._collective_all_reduce_multi_worker = lambda strategy: False
    with strategy.scope():
        network._symbolic_build(data_batch=sample)
    network._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def peer_message(cluster, error):
    """``"worker 0: lost worker 1 (127.0.0.1:2222) during training (...)"`` from a collective's error,
    which names the lost tasks as ``/job:worker/replica:0/task:1``."""
    text = str(error).strip()
    named = dict.fromkeys(cluster.name_of(f"/job:{job}/task:{index}")
                          for job, index in re.findall(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)", text)
                          if (job, int(index)) != (cluster.task_type, cluster.task_index))
    return (f"{cluster.task_name}: lost {', '.join(named) or 'a worker'} during training ({type(error).__name__}); "
            "restart every worker with --resume to continue from the last checkpoint")


def agreement(strategy):
    """A function that turns each worker's True/False into True on all workers if any said True."""
    def agree(wish):
        votes = strategy.run(lambda: tf.constant(1.0 if wish else 0.0))
        return float(strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None)) > 0
    return agree
