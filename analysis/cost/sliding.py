"""The fully connected head as convolutions: VGG16 evaluated densely on a larger image.

TF-slim (and ``nets.vgg16``) writes fc6 as a 7x7 VALID convolution over the
7x7x512 ``pool5`` map and fc7, fc8 as 1x1 convolutions. The weights are those
of fully connected layers, but the layers slide: on a larger image the same
network, with the same weights, gives a *map* of class scores. At 384 pixels
``pool5`` is 384 / 32 = 12 wide, fc6 leaves 12 - 7 + 1 = 6, and fc8 outputs
a 6x6x1000 map: one score vector per 224x224 window, the windows 32 pixels
apart (the network's total stride), 36 of them. The convolutional body is
run once over the shared pixels instead of 36 times.

Each map cell equals the 224 network run on its window except near the
window's border, where the dense run sees real neighbouring pixels and the
separate crop sees SAME zero padding.

``nets.vgg16`` builds this with ``spatial_squeeze=False`` (the squeeze to
(num_classes,) needs a 1x1 map). ``analysis.variants.Variant`` has no such
option: ``Variant("vgg16", resolution=384)`` is refused (fc6 would not
reach 1x1), and ``fc6_kernel_size="auto"`` makes fc6 12x12, a different
network with different weights. So the dense network is built here from
``nets.vgg16`` directly.

MACs are multiply-adds (FLOPs = 2 x MACs), counted by
``analysis.cost.layer_table``, for one image of each size.
"""

import pandas as pd

from analysis.cost.attribution import split_parts
from analysis.cost.table import layer_table
from analysis.variants import Variant
from nets.checks import VGG16_TOTAL_STRIDE, positive_int
from nets.errors import BadInput

CROP = 224


def dense_vgg16(resolution, num_classes=1000):
    """VGG16 (fc6 a 7x7 convolution, as at 224) on a ``resolution`` square image, unsqueezed:
    its output is the (batch, side, side, num_classes) map of class scores (logits)."""
    import nets

    resolution = _checked_resolution(resolution)
    return nets.vgg16(input_shape=(resolution, resolution, 3), num_classes=num_classes, spatial_squeeze=False,
                      name=f"vgg_16_dense_{resolution}")


def map_side(resolution, crop=CROP):
    """Side of the score map: ``resolution // 32 - crop // 32 + 1`` (384 -> 12 - 7 + 1 = 6)."""
    return resolution // VGG16_TOTAL_STRIDE - crop // VGG16_TOTAL_STRIDE + 1


def score_map(resolution=384, num_classes=1000, model=None, crop_model=None):
    """VGG16 evaluated densely at ``resolution``, counted against running each 224 crop separately.

    Args:
        resolution: the square image side in pixels, at least 224. Default 384.
        num_classes: classes of fc8. Default 1000.
        model: the dense network if already built (``dense_vgg16``), to avoid
            building it again.
        crop_model: the 224 VGG16 with ``num_classes`` if already built
            (default: ``Variant("vgg16", num_classes=num_classes).build()``).

    Returns:
        A dict: ``resolution``; ``feature_map`` (pool5's side, resolution //
        32); ``fc6_kernel`` (7); ``score_map_shape`` (side, side,
        num_classes), read from the built model's output; ``crops`` (side^2
        224 windows the map scores), ``crop_stride`` (32 pixels);
        ``macs`` of the dense network and its ``body_macs`` and ``head_macs``
        (see ``analysis.cost.attribution``); ``crop_macs`` (the 224 network);
        ``separate_macs`` (crops x crop_macs); ``macs_saved`` (separate -
        dense) and ``speedup`` (separate / dense, in MACs); ``macs_ratio``
        (dense / one crop). MACs per image.
    """
    resolution = _checked_resolution(resolution)
    model = dense_vgg16(resolution, num_classes) if model is None else model
    dense = split_parts(layer_table(model))
    crop_model = Variant("vgg16", num_classes=num_classes).build() if crop_model is None else crop_model
    crop = split_parts(layer_table(crop_model))
    side = map_side(resolution)
    macs = int(dense["macs"].sum())
    crop_macs = int(crop["macs"].sum())
    crops = side * side
    return {
        "resolution": resolution,
        "feature_map": resolution // VGG16_TOTAL_STRIDE,
        "fc6_kernel": tuple(model.get_layer("fc6").kernel_size),
        "score_map_shape": tuple(int(d) for d in model.output.shape[1:]),
        "crops": crops,
        "crop_stride": VGG16_TOTAL_STRIDE,
        "macs": macs,
        "body_macs": int(dense.loc[dense["part"] == "body", "macs"].sum()),
        "head_macs": int(dense.loc[dense["part"] == "head", "macs"].sum()),
        "crop_macs": crop_macs,
        "separate_macs": crops * crop_macs,
        "macs_saved": crops * crop_macs - macs,
        "speedup": crops * crop_macs / macs,
        "macs_ratio": macs / crop_macs,
    }


def score_map_table(resolutions=(224, 256, 320, 384, 448), num_classes=1000):
    """``score_map`` at each of ``resolutions``, one row each (the 224 network built once).

    Returns:
        A ``pandas.DataFrame`` with the keys of ``score_map`` as columns.
    """
    crop_model = Variant("vgg16", num_classes=num_classes).build()
    rows = [score_map(r, num_classes, crop_model=crop_model) for r in resolutions]
    return pd.DataFrame(rows)


def _checked_resolution(resolution):
    resolution = positive_int("resolution", resolution)
    if resolution < CROP:
        raise BadInput(f"resolution must be at least {CROP} (fc6 is a 7x7 convolution over a 7x7 map). "
                       f"Received resolution={resolution}")
    return resolution
