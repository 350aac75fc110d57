"""This machine: CPU, cores, measured peak float32 throughput and memory bandwidth.

- Peak: the best of large float32 matrix products (numpy's BLAS and, where
  the TensorFlow backend is loaded, TensorFlow's), in GFLOP/s counting 2
  FLOPs per multiply-add.
- Bandwidth: a STREAM-like triad ``a = b + s * c`` in one fused pass
  (torch.add with ``alpha``), over float32 arrays of 4 times the last-level
  cache together, in GB/s (1e9 bytes) counting 3 arrays moved per pass
  (STREAM's convention: write-allocate traffic not counted). The same triad
  over arrays of a quarter of that cache gives the cache bandwidth.
- Theoretical peak, where derivable: cores x FMA units x vector lanes x 2 x
  clock, assuming 2 FMA units per core (stated in the result).

Peak and bandwidth take the best of repeats after a warm-up (STREAM's
convention): what the machine can do, which a neighbour's load on a shared
host only ever lowers. Latencies elsewhere in the suite are medians.
"""

import os
import platform
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from nets import checks
from nets.backend import keras

FMA_UNITS_ASSUMED = 2


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo where it exists)."""
    value = _cpuinfo_field("model name")
    return value or platform.processor() or platform.machine()


def cpu_flags():
    """The CPU feature flags (e.g. avx2, fma, avx512f), empty where unknown."""
    return set((_cpuinfo_field("flags") or "").split())


def core_count():
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def _cpuinfo_field(name):
    try:
        with open("/proc/cpuinfo", encoding="utf8") as info:
            for line in info:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def last_level_cache_bytes():
    """Size of the largest cache level reported by sysfs, in bytes (32 MiB if unknown)."""
    sizes = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    for index in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        try:
            with open(os.path.join(base, index, "size"), encoding="utf8") as f:
                text = f.read().strip()
        except OSError:
            continue
        scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * scale)
    return max(sizes) if sizes else 32 * 1024**2


def _best_seconds(work, repeats, warmup=3):
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(size=2048, repeats=7):
    """Float32 GFLOP/s of a size x size matrix product, per library available.

    Returns a dict ``{"numpy": ..., "tensorflow": ...}`` (TensorFlow only when
    Keras runs on it).
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flops = 2.0 * size**3
    result = {"numpy": flops / _best_seconds(lambda: a @ b, repeats) / 1e9}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # only where Keras runs on it

        ta, tb = tf.constant(a), tf.constant(b)
        product = tf.function(lambda: tf.linalg.matmul(ta, tb))
        result["tensorflow"] = flops / _best_seconds(lambda: product().numpy(), repeats) / 1e9
    return result


def triad_bandwidth_gbs(cache_multiple=4, repeats=7):
    """GB/s of the triad a = b + s*c over three arrays of ``cache_multiple`` x the
    last-level cache together (4: main memory; 0.25: the last-level cache)."""
    import torch  # its fused add is the triad; loaded only when measuring bandwidth

    elements = max(1 << 14, int(cache_multiple * last_level_cache_bytes() / (3 * 4)))
    b = torch.rand(elements)
    c = torch.rand(elements)
    a = torch.empty(elements)
    seconds = _best_seconds(lambda: torch.add(b, c, alpha=3.0, out=a), repeats)
    return 3 * 4 * elements / seconds / 1e9, 3 * 4 * elements


def clock_ghz():
    """The current clock of the first core in GHz, from /proc/cpuinfo (None if unknown)."""
    value = _cpuinfo_field("cpu MHz")
    return float(value) / 1000 if value else None


def theoretical_peak_gflops(cores=None):
    """cores x FMA units (assumed 2) x float32 lanes x 2 x clock, or None if not derivable.

    An estimate: it assumes full-width FMA units for the widest vector ISA
    (AMD's Zen 4 runs AVX-512 on 256-bit units, half of this) and the clock
    that /proc/cpuinfo reports (a virtual machine's nominal clock, not its
    boost clock).
    """
    flags, clock = cpu_flags(), clock_ghz()
    if not clock or "fma" not in flags:
        return None
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    return (cores or core_count()) * FMA_UNITS_ASSUMED * lanes * 2 * clock


@dataclass
class MachineProfile:
    """What ``measure()`` found; throughput in GFLOP/s (2 per multiply-add), bandwidth in GB/s."""

    cpu: str
    cores: int
    clock_ghz: float
    vector_isa: str
    peak_gflops: float
    peak_by_library: dict
    theoretical_peak_gflops: float
    bandwidth_gbs: float
    cache_bandwidth_gbs: float
    triad_bytes: int
    last_level_cache_bytes: int
    ridge_flops_per_byte: float
    note: str

    def to_dict(self):
        return asdict(self)


def measure(matrix_size=2048, repeats=7):
    """Measure this machine's peak float32 GFLOP/s and triad bandwidth."""
    # Bandwidth first: TensorFlow's worker threads spin for a while after a
    # matrix product and would steal cores from the triad.
    bandwidth, triad_bytes = triad_bandwidth_gbs(repeats=repeats)
    cache_bandwidth, _ = triad_bandwidth_gbs(cache_multiple=0.25, repeats=5 * repeats)
    by_library = matmul_gflops(matrix_size, repeats)
    peak = max(by_library.values())
    flags = cpu_flags()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return MachineProfile(
        cpu=cpu_model(), cores=core_count(), clock_ghz=clock_ghz(), vector_isa=isa,
        peak_gflops=peak, peak_by_library=by_library,
        theoretical_peak_gflops=theoretical_peak_gflops(),
        bandwidth_gbs=bandwidth, cache_bandwidth_gbs=cache_bandwidth, triad_bytes=triad_bytes,
        last_level_cache_bytes=last_level_cache_bytes(),
        ridge_flops_per_byte=peak / bandwidth,
        note=(f"peak: best of {repeats} {matrix_size}^3 float32 matrix products; bandwidth: best of "
              f"{repeats} torch triads over {triad_bytes / 1e6:.0f} MB; theoretical peak assumes "
              f"{FMA_UNITS_ASSUMED} full-width FMA units per core at the reported clock"),
    )


def best(*profiles):
    """One profile from several measured at different times: the highest peak, DRAM and cache
    bandwidth of them (interference on a shared machine only ever lowers a measurement, so the
    highest is the closest to what the machine can do)."""
    if not profiles or not all(isinstance(p, MachineProfile) for p in profiles):
        raise checks.BadInput(f"best needs one or more MachineProfile. Received {profiles!r:.120}")
    top = max(profiles, key=lambda p: p.peak_gflops)
    if len(profiles) == 1:
        return top
    bandwidth = max(p.bandwidth_gbs for p in profiles)
    return replace(top, bandwidth_gbs=bandwidth, cache_bandwidth_gbs=max(p.cache_bandwidth_gbs for p in profiles),
                   ridge_flops_per_byte=top.peak_gflops / bandwidth,
                   note=f"{top.note}; the best of {len(profiles)} profiles measured at different times")
