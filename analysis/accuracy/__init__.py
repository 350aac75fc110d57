"""What accuracy a network buys, and at what cost.

- ``analysis.datasets`` (one level up, shared with the int8 calibration): digits, an image
  folder, or tfds.
- ``analysis.accuracy.settings``: what a training run is asked for (settings, placement,
  run folder), checked once (pure Python).
- ``analysis.accuracy.training``: a small, seeded training loop on ``tf.distribute``.
- ``analysis.accuracy.pipeline``: the validation split, the augmentation and each
  replica's slice of every global batch, drawn from (seed, epoch) alone.
- ``analysis.accuracy.callbacks`` and ``analysis.accuracy.checkpoints``: the
  run's callbacks, and its checkpoint each epoch (what makes a resumed run the same run).
- ``analysis.accuracy.runs``: run folders and what may resume them.
- ``analysis.accuracy.distributed`` (pure Python: ``TF_CONFIG``),
  ``analysis.accuracy.multiworker`` (``MultiWorkerMirroredStrategy``) and
  ``analysis.accuracy.launcher`` (``--workers N`` local processes, each running
  ``analysis.accuracy.worker``).
- ``analysis.accuracy.quantized``: accuracy after conversion to a runtime and precision.
- ``analysis.accuracy.tradeoffs``: published accuracy joined with computed
  costs and measured latency; the Pareto front.
- ``analysis.accuracy.sweep``: the training sweep that notebook 05 shows (shipped).
"""
