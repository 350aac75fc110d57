"""The cluster of multi-worker training, before TensorFlow starts: pure Python.

- ``parse_tf_config``: the standard ``TF_CONFIG`` that
  ``tf.distribute.MultiWorkerMirroredStrategy`` reads (``train --strategy
  multiworker`` on every host of a cluster): a malformed one is bad input,
  answered before TensorFlow loads.
- ``resolve_strategy`` and ``check_batch``: the strategy a ``train`` call
  asks for, and a global batch that its replicas share evenly.
- ``rendezvous``: the workers meet on their own ports before TensorFlow
  starts, so that one that cannot be reached is named within the timeout
  (TensorFlow's own wait has none).

Running on N local workers is ``analysis.accuracy.launcher``'s; starting the
strategy, ``analysis.accuracy.multiworker``'s.
"""

import contextlib
import json
import os
import socket
import time
from dataclasses import dataclass

from nets.errors import BadInput, Failed
from nets import checks

DEFAULT_WORKER_TIMEOUT_S = 60
DEFAULT_RESTARTS = 2  # times local workers are restarted after one dies
JOBS = ("chief", "worker")  # the jobs MultiWorkerMirroredStrategy runs
STRATEGIES = ("single", "mirrored", "multiworker")
_POLL_S = 0.1


class PeerLost(Failed):
    """A worker of the cluster died or cannot be reached; the message names it. A local worker
    exits with ``WORKER_EXIT_PEER_LOST`` for it, which tells its launcher to restart the cluster."""


# The exit status of a local worker that lost a peer (EX_TEMPFAIL): the launcher restarts, not fails.
WORKER_EXIT_PEER_LOST = 75


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
    """The strategy name that a training run uses: ``multiworker`` with ``workers``, ``mirrored`` with
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
