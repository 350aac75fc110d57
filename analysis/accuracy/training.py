"""A small, seeded, bounded training loop for a variant on a dataset, on tf.distribute.

``train`` builds a variant from scratch, sized for the dataset
(``sized_for``: its image size, its classes, logits), trains it with Adam
and a cosine learning-rate schedule for at most ``epochs`` (early stopping
on the loss of a validation tenth of the training images, and an optional
time budget), on training images shifted, turned and zoomed at random each
epoch where asked (``augmentation``; MobileNet's default), then records
held-out top-1 accuracy, training time, parameters, MACs and measured
latency.

Where it runs (``strategy``), always through a ``tf.distribute`` strategy:

- ``"single"``: this process, one device (the default);
- ``"mirrored"``: ``MirroredStrategy`` over ``devices`` logical CPU devices;
- ``"multiworker"``: ``MultiWorkerMirroredStrategy``, one replica per worker
  process, the cluster read from ``TF_CONFIG`` (run the same call on every
  host, see docs/training.md); ``workers=N`` starts N such processes on this
  machine (``analysis.accuracy.distributed``) and returns the chief's result.

Every replica of every worker reads its own slice of each global batch: the
images of one epoch are put in an order drawn from (seed, epoch), cut into
batches of ``batch_size`` (the global batch, whatever the replicas), and each
batch into one piece per replica. So one worker and two see the same batches.

With a run folder (``run_dir``; ``analysis.accuracy.runs``) the run is
checkpointed each epoch (``analysis.accuracy.checkpoints``) and ``resume``
continues it: with the same seed, a run killed and resumed ends with the
accuracy of a run never interrupted, since every random draw of an epoch is
a function of (seed, epoch) alone.

Small data and batch norm: Keras' default BN momentum (0.99) makes the
moving statistics lag far behind the weights on a dataset of a few dozen
batches per epoch, so a MobileNet scores chance in evaluation for many
epochs while its training accuracy climbs. ``sized_for`` therefore sets
``bn_momentum=0.9`` for a MobileNet left at the default (``SMALL_DATA``);
notebook 05 shows both.
"""

import contextlib
import faulthandler
import hashlib
import io
import json
import re
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from analysis import atomic, paths
from analysis.accuracy import distributed, runs
from analysis.accuracy.checkpoints import EpochSeeds, ResumableEarlyStopping, RunCheckpoint
from analysis.accuracy.datasets import Dataset, load_dataset
from analysis.accuracy.distributed import (DEFAULT_RESTARTS, DEFAULT_WORKER_TIMEOUT_S, PeerLost, check_batch,
                                          resolve_strategy)
from analysis.accuracy.quantized import quantized_accuracy
from analysis.accuracy.runs import RECOMMENDED  # noqa: F401 (re-exported: notebooks read training.RECOMMENDED)
from analysis.cost.table import summarize
from analysis.errors import BadInput
from analysis.speed.latency import measure
from analysis.variants import FC6_AUTO, NETWORK_DEFAULTS, Variant
from nets import checks
from nets.backend import keras

# After Keras (nets.backend), so that TensorFlow starts quietly.
import tensorflow as tf

SMALL_DATA_BN_MOMENTUM = 0.9
# Options that a network trained from scratch on a small dataset needs, applied by ``sized_for``
# to the options a variant leaves at their defaults.
SMALL_DATA = {"mobilenet": {"bn_momentum": SMALL_DATA_BN_MOMENTUM}, "vgg16": {"fc_units": 256}}
VGG16_FULL_HEAD_RESOLUTION = 224
PREDICT_BATCH = 256
# TensorFlow errors by which a collective tells that a peer is gone.
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError,
                tf.errors.AbortedError, tf.errors.FailedPreconditionError, tf.errors.InternalError)


@dataclass
class TrainingResult:
    """One training run: held-out top-1 accuracy (0..1), seconds, costs (MACs per image) and latency.

    ``variant`` is the label of the variant trained (sized for the dataset);
    ``devices`` the devices of each worker, ``workers`` the processes and
    ``replicas`` the replicas in sync (workers x devices); ``resumed_from_epoch``
    the epochs a checkpoint held when this run started (0: from scratch),
    ``restarts`` how often local workers were restarted after one died;
    ``train_seconds`` counts every session that trained the run.
    """

    network: str
    variant: str
    dataset: str
    seed: int
    epochs_run: int
    accuracy: float
    train_seconds: float
    params: int
    macs: int
    latency_ms: float
    devices: int
    workers: int = 1
    replicas: int = 1
    resumed_from_epoch: int = 0
    restarts: int = 0
    run_dir: str = ""
    history: dict = field(default_factory=dict)
    quantized: list = field(default_factory=list)

    def to_dict(self, history=False):
        row = asdict(self)
        if not history:
            row.pop("history")
        return row

    @classmethod
    def from_dict(cls, data):
        """The result of a ``to_dict`` dict (keys it does not know are left out)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class EpochProgress(keras.callbacks.Callback):
    """A tqdm bar over epochs showing loss and validation accuracy (from ``initial`` on a resumed run)."""

    def __init__(self, epochs, enabled=True, initial=0):
        super().__init__()
        self.epochs, self.enabled, self.initial, self.bar = epochs, enabled, initial, None

    def on_train_begin(self, logs=None):
        self.bar = tqdm(total=self.epochs, initial=self.initial, desc="epochs", unit="epoch",
                        disable=not self.enabled)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.3f}",
                             val_acc=f"{logs.get('val_accuracy', float('nan')):.3f}")
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


class TimeBudget(keras.callbacks.Callback):
    """Stop when another epoch, as long as the last one, would overrun ``seconds`` (None: no budget),
    counting ``spent`` seconds of earlier sessions. ``agree`` turns this worker's wish to stop
    into the decision of all workers (any one wishing it), so that they stop together."""

    def __init__(self, seconds, spent=0.0, agree=None):
        super().__init__()
        self.seconds, self.spent, self.agree = seconds, spent, agree
        self.start = self.epoch_start = None

    def on_train_begin(self, logs=None):
        self.start = self.epoch_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if not self.seconds:
            return
        now = time.perf_counter()
        stop = self.spent + now - self.start + (now - self.epoch_start) > self.seconds
        if self.agree is not None:
            stop = self.agree(stop)
        if stop:
            self.model.stop_training = True


def configure_devices(devices):
    """Split the CPU into ``devices`` logical devices (before TensorFlow starts); return their names."""
    devices = checks.positive_int("devices", devices)
    cpus = tf.config.list_physical_devices("CPU")
    if devices > 1:
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(devices)])
        except RuntimeError:
            current = len(tf.config.list_logical_devices("CPU"))
            if current != devices:
                raise BadInput(
                    f"TensorFlow already started with {current} CPU device(s); ask for devices before "
                    f"building any model (in a fresh process). Received devices={devices}") from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def sized_for(variant, dataset, small_data=True):
    """``variant`` sized for ``dataset``: its image size and classes, logits, and VGG16's fc6
    sized to the last feature map below 224 pixels. With ``small_data``, the options of
    ``SMALL_DATA`` that ``variant`` leaves at their defaults take their small-data values."""
    changes = {"resolution": dataset.image_size, "num_classes": dataset.num_classes, "logits": True}
    if small_data:
        defaults = NETWORK_DEFAULTS[variant.network]
        changes.update({option: value for option, value in SMALL_DATA.get(variant.network, {}).items()
                        if getattr(variant, option) == defaults[option]})
    if variant.network == "vgg16" and dataset.image_size < VGG16_FULL_HEAD_RESOLUTION:
        changes["fc6_kernel_size"] = FC6_AUTO
    return variant.replace(**changes)


def train(variant, dataset="digits", *, epochs=None, batch_size=32, learning_rate=None, patience=None,
          augment=None, seed=0, max_seconds=None, devices=1, strategy=None, workers=None, run_dir=None,
          resume=False, worker_timeout=DEFAULT_WORKER_TIMEOUT_S, restarts=DEFAULT_RESTARTS, deterministic=True,
          progress=True, record=True, image_size=32, small_data=True, quantize=()):
    """Train ``variant`` (sized for the dataset by ``sized_for``) from scratch, or resume it.

    Args:
        variant: the ``Variant`` to train.
        dataset: a ``Dataset`` or a spec for ``load_dataset`` (at ``image_size``).
        epochs: the most epochs; early stopping (``patience`` epochs without a
            better validation loss, best weights restored; the validation
            images are a tenth of the training split, never the test split)
            and ``max_seconds`` may stop sooner.
        batch_size: the global batch size, split evenly over the replicas.
        learning_rate: Adam's initial rate, cosine-decayed to 0 over ``epochs``.
        augment: shift, rotate and zoom the training images at random each
            epoch (``augmentation``), seeded by ``seed``.
        seed: seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``),
            the order of the images and the augmentation.
        devices: data-parallel replicas of one process: ``MirroredStrategy`` over
            that many logical CPU devices (see ``configure_devices``).
        strategy: ``"single"``, ``"mirrored"`` or ``"multiworker"`` (default: from
            ``devices`` and ``workers``; see the module).
        workers: start this many local ``MultiWorkerMirroredStrategy`` workers on
            127.0.0.1 (a run folder is required; default reports/runs/...).
        run_dir: the run folder that keeps a checkpoint of each epoch, the
            training log and the result (None: none kept, nothing to resume).
        resume: continue the run in ``run_dir`` from its last finished epoch;
            ``"auto"``: if it holds a checkpoint, else start. A checkpoint of a
            different network, dataset, seed or settings is refused, as is an
            interrupted run without ``resume``.
        worker_timeout: seconds that a worker waits for the others to join, and
            about the longest it takes to notice that one is gone; then the
            run ends with a message naming that worker.
        restarts: with ``workers``, how many times the workers are restarted
            from the checkpoint after one of them dies.
        deterministic: ask TensorFlow for deterministic ops, so the same seed
            gives the same result.
        record: append the result to reports/tables/training_runs.csv.
        small_data: apply ``SMALL_DATA`` (see ``sized_for``).
        quantize: precisions (``int8``, ``bf16``) at which to convert the
            trained network to every runtime that offers them and measure
            its test accuracy there (``analysis.accuracy.quantized``); the
            result's ``quantized`` lists them, the fp32 ``accuracy`` stays.
        ``epochs``, ``learning_rate``, ``patience`` and ``augment`` left as None
        take the network's ``RECOMMENDED`` settings.

    Returns:
        A ``TrainingResult`` (its ``history`` holds the per-epoch curves). Under
        ``multiworker``, workers other than the chief return no latency (NaN)
        and record nothing.

    Raises:
        BadInput: bad arguments, a malformed ``TF_CONFIG``, an unwritable run
            folder, a run folder in use or holding another run, ``resume``
            with no checkpoint.
        PeerLost: a worker that cannot be reached or died (a ``Failed``).
    """
    settings = runs.resolve_settings(variant.network, epochs, learning_rate, patience, augment)
    strategy = resolve_strategy(strategy, devices, workers)
    if max_seconds is not None:
        max_seconds = checks.positive_number("max_seconds", max_seconds)
    worker_timeout = checks.positive_number("worker_timeout", worker_timeout)
    if resume not in (False, True, "auto"):
        raise BadInput(f"resume must be False, True or 'auto'. Received resume={resume!r}")
    if resume and run_dir is None and workers is None:
        raise BadInput("resume continues the run of a run folder: name it. Received run_dir=None")
    options = dict(batch_size=batch_size, seed=seed, max_seconds=max_seconds, deterministic=deterministic,
                   small_data=small_data, quantize=list(quantize), worker_timeout=worker_timeout, resume=resume)
    known = isinstance(dataset, Dataset)
    # The identity asked for, before the data is loaded (without its digest).
    asked = runs.identity(variant, dataset.name if known else dataset, dataset.image_size if known else image_size,
                          seed, batch_size, settings, small_data)
    if workers is not None:
        check_batch(batch_size, workers)
        return _train_local_workers(variant, dataset, image_size, asked, options, workers, run_dir, restarts,
                                    progress, record)
    cluster = distributed.cluster_from_environment() if strategy == "multiworker" else None
    check_batch(batch_size, cluster.num_workers if cluster else devices)
    if run_dir is not None:  # first: before waiting for a cluster, and creating nothing when it refuses
        runs.RunFolder(run_dir).check(asked, resume)
    # MultiWorkerMirroredStrategy must start before TensorFlow runs anything (loading digits resizes them).
    distribution = _multiworker_strategy(cluster, worker_timeout, deterministic) if cluster else None
    data = dataset if known else load_dataset(dataset, image_size=image_size)
    chief = cluster is None or cluster.is_chief
    run_identity = {**asked, "data_digest": data_digest(data)}
    with contextlib.ExitStack() as stack:
        run, mode = None, "fresh"
        if run_dir is not None:
            run = runs.RunFolder(runs.check_writable(run_dir))
            if chief:
                stack.enter_context(runs.file_lock(run.lock_path, what=f"Run folder {run.path}"))
                run.remove_leftovers()
            mode = run.check(run_identity, resume)
            if mode == "finished":
                return TrainingResult.from_dict(run.read_result())
            if mode == "fresh" and chief:
                run.start_fresh(run_identity)
        result = _train(variant, data, settings, strategy, distribution, devices, cluster, run, mode,
                        progress=progress and chief,
                        **{k: options[k] for k in ("batch_size", "seed", "max_seconds", "small_data", "quantize")},
                        deterministic=deterministic)
    if record and chief:
        record_result(result)
    return result


def data_digest(data):
    """A short digest of a dataset's training and test images and labels (part of a run's identity)."""
    digest = hashlib.sha1()
    for array in (data.x_train, data.y_train, data.x_test, data.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _train(variant, data, settings, strategy_name, strategy, devices, cluster, run, mode, *, batch_size, seed,
           max_seconds, deterministic, small_data, quantize, progress):
    """Build, fit (or resume), evaluate and time one run in this process (``strategy``: the
    multi-worker strategy already started, or None)."""
    trained = sized_for(variant, data, small_data)
    if strategy is None:
        device_names = configure_devices(devices)
        _determinism(deterministic)
        strategy = (tf.distribute.MirroredStrategy(device_names[:devices]) if strategy_name == "mirrored"
                    else tf.distribute.get_strategy())
    keras.utils.set_random_seed(seed)
    chief = cluster is None or cluster.is_chief
    x_fit, x_val, y_fit, y_val = _validation_split(data, seed)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    train_data, steps = _training_data(strategy, x_fit, y_fit, batch_size, seed, settings["augment"], epoch)
    with strategy.scope():
        network = trained.build()
        schedule = keras.optimizers.schedules.CosineDecay(settings["learning_rate"],
                                                          decay_steps=settings["epochs"] * steps)
        network.compile(optimizer=keras.optimizers.Adam(schedule),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy"])
        network.optimizer.build(network.trainable_variables)
    if strategy_name == "multiworker":
        _keras_multiworker_workarounds(network, strategy, (x_fit[:1], y_fit[:1]))
    stopping = ResumableEarlyStopping(monitor="val_loss", patience=settings["patience"], restore_best_weights=True)
    saver = RunCheckpoint(run, network, stopping, chief, cluster.task_index if cluster else 0) if run else None
    state = saver.restore() if mode == "resume" else None
    done = state["epoch"] if state else 0
    callbacks = [EpochSeeds(epoch, network), stopping,
                 TimeBudget(max_seconds, state["seconds"] if state else 0.0,
                            _agreement(strategy) if strategy_name == "multiworker" else None),
                 EpochProgress(settings["epochs"], progress, initial=done), *([saver] if saver else [])]
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # a distributed dataset's length is unknown to Keras until it ends
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            fitted = network.fit(train_data, epochs=done if state and state["stopped"] else settings["epochs"],
                                 initial_epoch=done, validation_data=(x_val, y_val), callbacks=callbacks,
                                 shuffle=False, verbose=0)
    except _PEER_ERRORS as error:
        if cluster is None:
            raise
        raise PeerLost(_peer_message(cluster, error)) from None
    history = saver.history if saver else {k: [float(v) for v in vs] for k, vs in fitted.history.items()}
    seconds = saver.seconds() if saver else time.perf_counter() - start
    logits = _predict(network, data.x_test)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    totals = summarize(network)
    latency_ms, converted = float("nan"), []
    if chief:
        # A copy outside the strategy: timing and converting it needs no other worker.
        model = network if strategy_name != "multiworker" else _copy(trained, network)
        latency_ms = measure(trained, "keras", batch=1, repeats=10, warmup=2, model=model).median_ms
        converted = quantized_accuracy(trained, model, data, quantize, progress=progress) if quantize else []
    result = TrainingResult(
        network=variant.network, variant=trained.label, dataset=data.name, seed=seed,
        epochs_run=len(history.get("loss", [])), accuracy=accuracy, train_seconds=seconds,
        params=totals["params"], macs=totals["macs"], latency_ms=latency_ms, devices=devices,
        workers=cluster.num_workers if cluster else 1, replicas=strategy.num_replicas_in_sync,
        resumed_from_epoch=done, run_dir=str(run.path) if run else "", history=history, quantized=converted)
    if saver:
        if chief:
            run.write_result(result.to_dict(history=True))
        saver.finish()
    return result


def train_from_spec(spec):
    """Run ``train`` on one worker from a launcher's JSON spec (``distributed.launch_local``)."""
    spec = dict(spec)
    variant = Variant.parse(spec.pop("variant"))
    dataset = spec.pop("dataset")
    if isinstance(dataset, dict):
        with np.load(dataset["npz"]) as arrays:
            dataset = Dataset(dataset["name"], arrays["x_train"], arrays["y_train"], arrays["x_test"],
                              arrays["y_test"], list(dataset["class_names"]))
    return train(variant, dataset, strategy="multiworker", record=False, progress=False, **spec)


def _train_local_workers(variant, dataset, image_size, asked, options, workers, run_dir, restarts, progress,
                         record):
    """``train(workers=N)``: launch N local workers (``distributed.launch_local``), return the chief's result."""
    run = runs.RunFolder(runs.default_run_dir(asked) if run_dir is None else run_dir)
    mode = run.check(asked, options["resume"])
    run_dir = runs.check_writable(run.path)
    if mode == "finished":
        return TrainingResult.from_dict(run.read_result())
    settings = {key: asked[key] for key in ("epochs", "learning_rate", "patience", "augment")}
    spec = {"variant": variant.label, "image_size": image_size, **settings, **options, "run_dir": str(run_dir)}
    if isinstance(dataset, Dataset):
        buffer = io.BytesIO()
        np.savez(buffer, x_train=dataset.x_train, y_train=dataset.y_train, x_test=dataset.x_test,
                 y_test=dataset.y_test)
        npz = atomic.write_bytes(Path(run_dir) / runs.WORKERS_DIR / "dataset.npz", buffer.getvalue())
        spec["dataset"] = {"npz": str(npz), "name": dataset.name, "class_names": list(dataset.class_names)}
    else:
        spec["dataset"] = dataset
    try:
        result = TrainingResult.from_dict(distributed.launch_local(workers, spec, run_dir, restarts, progress))
    finally:
        (Path(run_dir) / runs.WORKERS_DIR / "dataset.npz").unlink(missing_ok=True)
    if record:
        record_result(result)
    return result


def _determinism(deterministic):
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _multiworker_strategy(cluster, timeout, deterministic):
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

    _determinism(deterministic)
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


def _keras_multiworker_workarounds(network, strategy, sample):
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


def _peer_message(cluster, error):
    """``"worker 0: lost worker 1 (127.0.0.1:2222) during training (...)"`` from a collective's error,
    which names the lost tasks as ``/job:worker/replica:0/task:1``."""
    text = str(error).strip()
    named = dict.fromkeys(cluster.name_of(f"/job:{job}/task:{index}")
                          for job, index in re.findall(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)", text)
                          if (job, int(index)) != (cluster.task_type, cluster.task_index))
    return (f"{cluster.task_name}: lost {', '.join(named) or 'a worker'} during training ({type(error).__name__}); "
            "restart every worker with --resume to continue from the last checkpoint")


def _agreement(strategy):
    """A function that turns each worker's True/False into True on all workers if any said True."""
    def agree(wish):
        votes = strategy.run(lambda: tf.constant(1.0 if wish else 0.0))
        return float(strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None)) > 0
    return agree


def _predict(network, images):
    """Logits of ``network`` for ``images``, called batch by batch in this process (no collective)."""
    return np.concatenate([keras.ops.convert_to_numpy(network(images[i:i + PREDICT_BATCH], training=False))
                           for i in range(0, len(images), PREDICT_BATCH)])


def _copy(variant, network):
    """A copy of ``network`` built outside any strategy, with its weights."""
    model = variant.build()
    model.set_weights(network.get_weights())
    return model


VALIDATION_FRACTION = 0.1


def augmentation(seed=0):
    """The random image changes ``train(augment=True)`` applies: shifts of up to a
    tenth of the image, rotations of up to 0.05 turn (18 degrees) and zooms of up to 10 %."""
    return keras.Sequential([
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
        keras.layers.RandomRotation(0.05, fill_mode="constant", seed=seed + 1),
        keras.layers.RandomZoom(0.1, fill_mode="constant", seed=seed + 2),
    ], name="augmentation")


class _KeyedSeed(keras.random.SeedGenerator):
    """Seeds drawn from a batch's key, not from a variable: the augmentation of a batch is a
    function of (seed, epoch, batch) alone. (No variable is made, so ``__init__`` is not called.)"""

    def __init__(self, seed, stream):  # noqa: super().__init__ would create a state variable
        self.seed, self.stream, self.draws = seed, stream, 0

    def next(self, ordered=True):
        self.draws += 1
        return tf.stack([tf.cast(self.seed, tf.int64), self.stream * 16 + self.draws])


def _batch_layout(images, batch_size, replicas):
    """``[[(start, end) per replica] per step]``: each global batch of ``batch_size`` positions
    cut into ``replicas`` equal pieces; a last, partial batch is cut into nearly equal
    pieces if every replica gets at least one image, else dropped."""
    piece = batch_size // replicas
    full, rest = divmod(images, batch_size)
    layout = [[(k * batch_size + j * piece, k * batch_size + (j + 1) * piece) for j in range(replicas)]
              for k in range(full)]
    if rest >= replicas:
        sizes = [rest // replicas + (j < rest % replicas) for j in range(replicas)]
        ends = full * batch_size + np.cumsum(sizes)
        layout.append([(int(end - size), int(end)) for end, size in zip(ends, sizes)])
    if not layout:
        raise BadInput(f"The training split has {images} images, fewer than the {replicas} replicas")
    return layout


def _training_data(strategy, images, labels, batch_size, seed, augment, epoch):
    """The training images as a distributed dataset, and the steps of an epoch.

    Each epoch (the value of the variable ``epoch`` when the epoch's iterator starts) puts
    the images in an order drawn from (seed, epoch), cuts it into global batches and each
    batch into one piece per replica (``_batch_layout``); every input pipeline (one per
    worker) builds the pieces of its own replicas, augmented (``augmentation``) with seeds
    drawn from (seed, epoch, batch, replica).
    """
    replicas = strategy.num_replicas_in_sync
    layout = _batch_layout(len(images), batch_size, replicas)
    layers = augmentation(seed).layers if augment else []

    def dataset_fn(context):
        local = replicas // context.num_input_pipelines
        slots = range(context.input_pipeline_id * local, (context.input_pipeline_id + 1) * local)
        pieces = [(*layout[step][slot], step * replicas + slot) for step in range(len(layout)) for slot in slots]
        starts, ends, streams = (np.array(column, dtype="int64") for column in zip(*pieces))
        x, y = tf.constant(images), tf.constant(labels)

        def one_epoch(_):
            now = epoch.read_value()
            order = tf.argsort(tf.random.stateless_uniform([len(images)], seed=tf.stack([tf.cast(seed, tf.int64),
                                                                                         now])))

            def piece(start, end, stream):
                chosen = order[start:end]
                batch = tf.gather(x, chosen)
                keyed = _KeyedSeed(seed, now * (len(layout) * replicas) + stream)
                for layer in layers:
                    batch = layer.transform_images(
                        batch, layer.get_random_transformation(batch, training=True, seed=keyed), training=True)
                return batch, tf.gather(y, chosen)

            return tf.data.Dataset.from_tensor_slices((starts, ends, streams)).map(piece)

        dataset = (tf.data.Dataset.range(1).flat_map(one_epoch)
                   .apply(tf.data.experimental.assert_cardinality(len(pieces))).prefetch(2))
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF  # ours
        options.deterministic = True
        return dataset.with_options(options)

    return strategy.distribute_datasets_from_function(dataset_fn), len(layout)


def _validation_split(data, seed):
    """Hold a stratified tenth of the training images out for early stopping, so the
    test images that give the reported accuracy never choose the weights."""
    if len(data.x_train) < 10 * data.num_classes:  # too few to split: validate on the training set
        return data.x_train, data.x_train, data.y_train, data.y_train
    return train_test_split(data.x_train, data.y_train, test_size=VALIDATION_FRACTION,
                            stratify=data.y_train, random_state=seed)


def record_result(result, path=None):
    """Add ``result`` as a row of a CSV (default reports/tables/training_runs.csv), written
    atomically under a lock (two runs finishing at once both add their row); return its path."""
    path = Path(path or paths.TABLES_DIR / "training_runs.csv")
    row = pd.DataFrame([{**result.to_dict(), "quantized": json.dumps(result.quantized)}])
    path.parent.mkdir(parents=True, exist_ok=True)
    with runs.file_lock(path.parent, wait=True):  # the folder: a lock file would be left behind
        earlier = pd.read_csv(path) if path.is_file() else None
        atomic.write_csv(row if earlier is None else pd.concat([earlier, row], ignore_index=True), path)
    return path
