"""The machine profile per precision: theoretical peaks against closed forms for faked CPUs, the
measured kernels against numpy's exact products, and the profile's shape (never its speed)."""

import dataclasses

import numpy as np
import pytest

from analysis.speed import cpu, kernels, machine

ZEN4_FLAGS = "fpu sse2 avx fma avx2 avx512f avx512bw avx512vl avx512_bf16 avx512_vnni avx_vnni"


def _fake_cpu(monkeypatch, family, model, flags=ZEN4_FLAGS, vendor="AuthenticAMD", mhz="2600.000"):
    info = {"vendor_id": vendor, "cpu family": str(family), "model": str(model), "model name": "Fake CPU",
            "cpu MHz": mhz, "flags": flags}
    monkeypatch.setattr(cpu, "cpuinfo", lambda: info)


def test_zen4_theoretical_peaks_follow_its_256_bit_datapath(monkeypatch):
    _fake_cpu(monkeypatch, 25, 0x11)  # EPYC Genoa
    peaks, note = cpu.theoretical_peaks(cores=3)
    # 3 cores x 2 FMA pipes x 8 fp32 lanes (AVX-512 in two 256-bit halves) x 2 FLOPs x 2.6 GHz.
    fp32 = 3 * 2 * 8 * 2 * 2.6
    assert peaks["fp32"] == pytest.approx(fp32, rel=1e-12)
    assert peaks["bf16"] == pytest.approx(2 * fp32, rel=1e-12)
    assert peaks["int8"] == pytest.approx(4 * fp32, rel=1e-12)
    assert cpu.theoretical_peak_gflops(cores=3) == peaks["fp32"]
    assert "Zen 4" in note and "2 passes of 256 bits" in note and "2.600 GHz" in note


def test_zen5_server_has_a_full_512_bit_datapath(monkeypatch):
    _fake_cpu(monkeypatch, 26, 0x02)  # EPYC Turin
    peaks, note = cpu.theoretical_peaks(cores=2)
    fp32 = 2 * 2 * 16 * 2 * 2.6
    assert peaks == pytest.approx({"fp32": fp32, "bf16": 2 * fp32, "int8": 4 * fp32}, rel=1e-12)
    assert "Zen 5" in note and "passes" not in note


def test_missing_instructions_give_no_peak_for_their_precision(monkeypatch):
    _fake_cpu(monkeypatch, 26, 0x02, flags="fma avx2 avx_vnni")  # a VM that hides AVX-512
    peaks, note = cpu.theoretical_peaks(cores=1)
    assert peaks["fp32"] == pytest.approx(2 * 8 * 2 * 2.6, rel=1e-12)
    assert peaks["bf16"] is None and "no avx512_bf16" in note
    assert peaks["int8"] == pytest.approx(2 * 8 * 4 * 2 * 2.6, rel=1e-12)  # VPDPBUSD on 256 bits


@pytest.mark.parametrize("vendor, family, model", [("GenuineIntel", 6, 0x8F), ("AuthenticAMD", 26, 0x70),
                                                   ("CentaurHauls", 7, 0x3B)])
def test_unknown_cpu_has_no_theoretical_peak(monkeypatch, vendor, family, model):
    _fake_cpu(monkeypatch, family, model, vendor=vendor)
    peaks, note = cpu.theoretical_peaks(cores=2)
    assert peaks == {"fp32": None, "bf16": None, "int8": None}
    assert "unknown" in note and f"family {family} model {model:#04x}" in note
    assert cpu.theoretical_peak_gflops() is None


def test_cpuinfo_without_identity_or_clock(monkeypatch):
    monkeypatch.setattr(cpu, "cpuinfo", lambda: {})
    assert cpu.theoretical_peaks()[0]["fp32"] is None and cpu.microarchitecture() is None
    _fake_cpu(monkeypatch, 25, 0x11, mhz="")
    peaks, note = cpu.theoretical_peaks()
    assert peaks["int8"] is None and "no clock" in note


def test_cpuinfo_reads_the_first_processor_and_tells_model_from_model_name(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                    "model name\t: AMD EPYC 9654\nflags\t\t: fma avx512_bf16\n\n"
                    "processor\t: 1\nvendor_id\t: GenuineIntel\nmodel\t\t: 99\n")
    info = cpu.cpuinfo(path)
    assert info["model"] == "17" and info["model name"] == "AMD EPYC 9654" and info["vendor_id"] == "AuthenticAMD"
    assert cpu.microarchitecture(info).name == "AMD Zen 4"
    assert cpu.cpuinfo(tmp_path / "absent") == {}


def test_bf16_support_and_vnni_labels():
    assert cpu.bf16_supported({"avx512_bf16"}) and cpu.bf16_supported({"amx_bf16"})
    assert not cpu.bf16_supported({"avx512f", "avx512_vnni"})
    assert cpu.vnni_label({"avx512_vnni"}) == "AVX512-VNNI"
    assert cpu.vnni_label({"avx2"}) == "no VNNI on this CPU"


def _product_or_skip(precision, kernel, a, b):
    try:
        return kernels.matmul_product(precision, kernel, a, b, threads=1)
    except kernels.KernelUnavailable as error:
        pytest.skip(f"{kernel} does not run here: {error}")


@pytest.mark.parametrize("kernel", list(kernels.KERNELS["int8"]))
def test_int8_kernel_computes_the_exact_int32_product(kernel):
    rng = np.random.default_rng(3)
    a = rng.integers(0, 128, (40, 64), dtype=np.uint8)
    b = rng.integers(-128, 128, (64, 24), dtype=np.int8)
    a[0], b[:, 0] = 127, -128  # the extremes: a 16-bit pairwise sum would saturate, int32 does not
    expected = a.astype(np.int32) @ b.astype(np.int32)
    assert expected[0, 0] == 64 * 127 * -128
    result = _product_or_skip("int8", kernel, a, b)
    assert result.dtype == np.int32 and result.shape == (40, 24)
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("kernel", list(kernels.KERNELS["bf16"]))
def test_bf16_kernel_computes_the_product(kernel):
    if not cpu.bf16_supported():
        pytest.skip("this CPU has no bf16 instructions")
    rng = np.random.default_rng(4)
    # Whole numbers -3..3 are exact in bfloat16, and so is every sum here (|sum| <= 16 x 9 < 256).
    a = rng.integers(-3, 4, (24, 16)).astype(np.float32)
    b = rng.integers(-3, 4, (16, 40)).astype(np.float32)
    np.testing.assert_array_equal(_product_or_skip("bf16", kernel, a, b), a @ b)


def test_kernel_names_are_checked():
    with pytest.raises(ValueError, match="kernel.*'cublas'"):
        kernels.matmul_product("int8", "cublas", np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.int8))
    with pytest.raises(ValueError, match="precision.*'fp16'"):
        kernels.matmul_product("fp16", "torch", np.zeros((2, 2)), np.zeros((2, 2)))


def test_measure_reports_every_precision_and_best_takes_the_highest_of_each():
    profile = machine.measure(matrix_size=128, repeats=2)
    assert set(profile.peaks) == set(profile.peak_methods) == set(profile.theoretical_peaks) == {"fp32", "bf16", "int8"}
    assert profile.peaks["fp32"] == profile.peak_gflops > 0
    assert profile.theoretical_peaks["fp32"] == profile.theoretical_peak_gflops
    assert profile.peaks["int8"] > 0
    assert profile.peak_methods["int8"].startswith("best of up to 2 128^3 int8 matrix products")
    assert cpu.vnni_label() in profile.peak_methods["int8"]
    if cpu.bf16_supported():
        assert profile.peaks["bf16"] > 0 and "bf16" in profile.peak_methods["bf16"]
    else:
        assert profile.peaks["bf16"] is None and profile.peak_methods["bf16"].startswith("not supported by this CPU")
    assert isinstance(profile.theoretical_note, str) and profile.theoretical_note
    assert profile.to_dict()["peaks"] == profile.peaks

    faster_int8 = dataclasses.replace(profile, peak_gflops=profile.peak_gflops / 2,
                                      peaks={**profile.peaks, "fp32": profile.peak_gflops / 2,
                                             "int8": 3 * profile.peaks["int8"]},
                                      peak_methods={**profile.peak_methods, "int8": "the faster one"})
    combined = machine.best(profile, faster_int8)
    assert combined.peaks["fp32"] == combined.peak_gflops == profile.peak_gflops
    assert combined.peaks["int8"] == 3 * profile.peaks["int8"]
    assert combined.peak_methods["int8"] == "the faster one"
    assert combined.peak_methods["fp32"] == profile.peak_methods["fp32"]
    assert combined.peaks["bf16"] == profile.peaks["bf16"]
