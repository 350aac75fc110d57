"""save_table (analysis.report.tables), the successors' published figures and counts
(analysis.cost.successors), and the head-versus-body figure (analysis.plots.attribution)."""

import os

import matplotlib
import pandas as pd
import pytest

from analysis.cost import successors
from analysis.report.tables import save_table
from analysis.variants import Variant


# --- save_table ---------------------------------------------------------------------------------

def test_save_table_writes_the_csv_and_returns_its_path(tmp_path):
    frame = pd.DataFrame({"name": ["conv1", "fc6"], "params": [864, 102_764_544]})
    path = save_table(frame, "03_example", tmp_path / "tables")
    assert path == tmp_path / "tables" / "03_example.csv"
    assert pd.read_csv(path).equals(frame)  # no index column
    assert os.listdir(tmp_path / "tables") == ["03_example.csv"]  # no temporary file left


def test_save_table_defaults_to_the_tables_folder(tmp_path, monkeypatch):
    from analysis import paths

    monkeypatch.setattr(paths, "TABLES_DIR", tmp_path / "reports" / "tables")
    path = save_table(pd.DataFrame({"a": [1]}), "x")
    assert path == tmp_path / "reports" / "tables" / "x.csv" and path.exists()


def test_save_table_replaces_a_file_atomically(tmp_path, monkeypatch):
    from analysis import atomic

    save_table(pd.DataFrame({"a": [1]}), "t", tmp_path)
    calls = []
    monkeypatch.setattr(atomic.os, "replace", lambda src, dst: calls.append((src, dst)) or os.rename(src, dst))
    save_table(pd.DataFrame({"a": [2]}), "t", tmp_path)
    assert len(calls) == 1 and str(calls[0][1]).endswith("t.csv")
    assert pd.read_csv(tmp_path / "t.csv")["a"].tolist() == [2]


@pytest.mark.parametrize("name", ["", "a/b", "../x", "x.csv", "with space", None, 3])
def test_save_table_refuses_a_name_that_is_not_a_stem(tmp_path, name):
    with pytest.raises(ValueError, match="name must be a file stem"):
        save_table(pd.DataFrame({"a": [1]}), name, tmp_path)
    assert not any(tmp_path.iterdir())


def test_save_table_refuses_what_is_not_a_dataframe(tmp_path):
    with pytest.raises(ValueError, match="frame must be a pandas DataFrame. Received frame=dict"):
        save_table({"a": [1]}, "t", tmp_path)


# --- the successors' published figures -----------------------------------------------------------

def test_published_successors_holds_the_papers_and_keras_figures():
    table = successors.published_successors()
    v2 = table[(table["source"] == "mobilenetv2_paper") & (table["model"] == "MobileNetV2")].iloc[0]
    assert (v2["table"], v2["top1"], v2["params_millions"], v2["mult_adds_millions"]) == ("4", 72.0, 3.4, 300)
    resnet = table[table["source"] == "resnet_paper"].set_index("table")
    assert resnet.loc["3", "top1"] == pytest.approx(100 - 22.85) and resnet.loc["3", "top5"] == pytest.approx(100 - 6.71)
    assert resnet.loc["3", "evaluation"] == "10-crop" and resnet.loc["1", "mult_adds_millions"] == 3800
    keras_rows = table[table["source"] == "keras_applications"].set_index("model")
    assert keras_rows["top1"].to_dict() == {"VGG16": 71.3, "MobileNet": 70.4, "MobileNetV2": 71.3, "ResNet50": 74.9}
    assert keras_rows["params_millions"].to_dict() == {"VGG16": 138.4, "MobileNet": 4.3, "MobileNetV2": 3.5,
                                                       "ResNet50": 25.6}
    assert set(keras_rows["evaluation"]) == {"single center crop"}
    for source in table["source"].unique():  # every source is documented
        assert source in successors.sources()


def test_accuracy_table_keeps_the_one_headline_comparison():
    accuracy = successors.accuracy_table()
    assert list(accuracy.index) == ["VGG16", "MobileNet 1.0/224", "keras:MobileNetV2", "keras:ResNet50"]
    assert accuracy.loc["VGG16", "paper_top1_%"] == 71.5 and accuracy.loc["MobileNet 1.0/224", "paper_top1_%"] == 70.6
    assert accuracy.loc["VGG16", "paper_source"] == accuracy.loc["MobileNet 1.0/224", "paper_source"] \
        == "MobileNet paper (Howard et al. 2017), Table 8"
    assert accuracy.loc["keras:ResNet50", "paper_evaluation"] == "10-crop"
    assert accuracy.loc["keras:MobileNetV2", "paper_top1_%"] == 72.0
    assert accuracy["keras_top1_%"].tolist() == [71.3, 70.4, 71.3, 74.9]


# --- our counts of the successors against their papers and Keras ----------------------------------

@pytest.fixture(scope="module")
def successor_tables():
    return successors.network_tables((Variant("keras:MobileNetV2"), Variant("keras:ResNet50")))


def test_successor_counts_match_keras_and_the_papers(successor_tables):
    from nets.backend import keras

    compared = successors.compare_networks(successor_tables)
    assert compared.loc["keras:MobileNetV2", "params"] == keras.applications.MobileNetV2(weights=None).count_params()
    assert compared.loc["keras:ResNet50", "params"] == keras.applications.ResNet50(weights=None).count_params()
    assert compared.loc["keras:MobileNetV2", "macs"] == pytest.approx(300e6, rel=0.01)  # paper's Table 4
    assert compared.loc["keras:ResNet50", "macs"] == pytest.approx(3.8e9, rel=0.03)  # paper's Table 1
    assert not compared["lower_bound"].any()
    check = successors.paper_check(successor_tables).set_index(["network", "quantity"])
    assert abs(check.loc[("keras:MobileNetV2", "mult_adds_millions"), "rel_diff_%"]) < 1
    assert abs(check.loc[("keras:ResNet50", "mult_adds_millions"), "rel_diff_%"]) < 3


def test_arithmetic_intensity_of_a_network_by_hand():
    from nets.backend import keras

    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs))
    tables = {"tiny": successors.layer_table(model)}
    macs = 8 * 8 * 4 * 3 * 3 * 3
    traffic = 4 * (8 * 8 * 3 + 8 * 8 * 4 + 3 * 3 * 3 * 4)  # input, output, weights; float32
    assert successors.compare_networks(tables).loc["tiny", "arithmetic_intensity"] == pytest.approx(2 * macs / traffic)


def test_role_shares_add_up_per_network(successor_tables):
    shares = successors.role_shares(successor_tables)
    for column in shares.columns:
        assert shares[column].sum() == pytest.approx(100.0)
    assert shares.loc["Conv DW 3x3", ("params_share_%", "keras:ResNet50")] == 0.0
    assert shares.loc["Conv 7x7", ("macs_share_%", "keras:ResNet50")] > 0
    intensity = successors.intensity_by_role(successor_tables)
    assert intensity.loc[("keras:MobileNetV2", "Conv DW 3x3")] < intensity.loc[("keras:ResNet50", "Conv 3x3")]


# --- the head-versus-body figure ------------------------------------------------------------------

def test_draw_attribution_draws_both_parts_of_both_networks(tmp_path):
    from analysis import plots
    from analysis.cost.attribution import attribution

    table = attribution()
    fig = plots.draw_attribution(table, labels=["VGG16", "MobileNet 1.0/224"])
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("×121") for t in texts) and any(t.startswith("×4.56") for t in texts)
    assert fig.axes[0].get_title() == "Parameters: total ×32.5"
    png, svg = plots.save_fig(fig, "attribution", tmp_path)
    assert png.exists() and svg.exists()
    with pytest.raises(ValueError, match="two networks"):
        plots.draw_attribution(table[table["network"] == "VGG16"])
