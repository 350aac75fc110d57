"""MobileNet v1 as in the source notes' Keras code, with its multipliers.

Layer names follow the notes and keras.applications: ``conv1``,
``conv1_bn``, ``conv1_relu``, then per block ``conv_dw_<i>``,
``conv_dw_<i>_bn``, ``conv_dw_<i>_relu``, ``conv_pw_<i>``, ``conv_pw_<i>_bn``,
``conv_pw_<i>_relu``, and ``conv_preds`` on top, so weight files made for
keras.applications.MobileNet load by name.
"""

from nets import checks
from nets.backend import keras
from nets.weights import load_weights

layers = keras.layers

FIRST_CONV_FILTERS = 32
# (pointwise filters, stride) of the 13 depthwise separable blocks, Table 1
# of the paper: the architecture as data.
MOBILENET_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
# The five 14x14x512 blocks that the paper's "shallow" MobileNet removes (Table 5).
SHALLOW_REMOVED_BLOCKS = (7, 8, 9, 10, 11)


def mobilenet(input_shape=(224, 224, 3), alpha=1.0, depth_multiplier=1, dropout=1e-3, num_classes=1000,
              include_top=True, weights=None, separable=True, shallow=False, classifier_activation="softmax",
              bn_momentum=0.99, name=None):
    """Build MobileNet v1 as in the source notes (and keras.applications).

    Reference:
    - [MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
      Applications](https://arxiv.org/abs/1704.04861)

    Args:
        input_shape: (height, width, channels), each side at least 32. The
            paper's resolution multiplier rho is the choice of input size.
            Defaults to (224, 224, 3).
        alpha: width multiplier: every layer has ``int(filters * alpha)``
            filters. Defaults to 1.0.
        depth_multiplier: channels per input channel in each depthwise
            convolution, an integer of at least 1. Defaults to 1.
        dropout: dropout rate before ``conv_preds``. Defaults to 1e-3.
        num_classes: number of classes. Defaults to 1000.
        include_top: global average pooling, dropout, the 1x1 convolution
            ``conv_preds`` and the classifier. Defaults to True.
        weights: None (random initialisation) or the path of a Keras HDF5
            weight file such as ``mobilenet_1_0_224_tf.h5``. Defaults to None.
        separable: False builds the paper's "Conv MobileNet" (Table 4): each
            depthwise separable block becomes one full 3x3 convolution
            ``conv_<i>`` with the same stride and output channels.
            Defaults to True.
        shallow: True removes the five 14x14x512 separable blocks (7 to 11),
            the paper's shallow MobileNet (Table 5). Defaults to False.
        classifier_activation: ``"softmax"`` (default) or None for logits.
        bn_momentum: momentum of the batch-norm moving statistics. Keras'
            default 0.99 lags for many epochs on a small dataset trained from
            scratch; training on one passes a lower value. Defaults to 0.99.
        name: the model's name. Defaults to ``mobilenet_<alpha>_<size>``.

    Returns:
        A ``keras.Model`` with output (batch, num_classes), or the last
        feature map without the top.
    """
    input_shape = checks.input_shape(input_shape)
    alpha = checks.mobilenet_alpha(alpha, FIRST_CONV_FILTERS)
    depth_multiplier = checks.positive_int("depth_multiplier", depth_multiplier)
    dropout = checks.fraction("dropout", dropout)
    checks.positive_int("num_classes", num_classes)
    checks.classifier_activation(classifier_activation)
    bn_momentum = checks.fraction("bn_momentum", bn_momentum)

    inputs = keras.Input(shape=input_shape, name="input")
    x = _conv_block(inputs, int(FIRST_CONV_FILTERS * alpha), strides=2, bn_momentum=bn_momentum)
    x = _separable_blocks(x, alpha, depth_multiplier, separable, shallow, bn_momentum)
    if include_top:
        x = _top(x, num_classes, dropout, classifier_activation)
    if name is None:
        name = f"mobilenet_{alpha:g}_{input_shape[0]}".replace(".", "_")
    model = keras.Model(inputs, x, name=name)
    if weights is not None:
        load_weights(model, weights)
    return model


def _separable_blocks(x, alpha, depth_multiplier, separable, shallow, bn_momentum):
    """The 13 blocks of ``MOBILENET_BLOCKS``: separable, or full convolutions where ``separable`` is False."""
    for block_id, (filters, stride) in enumerate(MOBILENET_BLOCKS, start=1):
        if shallow and block_id in SHALLOW_REMOVED_BLOCKS:
            continue
        filters = int(filters * alpha)
        if separable:
            x = _depthwise_conv_block(x, filters, depth_multiplier, stride, block_id, bn_momentum)
        else:
            x = _full_conv_block(x, filters, stride, block_id, bn_momentum)
    return x


def _top(x, num_classes, dropout, classifier_activation):
    """Global average pooling, dropout, the 1x1 convolution ``conv_preds`` and the classifier."""
    x = layers.GlobalAveragePooling2D(keepdims=True, name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Conv2D(num_classes, 1, padding="same", name="conv_preds")(x)
    x = layers.Reshape((num_classes,), name="reshape_2")(x)
    if classifier_activation == "softmax":
        x = layers.Activation("softmax", name="predictions")(x)
    return x


def _conv_bn_relu(x, conv, prefix, bn_momentum):
    x = conv(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{prefix}_bn")(x)
    return layers.ReLU(6.0, name=f"{prefix}_relu")(x)


def _conv_block(x, filters, strides, bn_momentum):
    """The first full 3x3 convolution, batch norm and ReLU6."""
    conv = layers.Conv2D(
        filters, 3, padding="same", use_bias=False, strides=strides, name="conv1"
    )
    return _conv_bn_relu(x, conv, "conv1", bn_momentum)


def _depthwise_conv_block(x, pointwise_filters, depth_multiplier, strides, block_id, bn_momentum):
    """A 3x3 depthwise convolution then a 1x1 pointwise one, each with BN and ReLU6."""
    depthwise = layers.DepthwiseConv2D(
        3,
        padding="same",
        depth_multiplier=depth_multiplier,
        strides=strides,
        use_bias=False,
        name=f"conv_dw_{block_id}",
    )
    x = _conv_bn_relu(x, depthwise, f"conv_dw_{block_id}", bn_momentum)
    pointwise = layers.Conv2D(
        pointwise_filters, 1, padding="same", use_bias=False, name=f"conv_pw_{block_id}"
    )
    return _conv_bn_relu(x, pointwise, f"conv_pw_{block_id}", bn_momentum)


def _full_conv_block(x, filters, strides, block_id, bn_momentum):
    """The Conv MobileNet's replacement of a separable block: one full 3x3 convolution."""
    conv = layers.Conv2D(
        filters, 3, padding="same", use_bias=False, strides=strides, name=f"conv_{block_id}"
    )
    return _conv_bn_relu(x, conv, f"conv_{block_id}", bn_momentum)
