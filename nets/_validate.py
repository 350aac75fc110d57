"""Argument checks shared by the network builders.

Every check raises ``ValueError`` naming the argument and the value received,
as keras.applications does, before any layer is built.
"""

MIN_INPUT_SIZE = 32


def check_input_shape(input_shape):
    """Return ``input_shape`` as a tuple ``(height, width, channels)``."""
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            "input_shape must be (height, width, channels). "
            f"Received input_shape={input_shape!r}"
        ) from None
    if len(shape) != 3 or shape[2] < 1:
        raise ValueError(
            "input_shape must be (height, width, channels) with at least one "
            f"channel. Received input_shape={input_shape!r}"
        )
    if shape[0] < MIN_INPUT_SIZE or shape[1] < MIN_INPUT_SIZE:
        raise ValueError(
            f"Input size must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}. "
            f"Received input_shape={input_shape!r}"
        )
    return shape


def check_num_classes(num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes must be an integer of at least 1. Received num_classes={num_classes!r}"
        )
    return num_classes


def check_classifier_activation(classifier_activation):
    if classifier_activation not in (None, "softmax"):
        raise ValueError(
            "classifier_activation must be None (logits) or 'softmax'. "
            f"Received classifier_activation={classifier_activation!r}"
        )
    return classifier_activation
