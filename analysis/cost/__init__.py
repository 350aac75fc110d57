"""What a network costs: parameters, multiply-adds, memory, checked by independent counters.

- ``analysis.cost.table``: the per-layer table (``layer_table``) and its
  totals, blocks and roles; re-exported here.
- ``analysis.cost.separable``: standard against depthwise separable
  convolution in closed form.
- ``analysis.cost.published``: the figures printed in the papers, and the
  MobileNet paper's tables rebuilt from our networks.
- ``analysis.cost.crosscheck``: our counts beside fvcore's
  (``fvcore_count``) and the TensorFlow profiler's (``tf_profiler``).
"""

from analysis.cost.table import (
    BYTES_PER_FLOAT32,
    COLUMNS,
    COMPARED_QUANTITIES,
    HANDLERS,
    MAC_CONVENTION,
    OpCount,
    block_of,
    block_totals,
    compare_table,
    cost_sweep,
    count_layer,
    layer_role,
    layer_table,
    role_totals,
    summarize,
)

__all__ = ["BYTES_PER_FLOAT32", "COLUMNS", "COMPARED_QUANTITIES", "HANDLERS", "MAC_CONVENTION", "OpCount",
           "block_of", "block_totals", "compare_table", "cost_sweep", "count_layer", "layer_role", "layer_table",
           "role_totals", "summarize"]
