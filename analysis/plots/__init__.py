"""The suite's figures, one module per topic, with one style.

Each ``draw_*`` function takes the table that ``analysis.cost``,
``analysis.speed`` or ``analysis.accuracy`` returns and only draws it; save
what it returns with ``save_fig``. The package offers the notebooks' entry
points: every ``draw_*`` function, ``set_style`` and ``save_fig``, and the
trade-off styles a notebook passes (``TradeoffStyle``, ``PAPER_STYLE``,
``alpha_palette``). Colours, markers and other constants live in their
topic's module (``analysis.plots.style``, ``.cost``, ``.roofline``, ...).
"""

from analysis.plots.architecture import draw_architecture
from analysis.plots.attribution import draw_attribution
from analysis.plots.convolution import draw_convolution_kinds, draw_depthwise_step
from analysis.plots.cost import (
    draw_alpha_rho_heatmaps,
    draw_block_savings,
    draw_block_shares,
    draw_params_per_block,
    draw_role_shares,
    draw_separable_ratio,
)
from analysis.plots.profile import draw_time_shares
from analysis.plots.receptive import draw_architecture_gallery, draw_receptive_field
from analysis.plots.roofline import draw_latency_terms, draw_predicted_vs_measured, draw_roofline
from analysis.plots.speed import (
    draw_deployment,
    draw_fraction_of_peak,
    draw_gpu_latency,
    draw_latency_vs_batch,
    draw_speed_ratio,
)
from analysis.plots.style import save_fig, set_style
from analysis.plots.tradeoffs import (
    PAPER_STYLE,
    TradeoffStyle,
    alpha_palette,
    draw_deployed_tradeoff,
    draw_tradeoff,
    draw_tradeoff_panels,
)
from analysis.plots.training import draw_batchnorm_momentum

__all__ = [
    "PAPER_STYLE", "TradeoffStyle", "alpha_palette", "draw_alpha_rho_heatmaps", "draw_architecture",
    "draw_architecture_gallery", "draw_attribution", "draw_batchnorm_momentum", "draw_block_savings",
    "draw_block_shares", "draw_convolution_kinds", "draw_deployed_tradeoff", "draw_deployment",
    "draw_depthwise_step", "draw_fraction_of_peak", "draw_gpu_latency", "draw_latency_terms",
    "draw_latency_vs_batch", "draw_params_per_block", "draw_predicted_vs_measured", "draw_receptive_field",
    "draw_role_shares", "draw_roofline", "draw_separable_ratio", "draw_speed_ratio", "draw_tradeoff",
    "draw_time_shares", "draw_tradeoff_panels", "save_fig", "set_style",
]
