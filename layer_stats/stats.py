"""Number checks for raw values: tegrastats fields may be None (a core that is off, an
absent sensor) or text ("off"), and hostile raw files may hold NaN, infinities, bools or
integers too large for a float; only finite real numbers count.  Statistics over many
samples are post-processing's, on pandas (:mod:`layer_stats.layerwise.postprocess`)."""
import math

__all__ = ["is_number", "mean"]


def is_number(value):
    """True for a finite int or float (not a bool, None, text, NaN, an infinity, or an
    int too large for a float)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond a float's range (JSON can spell one)
        return False


def mean(values):
    """Mean of the numbers in ``values`` (:func:`is_number`), in their unit; None if there
    are none."""
    found = [v for v in values if is_number(v)]
    return float(sum(found)) / len(found) if found else None
