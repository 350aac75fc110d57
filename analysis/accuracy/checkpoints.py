"""A training run's checkpoint each epoch, and what makes a resumed run the same run.

``RunCheckpoint`` (a Keras callback) saves, at the end of every epoch, with
a ``tf.train.CheckpointManager`` in the run folder (``analysis.accuracy.runs``):

- the network's weights (batch-norm statistics included) and the optimizer's
  variables (its step count, so the learning-rate schedule goes on);
- the early-stopping state and the best weights it would restore;
- the per-epoch history and timings, the training seconds so far, whether
  training stopped, and the epoch: one JSON string variable.

All of it is one checkpoint, committed by the atomic rewrite of the folder's
``checkpoint`` file, so the state resumed is always one epoch's whole state.
As Keras' ``BackupAndRestore`` does under ``MultiWorkerMirroredStrategy``,
every worker saves (saving may take part in collectives), the chief into the
run folder and the others into ``workers/worker-<i>/`` (removed when the run
ends); every worker restores from the chief's checkpoint, so on a cluster
the run folder must be on a file system all workers read.

What else a resumed run needs to be the same run, its random draws, is
``analysis.accuracy.callbacks.EpochSeeds``'s.
"""

import json
import shutil
import time

from analysis.accuracy import runs
from nets.errors import Failed
from nets.backend import keras

# After Keras (nets.backend), so that TensorFlow starts quietly.
import tensorflow as tf

class RunCheckpoint(keras.callbacks.Callback):
    """Checkpoint the whole training state at the end of every epoch (see the module).

    Args:
        run: the ``runs.RunFolder``.
        model: the compiled network (its optimizer built).
        early_stopping: the ``ResumableEarlyStopping`` of the run.
        chief: this process writes the run folder; other workers write their own folder.
        task_index: this worker's index (names a non-chief worker's folder).
    """

    def __init__(self, run, model, early_stopping, chief=True, task_index=0):
        super().__init__()
        self.run, self.chief, self.task_index = run, chief, task_index
        self.early_stopping = early_stopping
        self.history, self.seconds_before, self.started = {}, 0.0, None
        # Per epoch: the run's training seconds at its end, and the seconds of its training steps alone.
        self.timing, self.epoch_started, self.fit_seconds = {"seconds": [], "fit_seconds": []}, None, None
        # Plain variables, outside any strategy: the best weights and the JSON state.
        self.best = [tf.Variable(tf.zeros(w.shape, w.dtype), trainable=False) for w in model.weights]
        self.state = tf.Variable("", dtype=tf.string, trainable=False)
        self.checkpoint = tf.train.Checkpoint(weights=list(model.weights), optimizer=list(model.optimizer.variables),
                                              best_weights=self.best, state=self.state)
        self.directory = run.path if chief else run.worker_dir(task_index)
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=1,
                                                  checkpoint_name=runs.CHECKPOINT_PREFIX)

    def restore(self):
        """Load the chief's last checkpoint into the network, the optimizer and the early
        stopping; return its state (``epoch``, ``history``, ``seconds``, ``stopped``)."""
        path = tf.train.latest_checkpoint(str(self.run.path))
        if path is None:
            raise Failed(f"Run folder {self.run.path} lost its checkpoint while this run started")
        try:
            self.checkpoint.read(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise Failed(f"The checkpoint {path} does not fit this network: {str(error).splitlines()[0]}") from None
        state = json.loads(self.state.numpy().decode("utf8"))
        best = [v.numpy() for v in self.best] if state["has_best"] else None
        self.early_stopping.restored = (state["early_stopping"], best)
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.timing = {k: list(v) for k, v in state["timing"].items()}
        self.seconds_before = state["seconds"]
        return state

    def seconds(self):
        """Training seconds of the run so far, over every session that trained it."""
        return self.seconds_before + (time.perf_counter() - self.started if self.started else 0.0)

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started, self.fit_seconds = time.perf_counter(), None

    def on_test_begin(self, logs=None):  # the epoch's validation starts: its training steps are done
        if self.fit_seconds is None and self.epoch_started is not None:
            self.fit_seconds = time.perf_counter() - self.epoch_started

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        self.timing["seconds"].append(self.seconds())
        self.timing["fit_seconds"].append(self.fit_seconds or time.perf_counter() - self.epoch_started)
        stopping = self.early_stopping
        if stopping.best_weights is not None and stopping.best_epoch == epoch:
            for variable, value in zip(self.best, stopping.best_weights):
                variable.assign(value)
        self.state.assign(json.dumps({
            "epoch": epoch + 1, "history": self.history, "timing": self.timing, "seconds": self.seconds(),
            "stopped": bool(self.model.stop_training), "early_stopping": stopping.state(),
            "has_best": stopping.best_weights is not None}))
        self.manager.save(checkpoint_number=epoch + 1)
        if self.chief:
            self.run.write_log({**self.history, **self.timing})

    def finish(self):
        """The run is over: drop the checkpoints (the result and the log stay)."""
        shutil.rmtree(self.run.worker_dir(self.task_index), ignore_errors=True)
        if self.chief:
            (self.run.path / "checkpoint").unlink(missing_ok=True)
            for path in self.run.path.glob(f"{runs.CHECKPOINT_PREFIX}-*"):
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
