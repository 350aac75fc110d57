"""Deployable copies of a network, one per runtime and precision, converted once and cached.

Each runtime's record (``analysis.speed.runtimes``) says how it converts and
quantizes a network and which file that makes. Every int8 copy is
calibrated on real images passed in (``Calibration``). The cache key holds
the variant's label, the runtime, the precision, the calibration images,
the weights (``"any"`` where only the latency matters: it does not depend
on the weights), the batch where the file is made for one, and the
converter's version. Each copy is written into a temporary folder that is
renamed whole, so an interrupted conversion is never read back.
"""

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from analysis import atomic, paths
from analysis.versions import installed_version
from nets.errors import Failed

CALIBRATION_IMAGES = 64
# A copy timed for its speed alone: its int8 graph does not depend on the values calibrated.
SPEED_CALIBRATION_IMAGES = 8
ANY_WEIGHTS = "any"


class ConversionError(Failed):
    """A conversion or quantization that failed; names the runtime and the layer or operation."""


@dataclass(frozen=True)
class Calibration:
    """The images a post-training quantization is calibrated on; ``source`` says which."""

    source: str
    digest: str
    images: np.ndarray = field(repr=False, compare=False, hash=False)


def calibration_set(variant, images=None, count=CALIBRATION_IMAGES):
    """``count`` calibration images for ``variant``: the first of ``images`` (its training
    images) where given, otherwise scikit-learn's digits resized to its input."""
    if images is None:
        from analysis.datasets import load_dataset

        images = load_dataset("digits", image_size=variant.resolution).x_train[:count]
        source = f"digits resized to {variant.resolution} px ({len(images)} images)"
    else:
        images = np.asarray(images, dtype="float32")[:count]
        source = f"training images ({len(images)})"
    return Calibration(source, hashlib.sha1(images.tobytes()).hexdigest()[:12], images)


def speed_calibration(variant):
    """The calibration of a copy that is only timed: ``SPEED_CALIBRATION_IMAGES`` digits images
    (made once per resolution)."""
    return _digits_calibration(variant.resolution, SPEED_CALIBRATION_IMAGES)


@functools.lru_cache(maxsize=16)
def _digits_calibration(resolution, count):
    from analysis.variants import Variant

    return calibration_set(Variant("mobilenet", resolution=resolution), count=count)


def weights_digest(model):
    """A short digest of ``model``'s weights (a cache key for copies whose values matter)."""
    digest = hashlib.sha1()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()[:12]


def _version(distribution):
    return installed_version(distribution)[1] or "unknown"


def artifact_key(variant, config, calibration=None, weights=ANY_WEIGHTS, batch=None):
    """The cache key of a converted copy: what it was made from, and by which converter version."""
    record = config.record
    parts = [variant.fingerprint(), config.runtime, config.precision if config.precision == "int8" else "float",
             f"{record.converter} {_version(record.converter)}", f"weights {weights}"]
    if config.precision == "int8":
        parts += [f"calibration {calibration.digest}", f"{record.quantizer} {_version(record.quantizer)}"]
    if record.batch_in_artifact:
        parts.append(f"batch {batch}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def artifact_path(variant, config, calibration=None, weights=ANY_WEIGHTS, batch=1, cache_dir=None):
    """Where the converted copy of ``variant`` for ``config`` lies in the cache (a file there once
    ``converted`` has made it)."""
    key = artifact_key(variant, config, calibration, weights, batch)
    kind = config.precision if config.precision == "int8" else "float"
    folder = Path(paths.CACHE_DIR if cache_dir is None else cache_dir) / f"{variant.slug[:60]}-{config.runtime}-{kind}-{key}"
    return folder / config.record.artifact


def converted(variant, config, model, batch=1, calibration=None, weights=ANY_WEIGHTS, cache_dir=None,
              progress=False):
    """The path of ``variant`` converted for the ``Configuration`` ``config``, converting it once.

    Args:
        model: the variant's built ``keras.Model`` (its weights are the ones converted).
        batch: the batch size (for runtimes whose file is made for one).
        calibration: a ``Calibration``, required at int8.
        weights: ``weights_digest(model)`` where the values matter (accuracy), or
            ``ANY_WEIGHTS`` where only the speed does.

    Raises:
        ConversionError: naming the runtime and the layer or operation that failed.
    """
    record = config.record
    if config.precision == "int8" and calibration is None:
        raise ValueError(f"{config.label} needs calibration images (a Calibration)")
    path = artifact_path(variant, config, calibration, weights, batch, cache_dir)
    if path.is_file():
        return path
    folder = path.parent
    bar = tqdm(total=1, desc=f"converting {variant.label} for {config.label}", disable=not progress)
    with atomic.directory(folder) as partial:
        try:
            _make(variant, config, model, Path(partial) / record.artifact, calibration, batch, weights, cache_dir)
        except ConversionError:
            raise
        except Exception as error:
            raise ConversionError(_failure(config, model, error)) from error
        (Path(partial) / "source.json").write_text(json.dumps(
            {"variant": variant.label, "runtime": config.runtime, "precision": config.precision, "batch": batch,
             "calibration": calibration.source if calibration else None, "weights": weights}, indent=1))
    bar.update(1)
    bar.close()
    return path


def _make(variant, config, model, target, calibration, batch, weights, cache_dir):
    """Write the copy at ``target``: an int8 one from the cached float copy where the runtime
    quantizes a float copy, otherwise by the runtime's converter."""
    record = config.record
    if config.precision == "int8" and record.quantize is not None:
        from analysis.speed.runtimes import Configuration

        float_copy = converted(variant, Configuration(config.runtime, "fp32"), model, batch, weights=weights,
                               cache_dir=cache_dir)
        record.quantize(float_copy, target, calibration, batch)
    else:
        record.convert(model, target, config.precision, calibration, batch, variant)


def _failure(config, model, error):
    """One line naming the configuration and the layer (where the error names one)."""
    text = str(error).strip()
    layers = [layer.name for layer in model.layers
              if re.search(rf"(?<![A-Za-z0-9_]){re.escape(layer.name)}(?![A-Za-z0-9_])", text)]
    where = f" at layer {layers[-1]!r}" if layers else ""
    first = text.splitlines()[0][:240] if text else type(error).__name__
    return f"{config.runtime} {config.precision} conversion of {model.name!r} failed{where}: {first}"
