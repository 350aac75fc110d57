"""This machine: CPU, cores, measured peak throughput per precision and memory bandwidth.

- Peaks, one per precision, each the best of large matrix products after a
  warm-up, counting 2 operations per multiply-add (``peaks``; GFLOP/s for
  fp32 and bf16, GOP/s for int8; ``peak_methods`` says how each was
  measured):

  - fp32: numpy's BLAS and, where the TensorFlow backend is loaded,
    TensorFlow's.
  - bf16: a bfloat16 product through a library's own kernel (PyTorch's
    torch.matmul on bfloat16 tensors, oneDNN; OpenVINO's MatMul compiled with
    the bf16 inference precision), where the CPU has avx512_bf16 or amx_bf16;
    else None ("not supported by this CPU"), never fp32 relabelled.
  - int8: an int8 product with int32 accumulation through a runtime's own
    kernel (ONNX Runtime's MatMulInteger, OpenVINO's int8 MatMul,
    torch._int_mm), VNNI where the CPU has it (the method says which).

  For bf16 and int8 the fastest kernel that runs is the peak.
- Memory: the levels of ``analysis.speed.memory`` (``memory_levels``), found in a bandwidth sweep
  of STREAM's triad ``a = b + s * c`` over working sets from a few KiB to several times the
  last-level cache, in GB/s (1e9 bytes). ``bandwidth_gbs`` is the DRAM level's,
  ``cache_bandwidth_gbs`` the largest cache level's (None where the sweep found no cache level);
  ``last_level_cache_bytes`` is what the CPU reports, for comparison.
- Theoretical peaks, per precision: cores x operations per cycle per core x
  the clock /proc/cpuinfo reports, the operations per cycle from the CPU's
  real FMA width (``MICROARCHITECTURES``, keyed on vendor, family and model;
  an unknown CPU gives None and says so in ``theoretical_note``).

Peaks and bandwidths take the best of repeats after a warm-up (STREAM's
convention): what the machine can do, which a neighbour's load on a shared
host only ever lowers. Latencies elsewhere in the suite are medians.
"""

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from analysis.speed.runtimes import PRECISIONS
from analysis.speed.cpu import (BF16_FLAGS, bf16_supported, clock_ghz, core_count, cpu_flags, cpu_model,  # noqa: F401
                                last_level_cache_bytes, theoretical_peaks)
from analysis.speed.kernels import best_seconds, kernel_gops, peak_method
from analysis.speed.memory import bandwidth_sweep, level_bandwidths, memory_levels, sweep_note, with_bandwidths
from nets.errors import BadInput
from nets.backend import keras


def matmul_gflops(size=2048, repeats=7):
    """Float32 GFLOP/s of a size x size matrix product, per library available.

    Returns a dict ``{"numpy": ..., "tensorflow": ...}`` (TensorFlow only when
    Keras runs on it).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flops = 2.0 * size**3
    result = {"numpy": flops / best_seconds(lambda: a @ b, repeats) / 1e9}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only where Keras runs on it

        ta, tb = tf.constant(a), tf.constant(b)
        product = tf.function(lambda: tf.linalg.matmul(ta, tb))
        result["tensorflow"] = flops / best_seconds(lambda: product().numpy(), repeats) / 1e9
    return result


@dataclass
class MachineProfile:
    """What ``measure()`` found; throughput in GFLOP/s (GOP/s for int8; 2 per multiply-add),
    bandwidth in GB/s.

    ``peaks``: ``{"fp32", "bf16", "int8"}`` measured peaks (None where the CPU lacks the precision
    or no kernel ran), ``peak_methods`` how each was measured, ``peaks_by_kernel`` every kernel's
    rate per precision; ``theoretical_peaks`` the same from the FMA width (None with the reason in
    ``theoretical_note``). ``peak_gflops`` and ``theoretical_peak_gflops`` are the fp32 ones.
    ``memory_levels``: the measured levels, fastest first, each ``{"name", "capacity_bytes" (None
    for DRAM), "gbs"}``; ``bandwidth_gbs`` and ``cache_bandwidth_gbs`` are its DRAM and largest
    cache level's; ``triad_bytes`` the sweep's largest working set; ``last_level_cache_bytes`` the
    size the CPU reports.
    """

    cpu: str
    cores: int
    clock_ghz: float
    vector_isa: str
    peak_gflops: float
    peak_by_library: dict
    peaks: dict
    peak_methods: dict
    peaks_by_kernel: dict
    theoretical_peak_gflops: float
    theoretical_peaks: dict
    theoretical_note: str
    bandwidth_gbs: float
    cache_bandwidth_gbs: float
    triad_bytes: int
    last_level_cache_bytes: int
    ridge_flops_per_byte: float
    note: str
    memory_levels: list = field(default_factory=list)

    def to_dict(self):
        return asdict(self)


_LIBRARY_NAMES = {"numpy": "numpy's BLAS (numpy @)", "tensorflow": "TensorFlow tf.linalg.matmul"}


def measure(matrix_size=2048, repeats=7, sweep=None):
    """Measure this machine's fp32, bf16 and int8 peaks and its memory levels (``repeats``: of the
    products; ``sweep``: a ``bandwidth_sweep`` already measured, else one is run here)."""
    # Memory first and fp32 last: TensorFlow's worker threads spin for a while after a
    # matrix product and would steal cores from the triad and the other products.
    sweep = bandwidth_sweep() if sweep is None else sweep
    levels = memory_levels(sweep)
    bandwidth, cache_bandwidth = level_bandwidths(levels)
    flags = cpu_flags()
    by_kernel = {"bf16": kernel_gops("bf16", matrix_size, repeats) if bf16_supported(flags) else None,
                 "int8": kernel_gops("int8", matrix_size, repeats)}
    by_library = matmul_gflops(matrix_size, repeats)
    peak = max(by_library.values())
    library = max(by_library, key=by_library.get)
    others = ", ".join(f"{name} {rate:.0f}" for name, rate in by_library.items() if name != library)
    peaks = {"fp32": peak}
    methods = {"fp32": f"best of up to {repeats} {matrix_size}^3 float32 matrix products, {_LIBRARY_NAMES[library]}"
                       + (f"; also measured: {others} GFLOP/s" if others else "")}
    for precision, measured in by_kernel.items():
        if measured is None:
            peaks[precision] = None
            methods[precision] = f"not supported by this CPU (no {'/'.join(BF16_FLAGS)})"
        else:
            peaks[precision], methods[precision] = peak_method(precision, matrix_size, repeats, *measured, peak)
    theoretical, theoretical_note = theoretical_peaks()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return MachineProfile(
        cpu=cpu_model(), cores=core_count(), clock_ghz=clock_ghz(), vector_isa=isa,
        peak_gflops=peak, peak_by_library=by_library, peaks=peaks, peak_methods=methods,
        peaks_by_kernel={"fp32": by_library, **{p: m[0] if m else {} for p, m in by_kernel.items()}},
        theoretical_peak_gflops=theoretical["fp32"], theoretical_peaks=theoretical,
        theoretical_note=theoretical_note,
        bandwidth_gbs=bandwidth, cache_bandwidth_gbs=cache_bandwidth,
        triad_bytes=int(sweep["working_set_bytes"].max()), last_level_cache_bytes=last_level_cache_bytes(),
        ridge_flops_per_byte=peak / bandwidth, memory_levels=levels,
        note=(f"peaks: best of up to {repeats} {matrix_size}^3 matrix products per precision (peak_methods; "
              f"a kernel stops repeating after 3 s); memory: {sweep_note(sweep)}; theoretical peaks from the FMA "
              f"width at the reported clock (theoretical_note)"),
    )


def best(*profiles):
    """One profile from several measured at different times: the highest peak of each precision,
    DRAM and cache bandwidth of them (interference on a shared machine only ever lowers a
    measurement, so the highest is the closest to what the machine can do). The memory levels are
    those of the profile with the fastest DRAM, its DRAM and largest cache level set to the highest."""
    if not profiles or not all(isinstance(p, MachineProfile) for p in profiles):
        raise BadInput(f"best needs one or more MachineProfile. Received {profiles!r:.120}")
    top = max(profiles, key=lambda p: p.peak_gflops)
    if len(profiles) == 1:
        return top
    peaks, methods, by_kernel = {}, {}, {}
    for precision in PRECISIONS:
        measured = [p for p in profiles if p.peaks.get(precision) is not None]
        source = top if precision == "fp32" or not measured else max(measured, key=lambda p: p.peaks[precision])
        peaks[precision] = top.peak_gflops if precision == "fp32" else source.peaks.get(precision)
        methods[precision] = source.peak_methods.get(precision)
        by_kernel[precision] = source.peaks_by_kernel.get(precision)
    bandwidth = max(p.bandwidth_gbs for p in profiles)
    caches = [p.cache_bandwidth_gbs for p in profiles if p.cache_bandwidth_gbs is not None]
    cache = max(caches) if caches else None
    levels = max(profiles, key=lambda p: p.bandwidth_gbs).memory_levels
    return replace(top, peaks=peaks, peak_methods=methods, peaks_by_kernel=by_kernel,
                   bandwidth_gbs=bandwidth, cache_bandwidth_gbs=cache,
                   memory_levels=with_bandwidths(levels, bandwidth, cache) if levels else levels,
                   ridge_flops_per_byte=top.peak_gflops / bandwidth,
                   note=f"{top.note}; the best of {len(profiles)} profiles measured at different times")
