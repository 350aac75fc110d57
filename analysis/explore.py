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

import base64
import dataclasses
import functools
import html
import io
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis import plots, shipped
from analysis.accuracy.tradeoffs import published_deployed_points
from analysis.cost.published import variant_costs
from analysis.cost.table import role_totals, summarize
from analysis.errors import BadInput
from analysis.plots.convolution import draw_depthwise_step
from analysis.speed import PRECISIONS
from analysis.speed.roofline import layer_bounds, network_bound_ms, role_group
from analysis.variants import ALPHAS, FC6_AUTO, RESOLUTIONS, Variant
from nets import checks

NETWORKS = ("mobilenet", "vgg16")
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
ROOFLINE_VARIANTS = (Variant("vgg16"), Variant("mobilenet"))
FIGURE_DPI = 80  # of the PNGs in a view: small enough to send on every move of a control
LAYER_COLUMNS = ("name", "type", "output_shape", "kernel_size", "strides", "params", "macs",
                 "receptive_field", "jump")


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
BUDGETS_PER_DECADE = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)


def _log_slider(value, low, high, description, readout_format):
    """A slider over about 10**low .. 10**high, drawn only when released, its grid through ``value``."""
    slider = widgets.FloatLogSlider(base=10, step=LOG_STEP, description=description, readout_format=readout_format,
                                    continuous_update=False)
    _place(slider, value, low, high)
    return slider


def _place(slider, value, low, high):
    """Set ``slider`` to ``value`` exactly: its range is shifted so that ``value`` lies on its grid
    (the browser snaps a value to the grid, and would move a shipped peak or a budget off it)."""
    exponent = np.log10(value)
    below, above = np.floor((exponent - low) / LOG_STEP), np.ceil((high - exponent) / LOG_STEP)
    slider.min, slider.max = -300, 300  # wide first, so that no bound clips the value on the way
    slider.value = value
    slider.min, slider.max = exponent - below * LOG_STEP, exponent + above * LOG_STEP


def budget_options(budget_ms=None):
    """The latency budgets offered, 0.1 to 1,000 ms, ten a decade (and ``budget_ms``, if given)."""
    options = {round(m * 10.0**e, 6) for e in range(-1, 3) for m in BUDGETS_PER_DECADE} | {1000.0}
    return sorted(options | ({float(budget_ms)} if budget_ms is not None else set()))


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


# --- The variant explorer ----------------------------------------------------------------------

@dataclass(frozen=True)
class VariantView:
    """What the variant explorer shows: the variant, its layer table, totals and role totals."""

    variant: Variant
    table: pd.DataFrame
    totals: dict
    roles: pd.DataFrame


def explore_variant(network="mobilenet", alpha=1.0, resolution=224, conv=False, shallow=False):
    """The ``Variant`` the variant explorer's controls name.

    α, Conv and shallow are MobileNet's and ignored for VGG16; a VGG16 at a resolution other than
    224 has its fc6 sized to its last feature map (``fc6_kernel_size="auto"``).
    """
    checks.one_of("network", network, NETWORKS)
    if network == "vgg16":
        return Variant("vgg16", resolution=resolution, fc6_kernel_size=None if resolution == 224 else FC6_AUTO)
    return Variant("mobilenet", alpha=alpha, resolution=resolution, conv=conv, shallow=shallow)


def variant_view(network="mobilenet", alpha=1.0, resolution=224, conv=False, shallow=False):
    """The ``VariantView`` of the variant that the controls name (its layer table cached per variant)."""
    variant = explore_variant(network, alpha, resolution, conv, shallow)
    table = variant_costs(variant)[2]
    return VariantView(variant, table, summarize(table), role_totals(table))


def _render_variant(view):
    totals, label = view.totals, view.variant.label
    architecture = plots.draw_architecture(view.table, title=label).figure
    roles = plots.draw_role_shares(pd.concat({label: view.roles}, names=["network"]))
    role_table = view.roles[["params", "params_share_%", "macs", "macs_share_%"]].reset_index()
    layers = view.table[[c for c in LAYER_COLUMNS if c in view.table.columns]].astype(
        {"output_shape": str, "kernel_size": str, "strides": str})
    return (f"<h4>{html.escape(label)}</h4><p>{totals['params']:,} parameters "
            f"({totals['trainable_params']:,} trainable); {totals['macs'] / 1e6:,.1f} million MACs per image "
            f"(FLOPs = 2 × MACs); {len(view.table)} layers.</p>"
            + figure_html(architecture) + figure_html(roles) + table_html(role_table)
            + "<p>Layer table (<code>analysis.cost.layer_table</code>):</p>" + table_html(layers, max_height=320))


def _adjust_variant(controls, change):
    mobilenet_only = controls["network"].value != "mobilenet"
    for name in ("alpha", "conv", "shallow"):
        controls[name].disabled = mobilenet_only


def variant_explorer(network="mobilenet", alpha=1.0, resolution=224, conv=False, shallow=False):
    """A widget of network, α, ρ, Conv and shallow over the layer table, the architecture picture
    and the role shares (``variant_view``), drawn at the values given."""
    controls = {
        "network": widgets.ToggleButtons(options=[("MobileNet", "mobilenet"), ("VGG16", "vgg16")], value=network,
                                         description="network"),
        "alpha": widgets.SelectionSlider(options=sorted(ALPHAS), value=alpha, description="α",
                                         continuous_update=False),
        "resolution": widgets.SelectionSlider(options=sorted(RESOLUTIONS), value=resolution, description="ρ (px)",
                                              continuous_update=False),
        "conv": widgets.Checkbox(value=conv, description="Conv (full 3×3)"),
        "shallow": widgets.Checkbox(value=shallow, description="shallow"),
    }
    _adjust_variant(controls, None)
    return Explorer("Variant explorer", controls, variant_view, _render_variant, adjust=_adjust_variant)


# --- The depthwise stepper ---------------------------------------------------------------------

@dataclass(frozen=True)
class DepthwiseStep:
    """One output position of a depthwise convolution (stride 1, VALID padding).

    ``index`` counts output positions row by row from 0, at (``row``, ``col``); ``window`` is the
    k×k×C input under the kernel there, ``products`` window × kernel, ``values`` their sums per
    channel (the output there) and ``output`` the whole output map (H-k+1, W-k+1, C).
    """

    image: np.ndarray
    kernel: np.ndarray
    index: int
    row: int
    col: int
    window: np.ndarray
    products: np.ndarray
    values: np.ndarray
    output: np.ndarray

    @property
    def positions(self):
        return self.output.shape[0] * self.output.shape[1]


def example_depthwise_input(side=5, channels=3, kernel=3, seed=0):
    """A small image (side × side × channels, integers 0..9) and depthwise kernel (kernel × kernel ×
    channels, integers -1..2), seeded: sums a reader can check by hand."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 10, (side, side, channels)).astype(float),
            rng.integers(-1, 3, (kernel, kernel, channels)).astype(float))


def depthwise_step(image, kernel, index=0):
    """The ``DepthwiseStep`` of ``image`` (H, W, C) and a depthwise ``kernel`` (k, k, C) at output
    position ``index`` (row-major, from 0)."""
    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    if image.ndim != 3 or kernel.ndim != 3 or kernel.shape[0] != kernel.shape[1] \
            or kernel.shape[2] != image.shape[2] or kernel.shape[0] > min(image.shape[:2]):
        raise BadInput(f"image must be (H, W, C) and kernel (k, k, C) with k <= H, W. "
                       f"Received image of shape {image.shape} and kernel of shape {kernel.shape}")
    k = kernel.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(image, (k, k), axis=(0, 1))  # (H', W', C, k, k)
    output = np.einsum("ijcab,abc->ijc", windows, kernel)
    positions = output.shape[0] * output.shape[1]
    index = checks.positive_int("index", index, minimum=0)
    if index >= positions:
        raise BadInput(f"index must be an output position, 0 to {positions - 1}. Received index={index!r}")
    row, col = divmod(index, output.shape[1])
    window = image[row:row + k, col:col + k, :]
    products = window * kernel
    return DepthwiseStep(image, kernel, index, row, col, window, products, products.sum(axis=(0, 1)), output)


def _render_depthwise(step):
    sums = "; ".join(f"channel {c + 1}: {v:g}" for c, v in enumerate(step.values))
    return (f"<p>Output at row {step.row + 1}, column {step.col + 1}: {sums}. Each channel is summed "
            f"over its own {step.kernel.shape[0]}×{step.kernel.shape[0]} window only.</p>"
            + figure_html(draw_depthwise_step(step)))


def depthwise_stepper(image=None, kernel=None, index=0):
    """A widget that steps a depthwise convolution one output position at a time (a slider and a
    Play button); default input: ``example_depthwise_input()``."""
    if image is None or kernel is None:
        image, kernel = example_depthwise_input()
    first = depthwise_step(image, kernel, index)
    slider = widgets.IntSlider(value=index, min=0, max=first.positions - 1, description="position",
                               continuous_update=False)
    play = widgets.Play(value=index, min=0, max=first.positions - 1, interval=1500, description="play")
    widgets.jslink((play, "value"), (slider, "value"))
    return Explorer("Depthwise stepper", {"index": slider}, functools.partial(depthwise_step, image, kernel),
                    _render_depthwise, extra=(play,))


# --- The roofline explorer ---------------------------------------------------------------------

@dataclass(frozen=True)
class RooflineView:
    """Per-layer roofline bounds of each network at one peak, bandwidth, batch and precision.

    ``ridge`` is peak / bandwidth (operations per byte); ``bounds`` maps a label to its
    ``layer_bounds`` table; ``summary`` counts, per network and layer group, the layers with
    work on each side of the ridge.
    """

    peak_gflops: float
    bandwidth_gbs: float
    batch: int
    precision: str
    ridge: float
    bounds: dict
    summary: pd.DataFrame


@functools.lru_cache(maxsize=1)
def shipped_machine():
    """The peaks per precision (GFLOP/s, GOP/s for int8) and DRAM bandwidth (GB/s) of the machine
    that measured the shipped latency study, with a line saying where they come from."""
    study = shipped.results("latency_study")
    return {"peaks": dict(study.attrs["peaks"]), "bandwidth_gbs": float(study.attrs["bandwidth_gbs"]),
            "source": shipped.describe(study)}


def _bound_summary(bounds):
    rows = []
    for label, table in bounds.items():
        working = table[table["ops"] > 0].assign(group=lambda t: t["role"].map(role_group))
        for group, part in working.groupby("group", sort=False):
            rows.append({"network": label, "group": group, "layers": len(part),
                         "memory-bound": int((part["bound"] == "memory").sum()),
                         "compute-bound": int((part["bound"] == "compute").sum()),
                         "bound_ms": float(part["bound_ms"].sum())})
    return pd.DataFrame(rows)


def roofline_view(peak_gflops, bandwidth_gbs, batch=1, precision="fp32", fused=True, variants=ROOFLINE_VARIANTS):
    """The ``RooflineView`` of ``variants`` (default VGG16 and MobileNet) at ``peak_gflops`` (of that
    precision), ``bandwidth_gbs``, ``batch`` images and ``precision`` (its bytes per element),
    element-wise layers fused into the layer before them as inference runtimes do."""
    checks.positive_number("peak_gflops", peak_gflops)
    checks.positive_number("bandwidth_gbs", bandwidth_gbs)
    checks.positive_int("batch", batch)
    checks.one_of("precision", precision, PRECISIONS)
    bounds = {v.label: layer_bounds(variant_costs(v)[2], peak_gflops, bandwidth_gbs, batch=batch, fused=fused,
                                    precision=precision) for v in variants}
    return RooflineView(peak_gflops, bandwidth_gbs, batch, precision, peak_gflops / bandwidth_gbs, bounds,
                        _bound_summary(bounds))


def _render_roofline(view):
    ax = plots.draw_roofline(view.bounds, {"peak_gflops": view.peak_gflops, "bandwidth_gbs": view.bandwidth_gbs})
    ax.axvline(view.ridge, color="#d55e00", linestyle=":", linewidth=1.2)
    ax.set_title(f"{view.precision}, batch {view.batch}: ridge at {view.ridge:,.1f} operations per byte", loc="left")
    totals = "; ".join(f"{label} {network_bound_ms(b):,.2f} ms" for label, b in view.bounds.items())
    return (f"<p>Ridge point = peak / bandwidth = {view.peak_gflops:,.0f} / {view.bandwidth_gbs:,.1f} = "
            f"<b>{view.ridge:,.1f}</b> operations per byte: a layer of lower intensity is memory-bound. "
            f"Roofline bound of the whole network, batch {view.batch}: {totals}.</p>"
            + table_html(view.summary) + figure_html(ax.figure)
            + f"<p><small>Defaults: {html.escape(shipped_machine()['source'])}</small></p>")


def _adjust_roofline(controls, change):
    if change is not None and change["owner"] is controls["precision"]:
        peak = shipped_machine()["peaks"].get(change["new"])
        if peak:
            _place(controls["peak_gflops"], peak, 1, 5)


def roofline_explorer(precision="fp32", batch=1):
    """A widget of peak, bandwidth, batch and precision over the roofline of every layer of VGG16 and
    MobileNet (``roofline_view``); the peak moves to the shipped peak of each precision chosen."""
    machine = shipped_machine()
    controls = {
        "peak_gflops": _log_slider(machine["peaks"][precision], 1, 5, "peak GOP/s", ",.0f"),
        "bandwidth_gbs": _log_slider(machine["bandwidth_gbs"], 0, 4, "GB/s", ",.1f"),
        "batch": widgets.SelectionSlider(options=BATCHES, value=batch, description="batch", continuous_update=False),
        "precision": widgets.ToggleButtons(options=PRECISIONS, value=precision, description="precision"),
    }
    return Explorer("Roofline explorer", controls, roofline_view, _render_roofline, adjust=_adjust_roofline)


# --- The latency and accuracy explorer ---------------------------------------------------------

@dataclass(frozen=True)
class BudgetView:
    """The configurations of one runtime and precision (``points``), those within the budget
    (``under``, most accurate first) and the most accurate of them (``best``, None if none)."""

    runtime: str
    precision: str
    budget_ms: float
    points: pd.DataFrame
    under: pd.DataFrame
    best: object


@functools.lru_cache(maxsize=1)
def budget_points():
    """Published ImageNet top-1 against the shipped latency study's ms per image
    (``published_deployed_points``), one row per variant, runtime and precision."""
    return published_deployed_points(shipped.results("latency_study"))


def budget_precisions(runtime, points=None):
    """The precisions of ``runtime`` that ``points`` (default ``budget_points()``) has, in order."""
    points = budget_points() if points is None else points
    return [p for p in PRECISIONS if ((points["runtime"] == runtime) & (points["precision"] == p)).any()]


def budget_view(runtime="litert", precision="fp32", budget_ms=2.0, points=None):
    """The ``BudgetView`` of ``runtime`` at ``precision`` under ``budget_ms`` ms per image (batch 1)."""
    points = budget_points() if points is None else points
    checks.one_of("runtime", runtime, tuple(dict.fromkeys(points["runtime"])))
    checks.one_of("precision", precision, tuple(budget_precisions(runtime, points)))
    checks.positive_number("budget_ms", budget_ms)
    chosen = points[(points["runtime"] == runtime) & (points["precision"] == precision)]
    under = chosen[chosen["ms_per_image"] <= budget_ms].sort_values(["accuracy_%", "ms_per_image"],
                                                                      ascending=[False, True])
    return BudgetView(runtime, precision, budget_ms, chosen, under, under.iloc[0] if len(under) else None)


def _render_budget(view):
    best = view.best
    rows = view.points.assign(pick=[v if best is not None and v == best["variant"] else ""
                                    for v in view.points["variant"]])
    ax = plots.draw_tradeoff(rows, "ms_per_image", "accuracy_%",
                             style=dataclasses.replace(plots.DEPLOYED_STYLE, label_column="pick"))
    low, high = ax.get_xlim()
    high = max(high, 1.5 * view.budget_ms)
    ax.axvspan(view.budget_ms, high, color="0.9", zorder=0, label="over the budget")
    ax.set_xlim(min(low, view.budget_ms / 1.5), high)
    ax.axvline(view.budget_ms, color="#d55e00", linewidth=1.2)
    if best is not None:
        ax.scatter([best["ms_per_image"]], [best["accuracy_%"]], s=320, marker="*", facecolor="none",
                   edgecolor="#d55e00", linewidth=1.5, zorder=5)
    ax.set(xlabel="ms per image, batch 1 (log)", ylabel="published ImageNet top-1 (%)")
    ax.set_title(f"{view.runtime} {view.precision}: budget {view.budget_ms:g} ms", loc="left")
    if best is None:
        fastest = view.points["ms_per_image"].min()
        verdict = f"No network runs within {view.budget_ms:g} ms here; the fastest takes {fastest:.2f} ms."
    else:
        verdict = (f"Most accurate within {view.budget_ms:g} ms: <b>{html.escape(best['variant'])}</b>, "
                   f"{best['accuracy_%']:.1f} % top-1 ({html.escape(best['source'])}) in "
                   f"{best['ms_per_image']:.2f} ms per image.")
    table = view.under[["variant", "ms_per_image", "accuracy_%", "source"]]
    return (f"<p>{verdict}</p>" + figure_html(ax.figure) + (table_html(table, max_height=240) if len(table) else "")
            + f"<p><small>Latency: {html.escape(shipped.describe(shipped.results('latency_study')))} "
              f"Accuracy: published top-1 (source column).</small></p>")


def _adjust_budget(controls, change):
    if change is not None and change["owner"] is controls["runtime"]:
        precisions = budget_precisions(change["new"])
        keep = controls["precision"].value
        controls["precision"].options = precisions
        controls["precision"].value = keep if keep in precisions else precisions[0]


def budget_explorer(runtime="litert", precision="fp32", budget_ms=2.0):
    """A widget of runtime, precision and a latency budget over the shipped latency study, naming
    the most accurate network within the budget (``budget_view``)."""
    points = budget_points()
    controls = {
        "runtime": widgets.Dropdown(options=list(dict.fromkeys(points["runtime"])), value=runtime,
                                    description="runtime"),
        "precision": widgets.ToggleButtons(options=budget_precisions(runtime), value=precision,
                                           description="precision"),
        "budget_ms": widgets.SelectionSlider(options=budget_options(checks.positive_number("budget_ms", budget_ms)),
                                             value=budget_ms, description="budget ms", continuous_update=False),
    }
    return Explorer("Latency and accuracy explorer", controls, budget_view, _render_budget, adjust=_adjust_budget)
