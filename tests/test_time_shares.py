"""Each layer group's share of a profile's time against its share of the MACs, and their figure."""

import numpy as np
import pandas as pd
import pytest

from analysis.plots import draw_time_shares
from analysis.speed.story import time_shares


def _profiles():
    rows = [("conv1", "Convolution", 2.0, 10), ("dw", "Depthwise", 3.0, 5), ("pw", "Pointwise", 4.0, 80),
            ("fc", "Fully connected", 1.0, 5), ("unattributed", "", 1.0, None)]
    frames = []
    for config, scale in (("openvino", 1.0), ("openvino int8", 0.5)):
        frames.append(pd.DataFrame([{"variant": "Net", "configuration": config, "layer": layer, "group": group,
                                     "ms": ms * scale, "macs": macs} for layer, group, ms, macs in rows]))
    return pd.concat(frames, ignore_index=True)


def test_shares_are_each_groups_time_and_macs_over_the_total():
    shares = time_shares(_profiles()).set_index(["configuration", "group"])
    assert shares.loc[("openvino", "Depthwise"), "time_share"] == pytest.approx(3 / 11)
    assert shares.loc[("openvino", "Depthwise"), "mac_share"] == pytest.approx(5 / 100)
    assert shares.loc[("openvino", "Unattributed"), "time_share"] == pytest.approx(1 / 11)
    assert np.isnan(shares.loc[("openvino", "Unattributed"), "mac_share"])
    assert shares.loc[("openvino int8", "Pointwise"), "ms"] == pytest.approx(2.0)
    for config in ("openvino", "openvino int8"):
        assert shares.loc[config, "time_share"].sum() == pytest.approx(1.0)


def test_the_figure_has_a_panel_per_network_and_a_bar_per_configuration_under_the_macs():
    fig = draw_time_shares(time_shares(_profiles()), title="t")
    ax = fig.axes[0]
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["share of MACs", "openvino", "openvino int8"]
    widths = sorted(round(p.get_width(), 6) for p in ax.patches if -0.5 < p.get_y() < 0.5 and p.get_width() > 0)
    assert widths == sorted([10.0, 5.0, 80.0, 5.0])  # the MAC bar: each group's % of the MACs


def test_a_groups_line_names_its_mac_share_and_each_configurations_time_share():
    from analysis.speed.story import group_share_line

    line = group_share_line(time_shares(_profiles()), "Net", "Depthwise")
    assert line == "Net's depthwise layers: 5.0 % of its MACs; of its time: openvino 27 %, openvino int8 27 %"
