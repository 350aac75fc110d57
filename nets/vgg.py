"""VGG16 as in the source notes' TF-slim code, in Keras 3.

The fully connected layers are convolutions, as in slim: ``fc6`` is a 7x7
VALID convolution over the last 7x7x512 feature map, ``fc7`` and ``fc8`` are
1x1 convolutions. Layer names follow the slim scopes without the ``/``:
``conv1_1 … conv5_3``, ``pool1 … pool5``, ``fc6``, ``fc7``, ``fc8``.
"""

from nets import checks
from nets.backend import keras
from nets.weights import load_weights

layers = keras.layers

# (convolutions, filters) per block: the architecture as data.
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
FC_UNITS = 4096
FC6_KERNEL = 7


def vgg16(num_classes=1000, dropout_keep_prob=0.5, spatial_squeeze=True, input_shape=(224, 224, 3),
          include_top=True, weights=None, classifier_activation=None, fc6_kernel_size=FC6_KERNEL,
          fc_units=FC_UNITS, name="vgg_16"):
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
    input_shape = checks.input_shape(input_shape)
    checks.positive_int("num_classes", num_classes)
    checks.classifier_activation(classifier_activation)
    dropout_keep_prob = checks.fraction("dropout_keep_prob", dropout_keep_prob, include_low=False, include_high=True)
    checks.positive_int("fc_units", fc_units)
    fc6_kernel = checks.vgg16_fc6_kernel(input_shape, fc6_kernel_size, include_top, spatial_squeeze)

    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for block, (repeats, filters) in enumerate(VGG16_BLOCKS, start=1):
        x = _conv_block(x, block, repeats, filters)

    if include_top:
        x = _head(x, num_classes, 1.0 - dropout_keep_prob, fc6_kernel, fc_units, spatial_squeeze,
                  classifier_activation)
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        load_weights(model, weights)
    return model


def _head(x, num_classes, rate, fc6_kernel, fc_units, spatial_squeeze, classifier_activation):
    """``fc6`` (a VALID convolution), ``fc7`` and ``fc8`` (1x1), dropout at ``rate`` after the first two."""
    x = layers.Conv2D(fc_units, fc6_kernel, padding="valid", activation="relu", name="fc6")(x)
    x = layers.Dropout(rate, name="dropout6")(x)
    x = layers.Conv2D(fc_units, 1, activation="relu", name="fc7")(x)
    x = layers.Dropout(rate, name="dropout7")(x)
    x = layers.Conv2D(num_classes, 1, activation=None, name="fc8")(x)
    if spatial_squeeze:
        x = layers.Reshape((num_classes,), name="fc8_squeezed")(x)
    if classifier_activation == "softmax":
        x = layers.Softmax(name="fc8_softmax")(x)
    return x


def _conv_block(x, block, repeats, filters):
    """``repeats`` 3x3 SAME convolutions with ReLU, then a 2x2 max pool."""
    for i in range(1, repeats + 1):
        x = layers.Conv2D(
            filters, 3, padding="same", activation="relu", name=f"conv{block}_{i}"
        )(x)
    return layers.MaxPooling2D(2, strides=2, name=f"pool{block}")(x)
