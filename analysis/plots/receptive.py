"""Figures of notebook 01: the receptive field and jump of each network against depth, and a
gallery of architecture pictures on one shared scale.

``draw_receptive_field`` draws ``analysis.cost.trace.receptive_trace`` tables;
``draw_architecture_gallery`` draws ``layer_table``s with ``draw_architecture``. They only draw.
"""

import matplotlib.pyplot as plt

from nets.errors import BadInput
from analysis.plots.architecture import draw_architecture, draw_legend, types_drawn
from analysis.plots.style import check_rows, model_color


def draw_receptive_field(traces, image_side=224, annotate=()):
    """Receptive field (left) and jump (right) of each network against depth.

    Args:
        traces: dict of label -> ``receptive_trace`` table (depth, name, receptive_field, jump).
        image_side: the input side, drawn as a dashed line on the left panel (None for none).
        annotate: layer names whose receptive field is written beside its point; the last layer
            of each network is always written.

    Returns:
        The matplotlib Figure.
    """
    if not traces:
        raise BadInput("traces must name at least one network. Received an empty dict")
    for label, trace in traces.items():
        check_rows(trace, ("depth", "name", "receptive_field", "jump"), f"traces[{label!r}]", "a receptive_trace")
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [3, 2]})
    for i, (label, trace) in enumerate(traces.items()):
        color = model_color(label, i)
        depth, field, jump = trace["depth"], trace["receptive_field"].astype(float), trace["jump"].astype(float)
        left.plot(depth, field, marker="o", markersize=4, color=color, label=label)
        right.step(depth, jump, where="pre", color=color, label=label)
        named = trace[trace["name"].isin(annotate) | (trace.index == trace.index[-1])]
        for row in named.itertuples():
            beside = row.name in annotate  # to the right of the point; the last layer above it
            left.annotate(f"{row.name}: {int(row.receptive_field)}", (row.depth, row.receptive_field),
                          textcoords="offset points", xytext=(7, -4) if beside else (-6, 8),
                          ha="left" if beside else "right", fontsize=9, color=color)
    if image_side:
        left.axhline(image_side, color="0.4", linestyle="--", linewidth=1)
        left.text(0.5, image_side + 3, f"input side, {image_side} px", va="bottom", fontsize=9, color="0.3")
    left.set(xlabel="depth: convolutions and poolings passed (1×1 included)",
             ylabel="receptive field (input pixels per side)", title="What one output position sees")
    right.set_yscale("log", base=2)
    right.set(xlabel="depth: convolutions and poolings passed", ylabel="jump (input pixels between outputs)",
              title="Jump: the effective stride")
    right.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    left.legend(loc="upper left")
    fig.tight_layout()
    return fig


def draw_architecture_gallery(tables, row_height=4.2):
    """Architecture pictures (``draw_architecture``) one under the other on one shared scale.

    Args:
        tables: dict of title -> ``layer_table``, drawn in order; the legend, under the last,
            names every layer type any of them draws.
        row_height: inches per picture.

    Returns:
        The matplotlib Figure.
    """
    if not tables:
        raise BadInput("tables must name at least one network. Received an empty dict")
    fig, axes = plt.subplots(len(tables), 1, figsize=(16, row_height * len(tables)), sharex=True, sharey=True,
                             squeeze=False)
    for ax, (title, table) in zip(axes[:, 0], tables.items()):
        draw_architecture(table, ax=ax, title=title, legend=False)
    draw_legend(axes[-1, 0], set().union(*(types_drawn(table) for table in tables.values())))
    return fig


__all__ = ["draw_architecture_gallery", "draw_receptive_field"]
