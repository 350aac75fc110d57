"""Published accuracy joined with computed costs; the Pareto front."""

import pandas as pd
import pytest

from analysis.accuracy.tradeoffs import pareto_front, published_with_costs


def test_every_published_row_is_kept_and_costed_where_we_build_it():
    table = published_with_costs()
    assert len(table) == 40
    vgg = table[(table["model"] == "VGG16") & (table["source"] == "torchvision")].iloc[0]
    assert vgg["computed_macs_millions"] == pytest.approx(15_470.26432)
    conv = table[table["variant"] == "conv"].iloc[0]
    assert conv["variant_label"] == "Conv MobileNet 1.0/224"
    assert table.loc[table["model"] == "AlexNet", "computed_macs_millions"].isna().all()


def test_latency_is_joined_per_runtime():
    latency = pd.DataFrame([
        {"variant": "MobileNet 1.0/224", "runtime": "litert", "ms_per_image": 12.0},
        {"variant": "VGG16", "runtime": "litert", "ms_per_image": 300.0},
        {"variant": "VGG16", "runtime": "keras", "ms_per_image": 330.0},
    ])
    table = published_with_costs(latency)
    row = table[(table["variant_label"] == "VGG16")].iloc[0]
    assert row["litert_ms"] == 300.0 and row["keras_ms"] == 330.0
    assert table.loc[table["variant_label"] == "MobileNet 1.0/224", "litert_ms"].eq(12.0).all()


def test_pareto_front_closed_form():
    cost = [1.0, 2.0, 3.0, 2.5, float("nan")]
    accuracy = [50.0, 60.0, 55.0, 70.0, 99.0]
    assert list(pareto_front(cost, accuracy)) == [True, True, False, True, False]
