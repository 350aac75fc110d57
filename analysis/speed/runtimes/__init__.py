"""The runtimes a network is timed on: one record each, in a module of its own, in one registry.

A ``Runtime`` holds everything the suite knows of a runtime: its name, the
precisions it offers on a CPU, the packages and Keras backend it needs, how
it converts and quantizes a network and the file that makes, how it loads
that file (or the ``keras.Model``) to run a batch, and its version. Each
module of this package registers one (``register``, as timm registers
models); adding a runtime is adding a module here. Nothing here imports
TensorFlow: the command line lists and checks names at once.

A ``Configuration`` is a runtime at a precision (``litert int8``), checked
when it is made (``configuration``) and trusted everywhere below.
"""

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from typing import Callable, Optional

from analysis.versions import installed_version
from nets import checks
from nets.errors import BadInput, Unavailable

# Every precision the suite names; a runtime offers some of them.
PRECISIONS = ("fp32", "bf16", "int8")
# The built-in runtimes, in the order tables show them; any other module of this package follows.
_ORDER = ("keras", "xla", "litert", "torch", "openvino", "onnxruntime")


class RuntimeUnavailable(Unavailable):
    """A runtime that cannot run here: its package or its Keras backend is missing."""


class PrecisionUnsupported(Unavailable):
    """A precision that the runtime offers but this machine cannot run (bf16 without CPU support)."""


@dataclass(frozen=True)
class Runtime:
    """One runtime, as the registry knows it.

    ``convert(model, target, precision, calibration, batch, variant)`` writes the
    deployable ``artifact`` file at ``target`` (None: the runtime runs the
    ``keras.Model`` itself). ``load(source, shape, threads, precision)`` returns
    ``run(x)`` for a batch of ``shape``; ``source`` is the converted file, or
    the ``keras.Model`` where there is no artifact; ``to_input(x)`` makes the
    batch what ``run`` takes, once before the timed calls. ``device()`` names
    where it runs. ``batch_in_artifact``: the file is made for one batch size.
    ``quantize(float_copy, target, calibration, batch)``, where given, makes the
    int8 copy from the (cached) float copy instead of ``convert``.

    ``profile(source, x, threads, precision, runs, warmup)`` times the batch ``x`` in the runtime's
    own profiler (None: the runtime has none; ``no_profiler`` says why): the DataFrame of
    ``analysis.speed.profile.node_frame``, one row per node run (``node``, ``node_type``, ``ms``:
    mean per inference), whose ``attrs`` hold the end-to-end medians of ``runs`` calls without and
    with profiling in the same process (``median_ms``, ``profiled_median_ms``) and how nodes map to
    layers: ``scopes`` (node to a name holding the Keras layer's) or ``graph`` (every node as a
    dict: ``name``, ``kind``, ``prepares``, ``spatial``, ``inputs``).
    """

    name: str
    precisions: tuple
    packages: tuple
    distribution: str
    load: Callable
    backend: str = "tensorflow"
    artifact: Optional[str] = None
    convert: Optional[Callable] = None
    converter: Optional[str] = None
    quantizer: Optional[str] = None
    batch_in_artifact: bool = False
    quantize: Optional[Callable] = None
    to_input: Callable = staticmethod(lambda x: x)
    device: Callable = staticmethod(lambda: "cpu")
    summary: str = ""
    profile: Optional[Callable] = None
    no_profiler: str = "it has no per-node profiler in this suite"

    @property
    def deployed(self):
        """True where the runtime runs a converted copy rather than the ``keras.Model``."""
        return self.artifact is not None

    def missing_package(self):
        """The first package this runtime needs that is not installed here, or None (imports nothing)."""
        return next((p for p in self.packages if importlib.util.find_spec(p) is None), None)

    def check_installed(self):
        """Raise ``RuntimeUnavailable`` naming the missing package (the command to install it)."""
        package = self.missing_package()
        if package is not None:
            raise RuntimeUnavailable(f"Runtime {self.name!r} needs the package {package!r}, which is not installed "
                                     f"(pip install {package.replace('_', '-')})")
        return self

    def check_backend(self, backend):
        """Raise ``RuntimeUnavailable`` where Keras runs on ``backend`` and this runtime needs another."""
        if backend != self.backend:
            raise RuntimeUnavailable(
                f"Runtime {self.name!r} needs Keras on the {self.backend} backend; this process runs Keras on "
                f"{backend!r} (set KERAS_BACKEND before starting Python)")

    def check_profiler(self):
        """Raise ``BadInput`` where this runtime has no profiler (``no_profiler`` says why)."""
        if self.profile is None:
            raise BadInput(f"Runtime {self.name!r} has no profiler: {self.no_profiler}. Runtimes with one: "
                           f"{', '.join(profiled_names())}. Received runtime={self.name!r}")
        return self

    def version(self):
        """The runtime's package and version, e.g. ``ai-edge-litert 2.3.0``."""
        name, version = installed_version(self.distribution)
        return f"{name} {version}" if version else "unknown"


_REGISTRY = {}


def register(runtime):
    """Add ``runtime`` (a ``Runtime``) to the registry; return it."""
    if runtime.name in _REGISTRY:
        raise ValueError(f"A runtime named {runtime.name!r} is registered already")
    unknown = [p for p in runtime.precisions if p not in PRECISIONS]
    if unknown:
        raise ValueError(f"Runtime {runtime.name!r} offers unknown precisions {unknown}")
    _REGISTRY[runtime.name] = runtime
    return runtime


def _discover():
    found = sorted(info.name for info in pkgutil.iter_modules(__path__))
    for name in sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n)):
        importlib.import_module(f"{__name__}.{name}")


def names():
    """The registered runtimes' names, in table order."""
    return tuple(_REGISTRY)


def get(name):
    """The ``Runtime`` called ``name`` (``BadInput`` naming the choices for any other)."""
    return _REGISTRY[checks.one_of("runtime", name, names())]


def profiled_names():
    """The runtimes whose record has a profiler."""
    return tuple(name for name, runtime in _REGISTRY.items() if runtime.profile is not None)


def deployed_names():
    """The runtimes that run a converted copy (litert, openvino, onnxruntime)."""
    return tuple(name for name, runtime in _REGISTRY.items() if runtime.deployed)


@dataclass(frozen=True, order=True)
class Configuration:
    """A runtime at a precision; made by ``configuration``, which checks it."""

    runtime: str
    precision: str = "fp32"

    @property
    def label(self):
        """``litert`` (fp32) or ``litert int8``, as tables and figures name it."""
        return self.runtime if self.precision == "fp32" else f"{self.runtime} {self.precision}"

    @property
    def record(self):
        """The ``Runtime`` record."""
        return _REGISTRY[self.runtime]

    def __str__(self):
        return self.label


def configuration(runtime, precision="fp32"):
    """The checked ``Configuration`` of ``runtime`` at ``precision``.

    Raises:
        BadInput: an unknown runtime or precision, or a precision the runtime does not offer.
    """
    record = get(runtime)
    checks.one_of("precision", precision, PRECISIONS)
    if precision not in record.precisions:
        raise BadInput(f"Runtime {runtime!r} does not offer {precision} (it offers {', '.join(record.precisions)}). "
                       f"Received runtime={runtime!r}, precision={precision!r}")
    return Configuration(runtime, precision)


def parse_configuration(label):
    """The ``Configuration`` that ``label`` (``litert``, ``litert int8``) names."""
    runtime, _, precision = str(label).partition(" ")
    return configuration(runtime, precision or "fp32")


def configurations(runtimes, precisions):
    """Each of ``runtimes`` at each of ``precisions`` that it offers, as checked ``Configuration`` values.

    Raises ``BadInput`` where a runtime offers none of the precisions asked, or a precision is
    offered by none of the runtimes asked (the message says what each offers).
    """
    precisions = [checks.one_of("precision", p, PRECISIONS) for p in precisions]
    records = [get(r) for r in runtimes]
    chosen = [Configuration(r.name, p) for r in records for p in precisions if p in r.precisions]
    for record in records:
        if not any(c.runtime == record.name for c in chosen):
            configuration(record.name, precisions[0])
    for precision in precisions:
        if not any(c.precision == precision for c in chosen):
            configuration(records[0].name, precision)
    return chosen


def deployment_configurations(precisions):
    """The configurations that deploy each of ``precisions`` on a converted copy: every deployed
    runtime that offers it (``BadInput`` where none does)."""
    precisions = [checks.one_of("precision", p, PRECISIONS) for p in precisions]
    deployed = [get(n) for n in deployed_names()]
    offering = [r.name for r in deployed if any(p in r.precisions for p in precisions)]
    return configurations(offering or deployed_names(), precisions)


def check_installed(configs):
    """Raise ``RuntimeUnavailable`` for the first configuration whose runtime is not installed here."""
    for config in configs:
        config.record.check_installed()
    return configs


_discover()
