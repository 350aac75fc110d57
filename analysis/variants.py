"""Named model variants: one place that turns (model name, options) into a network.

The CLI and the notebooks both build their models here, so that
``python -m analysis count mobilenet --alpha 0.5`` and a notebook cell
asking for the same variant get the same network.
"""

import nets

MODEL_NAMES = ("vgg16", "mobilenet")
# The MobileNet paper's width multipliers (Table 6) and input resolutions (Table 7).
ALPHAS = (1.0, 0.75, 0.5, 0.25)
RESOLUTIONS = (224, 192, 160, 128)
_MOBILENET_ONLY = ("alpha", "depth_multiplier", "conv", "shallow")


def build(model, *, alpha=None, resolution=None, num_classes=1000, depth_multiplier=None,
          conv=False, shallow=False, include_top=True, weights=None, **extra):
    """Build ``model`` ("vgg16" or "mobilenet") with the given options.

    Args:
        model: "vgg16" or "mobilenet".
        alpha: MobileNet width multiplier (default 1.0).
        resolution: square input size in pixels (default 224).
        num_classes: classes of the classifier (default 1000).
        depth_multiplier: MobileNet depthwise multiplier (default 1).
        conv: MobileNet with full 3x3 convolutions (the paper's Conv MobileNet).
        shallow: MobileNet without its five 14x14x512 blocks.
        include_top, weights: as for the builders in ``nets``.
        extra: further keyword arguments for the builder.

    Raises:
        ValueError: an unknown model, or an option that does not apply to it.
    """
    if model not in MODEL_NAMES:
        raise ValueError(
            f"Unknown model: expected one of {', '.join(MODEL_NAMES)}. Received model={model!r}"
        )
    size = 224 if resolution is None else resolution
    if isinstance(size, bool) or not isinstance(size, int):
        raise ValueError(f"resolution must be an integer. Received resolution={resolution!r}")
    common = dict(input_shape=(size, size, 3), num_classes=num_classes,
                  include_top=include_top, weights=weights, **extra)
    if model == "vgg16":
        given = {"alpha": alpha, "depth_multiplier": depth_multiplier, "conv": conv or None,
                 "shallow": shallow or None}
        for option in _MOBILENET_ONLY:
            if given[option] is not None:
                raise ValueError(
                    f"{option} applies to mobilenet only. Received {option}={given[option]!r} for vgg16"
                )
        return nets.vgg16(**common)
    return nets.mobilenet(
        alpha=1.0 if alpha is None else alpha,
        depth_multiplier=1 if depth_multiplier is None else depth_multiplier,
        separable=not conv,
        shallow=shallow,
        **common,
    )


def label(model, *, alpha=None, resolution=None, conv=False, shallow=False, **_):
    """A short human label such as ``MobileNet 0.5/160``, ``MobileNet 1.0/224`` or ``VGG16``."""
    if model == "vgg16":
        return "VGG16" if resolution in (None, 224) else f"VGG16/{resolution}"
    text = f"MobileNet {float(1.0 if alpha is None else alpha)}/{224 if resolution is None else resolution}"
    if conv:
        text = "Conv " + text
    if shallow:
        text += " shallow"
    return text


def cost_sweep(alphas=ALPHAS, resolutions=RESOLUTIONS, progress=True):
    """Totals of every MobileNet alpha x resolution variant (the paper's 16).

    Returns:
        A DataFrame with one row per variant: alpha, resolution, label, and
        the ``analysis.cost.summarize`` totals (MACs per image, parameters,
        float32 bytes).
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from analysis.cost import summarize

    grid = [(a, r) for a in alphas for r in resolutions]
    rows = []
    for alpha, resolution in tqdm(grid, desc="variants", disable=not progress):
        totals = summarize(build("mobilenet", alpha=alpha, resolution=resolution))
        totals.pop("unsupported")
        rows.append({"alpha": alpha, "resolution": resolution,
                     "label": label("mobilenet", alpha=alpha, resolution=resolution), **totals})
    return pd.DataFrame(rows)
