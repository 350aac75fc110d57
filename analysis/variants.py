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
    keras:ResNet50                 Variant("keras:ResNet50")  (any keras.applications builder)
    keras:MobileNetV2/160 alpha=0.5
    file:/data/my_net.keras        Variant("file:/data/my_net.keras")  (a saved whole model)

A keras.applications network always has random weights (nothing downloads);
a model file is loaded in Keras' safe mode (``nets.model_files``), and one that
carries serialized code loads only with ``unsafe=True``.

Pure Python: a variant is made, checked, labelled and parsed without
TensorFlow; only ``build`` loads Keras.
"""

import dataclasses
import hashlib
import os
import re
from dataclasses import dataclass

from nets import NETWORK_NAMES, applications, checks, model_files
from nets.errors import BadInput, MissingFile

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
KERAS_PREFIX, FILE_PREFIX = "keras:", "file:"
# Options written into the label's head ("Conv MobileNet 0.5/160 shallow"); the rest as key=value.
_HEAD_OPTIONS = ("resolution", "alpha", "conv", "shallow")
_APPLICATION_HEAD = re.compile(r"^keras:(?P<name>\w+)(?:/(?P<resolution>\d+))?$")
_TITLES = {"vgg16": "VGG16", "mobilenet": "MobileNet"}
_VGG_HEAD = re.compile(r"^VGG16(?:/(?P<resolution>\d+))?$")
_MOBILENET_HEAD = re.compile(r"^(?P<conv>Conv )?MobileNet (?P<alpha>[0-9.]+)/(?P<resolution>\d+)(?P<shallow> shallow)?$")


@dataclass(frozen=True)
class Variant:
    """A network and every option that changes what is built; options left None take the default.

    Args:
        network: ``"vgg16"``, ``"mobilenet"``, ``"keras:<builder>"`` (a
            keras.applications builder such as ``keras:ResNet50``) or
            ``"file:<path>"`` (a ``.keras`` or whole-model ``.h5`` file; the
            path is made absolute).
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
        unsafe: a model file may hold serialized code (``Lambda``), which runs.

    A keras.applications network takes resolution (default: the builder's),
    num_classes, include_top, logits and, for the MobileNets, alpha. A model
    file takes resolution only where its saved input size is None.

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
    unsafe: bool = None

    def __post_init__(self):
        object.__setattr__(self, "network", _checked_network(self.network))
        defaults = network_defaults(self.network)
        for option in _option_names():
            value = getattr(self, option)
            if option not in defaults:
                if value is not None:
                    raise BadInput(f"{option} does not apply to {self.network}{_applies_to(option)}. "
                                   f"Received {option}={value!r}")
                continue
            value = defaults[option] if value is None else _checked(option, value)
            object.__setattr__(self, option, value)
        if self.kind == "keras" and self.resolution is not None:
            applications.check_resolution(self.application, self.resolution)
        if self.network == "vgg16" and self.include_top:
            size = (self.resolution, self.resolution, 3)
            checks.vgg16_fc6_kernel(size, None if self.fc6_kernel_size == FC6_AUTO else self.fc6_kernel_size)
        if self.network == "mobilenet":
            checks.mobilenet_alpha(self.alpha)

    @property
    def kind(self):
        """``"suite"`` (VGG16, MobileNet: ``nets``), ``"keras"`` (keras.applications) or ``"file"``."""
        if self.network.startswith(KERAS_PREFIX):
            return "keras"
        return "file" if self.network.startswith(FILE_PREFIX) else "suite"

    @property
    def application(self):
        """The keras.applications builder's name (``ResNet50``), or None."""
        return self.network[len(KERAS_PREFIX):] if self.kind == "keras" else None

    @property
    def path(self):
        """The model file's absolute path, or None."""
        return self.network[len(FILE_PREFIX):] if self.kind == "file" else None

    @property
    def defaults(self):
        """This network's options and their default values."""
        return network_defaults(self.network)

    @property
    def options(self):
        """The options that differ from the network's defaults, as a dict."""
        defaults = self.defaults
        return {k: getattr(self, k) for k in defaults if getattr(self, k) != defaults[k]}

    @property
    def slug(self):
        """The label made safe for a file name (``keras-ResNet50-160``)."""
        return re.sub(r"[^A-Za-z0-9._=-]+", "-", self.label).strip("-")

    @property
    def label(self):
        """A short, unique name such as ``MobileNet 0.5/160``; parses back with ``Variant.parse``."""
        head_options = _HEAD_OPTIONS
        if self.network == "vgg16":
            head = "VGG16" if self.resolution == 224 else f"VGG16/{self.resolution}"
        elif self.network == "mobilenet":
            head = f"{'Conv ' if self.conv else ''}MobileNet {self.alpha!r}/{self.resolution}"
            head += " shallow" if self.shallow else ""
        elif self.kind == "keras":
            head, head_options = self.network, ("resolution",)
            head += "" if self.resolution == self.defaults["resolution"] else f"/{self.resolution}"
        else:
            head, head_options = self.network, ()
        extra = [f"{k}={v}" for k, v in self.options.items() if k not in head_options]
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
        if network in NETWORK_NAMES or model_files.is_model_file(network):
            base = {}
        else:
            base = cls.parse(network).to_dict()
        name = _checked_network(base.pop("network", network))
        if only_applicable:
            given = {k: v for k, v in given.items() if k in network_defaults(name)}
        return cls(network=name, **{**base, **given})

    @classmethod
    def parse(cls, label):
        """The variant a ``label`` names (``Variant.parse(v.label) == v``)."""
        if not isinstance(label, str) or not label.strip():
            raise BadInput(f"A variant label must be a non-empty string. Received label={label!r}")
        words = label.split()
        extra_at = next((i for i, w in enumerate(words) if "=" in w), len(words))
        head, extras = " ".join(words[:extra_at]), words[extra_at:]
        options, head_options = {}, _HEAD_OPTIONS
        match = _VGG_HEAD.match(head)
        application = _APPLICATION_HEAD.match(head)
        if head.startswith(FILE_PREFIX) or model_files.is_model_file(head):
            network, head_options = _checked_network(head), ()
        elif application:
            network, head_options = f"{KERAS_PREFIX}{application['name']}", ("resolution",)
            if application["resolution"]:
                options["resolution"] = int(application["resolution"])
        elif match:
            network = "vgg16"
            if match["resolution"]:
                options["resolution"] = int(match["resolution"])
        else:
            match = _MOBILENET_HEAD.match(head)
            if not match:
                raise BadInput(
                    f"Unknown network: expected {', '.join(NETWORK_NAMES)}, keras:<keras.applications name>, "
                    f"a .keras/.h5 model file, or a label such as 'MobileNet 0.5/160'. Received {label!r}")
            network = "mobilenet"
            options.update(alpha=_word_value("alpha", match["alpha"]), resolution=int(match["resolution"]))
            options.update({k: True for k in ("conv", "shallow") if match[k]})
        for word in extras:
            key, _, text = word.partition("=")
            if key not in _option_names() or key in head_options:
                raise BadInput(f"Unknown option {key!r} in the label {label!r}")
            options[key] = _word_value(key, text)
        return cls(network=network, **options)

    def build(self, weights=None):
        """The ``keras.Model`` of this variant (random weights, or those of the file ``weights``)."""
        import nets  # Keras loads here, and only here

        if self.kind != "suite":
            return self._build_other(weights)
        shape = (self.resolution, self.resolution, 3)
        common = dict(input_shape=shape, num_classes=self.num_classes, include_top=self.include_top,
                      weights=weights, classifier_activation=None if self.logits else "softmax")
        if self.network == "vgg16":
            return nets.vgg16(fc_units=self.fc_units, **common,
                              fc6_kernel_size=None if self.fc6_kernel_size == FC6_AUTO else self.fc6_kernel_size)
        return nets.mobilenet(alpha=self.alpha, depth_multiplier=self.depth_multiplier, separable=not self.conv,
                              shallow=self.shallow, bn_momentum=self.bn_momentum, **common)


    def _build_other(self, weights):
        if self.kind == "keras":
            model = applications.build_application(
                self.application, self.resolution, self.num_classes, self.include_top,
                alpha=self.alpha if "alpha" in self.defaults else None,
                classifier_activation=None if self.logits else "softmax")
        else:
            model = model_files.load_model_file(self.path, self.resolution, self.unsafe)
        if weights is not None:
            import nets

            nets.load_weights(model, weights)
        return model

    def fingerprint(self):
        """What a cache of this variant is keyed on: its label, and a model file's content digest."""
        if self.kind != "file":
            return self.label
        digest = hashlib.sha1()
        with open(self.path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return f"{self.label} sha1={digest.hexdigest()[:16]}"


def network_defaults(network):
    """The options of ``network`` (a name, ``keras:<builder>`` or ``file:<path>``) and their defaults."""
    if network in NETWORK_DEFAULTS:
        return NETWORK_DEFAULTS[network]
    if network.startswith(KERAS_PREFIX):
        name = network[len(KERAS_PREFIX):]
        extra = {option: 1.0 for option in applications.application_options(name)}
        return {**COMMON_DEFAULTS, "resolution": applications.default_resolution(name), "logits": False, **extra}
    return {"resolution": None, "unsafe": False}


def _checked_network(network):
    """``network`` as the variant holds it: a name, ``keras:<builder>`` or ``file:<absolute path>``."""
    if not isinstance(network, str):
        raise BadInput(f"network must be a string. Received network={network!r}")
    if network.startswith(KERAS_PREFIX):
        return KERAS_PREFIX + applications.check_application(network[len(KERAS_PREFIX):])
    if network.startswith(FILE_PREFIX) or model_files.is_model_file(network):
        path = network[len(FILE_PREFIX):] if network.startswith(FILE_PREFIX) else network
        if not os.path.isfile(path):
            raise MissingFile(f"No model file at {path!r}")
        return FILE_PREFIX + os.path.abspath(path)
    return checks.one_of("network", network, NETWORK_NAMES)


def _applies_to(option):
    owners = [n for n, defaults in NETWORK_DEFAULTS.items() if option in defaults]
    if option == "alpha":
        owners.append("the keras.applications MobileNets")
    return f" (it applies to {' and '.join(owners)})" if owners else ""


def _option_names():
    return tuple(f.name for f in dataclasses.fields(Variant) if f.name != "network")


def _checked(option, value):
    """``value`` checked for ``option``."""
    if option in ("resolution",):
        return checks.positive_int(option, value, minimum=checks.MIN_INPUT_SIZE)
    if option in ("num_classes", "depth_multiplier", "fc_units"):
        return checks.positive_int(option, value)
    if option in ("include_top", "logits", "conv", "shallow", "unsafe"):
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
