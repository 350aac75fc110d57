"""The variant explorer: network, α, ρ, Conv or shallow over the layer table, the architecture
picture and the role shares."""

import html
from dataclasses import dataclass

import ipywidgets as widgets
import pandas as pd

from analysis import plots
from analysis.cost.published import variant_costs
from analysis.cost.groups import role_totals
from analysis.cost.table import summarize
from analysis.explore.widgets import Explorer, figure_html, table_html
from analysis.variants import ALPHAS, FC6_AUTO, RESOLUTIONS, Variant
from nets import checks

NETWORKS = ("mobilenet", "vgg16")
LAYER_COLUMNS = ("name", "type", "output_shape", "kernel_size", "strides", "params", "macs",
                 "receptive_field", "jump")


@dataclass(frozen=True)
class VariantView:
    """What the variant explorer shows: the variant, its layer table, totals and role totals."""

    variant: Variant
    table: pd.DataFrame
    totals: dict
    roles: pd.DataFrame


def explore_variant(network="mobilenet", alpha=1.0, resolution=224, conv=False, shallow=False):
    """The ``Variant`` the variant explorer's controls name.

    α, Conv and shallow are MobileNet's and ignored for VGG16; a VGG16 at a resolution other than
    224 has its fc6 sized to its last feature map (``fc6_kernel_size="auto"``).
    """
    checks.one_of("network", network, NETWORKS)
    if network == "vgg16":
        return Variant("vgg16", resolution=resolution, fc6_kernel_size=None if resolution == 224 else FC6_AUTO)
    return Variant("mobilenet", alpha=alpha, resolution=resolution, conv=conv, shallow=shallow)


def variant_view(network="mobilenet", alpha=1.0, resolution=224, conv=False, shallow=False):
    """The ``VariantView`` of the variant that the controls name (its layer table cached per variant)."""
    variant = explore_variant(network, alpha, resolution, conv, shallow)
    table = variant_costs(variant)[2]
    return VariantView(variant, table, summarize(table), role_totals(table))


def _render_variant(view):
    totals, label = view.totals, view.variant.label
    architecture = plots.draw_architecture(view.table, title=label).figure
    roles = plots.draw_role_shares(pd.concat({label: view.roles}, names=["network"]))
    role_table = view.roles[["params", "params_share_%", "macs", "macs_share_%"]].reset_index()
    layers = view.table[[c for c in LAYER_COLUMNS if c in view.table.columns]].astype(
        {"output_shape": str, "kernel_size": str, "strides": str})
    return (f"<h4>{html.escape(label)}</h4><p>{totals['params']:,} parameters "
            f"({totals['trainable_params']:,} trainable); {totals['macs'] / 1e6:,.1f} million MACs per image "
            f"(FLOPs = 2 × MACs); {len(view.table)} layers.</p>"
            + figure_html(architecture) + figure_html(roles) + table_html(role_table)
            + "<p>Layer table (<code>analysis.cost.layer_table</code>):</p>" + table_html(layers, max_height=320))


def _adjust_variant(controls, change):
    mobilenet_only = controls["network"].value != "mobilenet"
    for name in ("alpha", "conv", "shallow"):
        controls[name].disabled = mobilenet_only


def variant_explorer(network="mobilenet", alpha=1.0, resolution=224, conv=False, shallow=False):
    """A widget of network, α, ρ, Conv and shallow over the layer table, the architecture picture
    and the role shares (``variant_view``), drawn at the values given."""
    controls = {
        "network": widgets.ToggleButtons(options=[("MobileNet", "mobilenet"), ("VGG16", "vgg16")], value=network,
                                         description="network"),
        "alpha": widgets.SelectionSlider(options=sorted(ALPHAS), value=alpha, description="α",
                                         continuous_update=False),
        "resolution": widgets.SelectionSlider(options=sorted(RESOLUTIONS), value=resolution, description="ρ (px)",
                                              continuous_update=False),
        "conv": widgets.Checkbox(value=conv, description="Conv (full 3×3)"),
        "shallow": widgets.Checkbox(value=shallow, description="shallow"),
    }
    _adjust_variant(controls, None)
    return Explorer("Variant explorer", controls, variant_view, _render_variant, adjust=_adjust_variant)
