"""Figures of training runs: the batch-norm momentum lesson of notebook 05.

Runs come from ``analysis.accuracy.training.train`` (their ``history``, one
value per epoch, accuracies as fractions 0..1); these functions draw them in %.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from nets.errors import BadInput

# (colour, line width, marker, marker size) of the two runs, in order: the first (Keras'
# default momentum) wide and pale, the second narrow on top of it, so that where the runs
# agree both stay visible.
MOMENTUM_RUN_STYLES = (("#cc78bc", 5.0, "s", 8), ("#0173b2", 1.8, "o", 4))
_PANELS = (("accuracy", "Training accuracy (batch statistics)"),
           ("val_accuracy", "Validation accuracy (validation tenth of the training split, moving statistics)"))


def _history(run):
    return getattr(run, "history", run)


def draw_batchnorm_momentum(runs, classes=10, title=None):
    """Training accuracy (left) and validation accuracy (right), in %, per epoch, of two runs that differ
    only in their batch-norm momentum.

    Training accuracy is measured with batch statistics, validation accuracy
    (on the validation tenth of the training split that ``train`` holds out,
    not the test images) with the moving ones: the two runs share their left curve and part on the
    right. The dotted line is chance, 100 / ``classes`` %.

    Args:
        runs: dict mapping each of two momenta to its run: a
            ``TrainingResult`` or its ``history`` dict (``accuracy`` and
            ``val_accuracy``, one fraction per epoch). The first is drawn wide
            and pale (``MOMENTUM_RUN_STYLES``), the second narrow on top.
        classes: the number of classes, for the chance line.
        title: the figure's title, at its top left, if given.

    Returns:
        The matplotlib Figure.
    """
    if not isinstance(runs, dict) or len(runs) != len(MOMENTUM_RUN_STYLES):
        raise BadInput(f"runs must be a dict of two momenta -> training run. Received {runs!r:.80}")
    for momentum, run in runs.items():
        missing = {key for key, _ in _PANELS} - set(_history(run))
        if missing:
            raise BadInput(f"runs[{momentum!r}] must have a history with accuracy and val_accuracy. "
                           f"Received a history without {sorted(missing)}")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    for ax, (key, panel_title) in zip(axes, _PANELS):
        for (momentum, run), (color, linewidth, marker, markersize) in zip(runs.items(), MOMENTUM_RUN_STYLES):
            values = 100 * np.array(_history(run)[key])
            ax.plot(np.arange(1, len(values) + 1), values, color=color, linewidth=linewidth, marker=marker,
                    markersize=markersize, alpha=0.55 if linewidth > 2 else 1.0, label=f"bn_momentum = {momentum}")
        ax.axhline(100 / classes, color="0.4", linestyle=":", linewidth=1.2, label=f"chance ({classes} classes)")
        ax.set_title(panel_title, loc="left")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylim(0, 103)
    axes[0].set_ylabel("accuracy, %")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.02), ncol=3,
               frameon=False)
    axes[0].annotate("the two runs coincide: training uses\nbatch statistics, whatever the momentum",
                     (0.98, 0.15), xycoords="axes fraction", ha="right", va="bottom", fontsize=9, color="0.3")
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11)
    fig.tight_layout()
    return fig
