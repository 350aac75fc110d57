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
- Bandwidth: a STREAM-like triad ``a = b + s * c`` in one fused pass
  (torch.add with ``alpha``), over float32 arrays of 4 times the last-level
  cache together, in GB/s (1e9 bytes) counting 3 arrays moved per pass
  (STREAM's convention: write-allocate traffic not counted). The same triad
  over arrays of a quarter of that cache gives the cache bandwidth.
- Theoretical peaks, per precision: cores x operations per cycle per core x
  the clock /proc/cpuinfo reports, the operations per cycle from the CPU's
  real FMA width (``MICROARCHITECTURES``, keyed on vendor, family and model;
  an unknown CPU gives None and says so in ``theoretical_note``).

Peak and bandwidth take the best of repeats after a warm-up (STREAM's
convention): what the machine can do, which a neighbour's load on a shared
host only ever lowers. Latencies elsewhere in the suite are medians.
"""

import contextlib
import os
import platform
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from analysis.speed import PRECISIONS
from nets import checks
from nets.backend import keras

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
    value = cpuinfo().get("cpu MHz")
    return float(value) / 1000 if value else None


class KernelUnavailable(RuntimeError):
    """A matrix-product kernel that cannot run here: its runtime is not installed, or the runtime
    chose no kernel of the precision asked."""


# Per precision, the kernels measured for its peak: name -> what the peak's method calls it.
KERNELS = {
    "bf16": {
        "torch": "PyTorch torch.matmul on bfloat16 CPU tensors (oneDNN), float32 accumulation",
        "openvino": ("OpenVINO MatMul compiled with INFERENCE_PRECISION_HINT bf16 (oneDNN), its float32 input "
                     "converted in each call"),
    },
    "int8": {
        "onnxruntime": "ONNX Runtime MatMulInteger, uint8 x int8 -> int32, weights an initializer (MLAS)",
        "openvino": ("OpenVINO FakeQuantize + MatMul on int8 weights, run as an int8 FullyConnected "
                     "(oneDNN brgemm), uint8 x int8 -> int32, its input quantized in each call"),
        "torch": "torch._int_mm, int8 x int8 -> int32",
    },
}


def _optional(module):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise KernelUnavailable(f"{module} is not installed") from None


@contextlib.contextmanager
def _torch_threads(threads):
    torch = _optional("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _torch_product(product, a, b):
    out = {}

    def run():
        out["y"] = product(a, b)

    return run, lambda: out["y"].float().numpy() if out["y"].is_floating_point() else out["y"].numpy()


def _torch_bf16(a, b, threads):
    torch = _optional("torch")
    return _torch_product(torch.matmul, torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16())


def _torch_int8(a, b, threads):
    torch = _optional("torch")
    ta, tb = torch.from_numpy(a.astype(np.int8)), torch.from_numpy(b)
    try:
        torch._int_mm(ta[:32, :8], tb[:8, :8])
    except (RuntimeError, NotImplementedError) as error:
        raise KernelUnavailable(f"torch._int_mm does not run on this CPU: {error}") from None
    return _torch_product(torch._int_mm, ta, tb)


def _onnxruntime_int8(a, b, threads):
    onnx, ort = _optional("onnx"), _optional("onnxruntime")
    helper, int32 = onnx.helper, onnx.TensorProto.INT32
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "matmul_integer",
        [helper.make_tensor_value_info("A", onnx.TensorProto.UINT8, list(a.shape))],
        [helper.make_tensor_value_info("Y", int32, [a.shape[0], b.shape[1]])],
        [onnx.numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    # Bound input and output: the timed run is the product alone, no output allocation or copy.
    y = ort.OrtValue.ortvalue_from_shape_and_type([a.shape[0], b.shape[1]], np.int32, "cpu")
    binding = session.io_binding()
    binding.bind_cpu_input("A", a)
    binding.bind_ortvalue_output("Y", y)
    return (lambda: session.run_with_iobinding(binding)), (lambda: y.numpy().copy())


def _openvino_product(output, parameter, x, threads, hint, precisions):
    """Compile the product ``output`` of ``parameter`` for the CPU and check that it runs as a
    FullyConnected or MatMul in one of ``precisions``."""
    ov = _optional("openvino")
    try:
        compiled = ov.Core().compile_model(ov.Model([output], [parameter]), "CPU", {
            "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1,
            "INFERENCE_PRECISION_HINT": hint})
    except RuntimeError as error:
        raise KernelUnavailable(f"OpenVINO did not compile the product: {str(error)[:200]}") from None
    ran = [op.get_rt_info()["runtimePrecision"].astype(str) for op in compiled.get_runtime_model().get_ops()
           if op.get_rt_info()["layerType"].astype(str) in ("FullyConnected", "MatMul")]
    if not set(ran) & set(precisions):
        raise KernelUnavailable(f"OpenVINO ran the product in {', '.join(ran) or 'no matrix-product layer'}, "
                                f"not {' or '.join(precisions)}")
    request = compiled.create_infer_request()
    return (lambda: request.infer({0: x}, share_inputs=True, share_outputs=True)), \
        (lambda: request.get_output_tensor(0).data.copy())


def _openvino_bf16(a, b, threads):
    ov = _optional("openvino")
    x = ov.opset13.parameter(list(a.shape), ov.Type.f32)
    return _openvino_product(ov.opset13.matmul(x, ov.opset13.constant(b), False, False), x, a, threads,
                             "bf16", ("bf16",))


def _openvino_int8(a, b, threads):
    ov = _optional("openvino")
    ops = ov.opset13
    x = ops.parameter(list(a.shape), ov.Type.f32)
    # Scale 1, zero point 0: whole numbers 0..255 quantize to themselves, so the product is exact.
    low, high = ops.constant(np.float32(0)), ops.constant(np.float32(255))
    weights = ops.multiply(ops.convert(ops.constant(b), ov.Type.f32), ops.constant(np.float32(1)))
    product = ops.matmul(ops.fake_quantize(x, low, high, low, high, 256), weights, False, False)
    run, fetch = _openvino_product(product, x, a.astype(np.float32), threads, "f32", ("u8", "i8"))
    return run, lambda: np.rint(fetch()).astype(np.int32)


_BUILDERS = {("bf16", "torch"): _torch_bf16, ("bf16", "openvino"): _openvino_bf16,
             ("int8", "onnxruntime"): _onnxruntime_int8, ("int8", "openvino"): _openvino_int8,
             ("int8", "torch"): _torch_int8}


@contextlib.contextmanager
def matmul_kernel(precision, kernel, a, b, threads=None):
    """``(run, fetch)`` for the product ``a @ b`` on ``kernel`` (one of ``KERNELS[precision]``):
    ``run()`` computes it, ``fetch()`` returns the last result as a numpy array.

    Args:
        precision: ``"bf16"`` (``a``, ``b`` float32, rounded to bfloat16 by the kernel) or ``"int8"``
            (``a`` uint8 in 0..127, so that it is also a valid int8, ``b`` int8; int32 result).
        threads: the kernel's threads (default: the cores this process may use).

    Raises:
        KernelUnavailable: the kernel's runtime is missing, or it chose no kernel of ``precision``.
    """
    checks.one_of("precision", precision, tuple(KERNELS))
    checks.one_of("kernel", kernel, tuple(KERNELS[precision]))
    threads = threads or core_count()
    with _torch_threads(threads) if kernel == "torch" else contextlib.nullcontext():
        yield _BUILDERS[precision, kernel](np.ascontiguousarray(a), np.ascontiguousarray(b), threads)


def matmul_product(precision, kernel, a, b, threads=1):
    """``a @ b`` computed once by ``kernel`` (see ``matmul_kernel``), as a numpy array."""
    with matmul_kernel(precision, kernel, a, b, threads) as (run, fetch):
        run()
        return fetch()


def _operands(precision, size):
    rng = np.random.default_rng(0)
    if precision == "int8":
        return (rng.integers(0, 128, (size, size), dtype=np.uint8),
                rng.integers(-128, 128, (size, size), dtype=np.int8))
    return (rng.standard_normal((size, size), dtype=np.float32),
            rng.standard_normal((size, size), dtype=np.float32))


def kernel_gops(precision, size=2048, repeats=7, threads=None):
    """GOP/s (2 per multiply-add) of a size x size product at ``precision`` on each of its kernels.

    Returns:
        ``(rates, skipped)``: ``{kernel: GOP/s}`` of the kernels that ran, ``{kernel: why not}``.
    """
    a, b = _operands(precision, size)
    rates, skipped = {}, {}
    for kernel in KERNELS[precision]:
        try:
            with matmul_kernel(precision, kernel, a, b, threads) as (run, _):
                rates[kernel] = 2.0 * size**3 / _best_seconds(run, repeats) / 1e9
        except KernelUnavailable as error:
            skipped[kernel] = str(error)
    return rates, skipped


def _peak_method(precision, size, repeats, rates, skipped, fp32_peak):
    """The best of ``rates`` and one line saying how it was measured (None where nothing ran)."""
    flags = cpu_flags()
    cpu = vnni_label(flags) if precision == "int8" else ", ".join(f for f in BF16_FLAGS if f in flags)
    not_run = "; ".join(f"{kernel}: {why}" for kernel, why in skipped.items())
    if not rates:
        return None, f"no {precision} kernel ran ({not_run})"
    kernel = max(rates, key=rates.get)
    parts = [f"best of {repeats} {size}^3 {precision} matrix products, {KERNELS[precision][kernel]}; CPU: {cpu}"]
    others = ", ".join(f"{name} {rate:.0f}" for name, rate in rates.items() if name != kernel)
    if others:
        parts.append(f"also measured: {others} {'GOP' if precision == 'int8' else 'GFLOP'}/s")
    if not_run:
        parts.append(f"not run: {not_run}")
    if precision == "bf16" and rates[kernel] <= fp32_peak:
        parts.append("no faster than fp32 here: not a native bf16 rate")
    return rates[kernel], "; ".join(parts)


# The FMA resources of known cores: (vendor_id, cpu family, model ranges, microarchitecture).
# AMD's model ranges are the ones Linux's arch/x86/kernel/cpu/amd.c assigns to each Zen
# generation; a Zen 5 part not listed (0x60-0x7f) has a datapath width not known here. Intel
# server cores with AVX-512 have one or two 512-bit FMA units depending on the SKU, so they are
# left unknown; the client cores listed all have two 256-bit FMA units.
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
        return unknown, (f"theoretical peak unknown: {described} is not in machine.MICROARCHITECTURES "
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


@dataclass
class MachineProfile:
    """What ``measure()`` found; throughput in GFLOP/s (GOP/s for int8; 2 per multiply-add),
    bandwidth in GB/s.

    ``peaks``: ``{"fp32", "bf16", "int8"}`` measured peaks (None where the CPU lacks the precision
    or no kernel ran), ``peak_methods`` how each was measured, ``peaks_by_kernel`` every kernel's
    rate per precision; ``theoretical_peaks`` the same from the FMA width (None with the reason in
    ``theoretical_note``). ``peak_gflops`` and ``theoretical_peak_gflops`` are the fp32 ones.
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

    def to_dict(self):
        return asdict(self)


_LIBRARY_NAMES = {"numpy": "numpy's BLAS (numpy @)", "tensorflow": "TensorFlow tf.linalg.matmul"}


def measure(matrix_size=2048, repeats=7):
    """Measure this machine's fp32, bf16 and int8 peaks and its triad bandwidths."""
    # Bandwidth first and fp32 last: TensorFlow's worker threads spin for a while after a
    # matrix product and would steal cores from the triad and the other products.
    bandwidth, triad_bytes = triad_bandwidth_gbs(repeats=repeats)
    cache_bandwidth, _ = triad_bandwidth_gbs(cache_multiple=0.25, repeats=5 * repeats)
    flags = cpu_flags()
    by_kernel = {"bf16": kernel_gops("bf16", matrix_size, repeats) if bf16_supported(flags) else None,
                 "int8": kernel_gops("int8", matrix_size, repeats)}
    by_library = matmul_gflops(matrix_size, repeats)
    peak = max(by_library.values())
    library = max(by_library, key=by_library.get)
    others = ", ".join(f"{name} {rate:.0f}" for name, rate in by_library.items() if name != library)
    peaks = {"fp32": peak}
    methods = {"fp32": f"best of {repeats} {matrix_size}^3 float32 matrix products, {_LIBRARY_NAMES[library]}"
                       + (f"; also measured: {others} GFLOP/s" if others else "")}
    for precision, measured in by_kernel.items():
        if measured is None:
            peaks[precision] = None
            methods[precision] = f"not supported by this CPU (no {'/'.join(BF16_FLAGS)})"
        else:
            peaks[precision], methods[precision] = _peak_method(precision, matrix_size, repeats, *measured, peak)
    theoretical, theoretical_note = theoretical_peaks()
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    return MachineProfile(
        cpu=cpu_model(), cores=core_count(), clock_ghz=clock_ghz(), vector_isa=isa,
        peak_gflops=peak, peak_by_library=by_library, peaks=peaks, peak_methods=methods,
        peaks_by_kernel={"fp32": by_library, **{p: m[0] if m else {} for p, m in by_kernel.items()}},
        theoretical_peak_gflops=theoretical["fp32"], theoretical_peaks=theoretical,
        theoretical_note=theoretical_note,
        bandwidth_gbs=bandwidth, cache_bandwidth_gbs=cache_bandwidth, triad_bytes=triad_bytes,
        last_level_cache_bytes=last_level_cache_bytes(),
        ridge_flops_per_byte=peak / bandwidth,
        note=(f"peaks: best of {repeats} {matrix_size}^3 matrix products per precision (peak_methods); "
              f"bandwidth: best of {repeats} torch triads over {triad_bytes / 1e6:.0f} MB; theoretical peaks "
              f"from the FMA width at the reported clock (theoretical_note)"),
    )


def best(*profiles):
    """One profile from several measured at different times: the highest peak of each precision,
    DRAM and cache bandwidth of them (interference on a shared machine only ever lowers a
    measurement, so the highest is the closest to what the machine can do)."""
    if not profiles or not all(isinstance(p, MachineProfile) for p in profiles):
        raise checks.BadInput(f"best needs one or more MachineProfile. Received {profiles!r:.120}")
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
    return replace(top, peaks=peaks, peak_methods=methods, peaks_by_kernel=by_kernel,
                   bandwidth_gbs=bandwidth, cache_bandwidth_gbs=max(p.cache_bandwidth_gbs for p in profiles),
                   ridge_flops_per_byte=top.peak_gflops / bandwidth,
                   note=f"{top.note}; the best of {len(profiles)} profiles measured at different times")
