"""Layer-wise figures across networks: per mode and device, whole-network latency against
energy (a labelled point per network) and layer latency against MACs (log-log); across modes,
each network's latency and energy per mode.

Inputs are rows of ``layer_table`` (``LayerStats.csv``); whole-network figures come from
:func:`~.data.whole_network` (the ``model`` row, else the sum of the layers).  The MACs
figure needs the ``macs`` column (per-layer features); where it is absent or empty the
figure is a :class:`~.page.Note`.
"""
import logging

import numpy as np

from .data import layer_rows, rails, whole_network
from .layer_figures import where
from .page import Figure, Note
from .plotting import new_figure, save, title

logger = logging.getLogger(__name__)

__all__ = ["scatter_figure", "macs_figure", "modes_figure", "MACS"]

#: The per-layer MACs column of ``layer_table`` (multiply-accumulates per inference).
MACS = "macs"


def _primary_rail(table):
    names = [r for r in rails(table) if table[r + "_energy_mJ"].notna().any()]
    return names[0] if names else None


def scatter_figure(table, label, path):
    """Whole-network latency (ms) against energy per inference (mJ, the first rail that has
    energy), a labelled point per network of ``table`` (one mode and device)."""
    rail = _primary_rail(table)
    name = "Whole-network latency vs energy"
    whole = whole_network(table, rail)
    points = [(n, lat * 1e3, e, (lat_from, e_from)) for n, (lat, e, lat_from, e_from) in whole.items()
              if lat == lat and e == e]
    if not points:
        return Note("{} ({}): needs latency and power of the same networks (--eval_latency --eval_tgr)."
                    .format(name, where(label)))
    figure, (ax,) = new_figure(7.2, 5.0)
    ax.scatter([p[1] for p in points], [p[2] for p in points], color="#4c72b0", zorder=3)
    for network, x, y, _ in points:
        ax.annotate(network, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("whole-network latency per inference (ms)")
    ax.set_ylabel("energy per inference, {} (mJ)".format(rail))
    ax.grid(alpha=0.3)
    if len(points) == 1:  # one point: give it room
        ax.margins(0.5)
    title(figure, "{} - {}".format(name, where(label)), label.simulated)
    return Figure(save(figure, path), name, "{}: a point per network; latency: {}; energy: {} (mean {} power "
                  "x mean latency).".format(where(label), _from(points, 0), _from(points, 1), rail))


def _from(points, which):
    """Where the points' latency (``which`` 0) or energy (1) comes from, in words."""
    sources = sorted({p[3][which] for p in points})
    words = {"model": "the whole model timed as one", "sum of layers": "the sum over the network's layers"}
    return " or ".join(words[s] for s in sources)


def macs_figure(table, label, path):
    """Each layer's mean latency (ms) against its MACs, log-log, a colour per network."""
    name = "Layer latency vs MACs"
    layers = layer_rows(table)
    if MACS not in layers or not layers[MACS].notna().any():
        return Note("{} ({}): the layer table has no per-layer MACs (the {!r} column): this figure is left "
                    "out.".format(name, where(label), MACS))
    layers = layers.assign(macs_value=layers[MACS].astype(float))
    layers = layers.loc[(layers["macs_value"] > 0) & (layers["latency_mean_s"] > 0)]
    if not len(layers):
        return Note("{} ({}): no layer has both MACs above 0 and a latency.".format(name, where(label)))
    figure, (ax,) = new_figure(7.2, 5.0)
    for network, rows in layers.groupby("network", sort=True):
        ax.scatter(rows["macs_value"], rows["latency_mean_s"] * 1e3, s=14, label=network, alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MACs per inference (multiply-accumulates)")
    ax.set_ylabel("layer latency per inference (ms)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2 if layers["network"].nunique() > 8 else 1)
    title(figure, "{} - {}".format(name, where(label)), label.simulated)
    return Figure(save(figure, path), name, "{}: a point per layer (layers without MACs, e.g. pure reshapes, "
                  "left out).".format(where(label)))


def modes_figure(table, device, modes, simulated, path):
    """Per network of ``table`` (one device, several modes): whole-network latency (ms) and
    energy per inference (mJ) per mode, grouped bars."""
    name = "Latency and energy per mode"
    rail = _primary_rail(table)
    per_mode = {mode: whole_network(table.loc[table["mode"] == mode], rail) for mode in modes}
    networks = sorted({n for whole in per_mode.values() for n in whole})
    figure, axes = new_figure(max(7.0, 1.2 + 0.9 * len(networks) * len(modes) / 2.0), 7.0, rows=2, sharex=True)
    width = 0.8 / len(modes)
    x = np.arange(len(networks))
    for i, mode in enumerate(modes):
        whole = per_mode[mode]
        latency = [whole[n][0] * 1e3 if n in whole else np.nan for n in networks]
        energy = [whole[n][1] if n in whole else np.nan for n in networks]
        axes[0].bar(x + (i - (len(modes) - 1) / 2.0) * width, latency, width, label="Mode {}".format(mode))
        axes[1].bar(x + (i - (len(modes) - 1) / 2.0) * width, energy, width, label="Mode {}".format(mode))
    axes[0].set_ylabel("latency per inference (ms)")
    axes[1].set_ylabel("energy per inference{} (mJ)".format(", " + rail if rail else ""))
    for ax in axes:
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    pad = max(0.0, (3 - len(networks)) / 2.0)  # few networks: bars of a normal width
    axes[1].set_xlim(-0.5 - pad, len(networks) - 0.5 + pad)
    axes[1].set_xticks(list(x))
    axes[1].set_xticklabels(networks, rotation=90 if len(networks) > 6 else 0, fontsize=8)
    axes[1].set_xlabel("network")
    title(figure, "{} - {}, Modes {}".format(name, device, ", ".join(str(m) for m in modes)), simulated)
    return Figure(save(figure, path), "{} ({})".format(name, device), "{}: each network's latency and energy per "
                  "inference in each mode, as in each mode's latency-vs-energy figure (the whole model's latency, "
                  "else the sum of the layers'; energy summed over the layers where power was measured per layer); "
                  "bars are missing where a mode lacks the network.".format(device))
