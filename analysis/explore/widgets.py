"""The explorers' scaffolding: a widget of controls over an HTML view, log sliders, and figures
and tables as HTML."""

import base64
import html
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nets.errors import BadInput

FIGURE_DPI = 80  # of the PNGs in a view: small enough to send on every move of a control


class Explorer(widgets.VBox):
    """Controls above an output (``output``, a ``widgets.HTML``), redrawn whenever a control changes.

    Args:
        title: what the explorer is, for its plain-text output.
        controls: dict of name -> control widget; ``compute`` is called with their values by name.
        compute: values -> view (raises ``BadInput`` for a combination it cannot draw).
        render: view -> HTML.
        adjust: optional ``adjust(controls, change)``, called when a control changes and before the
            view is computed, to set the other controls (their changes do not redraw twice).
        extra: widgets shown beside the controls (a Play button) that are not passed to ``compute``.

    Attributes:
        controls, output, and ``view``: the last computed view (None where ``compute`` refused).
    """

    def __init__(self, title, controls, compute, render, adjust=None, extra=()):
        self.title = title
        self.controls = dict(controls)
        self.output = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.view = None
        self._compute, self._render, self._adjust = compute, render, adjust
        self._holding = False
        bar = widgets.HBox([*extra, *self.controls.values()], layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([bar, self.output])
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.refresh()

    def values(self):
        """The controls' values by name."""
        return {name: control.value for name, control in self.controls.items()}

    def refresh(self):
        """Compute the view of the current values and show it (or why it cannot be drawn)."""
        try:
            self.view = self._compute(**self.values())
            self.output.value = self._render(self.view)
        except BadInput as error:
            self.view = None
            self.output.value = f"<p><b>Not drawn:</b> {html.escape(str(error))}</p>"

    def _changed(self, change):
        if self._holding:
            return
        self._holding = True
        try:
            if self._adjust is not None:
                self._adjust(self.controls, change)
        finally:
            self._holding = False
        self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = f"{self.title} (interactive in JupyterLab; the view below is its default)"
        bundle["text/html"] = self.output.value
        return bundle


LOG_STEP = 0.01  # of a log slider, in decades (2.3 % a step)


def log_slider(value, low, high, description, readout_format):
    """A slider over about 10**low .. 10**high, drawn only when released, its grid through ``value``."""
    slider = widgets.FloatLogSlider(base=10, step=LOG_STEP, description=description, readout_format=readout_format,
                                    continuous_update=False)
    place_on_grid(slider, value, low, high)
    return slider


def place_on_grid(slider, value, low, high):
    """Set ``slider`` to ``value`` exactly: its range is shifted so that ``value`` lies on its grid
    (the browser snaps a value to the grid, and would move a shipped peak or a budget off it)."""
    exponent = np.log10(value)
    below, above = np.floor((exponent - low) / LOG_STEP), np.ceil((high - exponent) / LOG_STEP)
    slider.min, slider.max = -300, 300  # wide first, so that no bound clips the value on the way
    slider.value = value
    slider.min, slider.max = exponent - below * LOG_STEP, exponent + above * LOG_STEP


def figure_html(fig, dpi=FIGURE_DPI):
    """``fig`` as an inline PNG ``<img>``; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'


def table_html(frame, max_height=None, index=False):
    """``frame`` as an HTML table, integers with thousands separators, floats to 3 significant
    digits; in a scrolling box of ``max_height`` pixels if given."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_integer_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:,.3g}")
    text = shown.to_html(index=index, border=0)
    if max_height:
        return f'<div style="max-height:{max_height}px; overflow-y:auto">{text}</div>'
    return text
