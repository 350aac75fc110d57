"""This machine's CPU: model, flags, cores, caches, clock, and the theoretical peak per precision
from its real FMA width (``MICROARCHITECTURES``, keyed on vendor, family and model; an unknown CPU
gives None and says so). Read from /proc/cpuinfo and sysfs; nothing here measures.
"""

import os
import platform
from dataclasses import dataclass

from analysis.speed.runtimes import PRECISIONS

BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpuinfo(path="/proc/cpuinfo"):
    """The first processor's fields in ``path`` (``{"vendor_id": ..., "cpu family": ...}``), empty
    where there is no such file."""
    fields = {}
    try:
        with open(path, encoding="utf8") as info:
            for line in info:
                if not line.strip():
                    if fields:
                        break
                    continue
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_model():
    """The CPU's model name (from /proc/cpuinfo where it exists)."""
    return cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_flags():
    """The CPU feature flags (e.g. avx2, fma, avx512f), empty where unknown."""
    return set(cpuinfo().get("flags", "").split())


def bf16_supported(flags=None):
    """Whether the CPU computes in bfloat16 natively (avx512_bf16 or amx_bf16 among ``flags``)."""
    return bool(set(BF16_FLAGS) & (cpu_flags() if flags is None else set(flags)))


def vnni_label(flags=None):
    """Which int8 dot-product instructions the CPU has: AMX, AVX512-VNNI, AVX-VNNI or none."""
    flags = cpu_flags() if flags is None else set(flags)
    found = [name for flag, name in (("amx_int8", "AMX-INT8"), ("avx512_vnni", "AVX512-VNNI"),
                                     ("avx_vnni", "AVX-VNNI")) if flag in flags]
    return ", ".join(found) if found else "no VNNI on this CPU"


def core_count():
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


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


def clock_ghz():
    """The current clock of the first core in GHz, from /proc/cpuinfo (None if unknown)."""
    value = cpuinfo().get("cpu MHz")
    return float(value) / 1000 if value else None


@dataclass(frozen=True)
class Microarchitecture:
    """``fma_pipes`` FMA pipes of ``datapath_bits`` each per core (a wider instruction, AVX-512 on
    a 256-bit datapath, runs in several passes)."""

    name: str
    fma_pipes: int
    datapath_bits: int


MICROARCHITECTURES = (
    ("AuthenticAMD", 23, ((0x00, 0x2f), (0x50, 0x5f)), Microarchitecture("AMD Zen / Zen+", 2, 128)),
    ("AuthenticAMD", 23, ((0x30, 0x4f), (0x60, 0x7f), (0x90, 0x91), (0xa0, 0xaf)),
     Microarchitecture("AMD Zen 2", 2, 256)),
    ("AuthenticAMD", 25, ((0x00, 0x0f), (0x20, 0x5f)), Microarchitecture("AMD Zen 3", 2, 256)),
    ("AuthenticAMD", 25, ((0x10, 0x1f), (0x60, 0xaf)), Microarchitecture("AMD Zen 4", 2, 256)),
    ("AuthenticAMD", 26, ((0x00, 0x1f),), Microarchitecture("AMD Zen 5 (server: Turin)", 2, 512)),
    ("AuthenticAMD", 26, ((0x20, 0x2f),), Microarchitecture("AMD Zen 5 (mobile: Strix Point)", 2, 256)),
    ("AuthenticAMD", 26, ((0x40, 0x4f),), Microarchitecture("AMD Zen 5 (desktop: Granite Ridge)", 2, 512)),
    ("GenuineIntel", 6, ((0x3c, 0x3c), (0x3f, 0x3f), (0x45, 0x46)), Microarchitecture("Intel Haswell", 2, 256)),
    ("GenuineIntel", 6, ((0x3d, 0x3d), (0x47, 0x47), (0x4f, 0x4f), (0x56, 0x56)),
     Microarchitecture("Intel Broadwell", 2, 256)),
    ("GenuineIntel", 6, ((0x4e, 0x4e), (0x5e, 0x5e), (0x8e, 0x8e), (0x9e, 0x9e), (0xa5, 0xa6)),
     Microarchitecture("Intel Skylake client (to Comet Lake)", 2, 256)),
)


def _cpu_identity(info):
    """(vendor_id, cpu family, model) from cpuinfo fields; None where they are missing."""
    try:
        return info["vendor_id"], int(info["cpu family"]), int(info["model"])
    except (KeyError, ValueError):
        return None


def microarchitecture(info=None):
    """The ``Microarchitecture`` of the CPU that ``info`` (default: ``cpuinfo()``) describes, or None."""
    identity = _cpu_identity(cpuinfo() if info is None else info)
    for vendor, family, models, arch in MICROARCHITECTURES if identity else ():
        if (vendor, family) == identity[:2] and any(low <= identity[2] <= high for low, high in models):
            return arch
    return None


def ops_per_cycle(arch, flags):
    """Per precision, operations per cycle per core (2 per multiply-add); None where ``flags`` lack
    the instruction.

    fp32: FMA, pipes x fp32 lanes x 2. bf16: VDPBF16PS (avx512_bf16), 2 multiply-adds per fp32
    lane. int8: VPDPBUSD (avx512_vnni, or avx_vnni at 256 bits), 4 per 32-bit lane. The lanes are
    those of the narrower of the instruction and the datapath; each instruction is taken to issue
    at the FMA rate.
    """
    def rate(instruction_bits, macs_per_lane):
        return arch.fma_pipes * (min(arch.datapath_bits, instruction_bits) // 32) * macs_per_lane * 2

    vnni = 512 if "avx512_vnni" in flags else 256 if "avx_vnni" in flags else None
    return {"fp32": rate(512 if "avx512f" in flags else 256, 1) if "fma" in flags else None,
            "bf16": rate(512, 2) if "avx512_bf16" in flags else None,
            "int8": rate(vnni, 4) if vnni else None}


_MISSING = {"fp32": "no FMA", "bf16": "no avx512_bf16", "int8": "no VNNI"}


def theoretical_peaks(cores=None):
    """Per precision, cores x operations per cycle per core x clock (GFLOP/s; GOP/s for int8).

    Returns:
        ``(peaks, note)``: ``{"fp32": ..., "bf16": ..., "int8": ...}``, None where not derivable,
        and a line saying how (or why not). The clock is the one /proc/cpuinfo reports (a
        virtual machine's nominal clock, not its boost clock).
    """
    info, cores = cpuinfo(), cores or core_count()
    identity, arch, clock = _cpu_identity(info), microarchitecture(info), clock_ghz()
    unknown = dict.fromkeys(PRECISIONS)
    if arch is None:
        described = (f"{identity[0]} family {identity[1]} model {identity[2]:#04x}" if identity
                     else "a CPU without vendor, family and model in /proc/cpuinfo")
        return unknown, (f"theoretical peak unknown: {described} is not in analysis.speed.cpu.MICROARCHITECTURES "
                         f"(its FMA width is not known here)")
    if not clock:
        return unknown, f"theoretical peak unknown: {arch.name}, but /proc/cpuinfo reports no clock"
    flags = set(info.get("flags", "").split())
    per_cycle = ops_per_cycle(arch, flags)
    split = (f", AVX-512 run as {512 // arch.datapath_bits} passes of {arch.datapath_bits} bits"
             if "avx512f" in flags and arch.datapath_bits < 512 else "")
    rates = ", ".join(f"{p} {per_cycle[p] if per_cycle[p] else 'none (' + _MISSING[p] + ')'}" for p in PRECISIONS)
    note = (f"{arch.name} ({identity[0]} family {identity[1]} model {identity[2]:#04x}): {arch.fma_pipes} FMA "
            f"pipes x {arch.datapath_bits} bits per core{split}; operations per cycle per core: {rates} "
            f"(bf16 VDPBF16PS 2 and int8 VPDPBUSD 4 multiply-adds per 32-bit lane, assumed to issue at the "
            f"FMA rate); x {cores} cores x {clock:.3f} GHz, the clock /proc/cpuinfo reports (a virtual "
            f"machine's nominal clock, not its boost clock)")
    return {p: cores * n * clock if n else None for p, n in per_cycle.items()}, note


def theoretical_peak_gflops(cores=None):
    """The fp32 theoretical peak of ``theoretical_peaks`` (None where not derivable)."""
    return theoretical_peaks(cores)[0]["fp32"]
