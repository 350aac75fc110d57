"""Accuracy after deployment: a trained network converted to each runtime at a precision, and
its held-out test images run through the converted copy.

int8 copies are calibrated on the network's own training images
(``analysis.speed.conversions.calibration_set``), as a deployment would
be. The copies are cached on the weights (``weights_digest``), so a
retrained network is converted again.
"""

import numpy as np
from tqdm.auto import tqdm

from analysis.speed import check_installed, deployment_pairs
from analysis.speed.conversions import calibration_set, converted, weights_digest
from analysis.speed.machine import bf16_supported
from analysis.speed.runtimes import deployed_runner

EVALUATION_BATCH = 1  # ONNX copies have static shapes; one image at a time, as deployed


def quantized_accuracy(variant, model, dataset, precisions=("int8",), threads=None, progress=True):
    """Held-out top-1 accuracy (0..1) of ``model`` (the trained ``variant``) after conversion to
    every runtime that offers each of ``precisions``, with the fp32 copy of that runtime beside it.

    Returns:
        A list of dicts ``{runtime, precision, accuracy, calibration, note}``; a precision this
        machine cannot run (bf16 without CPU support) has accuracy None and a note.
    """
    pairs = deployment_pairs(precisions)
    for runtime in {r for r, _ in pairs}:
        check_installed(runtime)
    calibration = calibration_set(variant, dataset.x_train)
    weights = weights_digest(model)
    rows = []
    for runtime, precision in tqdm(pairs, desc="accuracy after conversion", disable=not progress):
        row = {"runtime": runtime, "precision": precision, "accuracy": None,
               "calibration": calibration.source if precision == "int8" else "", "note": ""}
        if precision == "bf16" and not bf16_supported():
            row["note"] = "bf16 is not supported by this CPU (no avx512_bf16 or amx_bf16)"
        else:
            path = converted(variant, runtime, precision, model, batch=EVALUATION_BATCH,
                             calibration=calibration if precision == "int8" else None, weights=weights)
            row["accuracy"] = _accuracy(runtime, precision, path, dataset, threads)
        rows.append(row)
    return rows


def _accuracy(runtime, precision, path, dataset, threads):
    """Top-1 accuracy of the copy at ``path`` on ``dataset``'s test images, one image per call."""
    shape = (EVALUATION_BATCH,) + dataset.x_test.shape[1:]
    run = deployed_runner(runtime, path, shape, threads or 1, precision)
    predictions = [int(np.argmax(run(dataset.x_test[i:i + 1]))) for i in range(len(dataset.x_test))]
    return float(np.mean(np.array(predictions) == dataset.y_test))
