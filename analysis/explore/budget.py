"""The latency and accuracy explorer: runtime, precision and a latency budget over the shipped
latency study with published ImageNet top-1, naming the most accurate network under the budget."""

import dataclasses
import functools
import html
from dataclasses import dataclass

import ipywidgets as widgets
import pandas as pd

from analysis import plots, results
from analysis.accuracy.tradeoffs import published_deployed_points
from analysis.explore.widgets import Explorer, figure_html, table_html
from analysis.plots.tradeoffs import DEPLOYED_STYLE
from analysis.speed.runtimes import PRECISIONS
from analysis.study.folder import report_study
from nets import checks

BUDGETS_PER_DECADE = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)


def budget_options(budget_ms=None):
    """The latency budgets offered, 0.1 to 1,000 ms, ten a decade (and ``budget_ms``, if given)."""
    options = {round(m * 10.0**e, 6) for e in range(-1, 3) for m in BUDGETS_PER_DECADE} | {1000.0}
    return sorted(options | ({float(budget_ms)} if budget_ms is not None else set()))


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


def budget_points(study=None):
    """Published ImageNet top-1 against the ms per image of ``study``'s latency study (a
    ``StudyFolder``; default: the report's), one row per variant, runtime and precision."""
    return published_deployed_points((study or report_study()).read("latency_study"))


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


def _render_budget(view, source):
    best = view.best
    rows = view.points.assign(pick=[v if best is not None and v == best["variant"] else ""
                                    for v in view.points["variant"]])
    ax = plots.draw_tradeoff(rows, "ms_per_image", "accuracy_%",
                             style=dataclasses.replace(DEPLOYED_STYLE, label_column="pick"))
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
            + f"<p><small>Latency: {html.escape(source)} "
              f"Accuracy: published top-1 (source column).</small></p>")


def _adjust_budget(points, controls, change):
    if change is not None and change["owner"] is controls["runtime"]:
        precisions = budget_precisions(change["new"], points)
        keep = controls["precision"].value
        controls["precision"].options = precisions
        controls["precision"].value = keep if keep in precisions else precisions[0]


def budget_explorer(runtime="litert", precision="fp32", budget_ms=2.0, study=None):
    """A widget of runtime, precision and a latency budget over ``study``'s latency study (default:
    the report's), naming the most accurate network within the budget (``budget_view``)."""
    study = study or report_study()
    points = budget_points(study)
    controls = {
        "runtime": widgets.Dropdown(options=list(dict.fromkeys(points["runtime"])), value=runtime,
                                    description="runtime"),
        "precision": widgets.ToggleButtons(options=budget_precisions(runtime, points), value=precision,
                                           description="precision"),
        "budget_ms": widgets.SelectionSlider(options=budget_options(checks.positive_number("budget_ms", budget_ms)),
                                             value=budget_ms, description="budget ms", continuous_update=False),
    }
    source = results.describe(study.read("latency_study"))
    return Explorer("Latency and accuracy explorer", controls, functools.partial(budget_view, points=points),
                    functools.partial(_render_budget, source=source), adjust=functools.partial(_adjust_budget, points))
