"""The suite's figures, one module per topic, with one style; every name is re-exported here.

- ``analysis.plots.style``: ``set_style``, ``save_fig`` and the colours.
- ``analysis.plots.architecture``: ``draw_architecture``.
- ``analysis.plots.speed``: ``draw_roofline``, ``draw_predicted_vs_measured``,
  ``draw_latency_terms``.
- ``analysis.plots.tradeoffs``: ``draw_tradeoff``.
"""

from analysis.plots.architecture import draw_architecture
from analysis.plots.speed import LATENCY_TERMS, ROLE_MARKERS, draw_latency_terms, draw_predicted_vs_measured, draw_roofline
from analysis.plots.style import (
    FIGURE_FORMATS,
    LAYER_TYPE_COLORS,
    MODEL_COLORS,
    PALETTE,
    PNG_DPI,
    RUNTIME_COLORS,
    layer_color,
    model_color,
    save_fig,
    set_style,
)
from analysis.plots.tradeoffs import ALPHA_COLORS, RESOLUTION_MARKERS, draw_tradeoff

__all__ = ["ALPHA_COLORS", "FIGURE_FORMATS", "LATENCY_TERMS", "LAYER_TYPE_COLORS", "MODEL_COLORS", "PALETTE",
           "PNG_DPI", "RESOLUTION_MARKERS", "ROLE_MARKERS", "RUNTIME_COLORS", "draw_architecture",
           "draw_latency_terms", "draw_predicted_vs_measured", "draw_roofline", "draw_tradeoff", "layer_color",
           "model_color", "save_fig", "set_style"]
