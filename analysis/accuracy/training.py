"""A small, seeded, bounded training loop for a variant on a dataset, on tf.distribute.

``train`` builds a variant from scratch, sized for the dataset
(``sized_for``: its image size, its classes, logits), trains it with Adam
and a cosine learning-rate schedule for at most ``epochs`` (early stopping
on the loss of a validation tenth of the training images, and an optional
time budget), on training images shifted, turned and zoomed at random each
epoch where asked (``augmentation``; MobileNet's default), then records
held-out top-1 accuracy, training time, parameters, MACs and measured
latency.

Where it runs (``strategy``), always on ``tf.distribute``: ``"single"`` (one
device), ``"mirrored"`` (``MirroredStrategy`` over ``devices`` logical CPU
devices) or ``"multiworker"`` (``MultiWorkerMirroredStrategy``, one replica per
worker process, the cluster read from ``TF_CONFIG``: run the same call on every
host, docs/training.md); ``workers=N`` starts N such processes here
(``analysis.accuracy.launcher``). Every replica reads its own slice of each
global batch of ``batch_size`` (``analysis.accuracy.pipeline``).

With a run folder (``run_dir``, ``analysis.accuracy.runs``) the run is checkpointed each epoch
(``analysis.accuracy.checkpoints``) and ``resume`` continues it, exactly.

Small data and batch norm: Keras' default BN momentum (0.99) makes the
moving statistics lag far behind the weights on a dataset of a few dozen
batches per epoch, so a MobileNet scores chance in evaluation for many
epochs while its training accuracy climbs. ``sized_for`` therefore sets
``bn_momentum=0.9`` for a MobileNet left at the default (``SMALL_DATA``);
notebook 05 shows both.
"""

import contextlib
import hashlib
import io
import json
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import atomic, paths
from analysis.accuracy import distributed, launcher, multiworker, runs
from analysis.accuracy.callbacks import EpochProgress, EpochSeeds, ResumableEarlyStopping, TimeBudget
from analysis.accuracy.checkpoints import RunCheckpoint
from analysis.accuracy.datasets import Dataset, load_dataset
from analysis.accuracy.distributed import DEFAULT_WORKER_TIMEOUT_S, PeerLost, check_batch, resolve_strategy
from analysis.accuracy.launcher import DEFAULT_RESTARTS
# augmentation and VALIDATION_FRACTION re-exported: notebook 05 and the benchmarks name them here.
from analysis.accuracy.pipeline import VALIDATION_FRACTION, augmentation, training_data, validation_split  # noqa: F401
from analysis.accuracy.quantized import quantized_accuracy
from analysis.accuracy.runs import RECOMMENDED  # noqa: F401 (re-exported: notebooks read training.RECOMMENDED)
from analysis.cost.table import summarize
from nets.errors import BadInput
from analysis.speed.latency import Timing, time_network
from analysis.speed.runtimes import configuration, deployment_configurations
from analysis.variants import FC6_AUTO, Variant
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
        ``multiworker``, workers other than the chief return no latency (None)
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
    if cluster:
        _determinism(deterministic)
    distribution = multiworker.start(cluster, worker_timeout) if cluster else None
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
    x_fit, x_val, y_fit, y_val = validation_split(data, seed)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    train_data, steps = training_data(strategy, x_fit, y_fit, batch_size, seed, settings["augment"], epoch)
    with strategy.scope():
        network = trained.build()
        _check_classes(network, trained, data.num_classes)
        schedule = keras.optimizers.schedules.CosineDecay(settings["learning_rate"],
                                                          decay_steps=settings["epochs"] * steps)
        network.compile(optimizer=keras.optimizers.Adam(schedule),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not _ends_in_softmax(network)),
                        metrics=["accuracy"])
        network.optimizer.build(network.trainable_variables)
    if strategy_name == "multiworker":
        multiworker.keras_workarounds(network, strategy, (x_fit[:1], y_fit[:1]))
    stopping = ResumableEarlyStopping(monitor="val_loss", patience=settings["patience"], restore_best_weights=True)
    saver = RunCheckpoint(run, network, stopping, chief, cluster.task_index if cluster else 0) if run else None
    state = saver.restore() if mode == "resume" else None
    done = state["epoch"] if state else 0
    callbacks = [EpochSeeds(epoch, network), stopping,
                 TimeBudget(max_seconds, state["seconds"] if state else 0.0,
                            multiworker.agreement(strategy) if strategy_name == "multiworker" else None),
                 EpochProgress(settings["epochs"], progress, initial=done), *([saver] if saver else [])]
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # a distributed dataset's length is unknown to Keras until it ends
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            fitted = network.fit(train_data, epochs=done if state and state["stopped"] else settings["epochs"],
                                 initial_epoch=done, validation_data=(x_val, y_val), callbacks=callbacks,
                                 shuffle=False, verbose=0)
    except multiworker.PEER_ERRORS as error:
        if cluster is None:
            raise
        raise PeerLost(multiworker.peer_message(cluster, error)) from None
    history = saver.history if saver else {k: [float(v) for v in vs] for k, vs in fitted.history.items()}
    seconds = saver.seconds() if saver else time.perf_counter() - start
    logits = _predict(network, data.x_test)
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    totals = summarize(network)
    latency_ms, converted = None, []
    if chief:
        # A copy outside the strategy: timing and converting it needs no other worker.
        model = network if strategy_name != "multiworker" else _copy(trained, network)
        latency_ms = time_network(trained, configuration("keras"), timing=Timing(repeats=10, warmup=2),
                                  model=model).median_ms
        converted = quantized_accuracy(trained, model, data, deployment_configurations(quantize), progress=progress) if quantize else []
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
    """Run ``train`` on one worker from a launcher's JSON spec (``launcher.launch_local``)."""
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
    """``train(workers=N)``: launch N local workers (``launcher.launch_local``), return the chief's result."""
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
        result = TrainingResult.from_dict(launcher.launch_local(workers, spec, run_dir, restarts, progress))
    finally:
        (Path(run_dir) / runs.WORKERS_DIR / "dataset.npz").unlink(missing_ok=True)
    if record:
        record_result(result)
    return result


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
    with runs.file_lock(path.parent, wait=True):  # the folder: a lock file would be left behind
        earlier = pd.read_csv(path) if path.is_file() else None
        atomic.write_csv(row if earlier is None else pd.concat([earlier, row], ignore_index=True), path)
    return path
