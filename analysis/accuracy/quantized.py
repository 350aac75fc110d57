"""Accuracy after deployment: a trained network converted to each runtime at a precision, and
its held-out test images run through the converted copy.

int8 copies are calibrated on the network's own training images
(``analysis.speed.conversions.calibration_set``), as a deployment would
be. The copies are cached on the weights (``weights_digest``), so a
retrained network is converted again.
"""

import numpy as np
from tqdm.auto import tqdm

from analysis.speed.conversions import calibration_set, converted, weights_digest
from analysis.speed.cpu import bf16_supported

EVALUATION_BATCH = 1  # ONNX copies have static shapes; one image at a time, as deployed


def quantized_accuracy(variant, model, dataset, configs, threads=None, progress=True):
    """Held-out top-1 accuracy (0..1) of ``model`` (the trained ``variant``) after conversion to each
    deployed ``Configuration`` of ``configs`` (``runtimes.deployment_configurations``).

    Returns:
        A list of dicts ``{runtime, precision, accuracy, calibration, note}``; a precision this
        machine cannot run (bf16 without CPU support) has accuracy None and a note.
    """
    calibration = calibration_set(variant, dataset.x_train)
    weights = weights_digest(model)
    rows = []
    for config in tqdm(configs, desc="accuracy after conversion", disable=not progress):
        int8 = config.precision == "int8"
        row = {"runtime": config.runtime, "precision": config.precision, "accuracy": None,
               "calibration": calibration.source if int8 else "", "note": ""}
        if config.precision == "bf16" and not bf16_supported():
            row["note"] = "bf16 is not supported by this CPU (no avx512_bf16 or amx_bf16)"
        else:
            path = converted(variant, config, model, batch=EVALUATION_BATCH, calibration=calibration if int8 else None,
                             weights=weights)
            row["accuracy"] = _accuracy(config, path, dataset, threads)
        rows.append(row)
    return rows


def _accuracy(config, path, dataset, threads):
    """Top-1 accuracy of the copy at ``path`` on ``dataset``'s test images, one image per call."""
    shape = (EVALUATION_BATCH,) + dataset.x_test.shape[1:]
    run = config.record.load(path, shape, threads or 1, config.precision)
    predictions = [int(np.argmax(run(dataset.x_test[i:i + 1]))) for i in range(len(dataset.x_test))]
    return float(np.mean(np.array(predictions) == dataset.y_test))
