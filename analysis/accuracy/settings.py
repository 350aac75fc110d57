"""What a training run is asked for, checked once where it is asked: pure Python, so that the
command line answers bad input before TensorFlow loads.

- ``TrainingSettings``: how to train (image size, epochs, batch, learning rate,
  patience, augmentation, seed, time budget); left None, the network's ``RECOMMENDED``.
- ``Placement``: where it runs (devices, strategy, local workers, their timeout and restarts).
- ``Checkpointing``: the run folder that keeps a checkpoint each epoch, and whether to resume.
- ``TrainingRequest``: the three with the variant, the dataset and the precisions to
  quantize at, checked together (``TrainingRequest.checked``, called by ``training.train``
  and by the command line); everything below it trusts it.
"""

from dataclasses import asdict, dataclass, replace
from pathlib import Path

from analysis.accuracy import distributed, runs
from analysis.accuracy.distributed import DEFAULT_RESTARTS, DEFAULT_WORKER_TIMEOUT_S
from analysis.speed.runtimes import deployment_configurations
from nets import checks
from nets.errors import BadInput

# Schedules that reach the README's accuracy targets on digits at 32x32
# (benchmarks/bench_training.py); ``train`` uses them where not told otherwise.
RECOMMENDED = {
    "mobilenet": {"epochs": 80, "learning_rate": 3e-3, "patience": 30, "augment": True},
    "vgg16": {"epochs": 20, "learning_rate": 1e-4, "patience": 6},
}
_FALLBACK = {"epochs": 20, "learning_rate": 1e-3, "patience": 5, "augment": False}
RESUME_CHOICES = (False, True, "auto")


@dataclass(frozen=True)
class TrainingSettings:
    """How to train.

    Attributes:
        image_size: the image side (pixels) of a dataset loaded by name (a
            ``Dataset`` given keeps its own).
        epochs: the most epochs; early stopping (``patience`` epochs without a
            better validation loss, best weights restored; the validation images
            are a tenth of the training split, never the test split) and
            ``max_seconds`` may stop sooner.
        batch_size: the global batch size, split evenly over the replicas.
        learning_rate: Adam's initial rate, cosine-decayed to 0 over ``epochs``.
        augment: shift, rotate and zoom the training images at random each epoch
            (``pipeline.augmentation``), seeded by ``seed``.
        seed: seeds Python, NumPy and TensorFlow (``keras.utils.set_random_seed``),
            the order of the images and the augmentation.
        max_seconds: a training-time budget (seconds) over every session of the run.
        small_data: apply ``training.SMALL_DATA`` (see ``training.sized_for``).
        deterministic: ask TensorFlow for deterministic ops, so that the same seed
            gives the same result.

    ``epochs``, ``learning_rate``, ``patience`` and ``augment`` left None take the
    network's ``RECOMMENDED`` settings (``resolved``).
    """

    image_size: int = 32
    epochs: int = None
    batch_size: int = 32
    learning_rate: float = None
    patience: int = None
    augment: bool = None
    seed: int = 0
    max_seconds: float = None
    small_data: bool = True
    deterministic: bool = True

    def resolved(self, network):
        """These settings, each checked, with those left None taken from ``RECOMMENDED[network]``."""
        recommended = {**_FALLBACK, **RECOMMENDED.get(network, {})}

        def given(name):
            value = getattr(self, name)
            return recommended[name] if value is None else value

        return replace(
            self, image_size=checks.positive_int("image_size", self.image_size),
            epochs=checks.positive_int("epochs", given("epochs")),
            batch_size=checks.positive_int("batch_size", self.batch_size),
            learning_rate=checks.positive_number("learning_rate", given("learning_rate")),
            patience=checks.positive_int("patience", given("patience")), augment=bool(given("augment")),
            max_seconds=None if self.max_seconds is None else checks.positive_number("max_seconds", self.max_seconds))


@dataclass(frozen=True)
class Placement:
    """Where a run trains, always on ``tf.distribute``.

    Attributes:
        devices: data-parallel replicas of one process: ``MirroredStrategy`` over
            that many logical CPU devices (``training.configure_devices``).
        strategy: ``"single"``, ``"mirrored"`` or ``"multiworker"`` (default: from
            ``devices`` and ``workers``; ``distributed.resolve_strategy``).
        workers: start this many local ``MultiWorkerMirroredStrategy`` workers on
            127.0.0.1 (``launcher``); the run keeps a run folder (default reports/runs/...).
        worker_timeout: seconds that a worker waits for the others to join, and
            about the longest it takes to notice that one is gone; then the run
            ends with a message naming that worker.
        restarts: with ``workers``, how many times the workers are restarted from
            the checkpoint after one of them dies.
    """

    devices: int = 1
    strategy: str = None
    workers: int = None
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT_S
    restarts: int = DEFAULT_RESTARTS

    def resolved(self):
        """This placement, checked, with its strategy named."""
        return replace(self, strategy=distributed.resolve_strategy(self.strategy, self.devices, self.workers),
                       worker_timeout=checks.positive_number("worker_timeout", self.worker_timeout),
                       restarts=checks.positive_int("restarts", self.restarts, minimum=0))


@dataclass(frozen=True)
class Checkpointing:
    """The run folder of a run (``runs``): a checkpoint each epoch, the training log, the result.

    Attributes:
        run_dir: the folder (None: none kept, nothing to resume; local workers
            and ``default_folder`` use ``runs.default_run_dir``).
        resume: continue the run in ``run_dir`` from its last finished epoch;
            ``"auto"``: if it holds a checkpoint, else start. A checkpoint of a
            different network, dataset, seed or settings is refused, as is an
            interrupted run without ``resume``.
        default_folder: with no ``run_dir``, keep the run in its default folder
            (what the command line does).
        lock_holder: the pid of a launcher that holds the folder's lock for this
            worker (``launcher.launch_local``), or None.
    """

    run_dir: object = None
    resume: object = False
    default_folder: bool = False
    lock_holder: int = None


@dataclass(frozen=True)
class TrainingRequest:
    """One checked training run: what ``training.run_request`` and everything below it trust.

    ``dataset`` is a ``Dataset`` or a spec for ``load_dataset`` (a string);
    ``cluster`` the ``distributed.Cluster`` of ``TF_CONFIG`` under
    ``multiworker`` without local workers, else None.
    """

    variant: object
    dataset: object
    settings: TrainingSettings
    placement: Placement
    checkpointing: Checkpointing
    quantize: tuple = ()
    cluster: object = None

    @property
    def dataset_name(self):
        return self.dataset if isinstance(self.dataset, str) else self.dataset.name

    @property
    def identity(self):
        """The run's identity as asked, before the data is loaded (``runs.identity``)."""
        return runs.identity(self.variant, self.dataset_name, self.settings)

    @classmethod
    def checked(cls, variant, dataset="digits", settings=None, placement=None, checkpointing=None, quantize=()):
        """The request of these arguments, every one checked, the run folder (if any) checked
        against the run asked for and made; ``BadInput`` naming what is wrong.

        Checks: the settings and placement (``resolved``), ``resume``, ``TF_CONFIG``
        under ``multiworker``, a global batch that the replicas share evenly, and a
        run folder that holds no other run and can be written.
        """
        settings = (settings or TrainingSettings()).resolved(variant.network)
        if not isinstance(dataset, str):
            settings = replace(settings, image_size=dataset.image_size)
        placement = (placement or Placement()).resolved()
        checkpointing = checkpointing or Checkpointing()
        if checkpointing.resume not in RESUME_CHOICES:
            raise BadInput(f"resume must be False, True or 'auto'. Received resume={checkpointing.resume!r}")
        cluster = (distributed.cluster_from_environment()
                   if placement.strategy == "multiworker" and placement.workers is None else None)
        replicas = placement.workers or (cluster.num_workers if cluster else placement.devices)
        distributed.check_batch(settings.batch_size, replicas)
        if quantize:
            deployment_configurations(quantize)  # BadInput for a precision no deployed runtime offers
        request = cls(variant, dataset, settings, placement, checkpointing, tuple(quantize), cluster)
        return replace(request, checkpointing=replace(checkpointing, run_dir=request._checked_run_dir()))

    def _checked_run_dir(self):
        """The run folder, checked against this run and made writable (None: none kept)."""
        keep = self.checkpointing
        path = keep.run_dir
        if path is None and (keep.default_folder or self.placement.workers is not None):
            path = runs.default_run_dir(self.identity)
        if path is None:
            if keep.resume:
                raise BadInput("resume continues the run of a run folder: name it. Received run_dir=None")
            return None
        runs.RunFolder(path).check(self.identity, keep.resume)  # first: a refused folder is not created
        return runs.check_writable(path)

    def to_spec(self, dataset):
        """The JSON-ready spec of this request for a local worker (``from_spec``); ``dataset``:
        the dataset spec, or ``{"npz": path, "name": ..., "class_names": [...]}``."""
        return {"variant": self.variant.label, "dataset": dataset, "settings": asdict(self.settings),
                "worker_timeout": self.placement.worker_timeout, "run_dir": str(self.checkpointing.run_dir),
                "resume": self.checkpointing.resume, "quantize": list(self.quantize)}

    @staticmethod
    def spec_arguments(spec):
        """``(settings, placement, checkpointing, quantize)`` of a worker's spec (``to_spec``,
        with the launcher's ``lock_holder``): the worker runs under ``multiworker``."""
        return (TrainingSettings(**spec["settings"]),
                Placement(strategy="multiworker", worker_timeout=spec["worker_timeout"]),
                Checkpointing(Path(spec["run_dir"]), spec["resume"], lock_holder=spec.get("lock_holder")),
                tuple(spec["quantize"]))
