"""What measuring one network costs a study, in seconds on 2 cores: the planner's estimates.

Each is a conversion (skipped where the copy is cached), a build and the timed
calls, for three sizes of network: MobileNet-sized (every alpha x rho variant),
VGG16, and a keras.applications network (deeper graphs convert slower). The
figures are measured (docs/measurements.md, "The study's plan"); a study
records the seconds each part really took.
"""

from analysis.speed import conversions

# Seconds to convert one network, per (runtime, "float" or "int8") and size of network.
CONVERSION_S = {  # int8 copies of openvino and onnxruntime are quantized from the float copy
    "mobilenet": {("litert", "float"): 9, ("litert", "int8"): 12, ("openvino", "float"): 8,
                  ("openvino", "int8"): 6, ("onnxruntime", "float"): 21, ("onnxruntime", "int8"): 6},
    "vgg16": {("litert", "float"): 46, ("litert", "int8"): 80, ("openvino", "float"): 10,
              ("openvino", "int8"): 35, ("onnxruntime", "float"): 75, ("onnxruntime", "int8"): 40},
    "zoo": {("litert", "float"): 18, ("litert", "int8"): 25, ("openvino", "float"): 16,
            ("openvino", "int8"): 12, ("onnxruntime", "float"): 40, ("onnxruntime", "int8"): 12},
}
# Seconds to build a network and draw its cost table and roofline bound.
BUILD_S = {"mobilenet": 2, "vgg16": 4, "zoo": 6}
# Milliseconds of one batch-1 call, an upper estimate for the timed calls.
CALL_MS = {"mobilenet": 15, "vgg16": 250, "zoo": 60}


def size_of(variant):
    """The estimates' name for ``variant``'s size: "vgg16", "zoo" (keras.applications, files) or "mobilenet"."""
    if variant.network == "vgg16":
        return "vgg16"
    return "mobilenet" if variant.kind == "suite" else "zoo"


def timing_seconds(variant, timing):
    """Seconds of timed and warm-up calls of ``variant`` under ``timing`` (a ``latency.Timing``), one configuration."""
    call_s = CALL_MS[size_of(variant)] / 1e3
    return timing.rounds * (max(timing.min_seconds, timing.repeats * call_s) + timing.warmup * call_s)


def conversion_seconds(variant, config, cached=True):
    """Seconds to convert ``variant`` for ``config`` (0 where its speed-only copy is cached and
    ``cached`` is True)."""
    size = size_of(variant)
    kind = "int8" if config.precision == "int8" else "float"
    calibration = conversions.speed_calibration(variant) if kind == "int8" else None
    if cached and conversions.artifact_path(variant, config, calibration).is_file():
        return 0
    return CONVERSION_S[size].get((config.runtime, kind), CONVERSION_S[size][("onnxruntime", kind)])


def network_seconds(variant, configs, timing, cached=True):
    """Seconds to measure ``variant`` on each ``Configuration`` of ``configs``: its build, the
    conversions not yet in the cache (every one where ``cached`` is False: trained weights) and
    the timed calls."""
    size = size_of(variant)
    seconds = BUILD_S[size]
    for config in configs:
        seconds += timing_seconds(variant, timing)
        if not config.record.deployed or config.precision == "bf16":
            continue
        seconds += conversion_seconds(variant, config, cached)
    return seconds


# Seconds a profiler adds to one profile beyond its calls: TensorFlow's writes and reads a trace.
PROFILER_S = {"keras": 6, "xla": 12}


def profile_seconds(variant, config, runs):
    """Seconds to profile ``variant`` on ``config``: its conversion where not cached, twice ``runs``
    calls (profiled and plain) and the profiler's own cost."""
    size = size_of(variant)
    seconds = BUILD_S[size] + 2 * (runs + 3) * CALL_MS[size] / 1e3 + PROFILER_S.get(config.runtime, 1)
    if config.record.deployed:
        seconds += conversion_seconds(variant, config)
    return seconds
