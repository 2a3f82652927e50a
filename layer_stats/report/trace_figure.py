"""One telemetry trace: a layer's power samples over its window, with the window, the averaged
core (the rest are boundary samples, never averaged), the core's mean and the idle baseline
marked.  Input: a :class:`~.data.Trace` (times in s from the window's start, power in mW)."""
import logging

from .page import Figure, Note
from .plotting import new_figure, save, title

logger = logging.getLogger(__name__)

__all__ = ["trace_figure"]


def trace_figure(trace, path):
    """The trace's figure, or a Note where there is no power data to trace."""
    name = "Telemetry trace of one layer"
    if trace is None or not trace.times:
        return Note("{}: no power window to show (run the generator with --eval_tgr).".format(name))
    rail = trace.rail[:-len("_mW")]
    figure, (ax,) = new_figure(9.0, 5.4)
    ax.axvspan(trace.window[0], trace.window[1], color="0.85", alpha=0.6, label="window (layer looping)")
    ax.axvspan(trace.core[0], trace.core[1], color="#8fd19e", alpha=0.5, label="averaged core")
    ax.plot(trace.times, trace.values, color="0.55", linewidth=0.8, zorder=2)
    inside = [(t, v) for t, v, a in zip(trace.times, trace.values, trace.averaged) if a]
    outside = [(t, v) for t, v, a in zip(trace.times, trace.values, trace.averaged) if not a]
    if inside:
        ax.scatter(*zip(*inside), s=10, color="#2b7bba", zorder=3, label="averaged sample")
    if outside:
        ax.scatter(*zip(*outside), s=12, facecolors="none", edgecolors="#c44e52", zorder=3,
                   label="boundary sample (not averaged)")
    if trace.mean is not None:
        ax.hlines(trace.mean, trace.core[0], trace.core[1], colors="#1a5e20", linewidth=2,
                  label="core mean {:.0f} mW".format(trace.mean), zorder=4)
    if trace.idle is not None:
        ax.axhline(trace.idle, color="#c44e52", linestyle="--", linewidth=1.2,
                   label="idle baseline {:.0f} mW".format(trace.idle))
    ax.set_xlabel("time from the window's start (s)")
    ax.set_ylabel("{} power (mW)".format(rail))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    layer = "layer {}{}".format(trace.layer, " ({})".format(trace.name) if trace.name else "")
    place = "{}, Mode {}, board {}".format(trace.device, trace.mode, trace.board)
    title(figure, "{}, {}, image {}: {} samples ({}) - {}".format(trace.network, layer, trace.image, rail,
                                                                  trace.sampler, place), trace.simulated)
    return Figure(save(figure, path), name, "{}, {} on {}, image {}: every {} sample of the window ({}); only "
                  "those in the green core are averaged; the dashed line is the idle baseline taken before the "
                  "network.".format(trace.network, layer, place, trace.image, rail, trace.sampler))
