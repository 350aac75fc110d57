"""VGG16 as in the source notes' TF-slim code, in Keras 3.

The fully connected layers are convolutions, as in slim: ``fc6`` is a 7x7
VALID convolution over the last 7x7x512 feature map, ``fc7`` and ``fc8`` are
1x1 convolutions. Layer names follow the slim scopes without the ``/``:
``conv1_1 … conv5_3``, ``pool1 … pool5``, ``fc6``, ``fc7``, ``fc8``.
"""

import keras
from keras import layers

from nets import _validate

# (convolutions, filters) per block: the architecture as data.
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
FC_UNITS = 4096
FC6_KERNEL = 7
# Each block ends in a 2x2 max pool, so the last feature map is input / 2**5.
TOTAL_STRIDE = 2 ** len(VGG16_BLOCKS)


def vgg16(
    num_classes=1000,
    dropout_keep_prob=0.5,
    spatial_squeeze=True,
    input_shape=(224, 224, 3),
    include_top=True,
    weights=None,
    classifier_activation=None,
    fc6_kernel_size=FC6_KERNEL,
    fc_units=FC_UNITS,
    name="vgg_16",
):
    """Build VGG16 (configuration D) as the source notes' slim ``vgg_16``.

    Reference:
    - [Very Deep Convolutional Networks for Large-Scale Image Recognition](
        https://arxiv.org/abs/1409.1556) (ICLR 2015)

    Args:
        num_classes: number of classes of ``fc8``. Defaults to 1000.
        dropout_keep_prob: probability of keeping an activation in the
            dropout after ``fc6`` and ``fc7`` (slim's convention; the Keras
            dropout rate is ``1 - dropout_keep_prob``). Defaults to 0.5.
        spatial_squeeze: squeeze the (1, 1, num_classes) output of ``fc8`` to
            (num_classes,). Defaults to True.
        input_shape: (height, width, channels). Defaults to (224, 224, 3).
            With the top and ``spatial_squeeze`` the last feature map must be
            7x7, so height and width lie in 224..255.
        include_top: build ``fc6``, ``fc7`` and ``fc8``. Defaults to True.
        weights: None (random initialisation) or the path of a Keras HDF5
            weight file (see ``nets.weights``). Defaults to None.
        classifier_activation: None returns logits, as the notes do;
            ``"softmax"`` adds a softmax named ``fc8_softmax``.
        fc6_kernel_size: the side of fc6's VALID convolution. Defaults to 7,
            the notes' value for a 224x224 input. ``None`` sizes it to the
            last feature map (input / 32), which a VGG16 trained on small
            images needs: at 32x32 the last map is 1x1, so fc6 becomes 1x1.
        fc_units: filters of fc6 and fc7. Defaults to 4096; a small dataset
            may use fewer.
        name: the model's name. Defaults to ``"vgg_16"``.

    Returns:
        A ``keras.Model``: float32 logits (or probabilities) of shape
        (batch, num_classes), or the last feature map without the top.
    """
    input_shape = _validate.check_input_shape(input_shape)
    _validate.check_num_classes(num_classes)
    _validate.check_classifier_activation(classifier_activation)
    if not 0.0 < dropout_keep_prob <= 1.0:
        raise ValueError(
            "dropout_keep_prob must lie in (0, 1]. "
            f"Received dropout_keep_prob={dropout_keep_prob!r}"
        )
    if isinstance(fc_units, bool) or not isinstance(fc_units, int) or fc_units < 1:
        raise ValueError(f"fc_units must be a positive integer. Received fc_units={fc_units!r}")
    feature_map = (input_shape[0] // TOTAL_STRIDE, input_shape[1] // TOTAL_STRIDE)
    if fc6_kernel_size is None:
        fc6_kernel = feature_map
    elif isinstance(fc6_kernel_size, bool) or not isinstance(fc6_kernel_size, int) or fc6_kernel_size < 1:
        raise ValueError(
            f"fc6_kernel_size must be a positive integer or None. Received fc6_kernel_size={fc6_kernel_size!r}")
    else:
        fc6_kernel = (fc6_kernel_size, fc6_kernel_size)
    if include_top:
        if spatial_squeeze and feature_map != fc6_kernel:
            k = fc6_kernel[0]
            raise ValueError(
                "With include_top and spatial_squeeze, the input must bring fc6 to 1x1: "
                f"height and width in {k * TOTAL_STRIDE}..{(k + 1) * TOTAL_STRIDE - 1} "
                f"(a {k}x{k} last feature map), or fc6_kernel_size=None. "
                f"Received input_shape={input_shape!r}, which gives a "
                f"{feature_map[0]}x{feature_map[1]} feature map"
            )
        if feature_map[0] < fc6_kernel[0] or feature_map[1] < fc6_kernel[1]:
            raise ValueError(
                f"With include_top, fc6 is a {fc6_kernel[0]}x{fc6_kernel[1]} VALID convolution and "
                f"needs height and width of at least {fc6_kernel[0] * TOTAL_STRIDE}. "
                f"Received input_shape={input_shape!r}"
            )

    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for block, (repeats, filters) in enumerate(VGG16_BLOCKS, start=1):
        x = _conv_block(x, block, repeats, filters)

    if include_top:
        rate = 1.0 - dropout_keep_prob
        x = layers.Conv2D(fc_units, fc6_kernel, padding="valid", activation="relu", name="fc6")(x)
        x = layers.Dropout(rate, name="dropout6")(x)
        x = layers.Conv2D(fc_units, 1, activation="relu", name="fc7")(x)
        x = layers.Dropout(rate, name="dropout7")(x)
        x = layers.Conv2D(num_classes, 1, activation=None, name="fc8")(x)
        if spatial_squeeze:
            x = layers.Reshape((num_classes,), name="fc8_squeezed")(x)
        if classifier_activation == "softmax":
            x = layers.Softmax(name="fc8_softmax")(x)

    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        from nets.weights import load_weights

        load_weights(model, weights)
    return model


def _conv_block(x, block, repeats, filters):
    """``repeats`` 3x3 SAME convolutions with ReLU, then a 2x2 max pool."""
    for i in range(1, repeats + 1):
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"conv{block}_{i}"
        )(x)
    return layers.MaxPooling2D(2, strides=2, name=f"pool{block}")(x)
