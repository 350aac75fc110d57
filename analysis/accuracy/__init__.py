"""What accuracy a network buys, and at what cost.

- ``analysis.accuracy.datasets``: digits, an image folder, or tfds.
- ``analysis.accuracy.training``: a small, seeded training loop.
- ``analysis.accuracy.tradeoffs``: published accuracy joined with computed
  costs and measured latency; the Pareto front.
"""
