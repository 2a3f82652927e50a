"""Small statistics over mixed values: tegrastats fields may be None (a core that is off,
an absent sensor) or text ("off"), and hostile raw files may hold NaN or infinities;
only finite real numbers count."""
import math
import statistics

__all__ = ["is_number", "numbers", "mean", "std"]


def is_number(value):
    """True for a finite int or float (not a bool, None, text, NaN or an infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def numbers(values):
    """The items of ``values`` that are numbers (:func:`is_number`)."""
    return [v for v in values if is_number(v)]


def mean(values):
    """Mean of the numbers in ``values``; None if there are none."""
    found = numbers(values)
    return float(sum(found)) / len(found) if found else None


def std(values):
    """Sample standard deviation of the numbers in ``values``: 0.0 for one, None for none."""
    found = numbers(values)
    return statistics.stdev(found) if len(found) > 1 else (0.0 if found else None)
