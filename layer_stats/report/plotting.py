"""What every report figure shares: matplotlib on the Agg backend, the SIMULATED label, layer
ticks that never overlap, and PNG files written atomically.

matplotlib is optional (the report's extra, never needed on a board): :func:`pyplot` imports it
and turns its absence into one :class:`~layer_stats.errors.DnnStatsError` line saying how to
install it.  Figures are drawn with the object API on Agg (no display, thread-free of any GUI).
"""
import io
import logging
import math
import textwrap

from ..errors import DnnStatsError
from ..fsutil import atomic_write

logger = logging.getLogger(__name__)

__all__ = ["pyplot", "new_figure", "layers_width", "layer_ticks", "mark_simulated", "title", "save", "WATERMARK", "DPI",
           "MAX_TICKS", "INSTALL_HINT"]

#: Drawn across every figure made from simulated telemetry, and put before its title.
WATERMARK = "SIMULATED"
#: Resolution of the PNG files (dots per inch): an 8 x 4.5 in figure is 800 x 450 pixels.
DPI = 100
#: At most this many layer labels on an axis (one every ``ceil(n / MAX_TICKS)`` layers).
MAX_TICKS = 30
#: Title characters per inch of figure width (11 pt text), and the height of a title line (inches).
_CHARS_PER_INCH = 10.5
_LINE_IN = 0.22
#: The hint of the one-line error when matplotlib is missing.
INSTALL_HINT = "pip install matplotlib (or, in the checkout, pip install -e '.[report]')"


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend; raises DnnStatsError when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise DnnStatsError("the report draws its figures with matplotlib, which is not installed: {}".format(
            INSTALL_HINT))
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def new_figure(width_in=8.0, height_in=4.5, rows=1, columns=1, **kwargs):
    """``(figure, axes)``: ``plt.subplots`` with the report's size (inches) and a tight layout;
    ``axes`` is a flat list whatever the grid."""
    plt = pyplot()
    figure, axes = plt.subplots(rows, columns, figsize=(width_in, height_in), squeeze=False, **kwargs)
    return figure, [ax for row in axes for ax in row]


def layers_width(count, low=8.0, high=16.0):
    """Figure width (inches) for ``count`` bars: 0.22 in a bar plus margins, within [low, high]."""
    return max(low, min(high, 2.0 + 0.22 * count))


def layer_ticks(ax, labels, max_ticks=MAX_TICKS):
    """Put ``labels`` (one per bar at x = 0, 1, ...) on ``ax``'s x axis, every k-th one where
    there are more than ``max_ticks`` (k = ceil(n / max_ticks)), turned 90 degrees where more
    than 15 are shown: a 30-, 60- or 300-layer network keeps readable, non-overlapping labels.
    Returns k."""
    count = len(labels)
    step = max(1, int(math.ceil(count / float(max_ticks))))
    shown = list(range(0, count, step))
    ax.set_xticks(shown)
    ax.set_xticklabels([labels[i] for i in shown], rotation=90 if len(shown) > 15 else 0, fontsize=8)
    ax.set_xlim(-0.6, count - 0.4)
    return step


def mark_simulated(figure, simulated):
    """Label ``figure`` as made from simulated telemetry (``simulated`` True): ``SIMULATED``
    before its title (:func:`title`) and across its middle, large, light and behind nothing
    that matters.  Does nothing for measured data."""
    if simulated:
        figure.text(0.5, 0.5, WATERMARK, transform=figure.transFigure, fontsize=64, color="0.5", alpha=0.18,
                    ha="center", va="center", rotation=25, zorder=0, fontweight="bold")


def title(figure, text, simulated):
    """The figure's title, ``SIMULATED - `` first for simulated data, wrapped to the figure's
    width; then the watermark (:func:`mark_simulated`)."""
    text = "{} - {}".format(WATERMARK, text) if simulated else text
    width_in = figure.get_size_inches()[0]
    lines = textwrap.wrap(text, max(30, int(width_in * _CHARS_PER_INCH)))
    figure.suptitle("\n".join(lines), fontsize=11)
    figure._report_title_lines = len(lines)  # read by save(): room kept above the axes
    mark_simulated(figure, simulated)


def save(figure, path):
    """Write ``figure`` to ``path`` as a PNG atomically (:func:`~layer_stats.fsutil.atomic_write`),
    then free it.  Returns ``path``."""
    plt = pyplot()
    try:
        lines = getattr(figure, "_report_title_lines", 0)
        height_in = figure.get_size_inches()[1]
        figure.tight_layout(rect=(0, 0, 1, 1 - min(0.4, (0.1 + _LINE_IN * lines) / height_in)))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
    finally:
        plt.close(figure)
    atomic_write(path, buffer.getvalue())
    logger.debug("wrote %s", path)
    return path
