"""What a network costs: parameters, multiply-adds, memory, checked by independent counters.

- ``analysis.cost.table``: the per-layer table (``layer_table``) and its
  totals; ``analysis.cost.groups``: its rows by block and by role. The
  notebooks' entry points (``layer_table``, ``summarize``, ``compare_table``,
  ``cost_sweep``, the groupings and ``MAC_CONVENTION``) are offered here too.
- ``analysis.cost.separable``: standard against depthwise separable
  convolution in closed form.
- ``analysis.cost.published``: the figures printed in the papers, and the
  MobileNet paper's tables rebuilt from our networks.
- ``analysis.cost.crosscheck``: our counts beside fvcore's
  (``fvcore_count``) and the TensorFlow profiler's (``tf_profiler``).
- ``analysis.cost.attribution``: parameters and MACs of the convolutional
  body against the classifier head (``attribution``, ``attribution_ratios``).
- ``analysis.cost.sliding``: the fully connected head as convolutions,
  VGG16 evaluated densely on a larger image (``score_map``).
- ``analysis.cost.memory``: weights, gradients, optimizer state and
  activations to train, per batch (``training_memory``).
- ``analysis.cost.cs231n``: the cs231n VGG16 memory table recounted
  (``recount``, ``recount_totals``).
"""

from analysis.cost.formulas import MAC_CONVENTION
from analysis.cost.groups import block_of, block_totals, layer_role, role_totals
from analysis.cost.table import compare_table, cost_sweep, layer_table, summarize

__all__ = ["MAC_CONVENTION", "block_of", "block_totals", "compare_table", "cost_sweep", "layer_role", "layer_table",
           "role_totals", "summarize"]
