"""Matrix products at each precision through a library's own kernel, and their rates: what
``analysis.speed.machine`` takes as the bf16 and int8 peaks (2 operations per multiply-add).
"""

import contextlib
import importlib
import time

import numpy as np

from analysis.speed.cpu import BF16_FLAGS, core_count, cpu_flags, vnni_label
from nets import checks
from nets.errors import Unavailable


def best_seconds(work, repeats, warmup=3, max_seconds=3.0):
    """The fastest of ``repeats`` timed calls of ``work()`` after ``warmup`` untimed ones, in seconds.

    A slow kernel stops early: warm-up and timed calls each stop once they have taken
    ``max_seconds``, and a first call longer than that is itself the result (start-up costs are
    small beside it).
    """
    start = time.perf_counter()
    work()
    first = time.perf_counter() - start
    if first > max_seconds:
        return first
    for _ in range(warmup - 1):
        if time.perf_counter() - start > max_seconds:
            break
        work()
    times, start = [], time.perf_counter()
    for _ in range(repeats):
        begin = time.perf_counter()
        work()
        times.append(time.perf_counter() - begin)
        if time.perf_counter() - start > max_seconds:
            break
    return min(times)


class KernelUnavailable(Unavailable):
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
    try:
        return importlib.import_module(module)
    except ImportError:
        raise KernelUnavailable(f"{module} is not installed") from None


@contextlib.contextmanager
def torch_threads(threads):
    """Within the block, torch runs on ``threads`` threads."""
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
    with torch_threads(threads) if kernel == "torch" else contextlib.nullcontext():
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
                rates[kernel] = 2.0 * size**3 / best_seconds(run, repeats) / 1e9
        except KernelUnavailable as error:
            skipped[kernel] = str(error)
    return rates, skipped


def peak_method(precision, size, repeats, rates, skipped, fp32_peak):
    """The best of ``rates`` and one line saying how it was measured (None where nothing ran)."""
    flags = cpu_flags()
    cpu = vnni_label(flags) if precision == "int8" else ", ".join(f for f in BF16_FLAGS if f in flags)
    not_run = "; ".join(f"{kernel}: {why}" for kernel, why in skipped.items())
    if not rates:
        return None, f"no {precision} kernel ran ({not_run})"
    kernel = max(rates, key=rates.get)
    parts = [f"best of up to {repeats} {size}^3 {precision} matrix products, {KERNELS[precision][kernel]}; CPU: {cpu}"]
    others = ", ".join(f"{name} {rate:.0f}" for name, rate in rates.items() if name != kernel)
    if others:
        parts.append(f"also measured: {others} {'GOP' if precision == 'int8' else 'GFLOP'}/s")
    if not_run:
        parts.append(f"not run: {not_run}")
    if precision == "bf16" and rates[kernel] <= fp32_peak:
        parts.append("no faster than fp32 here: not a native bf16 rate")
    return rates[kernel], "; ".join(parts)

