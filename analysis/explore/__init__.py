"""Interactive explorers for the notebooks: ipywidgets whose views are computed by package functions.

Each explorer is two things: a plain function that computes its view from the values of its
controls (``variant_view``, ``depthwise_step``, ``roofline_view``, ``budget_view``; what the
tests call, headless), and a widget (``variant_explorer``, ``depthwise_stepper``,
``roofline_explorer``, ``budget_explorer``) that calls it whenever a control moves and shows the
result: figures as PNG images and tables as HTML in one ``widgets.HTML`` output.

The output is drawn when the widget is made, and the widget's cell output also carries it as
``text/html``, so a reader without a kernel (a repository page, the report's HTML) sees the
default view where JupyterLab shows the live widget.

- Variant explorer: network, α, ρ, Conv or shallow; the layer table, the architecture picture and
  the role shares (``analysis.cost``, ``analysis.plots``).
- Depthwise stepper: one output position of a depthwise convolution, channel by channel.
- Roofline explorer: peak, bandwidth, batch and precision, the layers moving across the ridge
  (``analysis.speed.roofline``); defaults are the peaks and bandwidth the shipped latency study
  measured (nothing is measured here).
- Latency and accuracy explorer: runtime, precision and a latency budget over the shipped latency
  study with published ImageNet top-1 (``analysis.accuracy.tradeoffs.published_deployed_points``),
  giving the most accurate network under the budget.
"""

from analysis.explore.budget import budget_explorer, budget_view
from analysis.explore.depthwise import depthwise_step, depthwise_stepper, example_depthwise_input
from analysis.explore.roofline import roofline_explorer, roofline_view, study_machine
from analysis.explore.variant import variant_explorer, variant_view

__all__ = [
    "budget_explorer", "budget_view", "depthwise_step", "depthwise_stepper", "example_depthwise_input",
    "roofline_explorer", "roofline_view", "study_machine", "variant_explorer", "variant_view",
]
