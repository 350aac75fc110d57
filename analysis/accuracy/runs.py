"""Run folders: where a training run keeps its checkpoints, log and result, and what it may resume.

A run folder (``Checkpointing(run_dir=...)``, ``train --run-dir DIR``; the
command line's default is ``reports/runs/<variant>_<dataset>_<size>px_seed<seed>``)
holds:

- ``run.json``: the run's identity (``identity``): the network, dataset,
  seed and every setting that shapes training. A checkpoint is resumed only
  by a run of the same identity; any other is refused with the differences.
- ``checkpoint``, ``ckpt-N.index``, ``ckpt-N.data-*``: the state after N
  finished epochs, written each epoch by ``tf.train.CheckpointManager``
  (``analysis.accuracy.checkpoints``). Its ``checkpoint`` file, which names
  the last complete checkpoint, is replaced atomically, so a run killed while
  saving resumes from the checkpoint before.
- ``log.csv``: the training log, one row per finished epoch: Keras' curves
  (loss, accuracy, val_loss, val_accuracy), ``seconds`` (the run's training
  seconds at the end of the epoch) and ``fit_seconds`` (the epoch's training
  steps alone, without validation).
- ``result.json``: the result, once the run has finished.
- ``workers/``: the checkpoints that non-chief workers write (and delete when
  the run finishes), and the console output of local workers.
- ``.lock``: held by the run that writes the folder; a second run of the
  same folder is refused while it is held.

Every file here is written to a temporary file in the folder and renamed
(``analysis.atomic``). Pure Python: the command line checks a run folder
before TensorFlow loads.
"""

import json
import re
import shutil
from pathlib import Path

from analysis import atomic, paths
from nets.errors import BadInput, Failed

RUNS_DIR_NAME = "runs"
IDENTITY_FILE, LOG_FILE, RESULT_FILE, LOCK_FILE = "run.json", "log.csv", "result.json", ".lock"
CHECKPOINT_PREFIX = "ckpt"
WORKERS_DIR = "workers"
_CHECKPOINT_LINE = re.compile(r'^model_checkpoint_path:\s*"(?P<name>[^"]+)"\s*$', re.MULTILINE)


def identity(variant, dataset, settings):
    """What a checkpoint belongs to: the variant asked for (its label), the dataset (its
    name: ``digits``, ``folder:PATH``) and the resolved ``TrainingSettings`` that shape
    training (image size, seed, batch size, epochs, learning rate, patience, augmentation,
    small-data options). JSON-ready."""
    return {"variant": variant.label, "dataset": dataset, "image_size": int(settings.image_size),
            "seed": int(settings.seed), "batch_size": int(settings.batch_size), "epochs": settings.epochs,
            "learning_rate": settings.learning_rate, "patience": settings.patience, "augment": settings.augment,
            "small_data": bool(settings.small_data)}


def default_run_dir(run_identity):
    """``reports/runs/<variant>_<dataset>_<size>px_seed<seed>``, with the label and dataset made
    file-name safe."""
    slug = "_".join([run_identity["variant"], run_identity["dataset"], f"{run_identity['image_size']}px",
                     f"seed{run_identity['seed']}"])
    return paths.REPORTS_DIR / RUNS_DIR_NAME / re.sub(r"[^A-Za-z0-9._=-]+", "-", slug).strip("-")


def check_writable(run_dir):
    """Create the run folder if needed and make sure that this process can write it."""
    return atomic.writable_folder(run_dir, "run_dir", "--run-dir")


class RunFolder:
    """One run folder: what it holds (``status``), whether a run may use it (``check``)."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    @property
    def lock_path(self):
        return self.path / LOCK_FILE

    def worker_dir(self, task_index):
        """Where non-chief worker ``task_index`` writes its own checkpoints."""
        return self.path / WORKERS_DIR / f"worker-{task_index}"

    def finished_epochs(self):
        """Epochs in the last complete checkpoint (0 if there is none)."""
        state = self.path / "checkpoint"
        if not state.is_file():
            return 0
        match = _CHECKPOINT_LINE.search(state.read_text())
        name = match and Path(match["name"]).name
        number = name and re.fullmatch(rf"{CHECKPOINT_PREFIX}-(\d+)", name)
        if not number or not (self.path / f"{name}.index").is_file():
            raise Failed(f"The checkpoint of run folder {self.path} is unreadable: its 'checkpoint' file names "
                         f"{name!r}, which is not a complete checkpoint")
        return int(number[1])

    def stored_identity(self):
        """The identity in ``run.json``, or None."""
        path = self.path / IDENTITY_FILE
        return json.loads(path.read_text())["identity"] if path.is_file() else None

    def stored_epochs(self):
        """The epochs the stored identity asks for (None without one)."""
        stored = self.stored_identity()
        return stored and stored.get("epochs")

    def logged_epochs(self):
        """Rows of the training log: the epochs finished so far."""
        path = self.path / LOG_FILE
        return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0

    def finished(self):
        return (self.path / RESULT_FILE).is_file()

    def status(self):
        """``"empty"``, ``"interrupted"`` (a checkpoint, no result) or ``"finished"``."""
        if self.finished():
            return "finished"
        return "interrupted" if self.finished_epochs() else "empty"

    def check(self, run_identity, resume=False):
        """What a run of ``run_identity`` does with this folder: ``"fresh"`` (start from
        nothing, replacing a finished run), ``"resume"`` (continue from the checkpoint) or
        ``"finished"`` (nothing left to train: the stored result stands).

        ``resume``: False (a checkpoint of an unfinished run is refused: nothing is
        thrown away unasked), True (a checkpoint is required) or ``"auto"`` (resume if
        there is one: what restarted workers do).

        Raises:
            BadInput: ``resume=True`` with no checkpoint; a checkpoint of another
                identity (the message names the differences); an interrupted
                run without ``resume``.
        """
        status = self.status()
        if status == "empty":
            if resume is True:
                raise BadInput(f"--resume: run folder {self.path} holds no checkpoint to resume. "
                               f"Received run_dir={str(self.path)!r}")
            return "fresh"
        if not resume and status == "finished":
            return "fresh"
        stored = self.stored_identity()
        if stored is None:
            raise Failed(f"Run folder {self.path} holds a checkpoint but no {IDENTITY_FILE}: it cannot be "
                         "checked; name another --run-dir")
        differences = describe_differences(stored, run_identity)
        epochs = f"{self.finished_epochs()} of {stored.get('epochs')} epochs"
        if differences:
            raise BadInput(f"Run folder {self.path} holds a checkpoint of a different run ({differences}); "
                           "name another --run-dir, or ask for the same run")
        if not resume:
            raise BadInput(f"Run folder {self.path} holds an interrupted run ({epochs} done): add --resume "
                           "to continue it, or name another --run-dir")
        return "finished" if status == "finished" else "resume"

    def remove_leftovers(self):
        """Remove what writers killed mid-write left (``.*.partial`` files, ``ckpt-N_temp``
        folders): never read, only clutter. Only for the holder of the folder's lock."""
        for path in [*self.path.glob(".*.partial"), *self.path.glob(f"{CHECKPOINT_PREFIX}-*_temp*"),
                     *(self.path / WORKERS_DIR).glob(".*.partial")]:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)

    def start_fresh(self, run_identity):
        """Remove what an earlier run left (checkpoints, log, result) and write ``run.json``."""
        for path in self.path.iterdir():
            if path.name in (LOCK_FILE, WORKERS_DIR) or path.name.startswith("launch-"):
                continue
            if path.name == "checkpoint" or path.name in (IDENTITY_FILE, LOG_FILE, RESULT_FILE) \
                    or path.name.startswith(f"{CHECKPOINT_PREFIX}-"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        for folder in (self.path / WORKERS_DIR).glob("worker-*"):
            if folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
        atomic.write_text(self.path / IDENTITY_FILE, json.dumps({"identity": run_identity}, indent=1) + "\n")

    def write_log(self, history):
        """``log.csv``: one row per finished epoch of ``history`` (per-epoch columns)."""
        names = list(history)
        rows = zip(*(history[name] for name in names))
        lines = [",".join(["epoch", *names])]
        lines += [",".join([str(epoch + 1), *(repr(float(v)) for v in row)]) for epoch, row in enumerate(rows)]
        return atomic.write_text(self.path / LOG_FILE, "\n".join(lines) + "\n")

    def write_result(self, result):
        return atomic.write_text(self.path / RESULT_FILE, json.dumps(result, indent=1) + "\n")

    def read_result(self):
        return json.loads((self.path / RESULT_FILE).read_text())


def describe_differences(stored, asked):
    """``"seed=3 there, seed=4 asked; ..."`` for every key of ``asked`` whose value differs, or ``""``
    (the command line, before any data is loaded, asks without the data's digest)."""
    keys = [k for k in asked if stored.get(k) != asked[k]]
    return "; ".join(f"{k}={stored.get(k)!r} there, {k}={asked.get(k)!r} asked" for k in keys)
