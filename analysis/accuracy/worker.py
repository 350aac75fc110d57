"""One local worker of ``launcher.launch_local``: ``python -m analysis.accuracy.worker SPEC``.

The worker reads the spec the launcher wrote (``settings.TrainingRequest.to_spec``, with the
launcher's pid as ``lock_holder``), checks it as the request of a ``multiworker`` run on the
cluster of its ``TF_CONFIG``, and trains it (``training.run_request``); the chief writes the
result into the run folder. Its one-line error goes to its log (standard output), with the
traceback for a bug; its exit status tells the launcher what happened (``nets.errors``).
"""

import json
import sys
from pathlib import Path

import numpy as np

from analysis.accuracy import training
from analysis.datasets import Dataset
from analysis.accuracy.distributed import WORKER_EXIT_PEER_LOST, PeerLost
from analysis.accuracy.settings import TrainingRequest
from analysis.variants import Variant
from nets import errors

EXIT_OK = 0


def train_from_spec(spec):
    """Train the request of a launcher's spec (a dict) on this worker; return its ``TrainingResult``."""
    dataset = spec["dataset"]
    if isinstance(dataset, dict):
        with np.load(dataset["npz"]) as arrays:
            dataset = Dataset(dataset["name"], arrays["x_train"], arrays["y_train"], arrays["x_test"],
                              arrays["y_test"], list(dataset["class_names"]))
    request = TrainingRequest.checked(Variant.parse(spec["variant"]), dataset,
                                      *TrainingRequest.spec_arguments(spec))
    return training.run_request(request, progress=False, record=False)


def worker_main(argv=None):
    """Run the worker of the spec file ``argv[0]``; return its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    try:
        train_from_spec(spec)
    except Exception as error:  # noqa: BLE001 (nets.errors.report gives the status)
        status = errors.report(error, "", debug=not isinstance(error, errors.SuiteError), stream=sys.stdout)
        return WORKER_EXIT_PEER_LOST if isinstance(error, PeerLost) else status
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(worker_main())
