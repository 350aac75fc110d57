"""One value names a network variant: ``Variant``.

In the manner of timm's model names, a variant is a frozen, hashable value
holding the network and every option that changes what is built. Every
function of ``analysis`` that takes a network takes a ``Variant``; caches
and reused timings are keyed on it; tables show its ``label``.

Words used across the suite: a *variant* (or network) is what is built; a
``keras.Model`` is what was built; a *label* is what a table shows; a
*latency fit* is what ``analysis.speed.latency_fit`` fits.

Labels name the network and every option that differs from its default,
and parse back (``Variant.parse``)::

    VGG16                          Variant("vgg16")
    VGG16/32 num_classes=10        Variant("vgg16", resolution=32, num_classes=10)
    MobileNet 0.5/160              Variant("mobilenet", alpha=0.5, resolution=160)
    Conv MobileNet 1.0/224         Variant("mobilenet", conv=True)
    MobileNet 1.0/224 shallow      Variant("mobilenet", shallow=True)
    MobileNet 1.0/224 depth_multiplier=2

Pure Python: a variant is made, checked, labelled and parsed without
TensorFlow; only ``build`` loads Keras.
"""

import dataclasses
import re
from dataclasses import dataclass

from nets import NETWORK_NAMES, checks
from nets.checks import BadInput

# The MobileNet paper's width multipliers (Table 6) and input resolutions (Table 7).
ALPHAS = (1.0, 0.75, 0.5, 0.25)
RESOLUTIONS = (224, 192, 160, 128)
FC6_AUTO = "auto"

# Each network's options and their defaults; an option of the other network is refused.
COMMON_DEFAULTS = {"resolution": 224, "num_classes": 1000, "include_top": True}
NETWORK_DEFAULTS = {
    "vgg16": {**COMMON_DEFAULTS, "logits": True, "fc_units": 4096, "fc6_kernel_size": 7},
    "mobilenet": {**COMMON_DEFAULTS, "logits": False, "alpha": 1.0, "depth_multiplier": 1,
                  "conv": False, "shallow": False, "bn_momentum": 0.99},
}
# Options written into the label's head ("Conv MobileNet 0.5/160 shallow"); the rest as key=value.
_HEAD_OPTIONS = ("resolution", "alpha", "conv", "shallow")
_TITLES = {"vgg16": "VGG16", "mobilenet": "MobileNet"}
_VGG_HEAD = re.compile(r"^VGG16(?:/(?P<resolution>\d+))?$")
_MOBILENET_HEAD = re.compile(r"^(?P<conv>Conv )?MobileNet (?P<alpha>[0-9.]+)/(?P<resolution>\d+)(?P<shallow> shallow)?$")


@dataclass(frozen=True)
class Variant:
    """A network and every option that changes what is built; options left None take the default.

    Args:
        network: ``"vgg16"`` or ``"mobilenet"``.
        resolution: square input side in pixels (default 224, at least 32).
        num_classes: classes of the classifier (default 1000).
        include_top: build the classifier (default True).
        logits: the classifier gives logits (VGG16's default, as the notes)
            rather than softmax probabilities (MobileNet's default).
        alpha: MobileNet width multiplier (default 1.0).
        depth_multiplier: MobileNet depthwise multiplier (default 1).
        conv: MobileNet with full 3x3 convolutions (the paper's Conv MobileNet).
        shallow: MobileNet without its five 14x14x512 blocks.
        bn_momentum: MobileNet batch-norm momentum (default 0.99).
        fc_units: VGG16's fc6 and fc7 filters (default 4096).
        fc6_kernel_size: VGG16's fc6 kernel side (default 7), or ``"auto"``
            to size it to the last feature map (resolution / 32).

    Raises:
        BadInput: an unknown network, an option of the other network, or a
            value out of range; the message names it.
    """

    network: str
    resolution: int = None
    num_classes: int = None
    include_top: bool = None
    logits: bool = None
    alpha: float = None
    depth_multiplier: int = None
    conv: bool = None
    shallow: bool = None
    bn_momentum: float = None
    fc_units: int = None
    fc6_kernel_size: object = None

    def __post_init__(self):
        checks.one_of("network", self.network, NETWORK_NAMES)
        defaults = NETWORK_DEFAULTS[self.network]
        for option in _option_names():
            value = getattr(self, option)
            if option not in defaults:
                if value is not None:
                    raise BadInput(f"{option} applies to {_other(self.network)} only. "
                                   f"Received {option}={value!r} for {self.network}")
                continue
            value = defaults[option] if value is None else _checked(option, value)
            object.__setattr__(self, option, value)
        if self.network == "vgg16" and self.include_top:
            size = (self.resolution, self.resolution, 3)
            checks.vgg16_fc6_kernel(size, None if self.fc6_kernel_size == FC6_AUTO else self.fc6_kernel_size)
        if self.network == "mobilenet":
            checks.mobilenet_alpha(self.alpha)

    @property
    def options(self):
        """The options that differ from the network's defaults, as a dict."""
        defaults = NETWORK_DEFAULTS[self.network]
        return {k: getattr(self, k) for k in defaults if getattr(self, k) != defaults[k]}

    @property
    def label(self):
        """A short, unique name such as ``MobileNet 0.5/160``; parses back with ``Variant.parse``."""
        if self.network == "vgg16":
            head = "VGG16" if self.resolution == 224 else f"VGG16/{self.resolution}"
        else:
            head = f"{'Conv ' if self.conv else ''}MobileNet {self.alpha!r}/{self.resolution}"
            head += " shallow" if self.shallow else ""
        extra = [f"{k}={v}" for k, v in self.options.items() if k not in _HEAD_OPTIONS]
        return " ".join([head, *extra])

    def __str__(self):
        return self.label

    def replace(self, **changes):
        """A copy with ``changes`` (checked as a new variant)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """``{"network": ..., **options}`` with only the non-default options: JSON-ready."""
        return {"network": self.network, **self.options}

    @classmethod
    def from_dict(cls, data):
        """The variant of a ``to_dict`` dict."""
        if not isinstance(data, dict) or "network" not in data:
            raise BadInput(f"A variant dict needs a 'network' key. Received {data!r}")
        unknown = set(data) - {"network", *_option_names()}
        if unknown:
            raise BadInput(f"Unknown variant options {sorted(unknown)}. Received {data!r}")
        return cls(**data)

    @classmethod
    def from_options(cls, network, options=None, only_applicable=False):
        """The variant of ``network`` with ``options`` (None values are left out).

        ``network`` may also be a label, whose options ``options`` then
        override. ``only_applicable`` drops options of the other network
        (``compare vgg16 mobilenet --alpha 0.5`` widens only MobileNet).
        """
        given = {k: v for k, v in (options or {}).items() if v is not None}
        base = {} if network in NETWORK_NAMES else cls.parse(network).to_dict()
        name = base.pop("network", network)
        if only_applicable and name in NETWORK_DEFAULTS:
            given = {k: v for k, v in given.items() if k in NETWORK_DEFAULTS[name]}
        return cls(network=name, **{**base, **given})

    @classmethod
    def parse(cls, label):
        """The variant a ``label`` names (``Variant.parse(v.label) == v``)."""
        if not isinstance(label, str) or not label.strip():
            raise BadInput(f"A variant label must be a non-empty string. Received label={label!r}")
        words = label.split()
        extra_at = next((i for i, w in enumerate(words) if "=" in w), len(words))
        head, extras = " ".join(words[:extra_at]), words[extra_at:]
        options = {}
        match = _VGG_HEAD.match(head)
        if match:
            network = "vgg16"
            if match["resolution"]:
                options["resolution"] = int(match["resolution"])
        else:
            match = _MOBILENET_HEAD.match(head)
            if not match:
                raise BadInput(
                    f"Unknown network: expected {', '.join(NETWORK_NAMES)} or a label such as "
                    f"'MobileNet 0.5/160' or 'VGG16'. Received {label!r}")
            network = "mobilenet"
            options.update(alpha=_word_value("alpha", match["alpha"]), resolution=int(match["resolution"]))
            options.update({k: True for k in ("conv", "shallow") if match[k]})
        for word in extras:
            key, _, text = word.partition("=")
            if key not in _option_names() or key in _HEAD_OPTIONS:
                raise BadInput(f"Unknown option {key!r} in the label {label!r}")
            options[key] = _word_value(key, text)
        return cls(network=network, **options)

    def build(self, weights=None):
        """The ``keras.Model`` of this variant (random weights, or those of the file ``weights``)."""
        import nets  # Keras loads here, and only here

        shape = (self.resolution, self.resolution, 3)
        common = dict(input_shape=shape, num_classes=self.num_classes, include_top=self.include_top,
                      weights=weights, classifier_activation=None if self.logits else "softmax")
        if self.network == "vgg16":
            return nets.vgg16(fc_units=self.fc_units, **common,
                              fc6_kernel_size=None if self.fc6_kernel_size == FC6_AUTO else self.fc6_kernel_size)
        return nets.mobilenet(alpha=self.alpha, depth_multiplier=self.depth_multiplier, separable=not self.conv,
                              shallow=self.shallow, bn_momentum=self.bn_momentum, **common)


def _option_names():
    return tuple(f.name for f in dataclasses.fields(Variant) if f.name != "network")


def _other(network):
    return " and ".join(n for n in NETWORK_NAMES if n != network)


def _checked(option, value):
    """``value`` checked for ``option``."""
    if option in ("resolution",):
        return checks.positive_int(option, value, minimum=checks.MIN_INPUT_SIZE)
    if option in ("num_classes", "depth_multiplier", "fc_units"):
        return checks.positive_int(option, value)
    if option in ("include_top", "logits", "conv", "shallow"):
        if not isinstance(value, bool):
            raise BadInput(f"{option} must be True or False. Received {option}={value!r}")
        return value
    if option == "alpha":
        return checks.positive_number(option, value)
    if option == "bn_momentum":
        return checks.fraction(option, value)
    if option == "fc6_kernel_size":
        return value if value == FC6_AUTO else checks.positive_int(option, value)
    raise AssertionError(f"no check for option {option!r}")  # a new field without a check is a bug


def _word_value(key, text):
    """A label word's value: True/False, an integer, a number, or ``auto``."""
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    if text == FC6_AUTO:
        return text
    raise BadInput(f"Option {key} has a value that is not a number, True, False or {FC6_AUTO}. Received {text!r}")


def mobilenet_grid(alphas=ALPHAS, resolutions=RESOLUTIONS, **options):
    """The MobileNet variants of every alpha x resolution (the paper's 16 by default)."""
    return [Variant("mobilenet", alpha=a, resolution=r, **options) for a in alphas for r in resolutions]
