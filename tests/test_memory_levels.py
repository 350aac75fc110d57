"""Measured memory levels: the plateaus of synthetic sweeps with known levels, the roofline bounded
by the level that holds each layer's traffic (closed form), and profiles without levels as before."""

import dataclasses

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from analysis import plots  # noqa: E402
from analysis.speed import machine, memory, roofline, story  # noqa: E402

KIB, MIB = 2**10, 2**20
# Three plateaus: 200 GB/s up to 256 KiB, 80 GB/s up to 16 MiB, 15 GB/s (DRAM) beyond.
LEVELS = [{"name": "L1", "capacity_bytes": 256 * KIB, "gbs": 200.0},
          {"name": "L2", "capacity_bytes": 16 * MIB, "gbs": 80.0},
          {"name": "DRAM", "capacity_bytes": None, "gbs": 15.0}]


def _sweep(gbs, sizes=None):
    sizes = 16 * KIB * 2 ** np.arange(len(gbs)) if sizes is None else sizes  # 16 KiB ... one per octave
    return pd.DataFrame({"working_set_bytes": sizes, "gbs": gbs})


def _three_plateaus(seed):
    sizes = 16 * KIB * 2 ** np.arange(15)  # 16 KiB ... 256 MiB
    truth = np.select([sizes <= 256 * KIB, sizes <= 16 * MIB], [200.0, 80.0], 15.0)
    return sizes, truth * np.random.default_rng(seed).uniform(0.9, 1.1, len(sizes))


@pytest.mark.parametrize("seed", range(5))
def test_levels_of_three_noisy_plateaus(seed):
    sizes, gbs = _three_plateaus(seed)
    gbs[2] *= 0.45   # 64 KiB: one point far below its plateau
    gbs[8] *= 1.9    # 4 MiB: one far above
    gbs[-1] *= 0.6   # the last point low on its own
    levels = memory.memory_levels(_sweep(gbs, sizes))
    assert [level["name"] for level in levels] == ["L1", "L2", "DRAM"]
    assert [level["capacity_bytes"] for level in levels] == [256 * KIB, 16 * MIB, None]
    # Each level's bandwidth is the median of its points: within the +-10 % noise of its plateau.
    for level, plateau in zip(levels, (200.0, 80.0, 15.0)):
        assert level["gbs"] == pytest.approx(plateau, rel=0.1)


def test_level_bandwidth_is_the_median_of_its_points():
    gbs = [100.0, 104.0, 96.0, 50.0, 52.0, 48.0, 10.0, 11.0, 12.0]
    levels = memory.memory_levels(_sweep(gbs))
    assert levels == [{"name": "L1", "capacity_bytes": 64 * KIB, "gbs": 100.0},
                      {"name": "L2", "capacity_bytes": 512 * KIB, "gbs": 50.0},
                      {"name": "DRAM", "capacity_bytes": None, "gbs": 11.0}]


def test_a_slope_between_two_levels_makes_no_level():
    # 150 up to 256 KiB (the 140 and 120 still within 25 % of it), 95 from 512 KiB to 4 MiB, then a
    # fall through 70 and 40 to 15 GB/s: the falling points belong to no level.
    gbs = [150, 150, 150, 140, 120, 100, 95, 95, 90, 70, 40, 20, 15, 15, 15]
    levels = memory.memory_levels(_sweep(np.array(gbs, dtype=float)))
    assert [(level["name"], level["capacity_bytes"]) for level in levels] == [
        ("L1", 256 * KIB), ("L2", 4 * MIB), ("DRAM", None)]
    assert [level["gbs"] for level in levels] == [150.0, 95.0, 15.0]


def test_a_flat_sweep_is_one_dram_level_and_nan_points_are_left_out():
    assert memory.memory_levels(_sweep([20.0, 21.0, 19.0, 20.0])) == [
        {"name": "DRAM", "capacity_bytes": None, "gbs": 20.0}]
    assert memory.memory_levels(_sweep([float("nan"), 20.0, 20.0]))[0]["gbs"] == 20.0
    with pytest.raises(ValueError, match="drop"):
        memory.memory_levels(_sweep([1.0]), drop=0)
    with pytest.raises(ValueError, match="sweep"):
        memory.memory_levels(pd.DataFrame({"gbs": [1.0]}))
    with pytest.raises(ValueError, match="sweep"):
        memory.memory_levels(_sweep([float("nan")]))


def test_sweep_sizes_double_and_end_at_the_largest():
    sizes = memory.sweep_sizes(16 * KIB, 256 * MIB)
    assert len(sizes) == 15 and all(size % 192 == 0 for size in sizes)  # 3 arrays of 16 float32
    assert sizes[0] == pytest.approx(16 * KIB, abs=96) and sizes[-1] == pytest.approx(256 * MIB, abs=96)
    assert len(memory.sweep_sizes(16 * KIB, 256 * MIB, points_per_octave=2)) == 29
    assert memory.sweep_sizes(16 * KIB, 40 * KIB)[-1] == pytest.approx(40 * KIB, abs=96)  # the largest kept


def test_sweep_takes_off_the_call_cost_and_the_faster_thread_count(monkeypatch):
    """Faked timings: 2 us per call plus the bytes at 50 GB/s on one thread, 100 GB/s on two (the
    call cost, measured on 64 elements, is 2 us plus their own bytes)."""
    def seconds(elements, repeats, max_seconds, threads=1):
        return 2e-6 + 12 * elements / (50e9 * threads)

    monkeypatch.setattr(memory, "_seconds_per_call", seconds)
    monkeypatch.setattr(memory, "core_count", lambda: 2)
    sweep = memory.bandwidth_sweep(min_bytes=16 * KIB, max_bytes=4 * MIB)
    call = seconds(memory.CALL_COST_ELEMENTS, 1, 1.0)
    assert sweep.attrs["call_seconds"] == call and (sweep["threads"] == 2).all()
    data = sweep["working_set_bytes"] / 100e9
    expected_gbs = sweep["working_set_bytes"] / (data + 2e-6 - call) / 1e9
    resolved = call / (data + 2e-6) <= memory.MAX_CALL_SHARE  # from 256 KiB (262080 bytes) on
    assert resolved.tolist() == (sweep["working_set_bytes"] > 200 * KIB).tolist()
    np.testing.assert_allclose(sweep.loc[resolved, "gbs"], expected_gbs[resolved], rtol=1e-12)
    assert sweep.loc[~resolved, "gbs"].isna().all()
    assert list(memory.bandwidth_sweep(min_bytes=16 * KIB, max_bytes=64 * KIB, threads=[1])["threads"]) == [1] * 3


def test_sweep_arguments_are_checked():
    with pytest.raises(ValueError, match="max_bytes"):
        memory.bandwidth_sweep(min_bytes=64 * KIB, max_bytes=32 * KIB)
    with pytest.raises(ValueError, match="points_per_octave"):
        memory.bandwidth_sweep(points_per_octave=0)


def test_level_bandwidths_and_description():
    assert memory.level_bandwidths(LEVELS) == (15.0, 80.0)
    assert memory.level_bandwidths(LEVELS[-1:]) == (15.0, None)
    assert memory.describe_levels(LEVELS) == "L1 up to 256 KiB: 200.0 GB/s; L2 up to 16 MiB: 80.0 GB/s; DRAM: 15.0 GB/s"
    faster = memory.with_bandwidths(LEVELS, 20.0, 90.0)
    assert [level["gbs"] for level in faster] == [200.0, 90.0, 20.0] and LEVELS[1]["gbs"] == 80.0


def _dense_table(inputs, units, name="fc"):
    """A layer table of one bias-free dense layer: 4 * (inputs + units + inputs * units) bytes of
    float32 traffic at batch 1, 2 * inputs * units FLOPs."""
    return pd.DataFrame([{"name": name, "type": "Dense", "kernel_size": None, "input_shape": (inputs,),
                          "flops": 2 * inputs * units, "other_ops": 0, "activation_bytes": 4 * units,
                          "weight_bytes": 4 * inputs * units}])


def test_each_layer_is_bounded_by_the_level_that_holds_its_traffic():
    # fc6 of VGG16: 25088 -> 4096, 411 MB of float32 weights; a 64 -> 32 layer: 8.6 KB.
    fc6, small = _dense_table(25088, 4096, "fc6"), _dense_table(64, 32, "small")
    fc6_bytes = 4 * (25088 + 4096 + 25088 * 4096)
    small_bytes = 4 * (64 + 32 + 64 * 32)
    assert fc6_bytes > 411e6
    big = roofline.layer_bounds(fc6, 1000.0, 99.0, levels=LEVELS).iloc[0]
    assert big["memory_level"] == "DRAM" and big["bandwidth_gbs"] == 15.0  # the levels' DRAM, not 99
    assert big["memory_ms"] == pytest.approx(fc6_bytes / 15e9 * 1e3, rel=1e-12)
    little = roofline.layer_bounds(small, 1000.0, 99.0, levels=LEVELS).iloc[0]
    assert little["memory_level"] == "L1" and little["traffic_bytes"] == small_bytes
    assert little["memory_ms"] == pytest.approx(small_bytes / 200e9 * 1e3, rel=1e-12)
    # 1 MiB < traffic <= 16 MiB: the second level; at batch 2 the same layer's traffic grows.
    middle = _dense_table(1024, 1024)  # 4 * (2048 + 1024^2) bytes, just over 4 MiB
    assert roofline.layer_bounds(middle, 1000.0, 99.0, levels=LEVELS).iloc[0]["memory_level"] == "L2"
    # A reported 480 MiB cache would have put fc6 in the cache; measured levels do not.
    reported = {"peak_gflops": 1000.0, "bandwidth_gbs": 15.0, "cache_bandwidth_gbs": 80.0,
                "last_level_cache_bytes": 480 * MIB}
    assert roofline.machine_bounds(fc6, reported, fused=False).iloc[0]["memory_level"] == "cache"
    measured = {**reported, "memory_levels": LEVELS}
    assert roofline.machine_bounds(fc6, measured, fused=False).iloc[0]["memory_level"] == "DRAM"


def test_a_profile_without_levels_gives_the_two_level_bounds():
    table = pd.concat([_dense_table(64, 32, "small"), _dense_table(2048, 2048, "big")], ignore_index=True)
    profile = {"peak_gflops": 100.0, "bandwidth_gbs": 10.0, "cache_bandwidth_gbs": 50.0,
               "last_level_cache_bytes": 1 * MIB}
    bounds = roofline.machine_bounds(table, profile, fused=False).set_index("name")
    # Traffic <= 1 MiB: the cache's 50 GB/s; beyond: DRAM's 10 GB/s, as before levels existed.
    assert bounds.loc["small", "memory_level"] == "cache" and bounds.loc["small", "bandwidth_gbs"] == 50.0
    assert bounds.loc["big", "memory_level"] == "DRAM" and bounds.loc["big", "bandwidth_gbs"] == 10.0
    for name, gbs in (("small", 50.0), ("big", 10.0)):
        row = bounds.loc[name]
        assert row["memory_ms"] == pytest.approx(row["traffic_bytes"] / (gbs * 1e9) * 1e3, rel=1e-12)
        assert row["bound_ms"] == max(row["memory_ms"], row["compute_ms"])
    explicit = roofline.layer_bounds(table, 100.0, 10.0, levels=roofline.two_levels(10.0, 50.0, 1 * MIB))
    pd.testing.assert_frame_equal(bounds.reset_index()[explicit.columns], explicit)
    for empty in ({"memory_levels": []}, {"memory_levels": None}):
        pd.testing.assert_frame_equal(roofline.machine_bounds(table, {**profile, **empty}, fused=False),
                                      bounds.reset_index()[explicit.columns])
    dram_only = roofline.layer_bounds(table, 100.0, 10.0)
    assert set(dram_only["memory_level"]) == {"DRAM"} and (dram_only["bandwidth_gbs"] == 10.0).all()


def test_levels_are_checked():
    table = _dense_table(64, 32)
    for bad in ([], [{"name": "L1", "capacity_bytes": 10, "gbs": 5.0}],
                [{"name": "L1", "capacity_bytes": None, "gbs": 5.0}, {"name": "DRAM", "capacity_bytes": None, "gbs": 1.0}],
                [LEVELS[1], LEVELS[0], LEVELS[2]], [{**LEVELS[0], "gbs": 0.0}, LEVELS[2]]):
        with pytest.raises(ValueError, match="levels"):
            roofline.layer_bounds(table, 100.0, 10.0, levels=bad)


def _profile(**changes):
    fields = dict(cpu="Fake CPU", cores=2, clock_ghz=2.0, vector_isa="AVX2", peak_gflops=100.0, peak_by_library={},
                  peaks={"fp32": 100.0, "bf16": None, "int8": None}, peak_methods={}, peaks_by_kernel={},
                  theoretical_peak_gflops=None, theoretical_peaks={}, theoretical_note="", bandwidth_gbs=15.0,
                  cache_bandwidth_gbs=80.0, triad_bytes=256 * MIB, last_level_cache_bytes=480 * MIB,
                  ridge_flops_per_byte=100.0 / 15.0, note="", memory_levels=LEVELS)
    return machine.MachineProfile(**{**fields, **changes})


def test_measure_takes_the_levels_of_a_sweep_given(monkeypatch):
    sizes, gbs = _three_plateaus(0)
    sweep = _sweep(gbs, sizes)
    sweep.attrs["call_seconds"] = 2e-6
    monkeypatch.setattr(machine, "kernel_gops", lambda *args: ({}, {"fake": "not run in this test"}))
    monkeypatch.setattr(machine, "matmul_gflops", lambda *args: {"numpy": 100.0})
    profile = machine.measure(matrix_size=8, repeats=1, sweep=sweep)
    levels = memory.memory_levels(sweep)
    assert profile.memory_levels == levels and profile.bandwidth_gbs == levels[-1]["gbs"]
    assert profile.cache_bandwidth_gbs == levels[1]["gbs"] and profile.triad_bytes == sizes[-1]
    assert profile.ridge_flops_per_byte == pytest.approx(100.0 / levels[-1]["gbs"])
    assert "memory: torch triads a = b + s*c over 15 working sets from 16 KiB to 256 MiB" in profile.note
    assert "(2.0 us)" in profile.note and profile.to_dict()["memory_levels"] == levels


def test_best_keeps_levels_consistent_with_its_bandwidths():
    first = _profile()
    second = _profile(peak_gflops=50.0, bandwidth_gbs=20.0, cache_bandwidth_gbs=70.0,
                      memory_levels=memory.with_bandwidths(LEVELS, 20.0, 70.0))
    best = machine.best(first, second)
    assert best.bandwidth_gbs == 20.0 and best.cache_bandwidth_gbs == 80.0
    assert memory.level_bandwidths(best.memory_levels) == (20.0, 80.0)
    assert machine.best(_profile(memory_levels=[]), _profile(memory_levels=[])).memory_levels == []


def test_steady_profile_leaves_out_the_cache_levels_of_a_busy_sweep():
    busy = _profile(cache_bandwidth_gbs=None, memory_levels=[{"name": "L1", "capacity_bytes": KIB, "gbs": 10.0},
                                                             {"name": "DRAM", "capacity_bytes": None, "gbs": 15.0}])
    profile, note = story.steady_profile(lambda: busy, tries=2)
    assert profile.memory_levels == [{"name": "DRAM", "capacity_bytes": None, "gbs": 15.0}]
    assert "found no cache level" in note and "left out" in note
    assert story.steady_profile(_profile, tries=1) == (_profile(), "")


def test_machine_table_shows_the_reported_cache_beside_the_measured_levels():
    table = story.machine_table(_profile())
    assert table.loc["last-level cache (reported by the CPU)", "value"] == "480"
    assert table.loc["L1 capacity (measured)", "value"] == "256 KiB"
    assert table.loc["L2 capacity (measured)", "value"] == "16 MiB"
    assert table.loc["DRAM capacity (measured)", "value"] == "beyond the caches"
    assert table.loc["L2 bandwidth (measured triad)", ["value", "unit"]].tolist() == ["80.0", "GB/s"]
    old = {k: v for k, v in _profile().to_dict().items() if k != "memory_levels"}
    assert not story.machine_table(old).index.str.contains("(measured", regex=False).any()


def test_roofline_plot_draws_one_labelled_roof_per_level():
    table = pd.concat([_dense_table(64, 32, "small"), _dense_table(2048, 2048, "big")], ignore_index=True)
    profile = _profile().to_dict()
    ax = plots.draw_roofline({"net": roofline.machine_bounds(table, profile, fused=False)}, profile)
    roofs = ax.get_lines()[:3]
    for line, gbs in zip(roofs, (15.0, 80.0, 200.0)):  # DRAM first, then the largest cache
        np.testing.assert_allclose(line.get_ydata(), np.minimum(100.0, gbs * np.asarray(line.get_xdata())))
    labels = [t.get_text() for t in ax.texts if "GB/s" in t.get_text()]
    assert set(labels) >= {"DRAM 15 GB/s", "L2 (up to 16 MiB) 80 GB/s", "L1 (up to 256 KiB) 200 GB/s"}


@pytest.mark.slow  # times the triad on this machine
def test_a_short_real_sweep_finds_dram_slower_than_the_first_level():
    sweep = memory.bandwidth_sweep(min_bytes=16 * KIB, max_bytes=256 * MIB, repeats=3, max_seconds=0.5)
    assert list(sweep.columns) == ["working_set_bytes", "seconds", "gbs", "call_share", "threads"]
    assert sweep["working_set_bytes"].is_monotonic_increasing and (sweep["seconds"] > 0).all()
    assert sweep.attrs["call_seconds"] > 0 and sweep["call_share"].between(0, 1).all()
    levels = memory.memory_levels(sweep)
    assert levels[-1]["name"] == "DRAM" and levels[-1]["capacity_bytes"] is None
    assert len(levels) >= 2 and levels[-1]["gbs"] < levels[0]["gbs"]
