"""Layer-wise figures of one network on one device in one mode: latency, power and energy per
layer, and the sum of the layers' latencies against the whole model.

Each function takes the network's rows of ``layer_table`` (``LayerStats.csv``: latency in s,
power in mW, energy in mJ), a :class:`Label` and the PNG's path, and returns a
:class:`~.page.Figure`, or a :class:`~.page.Note` saying why the figure is left out (no
latency, no power, no whole-model run).  Latencies are drawn in ms.
"""
import collections
import logging

import numpy as np

from .data import layer_rows, rails
from .page import Figure, Note
from .plotting import layer_ticks, layers_width, new_figure, save, title

logger = logging.getLogger(__name__)

__all__ = ["Label", "latency_figure", "power_figure", "energy_figure", "sum_figure", "network_figures",
           "MAX_RAILS"]

#: What names a figure: ``mode``, ``device`` (cpu/gpu, or the multi-DNN board), ``board``
#: (the board that measured, e.g. ``tx2``), ``simulated`` (bool).
Label = collections.namedtuple("Label", "mode device board simulated")
#: Power and energy figures show at most this many rails, a panel each.
MAX_RAILS = 4
_BAR = "#4c72b0"
_DYNAMIC = "#dd8452"


def where(label):
    """``cpu, Mode 0, board tx2``: the part of every title naming device, mode and board."""
    return "{}, Mode {}, board {}".format(label.device, label.mode, label.board)


def _labels(layers):
    return [str(i) for i in layers["index"]]


def latency_figure(rows, network, label, path):
    """Bars: each layer's mean latency (ms) over its timed runs (images pooled); whiskers: the
    sample standard deviation."""
    layers = layer_rows(rows)
    layers = layers.loc[layers["latency_n"] > 0]
    name = "{}: latency per layer".format(network)
    if not len(layers):
        return Note("{} ({}): no latency data (run the generator with --eval_latency).".format(name, where(label)))
    figure, (ax,) = new_figure(layers_width(len(layers)))
    x = list(range(len(layers)))
    ax.bar(x, layers["latency_mean_s"] * 1e3, yerr=layers["latency_std_s"].fillna(0) * 1e3, color=_BAR,
           error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.25"})
    layer_ticks(ax, _labels(layers))
    ax.set_xlabel("layer (position in the network's chain)")
    ax.set_ylabel("latency per inference (ms)")
    ax.grid(axis="y", alpha=0.3)
    title(figure, "{} - {}".format(name, where(label)), label.simulated)
    runs = int(layers["latency_n"].median())
    return Figure(save(figure, path), name, "{}: bars are the mean of each layer's timed runs ({} per layer, "
                  "median), images pooled; whiskers the standard deviation.".format(where(label), runs))


def _rail_axes(count, width):
    figure, axes = new_figure(width, 1.2 + 2.6 * count, rows=count, sharex=True)
    return figure, axes


def power_figure(rows, network, label, path):
    """Per rail, a panel: bars, each layer's mean power over its window's averaged samples (mW);
    whiskers, their standard deviation; a dashed line, the idle baseline (mean over the layers)."""
    layers = layer_rows(rows)
    names = rails(layers)[:MAX_RAILS]
    name = "{}: power per layer".format(network)
    if not names:
        return Note("{} ({}): no power data (run the generator with --eval_tgr).".format(name, where(label)))
    figure, axes = _rail_axes(len(names), layers_width(len(layers)))
    x = list(range(len(layers)))
    for ax, rail in zip(axes, names):
        ax.bar(x, layers[rail + "_mean_mW"], yerr=layers[rail + "_std_mW"].fillna(0), color=_BAR,
               error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.25"}, label="mean power")
        idle = layers[rail + "_idle_mW"].mean()
        if idle == idle:  # not NaN
            ax.axhline(idle, color="#c44e52", linestyle="--", linewidth=1.2, label="idle baseline")
        _style(ax, "{} (mW)".format(rail))
    _finish(figure, axes, layers, name, label)
    return Figure(save(figure, path), name, "{}: bars are each layer's mean power over the averaged samples of "
                  "its windows (boundary samples left out), whiskers their standard deviation; the dashed line "
                  "is the idle baseline measured before the network.".format(where(label)))


def _style(ax, ylabel):
    """One rail's axes: its label (with the unit), a light grid, the legend above the axes'
    right corner (outside the bars, which it would cover inside)."""
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)


def _finish(figure, axes, layers, name, label):
    """A per-layer figure's layer ticks (thinned out for long chains), x label and title."""
    layer_ticks(axes[-1], _labels(layers))
    axes[-1].set_xlabel("layer (position in the network's chain)")
    title(figure, "{} - {}".format(name, where(label)), label.simulated)


def energy_figure(rows, network, label, path):
    """Per rail: energy per inference of each layer (mean power x mean latency, mJ), and the
    part above the idle baseline (dynamic energy)."""
    layers = layer_rows(rows)
    names = [r for r in rails(layers) if layers[r + "_energy_mJ"].notna().any()][:MAX_RAILS]
    name = "{}: energy per inference per layer".format(network)
    if not names:
        return Note("{} ({}): needs both latency and power of the same layers (--eval_latency "
                    "--eval_tgr).".format(name, where(label)))
    figure, axes = _rail_axes(len(names), layers_width(len(layers)))
    x = list(range(len(layers)))
    for ax, rail in zip(axes, names):
        ax.bar(x, layers[rail + "_energy_mJ"], color=_BAR, label="energy (mean power x latency)")
        ax.bar(x, layers[rail + "_dynamic_energy_mJ"], width=0.5, color=_DYNAMIC, label="above idle (dynamic)")
        _style(ax, "{} energy (mJ)".format(rail))
    _finish(figure, axes, layers, name, label)
    return Figure(save(figure, path), name, "{}: energy per inference = mean power x mean latency of each "
                  "layer; the narrow bars the part above the idle baseline.".format(where(label)))


def sum_figure(rows, network, label, path):
    """The layers' mean latencies stacked against the whole model's mean latency (ms), with the
    ratio: layers timed alone run with warm caches, so their sum is usually below the model."""
    layers = layer_rows(rows).dropna(subset=["latency_mean_s"])
    model = rows.loc[(rows["layer"].astype(str) == "model") & rows["latency_mean_s"].notna()]
    name = "{}: sum of the layers vs the whole model".format(network)
    if not len(layers) or not len(model):
        return Note("{} ({}): needs the latency of the layers and of the whole model (--eval_latency)."
                    .format(name, where(label)))
    colors = ["#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#c44e52"]
    values = (layers["latency_mean_s"] * 1e3).to_numpy()
    bottoms = np.concatenate([[0.0], np.cumsum(values)[:-1]])
    shades = [colors[i % len(colors)] for i in range(len(values))]
    figure, (ax,) = new_figure(6.4, 4.8)
    ax.bar([0] * len(values), values, bottom=bottoms, color=shades, edgecolor="white", linewidth=0.3)
    bottom = float(values.sum())
    whole = float(model["latency_mean_s"].iloc[0]) * 1e3
    ax.bar(1, whole, yerr=float(model["latency_std_s"].fillna(0).iloc[0]) * 1e3, color="0.45",
           error_kw={"capsize": 4})
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["sum of {} layers".format(len(layers)), "whole model"])
    ax.set_ylabel("latency per inference (ms)")
    ax.grid(axis="y", alpha=0.3)
    ratio = bottom / whole if whole else float("nan")
    ax.text(0.5, max(bottom, whole) * 1.02, "sum / model = {:.2f}".format(ratio), ha="center", va="bottom")
    ax.set_ylim(0, max(bottom, whole) * 1.15)
    title(figure, "{} - {}".format(name, where(label)), label.simulated)
    return Figure(save(figure, path), name, "{}: left, the layers' mean latencies stacked (a colour per layer, "
                  "layer 0 at the bottom); right, the whole model timed the same way (whisker: standard "
                  "deviation). Sum / model = {:.2f}.".format(where(label), ratio))


#: (file suffix, function) of the figures made per network.
NETWORK_FIGURES = (("latency", latency_figure), ("power", power_figure), ("energy", energy_figure),
                   ("sum-vs-model", sum_figure))


def network_figures(rows, network, label, path_of):
    """Every per-network figure (:data:`NETWORK_FIGURES`), as Figure or Note items;
    ``path_of(suffix)``: the PNG path for one of them."""
    return [make(rows, network, label, path_of(suffix)) for suffix, make in NETWORK_FIGURES]
