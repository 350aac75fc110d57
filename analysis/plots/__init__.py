"""The suite's figures, one module per topic, with one style; every name is re-exported here.

Each ``draw_*`` function takes the table that ``analysis.cost``,
``analysis.speed`` or ``analysis.accuracy`` returns and only draws it; save
what it returns with ``save_fig``.

- ``analysis.plots.style``: ``set_style``, ``save_fig`` and the colours.
- ``analysis.plots.architecture``: ``draw_architecture``.
- ``analysis.plots.cost``: ``draw_separable_ratio``, ``draw_block_savings``,
  ``draw_params_per_block``, ``draw_role_shares``, ``draw_block_shares``,
  ``draw_alpha_rho_heatmaps``.
- ``analysis.plots.speed``: ``draw_latency_vs_batch``, ``draw_speed_ratio``,
  ``draw_fraction_of_peak``, ``draw_deployment``, ``draw_gpu_latency``.
- ``analysis.plots.roofline``: ``draw_roofline``, ``draw_predicted_vs_measured``,
  ``draw_latency_terms``.
- ``analysis.plots.tradeoffs``: ``TradeoffStyle``, ``draw_tradeoff``,
  ``draw_tradeoff_panels``, ``draw_deployed_tradeoff``, ``PAPER_STYLE``, ``alpha_palette``.
- ``analysis.plots.training``: ``draw_batchnorm_momentum``.
"""

from analysis.plots.architecture import draw_architecture
from analysis.plots.attribution import draw_attribution
from analysis.plots.convolution import KIND_COLORS, convolution_kinds_counts, draw_convolution_kinds, draw_depthwise_step
from analysis.plots.cost import (
    KERNEL_COLORS,
    ROLE_ORDER,
    draw_alpha_rho_heatmaps,
    draw_block_savings,
    draw_block_shares,
    draw_params_per_block,
    draw_role_shares,
    draw_separable_ratio,
)
from analysis.plots.receptive import draw_architecture_gallery, draw_receptive_field  # noqa: F401 (re-exported)
from analysis.plots.roofline import LATENCY_TERMS, ROLE_MARKERS, draw_latency_terms, draw_predicted_vs_measured, draw_roofline
from analysis.plots.speed import (
    draw_deployment,
    draw_fraction_of_peak,
    draw_gpu_latency,
    draw_latency_vs_batch,
    draw_speed_ratio,
)
from analysis.plots.style import (
    FIGURE_FORMATS,
    LAYER_TYPE_COLORS,
    MODEL_COLORS,
    PALETTE,
    PNG_DPI,
    PRECISION_HATCHES,
    RUNTIME_COLORS,
    layer_color,
    model_color,
    save_fig,
    set_style,
)
from analysis.plots.tradeoffs import (
    ALPHA_COLORS,
    DEPLOYED_STYLE,
    PAPER_STYLE,
    RESOLUTION_MARKERS,
    TradeoffStyle,
    alpha_palette,
    draw_deployed_tradeoff,
    draw_tradeoff,
    draw_tradeoff_panels,
)
from analysis.plots.training import MOMENTUM_RUN_STYLES, draw_batchnorm_momentum

__all__ = ["ALPHA_COLORS", "DEPLOYED_STYLE", "draw_deployed_tradeoff", "FIGURE_FORMATS", "KERNEL_COLORS", "LATENCY_TERMS", "LAYER_TYPE_COLORS", "MODEL_COLORS",
           "MOMENTUM_RUN_STYLES", "PALETTE", "PAPER_STYLE", "PNG_DPI", "PRECISION_HATCHES", "RESOLUTION_MARKERS", "ROLE_MARKERS",
           "ROLE_ORDER", "RUNTIME_COLORS", "TradeoffStyle", "alpha_palette", "draw_alpha_rho_heatmaps",
           "draw_architecture", "draw_batchnorm_momentum", "draw_deployment", "draw_block_savings", "draw_block_shares",
           "draw_fraction_of_peak", "draw_gpu_latency", "draw_latency_terms", "draw_latency_vs_batch",
           "draw_params_per_block", "draw_predicted_vs_measured", "draw_role_shares", "draw_roofline",
           "draw_separable_ratio", "draw_speed_ratio", "draw_tradeoff", "draw_tradeoff_panels", "layer_color",
           "model_color", "save_fig", "set_style"]
__all__ += ["KIND_COLORS", "convolution_kinds_counts", "draw_convolution_kinds", "draw_depthwise_step"]
