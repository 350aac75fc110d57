"""The published figures ship with the package, and the paper's tables reproduce."""

import pathlib

import pytest

from analysis.published import PUBLISHED_CSV, SOURCES_MD, published, reproduce_paper_tables, sources

SHARED_REFERENCE = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.mark.skipif(not SHARED_REFERENCE.is_dir(), reason="no shared/reference beside the checkout")
def test_packaged_copy_is_the_shared_reference():
    assert PUBLISHED_CSV.read_text() == (SHARED_REFERENCE / "published.csv").read_text()
    assert SOURCES_MD.read_text() == (SHARED_REFERENCE / "SOURCES.md").read_text()


def test_published_figures_ship_with_the_package():
    table = published()
    assert len(table) == PUBLISHED_CSV.read_text().strip().count("\n")
    assert set(table["source"]) == {"mobilenet_paper", "vgg_paper", "keras_applications", "torchvision", "tf_slim"}
    assert table["top1"].dtype.kind == "f"
    assert "arXiv:1704.04861" in sources()


@pytest.fixture(scope="module")
def reproduced():
    return reproduce_paper_tables().set_index(["table", "row", "quantity"])


def test_every_table_from_2_to_8_is_rebuilt(reproduced):
    assert {"2", "3", "4", "5", "6", "7", "8"} <= set(reproduced.index.get_level_values("table"))


def test_disagreements_are_the_known_ones_and_carry_notes(reproduced):
    disagree = reproduced[~reproduced["agrees"]]
    assert set(disagree.index) == {
        ("2", "Conv 3x3", "mult_adds_share"),
        ("4", "Conv MobileNet", "mult_adds_millions"),
        ("7", "MobileNet 1.0/160", "mult_adds_millions"),
        ("8", "VGG16", "mult_adds_millions"),
        ("keras docs", "MobileNet 1.0/224", "mult_adds_millions"),
    }
    assert (disagree["note"].str.len() > 20).all()


def test_known_values(reproduced):
    # Closed forms: Table 3's layer, and MobileNet's first convolution share (1.91 %, not 1.19 %).
    assert reproduced.loc[("3", "Conv 3x3 (14x14x512)", "mult_adds_millions"), "computed"] == 3 * 3 * 512 * 512 * 14 * 14 / 1e6
    first_conv = 112 * 112 * 32 * 3 * 3 * 3
    share = reproduced.loc[("2", "Conv 3x3", "mult_adds_share"), "computed"]
    assert share == pytest.approx(100 * first_conv / 568_740_352, abs=1e-3)
    assert reproduced.loc[("8", "VGG16", "mult_adds_millions"), "computed"] == pytest.approx(15_470.26432)
