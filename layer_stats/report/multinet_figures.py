"""Multi-DNN figures of one board (``Device``) and mode: each network's throughput and slowdown
against running alone, by the number of co-running networks and by mapping class, and a heat
map of each mapping's mean power per rail.

Input: the ``Mode{m}.csv`` table of :func:`multi_network_stats.postprocess.mode_table`, a row
per sample and network: ``throughput_per_s`` (passes/s), ``slowdown`` (the network's
throughput alone on the same device over its throughput here; only for networks run whole,
where a class A run exists), ``k`` (networks in the mapping), ``class`` (A: alone, B: all
on the GPU, C: whole networks, D: split networks), and the sample's rails (``{name}_mW``).
"""
import logging
import re

import numpy as np

from .layer_figures import where
from .page import Figure, Note
from .plotting import new_figure, save, title

logger = logging.getLogger(__name__)

__all__ = ["by_figure", "power_map", "power_columns", "multinet_figures", "MAX_MAP_LABELS"]

#: At most this many mapping labels on the heat map's axis (every k-th one past it).
MAX_MAP_LABELS = 40
#: Above this many cells the heat map's cells are not written in.
_ANNOTATE_CELLS = 120
_MAP = re.compile(r"_Map(\d+)_")
#: Longest mapping label on the heat map (characters).
_LABEL_CHARS = 60
_CLASSES = "A alone, B all on the GPU, C whole networks, D split networks"


def power_columns(table):
    """The rail columns (``{name}_mW``) of a ``mode_table`` that hold a number."""
    return [c for c in table.columns if str(c).endswith("_mW") and table[c].notna().any()]


def _spread(ax, table, by, order, column, networks):
    """Per network, the mean of ``column`` per value of ``by`` (in ``order``) with min-max
    whiskers, offset so the networks do not cover each other, joined by lines where ``by`` is
    a number (``k``), not for categories (``class``).  Returns True if anything was drawn."""
    drawn = False
    width = 0.6 / max(1, len(networks))
    for i, network in enumerate(networks):
        rows = table.loc[(table["network"] == network) & table[column].notna()]
        stats = rows.groupby(by)[column].agg(["mean", "min", "max"]).reindex(order).dropna(subset=["mean"])
        if not len(stats):
            continue
        x = np.array([order.index(v) for v in stats.index], dtype=float) + (i - (len(networks) - 1) / 2.0) * width
        errors = [stats["mean"] - stats["min"], stats["max"] - stats["mean"]]
        ax.errorbar(x, stats["mean"], yerr=errors, fmt="o-" if by == "k" else "o", capsize=3, markersize=5,
                    linewidth=1, label=network)
        drawn = True
    return drawn


def by_figure(table, label, by, path):
    """Two panels, throughput (passes/s) and slowdown vs alone, per network, by ``by``: ``k``
    (co-running networks) or ``class`` (mapping class)."""
    what = "number of networks in the mapping" if by == "k" else "mapping class"
    name = "Throughput and slowdown by {}".format(what)
    values = table[by].dropna()  # k: nullable integers (pandas 1.1's have no tolist)
    order = sorted({int(v) for v in values} if by == "k" else {str(v) for v in values})
    if not order:
        return Note("{} ({}): no samples.".format(name, where(label)))
    networks = sorted(table["network"].unique().tolist())
    figure, axes = new_figure(max(7.0, 2.0 + 1.2 * len(order)), 7.5, rows=2, sharex=True)
    _spread(axes[0], table, by, order, "throughput_per_s", networks)
    slowed = _spread(axes[1], table, by, order, "slowdown", networks)
    axes[1].axhline(1.0, color="0.4", linestyle="--", linewidth=1, label="as fast as alone")
    if not slowed:
        axes[1].text(0.5, 0.5, "no slowdown: no class A run of these networks alone", transform=axes[1].transAxes,
                     ha="center", va="center", fontsize=9)
    axes[0].set_ylabel("throughput (passes/s)")
    axes[1].set_ylabel("slowdown vs alone (x)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2 if len(networks) > 6 else 1)
    axes[1].set_xticks(list(range(len(order))))
    axes[1].set_xticklabels([str(v) for v in order])
    axes[1].set_xlabel(what + (" (1: alone)" if by == "k" else " ({})".format(_CLASSES)))
    axes[1].set_xlim(-0.6, len(order) - 0.4)
    title(figure, "{} - {}".format(name, where(label)), label.simulated)
    return Figure(save(figure, path), name, "{}: points are the mean over the samples, whiskers their range; "
                  "throughput = passes of the whole network per second over the sampling window; slowdown = "
                  "the network's throughput alone on the same device / its throughput here (networks run whole "
                  "only).".format(where(label)))


def _map_labels(table, files):
    """A label per sample (``files``, in order): its map number, class and where each network
    ran, ``Map4 C: mnasnet0_5@cpu, squeezenet1_0@cuda`` (a split network: ``@cpu+cuda``), cut
    at :data:`_LABEL_CHARS` characters."""
    placed = {}
    for file_name, network, stages in table[["file", "network", "stages"]].itertuples(index=False, name=None):
        devices = "+".join(part.split(":")[0] for part in str(stages).split())
        placed.setdefault(file_name, []).append("{}@{}".format(network, devices))
    classes = table.drop_duplicates("file").set_index("file")["class"]
    labels = []
    for file_name in files:
        match = _MAP.search(str(file_name))
        text = "Map{} {}: {}".format(match.group(1) if match else "?", classes[file_name],
                                     ", ".join(placed[file_name]))
        labels.append(text if len(text) <= _LABEL_CHARS else text[:_LABEL_CHARS - 3] + "...")
    return labels


def power_map(table, label, path):
    """A heat map: a row per mapping (sample), a column per rail, the mean power (mW) of the
    sample's window."""
    columns = power_columns(table)
    name = "Mean power per mapping"
    if not columns:
        return Note("{} ({}): the samples hold no power rail (run the generator with --eval_tgr).".format(
            name, where(label)))
    samples = table.drop_duplicates("file")
    values = samples[columns].to_numpy(dtype=float)
    labels = _map_labels(table, samples["file"].tolist())
    height = min(24.0, 2.5 + 0.22 * min(len(labels), 100))
    figure, (ax,) = new_figure(max(8.0, 5.5 + 1.3 * len(columns)), height)
    image = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="viridis", interpolation="nearest")
    figure.colorbar(image, ax=ax).set_label("mean power over the window (mW)")
    ax.set_xticks(list(range(len(columns))))
    ax.set_xticklabels([c[:-len("_mW")].replace("_", " ") for c in columns], rotation=30, ha="right", fontsize=8)
    step = max(1, int(np.ceil(len(labels) / float(MAX_MAP_LABELS))))
    ax.set_yticks(list(range(0, len(labels), step)))
    ax.set_yticklabels(labels[::step], fontsize=7)
    ax.set_xlabel("rail")
    ax.set_ylabel("mapping (sample)")
    if values.size <= _ANNOTATE_CELLS and np.isfinite(values).any():
        middle = np.nanmean(values)
        for (i, j), value in np.ndenumerate(values):
            if value == value:
                ax.text(j, i, "{:.0f}".format(value), ha="center", va="center", fontsize=7,
                        color="white" if value < middle else "black")
    title(figure, "{} - {}".format(name, where(label)), label.simulated)
    return Figure(save(figure, path), name, "{}: each mapping's mean power per rail over its sampling window "
                  "(mW); a row per sample ({} in all).".format(where(label), len(labels)))


def multinet_figures(table, label, path_of):
    """The three multi-DNN figures of one board and mode (``label``: a
    :class:`~.layer_figures.Label` whose ``device`` is the seed's board name); ``path_of(suffix)``:
    a PNG's path."""
    return [by_figure(table, label, "k", path_of("by-k")), by_figure(table, label, "class", path_of("by-class")),
            power_map(table, label, path_of("power-map"))]
