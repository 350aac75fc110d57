"""analysis.accuracy.story: notebook 05's tables, against values worked out by hand."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.accuracy import story
from analysis.datasets import load_dataset
from analysis.accuracy.settings import RECOMMENDED
from analysis.accuracy.tradeoffs import paper_points, published_with_costs
from nets.errors import BadInput


def test_headline_is_the_papers_table_8_pair():
    headline = story.headline_accuracy()
    assert headline.loc["MobileNet 1.0/224", "top1"] == 70.6
    assert headline.loc["VGG16", "top1"] == 71.5
    assert headline.attrs["gap_points"] == 0.9
    assert set(headline["source"]) == {story.HEADLINE_SOURCE}


def test_other_sources_name_tf_slim_and_never_table_8():
    others = story.other_sources("MobileNet 1.0/224")
    assert 70.9 in set(others.loc[others["source"] == "TF-slim table", "top1"])
    assert not others["source"].str.contains("Table 8").any()


def test_steps_per_epoch_hold_out_the_validation_tenth():
    data = load_dataset("digits", image_size=32)
    # 1,437 training digits, a stratified tenth (144) held out: 1,293 in batches of 32 -> 40 full + 1 partial.
    assert story.steps_per_epoch(data) == int(np.ceil((1437 - 144) / 32)) == 41
    # 300 digits: 270 after the tenth -> 8 full batches + 1 partial.
    assert story.steps_per_epoch(data.subset(300)) == 9
    assert story.steps_per_epoch(data, batch_size=64) == int(np.ceil(1293 / 64))


def test_momentum_windows_and_initial_weights():
    table = story.momentum_windows(41, momenta=(0.99, 0.9), epochs=(1, 2))
    assert table.loc[0.99, "window, steps"] == pytest.approx(100)
    assert table.loc[0.9, "window, steps"] == pytest.approx(10)
    assert table.loc[0.99, "window, epochs"] == pytest.approx(100 / 41)
    assert table.loc[0.99, "initial weight after 2 epoch(s), %"] == pytest.approx(100 * 0.99 ** 82)


def test_window_fractions_and_momentum_for_window():
    table = story.window_fractions([("ImageNet", 1_281_167, 32), ("ImageNet", 1_281_167, 256)])
    assert list(table["steps per epoch"]) == [40_037, 5_005]
    assert table["window, % of an epoch"].iloc[1] == pytest.approx(100 * 100 / 5_005)
    assert story.momentum_for_window(4) == pytest.approx(0.75)
    with pytest.raises(BadInput, match="steps=1"):
        story.momentum_for_window(1)


def test_fronts_keep_only_undominated_points():
    points = pd.DataFrame({"variant_label": ["a", "b", "c"], "macs": [1.0, 2.0, 3.0], "top1": [50.0, 40.0, 60.0]})
    front = story.fronts(points, columns=("macs",))
    assert list(front["variant_label"]) == ["a", "c"]  # b costs more than a and scores less
    assert set(front["against"]) == {"macs"}


def test_cost_ratios_name_both_sources():
    ratios = story.cost_ratios(paper_points(published_with_costs())).set_index(["larger", "smaller"])
    row = ratios.loc[("VGG16", "MobileNet 1.0/224")]
    assert row["MACs ratio"] == pytest.approx(27.2, abs=0.05)
    assert row["top-1 lead, points"] == pytest.approx(71.5 - 70.9)
    assert row["accuracy sources"] == "MobileNet paper / TF-slim table"


def test_runtime_summary_and_budgets():
    points = pd.DataFrame({"variant_label": ["MobileNet 1.0/224", "MobileNet 0.25/128", "VGG16"],
                           "source": ["tf_slim", "tf_slim", "mobilenet_paper"], "top1": [70.9, 41.5, 71.5],
                           "computed_macs_millions": [569.0, 14.0, 15470.0], "keras_ms": [8.0, 2.0, 100.0]})
    row = story.runtime_summary(points, ["keras"], budgets=(1.0, 5.0, 10.0)).loc["keras"]
    assert row["times faster"] == pytest.approx(12.5)
    assert (row["MobileNets from ms"], row["MobileNets to ms"]) == (2.0, 8.0)
    assert row["best within 1 ms"] == "none"
    assert row["best within 5 ms"] == "MobileNet 0.25/128 (41.5 %)"
    assert row["best within 10 ms"] == "MobileNet 1.0/224 (70.9 %)"


def test_best_within_per_runtime_and_precision():
    points = pd.DataFrame({"variant": ["a", "b", "c"], "runtime": ["litert"] * 3, "precision": ["fp32", "fp32", "int8"],
                           "ms_per_image": [0.5, 2.0, 0.4], "accuracy_%": [60.0, 70.0, 65.0]})
    table = story.best_within(points, 1.0).set_index("precision")
    assert table.loc["fp32", "best"] == "a" and table.loc["int8", "best"] == "c"
    assert story.best_within(points, 0.1)["best"].eq("none").all()


def test_batchnorm_summary_counts_epochs_near_chance():
    runs = {0.99: SimpleNamespace(history={"loss": [2.0, 1.0], "accuracy": [0.5, 0.9], "val_accuracy": [0.1, 0.12]},
                                  accuracy=0.11),
            0.9: SimpleNamespace(history={"loss": [2.0, 1.0], "accuracy": [0.5, 0.9], "val_accuracy": [0.1, 0.8]},
                                 accuracy=0.75)}
    summary = story.batchnorm_summary(runs, classes=10)
    assert list(summary["epochs near chance"]) == [2, 1]
    assert summary.loc[0.9, "last validation %"] == pytest.approx(80)
    assert summary.loc[0.9, "test %"] == pytest.approx(75)
    assert summary["same training loss"].all()
    curves = story.batchnorm_curves(runs)
    assert list(curves.index) == [1, 2] and curves["validation %, m=0.9"].iloc[1] == pytest.approx(80)


def test_sweep_settings_and_imagenet_labels():
    sweep = pd.DataFrame({"variant": ["MobileNet 0.5/32 num_classes=10 logits=True bn_momentum=0.9",
                                      "VGG16/32 num_classes=10 fc_units=256 fc6_kernel_size=auto"],
                          "epochs_run": [20, 12]})
    settings = story.sweep_settings(sweep).set_index("variant")
    assert settings.loc["MobileNet 0.5/32", "epochs run"] == 20
    assert settings.loc["MobileNet 0.5/32", "bn_momentum"] == 0.9
    assert settings.loc["VGG16/32", "recommended epochs"] == RECOMMENDED["vgg16"]["epochs"]
    assert [story.imagenet_label(v) for v in sweep["variant"]] == ["MobileNet 0.5/224", "VGG16"]
