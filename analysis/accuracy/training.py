"""A small, seeded, bounded training loop for a variant on a dataset, on tf.distribute.

``train`` checks what it is asked (``settings.TrainingRequest``) and builds
a variant from scratch, sized for the dataset (``sized_for``: its image
size, its classes, logits), trains it with Adam and a cosine learning-rate
schedule for at most ``epochs`` (early stopping on the loss of a validation
tenth of the training images, and an optional time budget), on training
images shifted, turned and zoomed at random each epoch where asked
(``pipeline.augmentation``; MobileNet's default), then records held-out
top-1 accuracy, training time (s), parameters, MACs per image and measured
latency (ms).

Where it runs (``Placement.strategy``), always on ``tf.distribute``: ``"single"``
(one device), ``"mirrored"`` (``MirroredStrategy`` over ``devices`` logical CPU
devices) or ``"multiworker"`` (``MultiWorkerMirroredStrategy``, one replica per
worker process, the cluster read from ``TF_CONFIG``: run the same call on every
host, docs/training.md); ``workers=N`` starts N such processes here
(``analysis.accuracy.launcher``). Every replica reads its own slice of each
global batch of ``batch_size`` (``analysis.accuracy.pipeline``).

With a run folder (``Checkpointing``, ``analysis.accuracy.runs``) the run is checkpointed
each epoch (``analysis.accuracy.checkpoints``) and ``resume`` continues it, exactly.

Small data and batch norm: Keras' default BN momentum (0.99) makes the
moving statistics lag far behind the weights on a dataset of a few dozen
batches per epoch, so a MobileNet scores chance in evaluation for many
epochs while its training accuracy climbs. ``sized_for`` therefore sets
``bn_momentum=0.9`` for a MobileNet left at the default (``SMALL_DATA``);
notebook 05 shows both.
"""

import contextlib
import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import atomic, paths
from analysis.accuracy import launcher, multiworker, runs
from analysis.accuracy.callbacks import EpochProgress, EpochSeeds, ResumableEarlyStopping, TimeBudget
from analysis.accuracy.checkpoints import RunCheckpoint
from analysis.datasets import load_dataset
from analysis.accuracy.distributed import PeerLost
from analysis.accuracy.pipeline import training_data, validation_split
from analysis.accuracy.quantized import quantized_accuracy
from analysis.accuracy.settings import TrainingRequest
from analysis.cost.table import summarize
from analysis.speed.latency import Timing, time_network
from analysis.speed.runtimes import configuration, deployment_configurations
from analysis.variants import FC6_AUTO
from nets.backend import keras
from nets.errors import BadInput

# After Keras (nets.backend), so that TensorFlow starts quietly.
import tensorflow as tf

SMALL_DATA_BN_MOMENTUM = 0.9
# Options that a network trained from scratch on a small dataset needs, applied by ``sized_for``
# to the options a variant leaves at their defaults.
SMALL_DATA = {"mobilenet": {"bn_momentum": SMALL_DATA_BN_MOMENTUM}, "vgg16": {"fc_units": 256}}
VGG16_FULL_HEAD_RESOLUTION = 224
PREDICT_BATCH = 256


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


def configure_devices(devices):
    """Split the CPU into ``devices`` (a checked ``Placement.devices``) logical devices, before
    TensorFlow starts; return their names."""
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
    defaults = variant.defaults
    if variant.kind == "file":  # a saved model keeps its classes and head; only a None input size is set
        changes = {"resolution": dataset.image_size} if variant.resolution is None else {}
    if small_data:
        changes.update({option: value for option, value in SMALL_DATA.get(variant.network, {}).items()
                        if getattr(variant, option) == defaults[option]})
    if variant.network == "vgg16" and dataset.image_size < VGG16_FULL_HEAD_RESOLUTION:
        changes["fc6_kernel_size"] = FC6_AUTO
    return variant.replace(**changes)


def _check_classes(network, variant, num_classes):
    classes = network.output_shape[-1] if len(network.outputs) == 1 else None
    if classes != num_classes:
        raise BadInput(f"{variant.label} gives {classes} outputs; the dataset has {num_classes} classes")


def _ends_in_softmax(network):
    """Whether a (saved) model gives probabilities: its last layer's activation is a softmax."""
    last = network.layers[-1]
    activation = getattr(last, "activation", None)
    return type(last).__name__ == "Softmax" or getattr(activation, "__name__", "") == "softmax"


def train(variant, dataset="digits", settings=None, placement=None, checkpointing=None, *, quantize=(),
          progress=True, record=True):
    """Train ``variant`` (sized for the dataset by ``sized_for``) from scratch, or resume it.

    Args:
        variant: the ``Variant`` to train.
        dataset: a ``Dataset`` or a spec for ``load_dataset`` (at ``settings.image_size``).
        settings: a ``TrainingSettings`` (default: the network's recommended schedule).
        placement: a ``Placement``: devices, strategy, local workers (default: one device).
        checkpointing: a ``Checkpointing``: the run folder and ``resume`` (default: none).
        quantize: precisions (``int8``, ``bf16``) at which to convert the
            trained network to every runtime that offers them and measure
            its test accuracy there (``analysis.accuracy.quantized``); the
            result's ``quantized`` lists them, the fp32 ``accuracy`` stays.
        progress: show a bar over the epochs.
        record: append the result to reports/tables/training_runs.csv.

    Returns:
        A ``TrainingResult`` (its ``history`` holds the per-epoch curves). Under
        ``multiworker``, workers other than the chief return no latency (None)
        and record nothing.

    Raises:
        BadInput: bad arguments, a malformed ``TF_CONFIG``, an unwritable run
            folder, a run folder in use or holding another run, ``resume``
            with no checkpoint.
        PeerLost: a worker that cannot be reached or died (a ``Failed``).
    """
    request = TrainingRequest.checked(variant, dataset, settings, placement, checkpointing, quantize)
    return run_request(request, progress=progress, record=record)


def run_request(request, progress=True, record=True):
    """Train a checked ``TrainingRequest`` (see ``train``); a run folder that holds the finished
    run gives its stored result (nothing recorded)."""
    if request.placement.workers is not None:
        run = runs.RunFolder(request.checkpointing.run_dir)
        if run.check(request.identity, request.checkpointing.resume) == "finished":
            return TrainingResult.from_dict(run.read_result())
        result = TrainingResult.from_dict(launcher.launch_request(request, progress))
        chief = True
    else:
        cluster = request.cluster
        chief = cluster is None or cluster.is_chief
        # MultiWorkerMirroredStrategy must start before TensorFlow runs anything (loading digits resizes them).
        if cluster:
            _determinism(request.settings.deterministic)
        distribution = multiworker.start(cluster, request.placement.worker_timeout) if cluster else None
        data = request.dataset if not isinstance(request.dataset, str) else load_dataset(
            request.dataset, image_size=request.settings.image_size)
        result = _train_in_folder(request, data, distribution, progress and chief)
        if result is None:
            return TrainingResult.from_dict(runs.RunFolder(request.checkpointing.run_dir).read_result())
    if record and chief:
        record_result(result)
    return result


def _train_in_folder(request, data, distribution, progress):
    """Train in this process, holding the run folder (if any) as its chief; None when the
    folder holds this run finished."""
    chief = request.cluster is None or request.cluster.is_chief
    run_identity = {**request.identity, "data_digest": data_digest(data)}
    with contextlib.ExitStack() as stack:
        run, mode = None, "fresh"
        if request.checkpointing.run_dir is not None:
            run = runs.RunFolder(request.checkpointing.run_dir)
            if chief:
                stack.enter_context(atomic.file_lock(run.lock_path, what=f"Run folder {run.path}",
                                                     holder=request.checkpointing.lock_holder))
                run.remove_leftovers()
            mode = run.check(run_identity, request.checkpointing.resume)
            if mode == "finished":
                return None
            if mode == "fresh" and chief:
                run.start_fresh(run_identity)
        return _train(request, data, distribution, run, mode, progress)


def data_digest(data):
    """A short digest of a dataset's training and test images and labels (part of a run's identity)."""
    digest = hashlib.sha1()
    for array in (data.x_train, data.y_train, data.x_test, data.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def _train(request, data, distribution, run, mode, progress):
    """Build, fit (or resume), evaluate and time one run in this process (``distribution``: the
    multi-worker strategy already started, or None)."""
    settings, cluster = request.settings, request.cluster
    trained = sized_for(request.variant, data, settings.small_data)
    strategy = distribution or _local_strategy(request.placement, settings.deterministic)
    keras.utils.set_random_seed(settings.seed)
    chief = cluster is None or cluster.is_chief
    x_fit, x_val, y_fit, y_val = validation_split(data, settings.seed)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    train_data, steps = training_data(strategy, x_fit, y_fit, settings.batch_size, settings.seed, settings.augment,
                                      epoch)
    network = _compiled(trained, data.num_classes, settings, strategy, steps)
    if distribution is not None:
        multiworker.keras_workarounds(network, strategy, (x_fit[:1], y_fit[:1]))
    stopping = ResumableEarlyStopping(monitor="val_loss", patience=settings.patience, restore_best_weights=True)
    saver = RunCheckpoint(run, network, stopping, chief, cluster.task_index if cluster else 0) if run else None
    state = saver.restore() if mode == "resume" else None
    done = state["epoch"] if state else 0
    callbacks = [EpochSeeds(epoch, network), stopping,
                 TimeBudget(settings.max_seconds, state["seconds"] if state else 0.0,
                            multiworker.agreement(strategy) if distribution is not None else None),
                 EpochProgress(settings.epochs, progress, initial=done), *([saver] if saver else [])]
    start = time.perf_counter()
    fitted = _fit(network, train_data, (x_val, y_val), callbacks,
                  epochs=done if state and state["stopped"] else settings.epochs, initial=done, cluster=cluster)
    history = saver.history if saver else {k: [float(v) for v in vs] for k, vs in fitted.history.items()}
    seconds = saver.seconds() if saver else time.perf_counter() - start
    result = _evaluate(request, trained, network, data, chief and progress)
    result.update(epochs_run=len(history.get("loss", [])), train_seconds=seconds, replicas=strategy.num_replicas_in_sync,
                  resumed_from_epoch=done, run_dir=str(run.path) if run else "", history=history)
    result = TrainingResult(**result)
    if saver:
        if chief:
            run.write_result(result.to_dict(history=True))
        saver.finish()
    return result


def _local_strategy(placement, deterministic):
    """The strategy of one process: ``MirroredStrategy`` over ``placement.devices`` logical CPU
    devices, or the default strategy (one device)."""
    device_names = configure_devices(placement.devices)
    _determinism(deterministic)
    if placement.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(device_names[:placement.devices])
    return tf.distribute.get_strategy()


def _compiled(trained, num_classes, settings, strategy, steps):
    """``trained`` built under ``strategy``, compiled with Adam on a cosine schedule over
    ``settings.epochs`` epochs of ``steps`` steps, its optimizer built."""
    with strategy.scope():
        network = trained.build()
        _check_classes(network, trained, num_classes)
        schedule = keras.optimizers.schedules.CosineDecay(settings.learning_rate, decay_steps=settings.epochs * steps)
        network.compile(optimizer=keras.optimizers.Adam(schedule),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not _ends_in_softmax(network)),
                        metrics=["accuracy"])
        network.optimizer.build(network.trainable_variables)
    return network


def _fit(network, train_data, validation, callbacks, *, epochs, initial, cluster):
    """``network.fit`` from epoch ``initial`` to ``epochs``; a lost peer of ``cluster`` is ``PeerLost``."""
    try:
        with warnings.catch_warnings():  # a distributed dataset's length is unknown to Keras until it ends
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            return network.fit(train_data, epochs=epochs, initial_epoch=initial, validation_data=validation,
                               callbacks=callbacks, shuffle=False, verbose=0)
    except multiworker.PEER_ERRORS as error:
        if cluster is None:
            raise
        raise PeerLost(multiworker.peer_message(cluster, error)) from None


def _evaluate(request, trained, network, data, progress):
    """The fields of a ``TrainingResult`` that the trained ``network`` gives: held-out accuracy,
    costs and, on the chief, latency (ms, Keras, batch 1) and the quantized accuracies."""
    cluster = request.cluster
    logits = _predict(network, data.x_test)
    totals = summarize(network)
    latency_ms, converted = None, []
    if cluster is None or cluster.is_chief:
        # A copy outside the strategy: timing and converting it needs no other worker.
        model = network if cluster is None else _copy(trained, network)
        latency_ms = time_network(trained, configuration("keras"), timing=Timing(repeats=10, warmup=2),
                                  model=model).median_ms
        converted = (quantized_accuracy(trained, model, data, deployment_configurations(request.quantize),
                                        progress=progress) if request.quantize else [])
    return dict(network=request.variant.network, variant=trained.label, dataset=data.name, seed=request.settings.seed,
                accuracy=float(np.mean(np.argmax(logits, axis=1) == data.y_test)), params=totals["params"],
                macs=totals["macs"], latency_ms=latency_ms, devices=request.placement.devices,
                workers=cluster.num_workers if cluster else 1, quantized=converted)


def _determinism(deterministic):
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _predict(network, images):
    """Logits of ``network`` for ``images``, called batch by batch in this process (no collective)."""
    return np.concatenate([keras.ops.convert_to_numpy(network(images[i:i + PREDICT_BATCH], training=False))
                           for i in range(0, len(images), PREDICT_BATCH)])


def _copy(variant, network):
    """A copy of ``network`` built outside any strategy, with its weights."""
    model = variant.build()
    model.set_weights(network.get_weights())
    return model


def record_result(result, path=None):
    """Add ``result`` as a row of a CSV (default reports/tables/training_runs.csv), written
    atomically under a lock (two runs finishing at once both add their row); return its path."""
    path = Path(path or paths.TABLES_DIR / "training_runs.csv")
    row = pd.DataFrame([{**result.to_dict(), "quantized": json.dumps(result.quantized)}])
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.file_lock(path.parent, wait=True):  # the folder: a lock file would be left behind
        earlier = pd.read_csv(path) if path.is_file() else None
        atomic.write_csv(row if earlier is None else pd.concat([earlier, row], ignore_index=True), path)
    return path
