"""The roofline explorer: peak, bandwidth, batch and precision, the layers moving across the
ridge; defaults are the shipped latency study's machine (nothing is measured here)."""

import functools
import html
from dataclasses import dataclass

import ipywidgets as widgets
import pandas as pd

from analysis import plots, results
from analysis.cost.published import variant_costs
from analysis.explore.widgets import Explorer, figure_html, log_slider, place_on_grid, table_html
from analysis.speed.runtimes import PRECISIONS
from analysis.study.folder import report_study
from analysis.speed.roofline import layer_bounds, network_bound_ms, role_group
from analysis.variants import Variant
from nets import checks

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)
ROOFLINE_VARIANTS = (Variant("vgg16"), Variant("mobilenet"))


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


def study_machine(study=None):
    """The peaks per precision (GFLOP/s, GOP/s for int8) and DRAM bandwidth (GB/s) of the machine
    that measured ``study`` (a ``StudyFolder``; default: the report's, ``report_study``), with a
    line saying where they come from."""
    measured = (study or report_study()).read("machine_profile")
    profile = measured.attrs["profile"]
    return {"peaks": dict(profile["peaks"]), "bandwidth_gbs": float(profile["bandwidth_gbs"]),
            "source": results.describe(measured)}


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


def _render_roofline(view, source):
    ax = plots.draw_roofline(view.bounds, {"peak_gflops": view.peak_gflops, "bandwidth_gbs": view.bandwidth_gbs})
    ax.axvline(view.ridge, color="#d55e00", linestyle=":", linewidth=1.2)
    ax.set_title(f"{view.precision}, batch {view.batch}: ridge at {view.ridge:,.1f} operations per byte", loc="left")
    totals = "; ".join(f"{label} {network_bound_ms(b):,.2f} ms" for label, b in view.bounds.items())
    return (f"<p>Ridge point = peak / bandwidth = {view.peak_gflops:,.0f} / {view.bandwidth_gbs:,.1f} = "
            f"<b>{view.ridge:,.1f}</b> operations per byte: a layer of lower intensity is memory-bound. "
            f"Roofline bound of the whole network, batch {view.batch}: {totals}.</p>"
            + table_html(view.summary) + figure_html(ax.figure)
            + f"<p><small>Defaults: {html.escape(source)}</small></p>")


def _adjust_roofline(machine, controls, change):
    if change is not None and change["owner"] is controls["precision"]:
        peak = machine["peaks"].get(change["new"])
        if peak:
            place_on_grid(controls["peak_gflops"], peak, 1, 5)


def roofline_explorer(precision="fp32", batch=1, study=None):
    """A widget of peak, bandwidth, batch and precision over the roofline of every layer of VGG16 and
    MobileNet (``roofline_view``); the peak moves to ``study``'s peak of each precision chosen."""
    machine = study_machine(study)
    controls = {
        "peak_gflops": log_slider(machine["peaks"][precision], 1, 5, "peak GOP/s", ",.0f"),
        "bandwidth_gbs": log_slider(machine["bandwidth_gbs"], 0, 4, "GB/s", ",.1f"),
        "batch": widgets.SelectionSlider(options=BATCHES, value=batch, description="batch", continuous_update=False),
        "precision": widgets.ToggleButtons(options=PRECISIONS, value=precision, description="precision"),
    }
    return Explorer("Roofline explorer", controls, roofline_view,
                    functools.partial(_render_roofline, source=machine["source"]),
                    adjust=functools.partial(_adjust_roofline, machine))
