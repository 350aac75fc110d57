"""Training across processes on tf.distribute: the cluster, and N local workers.

- ``parse_tf_config``: the standard ``TF_CONFIG`` that
  ``tf.distribute.MultiWorkerMirroredStrategy`` reads (``train --strategy
  multiworker`` on every host of a cluster), checked before TensorFlow loads:
  a malformed one is bad input.
- ``launch_local``: ``train --workers N``: N worker processes on this
  machine, on free 127.0.0.1 ports, each running ``python -m
  analysis.accuracy.distributed SPEC`` with its own ``TF_CONFIG`` (the very
  cluster recipe, on one host). The launcher holds the run folder's lock,
  watches the workers, stops them all when one fails, and when one dies (a
  signal, or a lost peer) restarts them all, up to ``restarts`` times: they
  resume from the last checkpoint of the run folder. The chief (worker 0)
  writes the result into the run folder; the launcher returns it.

Each worker gets ``cores // N`` threads, so N workers share the machine
rather than oversubscribe it. Workers that cannot reach each other give up
after ``worker_timeout`` seconds with a message naming the worker.

Pure Python: the launcher itself never loads TensorFlow.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from analysis import atomic
from analysis.accuracy import runs
from analysis.errors import BadInput, Failed
from nets import checks

DEFAULT_WORKER_TIMEOUT_S = 60
DEFAULT_RESTARTS = 2
JOBS = ("chief", "worker")  # the jobs MultiWorkerMirroredStrategy runs
STRATEGIES = ("single", "mirrored", "multiworker")
# Exit status of a worker that lost a peer (a worker died or became unreachable): the launcher
# restarts the cluster rather than failing (EX_TEMPFAIL).
EXIT_PEER_LOST = 75
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# TensorFlow takes SIGTERM as a preemption notice and carries on: a worker gets SIGKILL soon after.
STOP_GRACE_S = 3
_POLL_S = 0.1
# The folder that holds the ``analysis`` package: put on a worker's PYTHONPATH.
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


class PeerLost(Failed):
    """A worker of the cluster died or cannot be reached; the message names it."""


@dataclass(frozen=True)
class Cluster:
    """A parsed ``TF_CONFIG``: every task's address in MultiWorkerMirroredStrategy's order
    (the chief, then the workers), and this process's task."""

    tasks: tuple  # ((job, index, "host:port"), ...)
    task_type: str
    task_index: int

    @property
    def num_workers(self):
        return len(self.tasks)

    @property
    def is_chief(self):
        """The chief job's task, or worker 0 where there is no chief job (TensorFlow's rule)."""
        has_chief = any(job == "chief" for job, _, _ in self.tasks)
        return self.task_type == "chief" or (not has_chief and self.task_index == 0)

    @property
    def task_name(self):
        return f"{self.task_type} {self.task_index}"

    def peers(self):
        """``[(name, address), ...]`` of every other task."""
        return [(f"{job} {index}", address) for job, index, address in self.tasks
                if (job, index) != (self.task_type, self.task_index)]

    def name_of(self, device):
        """``"worker 1 (10.0.0.2:2222)"`` for a device such as ``/job:worker/replica:0/task:1``."""
        for job, index, address in self.tasks:
            if f"/job:{job}/" in device and f"/task:{index}" in device:
                return f"{job} {index} ({address})"
        return device


def resolve_strategy(strategy=None, devices=1, workers=None):
    """The strategy name that ``training.train`` uses: ``multiworker`` with ``workers``, ``mirrored`` with
    ``devices`` > 1, else ``single``; a contradiction is ``BadInput``. Pure Python."""
    devices = checks.positive_int("devices", devices)
    if workers is not None:
        checks.positive_int("workers", workers)
    if strategy is None:
        strategy = "multiworker" if workers is not None else "mirrored" if devices > 1 else "single"
    strategy = checks.one_of("strategy", strategy, STRATEGIES)
    if workers is not None and strategy != "multiworker":
        raise BadInput(f"workers starts MultiWorkerMirroredStrategy workers; it does not go with "
                       f"strategy={strategy!r}. Received workers={workers}")
    if strategy == "multiworker" and devices > 1:
        raise BadInput("With strategy='multiworker' each worker is one replica on its CPU; devices applies to "
                       f"one process (strategy='mirrored'). Received devices={devices}")
    if strategy == "single" and devices > 1:
        raise BadInput(f"strategy='single' trains on one device. Received devices={devices}")
    return strategy


def check_batch(batch_size, replicas):
    """``batch_size`` (the global batch) split evenly over ``replicas``. Pure Python."""
    batch_size = checks.positive_int("batch_size", batch_size)
    if batch_size % replicas:
        raise BadInput(f"batch_size is the global batch, split evenly over the {replicas} replicas: it must be "
                       f"a multiple of {replicas}. Received batch_size={batch_size}")
    return batch_size


def parse_tf_config(text):
    """The ``Cluster`` of a ``TF_CONFIG`` JSON string.

    Raises:
        BadInput: not JSON; no ``cluster`` of ``chief``/``worker`` address lists;
            an address that is not ``host:port``; a ``task`` whose type or index
            is not in the cluster. The message quotes what was received.
    """
    shown = text if len(text) <= 200 else text[:200] + "..."

    def bad(reason):
        return BadInput(f"TF_CONFIG {reason}. Received TF_CONFIG={shown!r}")

    try:
        config = json.loads(text)
    except (TypeError, ValueError) as error:
        raise bad(f"is not valid JSON ({error})") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise bad("needs a 'cluster' object, e.g. {\"cluster\": {\"worker\": [\"host1:2222\", \"host2:2222\"]}, "
                  "\"task\": {\"type\": \"worker\", \"index\": 0}}")
    cluster = config["cluster"]
    unknown = sorted(set(cluster) - set(JOBS))
    if unknown:
        raise bad(f"has jobs {unknown}; MultiWorkerMirroredStrategy runs only {' and '.join(JOBS)} tasks")
    tasks = []
    for job in JOBS:
        addresses = cluster.get(job, [])
        if not isinstance(addresses, list) or (job == "chief" and len(addresses) > 1):
            raise bad(f"cluster.{job} must be a list of 'host:port' addresses" + (" (one at most)" if job == "chief"
                                                                                  else ""))
        for index, address in enumerate(addresses):
            _check_address(address, bad)
            tasks.append((job, index, address))
    if not tasks:
        raise bad("lists no worker")
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise bad(f"needs a 'task' whose type is one of the cluster's jobs ({', '.join(cluster)})")
    index = task.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise bad(f"task.index must be an integer from 0 to {len(cluster[task['type']]) - 1}")
    return Cluster(tuple(tasks), task["type"], index)


def _check_address(address, bad):
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise bad(f"has an address that is not 'host:port': {address!r}")


def cluster_from_environment():
    """The ``Cluster`` of ``$TF_CONFIG``; its absence or a malformed one is ``BadInput``."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        raise BadInput("--strategy multiworker reads the cluster from the environment variable TF_CONFIG, "
                       "which is not set (see docs/training.md). Received TF_CONFIG=''")
    return parse_tf_config(text)


def rendezvous(cluster, timeout):
    """Wait until every other task of ``cluster`` is up, at most ``timeout`` seconds.

    Before TensorFlow starts, each task listens on its own port (the one
    ``TF_CONFIG`` gives it, which TensorFlow's server takes next) and connects
    to every other task's; it goes on when it has reached every task and
    every task has reached it, so that no task stops listening before all
    have met.

    Raises:
        PeerLost: the tasks still missing after ``timeout`` s, named with their address.
    """
    me = dict(((job, index), address) for job, index, address in cluster.tasks)[(cluster.task_type,
                                                                                cluster.task_index)]
    peers = dict(cluster.peers())
    listener = socket.socket(socket.AF_INET6 if me.startswith("[") else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("", int(me.rpartition(":")[2])))
    except OSError as error:
        listener.close()
        raise Failed(f"{cluster.task_name} cannot listen on its port {me} ({error.strerror})") from None
    listener.listen(len(peers) + 4)
    listener.settimeout(_POLL_S / 2)
    reached, heard = set(), set()
    deadline = time.monotonic() + timeout
    try:
        while len(reached) < len(peers) or len(heard) < len(peers):
            if time.monotonic() > deadline:
                missing = [f"{name} ({peers[name]})" for name in peers if name not in reached or name not in heard]
                raise PeerLost(f"{cluster.task_name}: {', '.join(missing)} did not join within {timeout:g} s "
                               "(--worker-timeout); check that every worker of TF_CONFIG is running and reachable")
            with contextlib.suppress(OSError):
                connection, _ = listener.accept()
                with connection:
                    connection.settimeout(1.0)
                    heard.add(connection.recv(64).decode(errors="replace").strip())
            for name, address in peers.items():
                if name not in reached:
                    host, _, port = address.rpartition(":")
                    with contextlib.suppress(OSError):
                        with socket.create_connection((host.strip("[]"), int(port)), timeout=_POLL_S) as s:
                            s.sendall(f"{cluster.task_name}\n".encode())
                        reached.add(name)
    finally:
        listener.close()


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


def launch_local(workers, spec, run_dir, restarts=DEFAULT_RESTARTS, progress=True):
    """Train with ``workers`` local worker processes; return the chief's result (a dict).

    Args:
        workers: worker processes (at least 1).
        spec: keyword arguments of ``training.train`` for every worker (JSON-ready:
            the variant as its label, the dataset as a spec or ``{"npz": path}``).
        run_dir: the run folder (its lock is held here for the workers).
        restarts: how many times the workers are restarted after one dies.

    Raises:
        BadInput: a worker refused its input (its one-line message).
        Failed: a worker failed, or died more than ``restarts`` times.
    """
    workers = checks.positive_int("workers", workers)
    restarts = checks.positive_int("restarts", restarts, minimum=0)
    run = runs.RunFolder(runs.check_writable(run_dir))
    with runs.file_lock(run.lock_path, what=f"Run folder {run.path}"):
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
                   "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads, "OMP_NUM_THREADS": threads,
                   runs.LOCK_HOLDER_ENV: str(os.getpid())}
            # A worker's console output: a stream for diagnosis, not a result (those are in the run folder).
            log = open(logs_dir / f"worker-{index}.log", "a")
            log.write(f"--- start {attempt + 1}, TF_CONFIG={env['TF_CONFIG']}\n")
            log.flush()
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "analysis.accuracy.distributed", str(spec_path)], env=env,
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


def worker_main(argv=None):
    """``python -m analysis.accuracy.distributed SPEC``: one worker of ``launch_local``."""
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    try:
        from analysis.accuracy import training

        training.train_from_spec(spec)
    except PeerLost as error:
        print(_first_line(error), flush=True)
        return EXIT_PEER_LOST
    except (BadInput, Failed) as error:
        print(_first_line(error), flush=True)
        return EXIT_USAGE if isinstance(error, BadInput) else EXIT_FAILED
    except Exception as error:  # noqa: BLE001 (a bug: one line here, the traceback above it in the log)
        import traceback

        traceback.print_exc(file=sys.stdout)
        print(f"bug: {type(error).__name__}: {_first_line(error)}", flush=True)
        return EXIT_FAILED
    return EXIT_OK


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


if __name__ == "__main__":
    sys.exit(worker_main())
