"""The keras.applications builders, by name, always with random weights.

Researchers bring the networks that came after VGG16 and MobileNet v1
(MobileNetV2, ResNet50, EfficientNet ...). ``build_application("ResNet50",
resolution=160)`` builds one with ``weights=None``, so nothing downloads.

``APPLICATION_NAMES`` is every builder of ``keras.applications``;
``DEFAULT_RESOLUTIONS`` their published default input side (the builders'
``default_size``); ``application_options(name)`` the options a builder takes
beyond resolution, num_classes and include_top (``alpha`` for the MobileNets).

Pure Python until a model is built: names and options are checked without
TensorFlow.
"""

import difflib

from nets import checks
from nets.errors import BadInput

# keras.applications in Keras 3.15 (``dir(keras.applications)``): checked against it by the tests.
APPLICATION_NAMES = (
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201",
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
    "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3",
    "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small",
    "NASNetLarge", "NASNetMobile",
    "ResNet101", "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet50", "ResNet50V2",
    "VGG16", "VGG19", "Xception",
)
# Each builder's ``default_size`` in Keras' source; 224 for the rest.
DEFAULT_RESOLUTIONS = {
    "InceptionV3": 299, "InceptionResNetV2": 299, "Xception": 299, "NASNetLarge": 331,
    "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300, "EfficientNetB4": 380,
    "EfficientNetB5": 456, "EfficientNetB6": 528, "EfficientNetB7": 600,
    "EfficientNetV2B1": 240, "EfficientNetV2B2": 260, "EfficientNetV2B3": 300,
    "EfficientNetV2S": 384, "EfficientNetV2M": 480, "EfficientNetV2L": 480,
}
# The smallest input side each builder accepts (Keras' ``min_size``); 32 for the rest.
MIN_RESOLUTIONS = {"InceptionV3": 75, "InceptionResNetV2": 75, "Xception": 71}
# Builders that take a width multiplier.
_ALPHA_BUILDERS = ("MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small")


def check_application(name):
    """``name`` if it is a keras.applications builder, else BadInput naming the close matches."""
    if name in APPLICATION_NAMES:
        return name
    close = difflib.get_close_matches(name, APPLICATION_NAMES, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else " See keras.applications for the names."
    raise BadInput(f"Unknown keras.applications model: received {name!r}.{hint}")


def application_options(name):
    """The options of ``name``'s builder beyond resolution, num_classes and include_top."""
    return ("alpha",) if check_application(name) in _ALPHA_BUILDERS else ()


def default_resolution(name):
    """The builder's default input side in pixels."""
    return DEFAULT_RESOLUTIONS.get(check_application(name), 224)


def check_resolution(name, resolution):
    """``resolution`` checked against what ``name``'s builder accepts."""
    minimum = MIN_RESOLUTIONS.get(check_application(name), checks.MIN_INPUT_SIZE)
    return checks.positive_int("resolution", resolution, minimum=minimum)


def build_application(name, resolution=None, num_classes=1000, include_top=True, alpha=None,
                      classifier_activation="softmax"):
    """The ``keras.Model`` of the keras.applications builder ``name``, with random weights.

    Args:
        name: a builder of keras.applications, such as ``"ResNet50"``.
        resolution: square input side in pixels (default: the builder's).
        num_classes: classes of the classifier (default 1000).
        include_top: build the classifier (default True).
        alpha: width multiplier, for the MobileNets only (default 1.0).
        classifier_activation: ``"softmax"`` (Keras' default) or None for logits.
    """
    from nets.backend import keras

    check_application(name)
    resolution = check_resolution(name, resolution or default_resolution(name))
    options = {}
    if alpha is not None:
        if "alpha" not in application_options(name):
            raise BadInput(f"{name} takes no alpha. Received alpha={alpha!r}")
        options["alpha"] = checks.positive_number("alpha", alpha)
    builder = getattr(keras.applications, name)
    return builder(weights=None, input_shape=(resolution, resolution, 3), classes=num_classes,
                   include_top=include_top, classifier_activation=classifier_activation, **options)
