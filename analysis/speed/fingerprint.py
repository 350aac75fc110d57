"""A machine's fingerprint: what tells two CPUs apart when their model strings agree.

Identity: vendor, family, model and stepping (from /proc/cpuinfo), the
instruction-set features that change a latency (``ISA_FLAGS``: AVX2,
AVX-512, VNNI, bf16, AMX) and the cores this process may use. Two results
come from "this machine" when their identities are equal; the measured
peaks travel with the fingerprint for the record, but never decide a match
(they move with a neighbour's load). Pure Python: reads files, measures
nothing.
"""

from dataclasses import asdict, dataclass, field

from analysis.speed.cpu import core_count, cpu_flags, cpu_model, cpuinfo

# The flags whose presence changes what a runtime can do or how fast (x86 names as Linux spells them).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16",
             "amx_tile", "amx_bf16", "amx_int8")
IDENTITY = ("vendor", "family", "model", "stepping", "isa", "cores")


@dataclass(frozen=True)
class Fingerprint:
    """A machine's identity (``IDENTITY`` fields) and, for the record, its measured ``peaks``."""

    vendor: str
    family: str
    model: str
    stepping: str
    isa: tuple
    cores: int
    model_name: str = ""
    peaks: dict = field(default=None, compare=False, hash=False)

    def identity(self):
        """The fields that decide whether two fingerprints are the same machine."""
        return tuple(getattr(self, name) for name in IDENTITY)

    def same_machine(self, other):
        """True where ``other`` (a ``Fingerprint``) has the same identity."""
        return other is not None and self.identity() == other.identity()

    def describe(self):
        """One line: model name, vendor/family/model/stepping, ISA features and cores."""
        isa = ", ".join(self.isa) or "no AVX2"
        return (f"{self.model_name or 'unknown CPU'} ({self.vendor} family {self.family} model {self.model} "
                f"stepping {self.stepping}; {isa}; {self.cores} cores)")

    def to_dict(self):
        return {**asdict(self), "isa": list(self.isa)}

    @classmethod
    def from_dict(cls, data):
        """The fingerprint saved by ``to_dict`` (None for a missing one)."""
        if not data:
            return None
        return cls(**{**data, "isa": tuple(data.get("isa", ()))})


def this_machine(peaks=None):
    """This machine's ``Fingerprint``, with ``peaks`` (a dict per precision) where measured."""
    info = cpuinfo()
    flags = cpu_flags()
    return Fingerprint(vendor=info.get("vendor_id", "unknown"), family=info.get("cpu family", "?"),
                       model=info.get("model", "?"), stepping=info.get("stepping", "?"),
                       isa=tuple(flag for flag in ISA_FLAGS if flag in flags), cores=core_count(),
                       model_name=cpu_model(), peaks=dict(peaks) if peaks else None)
