"""The study's planner: whole parts that fit, sized parts as far as they fit, a continued run that
takes more, and the estimates of what a network costs (fast: the parts are stand-ins)."""

import time

import pandas as pd
import pytest

from analysis.speed.latency import Timing
from analysis.speed.runtimes import configuration
from analysis.study import estimates, parts, run
from analysis.variants import Variant


def test_choose_items_takes_the_longest_head_that_fits():
    items = [("a", 10.0), ("b", 20.0), ("c", 5.0)]
    assert run.choose_items(items, 30) == (["a", "b"], ["c"])
    assert run.choose_items(items, 35) == (["a", "b", "c"], [])
    assert run.choose_items(items, 9.9) == ([], ["a", "b", "c"])  # the order is kept: "c" is not taken alone


class Clock:
    """A monotonic clock that each stand-in part moves on by its cost."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _stand_in_plan(clock, measured):
    def whole(context):
        clock.now += 100
        measured.append("whole")
        return {"whole": pd.DataFrame({"value": [1]})}

    def sized(context, chosen):
        clock.now += 60 * len(chosen)
        measured.append(tuple(chosen))
        return {"sized": pd.DataFrame({"item": chosen})}

    return (run.Step("whole", 100, whole),
            run.Step("sized", 60, sized, items=lambda context: [("n1", 60), ("n2", 60), ("n3", 60)]),
            run.Step("too_big", 10_000, whole))


@pytest.fixture
def planned(monkeypatch):
    clock, measured = Clock(), []
    monkeypatch.setattr(run, "PLAN", _stand_in_plan(clock, measured))
    monkeypatch.setattr(time, "monotonic", clock)
    monkeypatch.setattr(run, "configure_threads", lambda threads: 2)
    return clock, measured


def test_a_study_measures_what_fits_and_records_the_rest(planned, tmp_path):
    clock, measured = planned
    folder = run.run_study(tmp_path / "s", budget_minutes=4, progress=False)  # 240 s: whole, then two items
    assert measured == ["whole", ("n1", "n2")]
    assert folder.done == ["whole", "sized"]
    assert folder.items("sized") == ["n1", "n2"] and folder.partial("sized") == ["n3"]
    left = folder.about["left_out"]
    assert set(left) == {"sized", "too_big"} and "n3" in left["sized"]
    assert list(folder.read("sized")["item"]) == ["n1", "n2"]


def test_a_continued_study_measures_a_partial_part_again_with_more_items(planned, tmp_path):
    clock, measured = planned
    run.run_study(tmp_path / "s", budget_minutes=4, progress=False)
    folder = run.run_study(tmp_path / "s", budget_minutes=4, progress=False)  # whole is kept; 240 s for sized
    assert measured == ["whole", ("n1", "n2"), ("n1", "n2", "n3")]
    assert folder.partial("sized") == [] and "sized" not in folder.about["left_out"]
    folder = run.run_study(tmp_path / "s", budget_minutes=60, progress=False)  # nothing partial is left
    assert len(measured) == 3 and "too_big" in folder.about["left_out"]


def test_a_sized_part_whose_first_item_does_not_fit_is_left_out(planned, tmp_path):
    folder = run.run_study(tmp_path / "s", budget_minutes=2, progress=False)  # 120 s: whole leaves 20 s
    assert "sized" not in folder.done and "first item" in folder.about["left_out"]["sized"]


def test_a_network_costs_its_build_its_uncached_conversions_and_its_calls(tmp_path, monkeypatch):
    timing = Timing(repeats=10, warmup=2, rounds=3, min_seconds=0.5)
    mobilenet = Variant("mobilenet", alpha=0.25, resolution=128)
    keras_only = [configuration("keras", "fp32")]
    # 3 rounds of max(0.5 s, 10 calls of 15 ms) and 2 warm-up calls: 3 x (0.5 + 0.03)
    assert estimates.network_seconds(mobilenet, keras_only, timing) == pytest.approx(2 + 3 * 0.53)
    litert = [configuration("litert", "fp32")]
    monkeypatch.setattr(estimates.conversions, "artifact_path", lambda *a, **k: tmp_path / "absent")
    assert estimates.network_seconds(mobilenet, litert, timing) == pytest.approx(2 + 3 * 0.53 + 9)
    (tmp_path / "present").write_text("copy")
    monkeypatch.setattr(estimates.conversions, "artifact_path", lambda *a, **k: tmp_path / "present")
    assert estimates.network_seconds(mobilenet, litert, timing) == pytest.approx(2 + 3 * 0.53)
    assert estimates.network_seconds(mobilenet, litert, timing, cached=False) == pytest.approx(2 + 3 * 0.53 + 9)


def test_the_latency_study_measures_the_fits_core_first_and_every_network_once():
    items = parts.latency_networks()
    names = [name for name, _, _ in items]
    assert names[0] == "core"
    core = {v.label for v in items[0][1]}
    assert {"VGG16", "MobileNet 1.0/224", "MobileNet 0.25/128"} <= core
    every = [v.label for _, variants, _ in items for v in variants]
    assert len(every) == len(set(every)) == 16 + 1 + 3 + 3 + 5  # the grid, VGG16, anchors, zoo anchors, unseen


def test_a_report_replaces_the_cells_of_a_part_the_study_lacks(tmp_path):
    import nbformat

    from analysis.report.build import omit_missing_parts
    from analysis.study.folder import start_or_continue

    study = start_or_continue(tmp_path / "s", "python -m analysis study", 15)
    study.write("deployment_latency", pd.DataFrame({"value": [1]}))
    study.leave_out("training_sweep", "about 15.0 min needed")
    cells = [nbformat.v4.new_code_cell("a = 1"), nbformat.v4.new_code_cell("b = 2"), nbformat.v4.new_code_cell("c = 3")]
    cells[0].metadata["tags"] = ["study-part:deployment_latency"]
    cells[1].metadata["tags"] = ["study-part:training_sweep"]
    notebook = omit_missing_parts(nbformat.v4.new_notebook(cells=cells), study)
    kinds = [cell.cell_type for cell in notebook.cells]
    assert kinds == ["code", "markdown", "code"]
    note = notebook.cells[1].source
    assert "`training_sweep`" in note and "about 15.0 min needed" in note and str(study.path) in note
