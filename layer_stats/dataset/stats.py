"""Small statistics over mixed values: tegrastats fields may be None (a core that is off,
an absent sensor) or text ("off"), and hostile raw files may hold NaN or infinities;
only finite real numbers count."""
import math
import statistics

__all__ = ["numbers", "mean", "std"]


def numbers(values):
    """The finite int/float items of ``values`` (bools, None, text, NaN and infinities dropped)."""
    return [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def mean(values):
    """Mean of the numbers in ``values``; None if there are none."""
    found = numbers(values)
    return float(sum(found)) / len(found) if found else None


def std(values):
    """Sample standard deviation of the numbers in ``values``: 0.0 for one, None for none."""
    found = numbers(values)
    return statistics.stdev(found) if len(found) > 1 else (0.0 if found else None)
