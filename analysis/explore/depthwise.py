"""The depthwise stepper: one output position of a depthwise convolution, channel by channel."""

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np

from nets.errors import BadInput
from analysis.explore.widgets import Explorer, figure_html
from analysis.plots.convolution import draw_depthwise_step
from nets import checks


@dataclass(frozen=True)
class DepthwiseStep:
    """One output position of a depthwise convolution (stride 1, VALID padding).

    ``index`` counts output positions row by row from 0, at (``row``, ``col``); ``window`` is the
    k×k×C input under the kernel there, ``products`` window × kernel, ``values`` their sums per
    channel (the output there) and ``output`` the whole output map (H-k+1, W-k+1, C).
    """

    image: np.ndarray
    kernel: np.ndarray
    index: int
    row: int
    col: int
    window: np.ndarray
    products: np.ndarray
    values: np.ndarray
    output: np.ndarray

    @property
    def positions(self):
        return self.output.shape[0] * self.output.shape[1]


def example_depthwise_input(side=5, channels=3, kernel=3, seed=0):
    """A small image (side × side × channels, integers 0..9) and depthwise kernel (kernel × kernel ×
    channels, integers -1..2), seeded: sums a reader can check by hand."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 10, (side, side, channels)).astype(float),
            rng.integers(-1, 3, (kernel, kernel, channels)).astype(float))


def depthwise_step(image, kernel, index=0):
    """The ``DepthwiseStep`` of ``image`` (H, W, C) and a depthwise ``kernel`` (k, k, C) at output
    position ``index`` (row-major, from 0)."""
    image, kernel = np.asarray(image, dtype=float), np.asarray(kernel, dtype=float)
    if image.ndim != 3 or kernel.ndim != 3 or kernel.shape[0] != kernel.shape[1] \
            or kernel.shape[2] != image.shape[2] or kernel.shape[0] > min(image.shape[:2]):
        raise BadInput(f"image must be (H, W, C) and kernel (k, k, C) with k <= H, W. "
                       f"Received image of shape {image.shape} and kernel of shape {kernel.shape}")
    k = kernel.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(image, (k, k), axis=(0, 1))  # (H', W', C, k, k)
    output = np.einsum("ijcab,abc->ijc", windows, kernel)
    positions = output.shape[0] * output.shape[1]
    index = checks.positive_int("index", index, minimum=0)
    if index >= positions:
        raise BadInput(f"index must be an output position, 0 to {positions - 1}. Received index={index!r}")
    row, col = divmod(index, output.shape[1])
    window = image[row:row + k, col:col + k, :]
    products = window * kernel
    return DepthwiseStep(image, kernel, index, row, col, window, products, products.sum(axis=(0, 1)), output)


def _render_depthwise(step):
    sums = "; ".join(f"channel {c + 1}: {v:g}" for c, v in enumerate(step.values))
    return (f"<p>Output at row {step.row + 1}, column {step.col + 1}: {sums}. Each channel is summed "
            f"over its own {step.kernel.shape[0]}×{step.kernel.shape[0]} window only.</p>"
            + figure_html(draw_depthwise_step(step)))


def depthwise_stepper(image=None, kernel=None, index=0):
    """A widget that steps a depthwise convolution one output position at a time (a slider and a
    Play button); default input: ``example_depthwise_input()``."""
    if image is None or kernel is None:
        image, kernel = example_depthwise_input()
    first = depthwise_step(image, kernel, index)
    slider = widgets.IntSlider(value=index, min=0, max=first.positions - 1, description="position",
                               continuous_update=False)
    play = widgets.Play(value=index, min=0, max=first.positions - 1, interval=1500, description="play")
    widgets.jslink((play, "value"), (slider, "value"))
    return Explorer("Depthwise stepper", {"index": slider}, functools.partial(depthwise_step, image, kernel),
                    _render_depthwise, extra=(play,))
