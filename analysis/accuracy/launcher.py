"""``train --workers N``: N MultiWorkerMirroredStrategy workers on this machine.

``launch_request`` writes a checked request's spec for the workers (and its
dataset, where given as arrays, as an ``.npz`` in the run folder);
``launch_local`` starts N worker processes on free 127.0.0.1 ports, each
running ``python -m analysis.accuracy.worker SPEC`` with its own
``TF_CONFIG`` (the cluster recipe of docs/training.md, on one host) and
``cores // N`` threads, so that N workers share the machine rather than
oversubscribe it. It holds the run folder's lock for them (its pid is the
spec's ``lock_holder``, which the workers pass to ``atomic.file_lock``), watches them,
stops them all when one fails, and when one dies (a signal, or a lost peer)
restarts them all, up to ``restarts`` times: they resume from the run
folder's last checkpoint. The chief (worker 0) writes the result into the
run folder; the launcher returns it. Each worker's console output goes to
``<run folder>/workers/worker-<i>.log``, and their pids to ``pids.json``.

Pure Python: the launcher itself never loads TensorFlow.
"""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from analysis import atomic
from analysis.accuracy import runs
from analysis.accuracy.distributed import DEFAULT_RESTARTS, WORKER_EXIT_PEER_LOST
from nets.errors import BadInput, Failed

EXIT_USAGE = BadInput.exit_status
EXIT_PEER_LOST = WORKER_EXIT_PEER_LOST
# TensorFlow takes SIGTERM as a preemption notice and carries on: a worker gets SIGKILL soon after.
STOP_GRACE_S = 3
_POLL_S = 0.1
# The folder that holds the ``analysis`` package: put on a worker's PYTHONPATH.
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def free_ports(count):
    """``count`` distinct TCP ports free on 127.0.0.1 now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def local_tf_config(ports, index):
    """The ``TF_CONFIG`` of local worker ``index`` of a cluster on 127.0.0.1 ``ports``."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def launch_request(request, progress=True):
    """Train the checked ``settings.TrainingRequest`` ``request`` (with ``placement.workers``)
    on local workers; return the chief's result (a dict). See ``launch_local``."""
    run_dir = request.checkpointing.run_dir
    npz = run_dir / runs.WORKERS_DIR / "dataset.npz"
    dataset = request.dataset
    if not isinstance(dataset, str):  # arrays: handed to the workers as a file
        buffer = io.BytesIO()
        np.savez(buffer, x_train=dataset.x_train, y_train=dataset.y_train, x_test=dataset.x_test,
                 y_test=dataset.y_test)
        atomic.write_bytes(npz, buffer.getvalue())
        dataset = {"npz": str(npz), "name": dataset.name, "class_names": list(dataset.class_names)}
    try:
        return launch_local(request.placement.workers, request.to_spec(dataset), run_dir,
                            request.placement.restarts, progress)
    finally:
        npz.unlink(missing_ok=True)


def launch_local(workers, spec, run_dir, restarts=DEFAULT_RESTARTS, progress=True):
    """Train with ``workers`` local worker processes; return the chief's result (a dict).

    Args:
        workers: worker processes (at least 1).
        spec: the request every worker trains (``TrainingRequest.to_spec``); the
            launcher adds its pid as ``lock_holder``.
        run_dir: the run folder, writable (its lock is held here for the workers).
        restarts: how many times the workers are restarted after one dies.

    Raises:
        BadInput: a worker refused its input (its one-line message).
        Failed: a worker failed, or died more than ``restarts`` times.
    """
    run = runs.RunFolder(run_dir)
    spec = {**spec, "lock_holder": os.getpid()}
    with atomic.file_lock(run.lock_path, what=f"Run folder {run.path}"):
        spec_path = atomic.write_text(run.path / f"launch-{os.getpid()}.json", json.dumps(spec, indent=1))
        try:
            for attempt in range(restarts + 1):
                outcome = _run_workers(workers, spec_path, run, attempt, progress)
                if outcome is None:
                    result = run.read_result()
                    result["restarts"] = attempt
                    return result
                if attempt == restarts:
                    raise Failed(f"{outcome}; gave up after {restarts} restart(s). The run folder {run.path} "
                                 "keeps the last checkpoint: rerun with --resume")
                spec = {**spec, "resume": "auto"}  # the restarted cluster continues from the checkpoint
                atomic.write_text(spec_path, json.dumps(spec, indent=1))
                print(f"{outcome}: restarting the {workers} worker(s) from the last checkpoint "
                      f"(restart {attempt + 1} of {restarts})", file=sys.stderr)
        finally:
            spec_path.unlink(missing_ok=True)


def _run_workers(workers, spec_path, run, attempt, progress):
    """Start the workers, wait for them; None when all succeeded, else why they may be restarted."""
    ports = free_ports(workers)
    logs_dir = run.path / runs.WORKERS_DIR
    logs_dir.mkdir(exist_ok=True)
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    procs, logs = [], []
    try:
        for index in range(workers):
            env = {**os.environ, "TF_CONFIG": local_tf_config(ports, index), "TF_CPP_MIN_LOG_LEVEL": "3",
                   "PYTHONPATH": os.pathsep.join(p for p in (str(_PACKAGE_PARENT), os.environ.get("PYTHONPATH"))
                                                 if p),
                   "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads, "OMP_NUM_THREADS": threads}
            # A worker's console output: a stream for diagnosis, not a result (those are in the run folder).
            log = open(logs_dir / f"worker-{index}.log", "a")
            log.write(f"--- start {attempt + 1}, TF_CONFIG={env['TF_CONFIG']}\n")
            log.flush()
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "analysis.accuracy.worker", str(spec_path)], env=env,
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent))
        atomic.write_text(logs_dir / "pids.json", json.dumps([p.pid for p in procs]))
        return _supervise(procs, run, progress)
    finally:
        _stop(procs)
        for log in logs:
            log.close()


def _supervise(procs, run, progress):
    """Wait for the workers, showing the epochs the run folder's log has; None when all succeeded,
    else why they may be restarted (a worker killed, or a lost peer)."""
    from tqdm.auto import tqdm  # here: the command line imports this module before it needs a bar

    logs_dir = run.path / runs.WORKERS_DIR
    with tqdm(total=run.stored_epochs(), desc="epochs", unit="epoch", disable=not progress) as bar:
        while True:
            codes = [p.poll() for p in procs]
            if all(code == 0 for code in codes):
                return None
            if any(code not in (None, 0) for code in codes):
                break
            done = run.logged_epochs()
            if done != bar.n:
                bar.total = bar.total or run.stored_epochs()
                bar.update(done - bar.n)
            time.sleep(_POLL_S)
    # One failed: give the others a moment to fail of it too, so that the cause is told from its effects;
    # then stop the rest (those stopped here are not counted as failed).
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        time.sleep(_POLL_S)
    codes = [p.poll() for p in procs]
    _stop(procs)
    killed = [i for i, code in enumerate(codes) if code is not None and code < 0]
    refused = [i for i, code in enumerate(codes) if code == EXIT_USAGE]
    failed = [i for i, code in enumerate(codes)
              if code not in (None, 0, EXIT_PEER_LOST, EXIT_USAGE) and i not in killed]
    if refused:
        raise BadInput(_last_line(logs_dir, refused[0]))
    if killed and not failed:
        return f"worker {killed[0]} was killed ({_signal_name(-codes[killed[0]])})"
    if failed:
        raise Failed(f"worker {failed[0]} failed: {_last_line(logs_dir, failed[0])}")
    return f"worker {codes.index(EXIT_PEER_LOST)} lost a peer: {_last_line(logs_dir, codes.index(EXIT_PEER_LOST))}"


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(logs_dir, index):
    """The last line worker ``index`` wrote to its log: its one-line error."""
    path = logs_dir / f"worker-{index}.log"
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()] \
        if path.is_file() else []
    if not lines or lines[-1].startswith("--- start"):
        return f"no message (see {path})"
    return lines[-1]


def _stop(procs):
    """Stop every worker still running: SIGTERM, then SIGKILL after ``STOP_GRACE_S``."""
    running = [p for p in procs if p.poll() is None]
    for p in running:
        p.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for p in running:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _die_with_parent():
    """In a worker (before exec): be killed if the launcher dies, so that no worker is orphaned."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
