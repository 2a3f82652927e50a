"""Play a recorded tegrastats log back at its own pace.

Lines with a timestamp (JetPack 5 and newer) keep the log's timing: the lines
printed within one second are spread evenly over it, and gaps between
seconds are kept.  Lines without one are played every ``interval_ms``.
"""
import datetime
import time

from .parse import iter_lines

__all__ = ["paced_lines"]

_TS_FORMAT = "%m-%d-%Y %H:%M:%S"


def _stamp(line):
    """The line's timestamp as a datetime, or None."""
    try:
        return datetime.datetime.strptime(line[:19], _TS_FORMAT)
    except ValueError:
        return None


def _offsets(lines, interval_s):
    """Seconds from the start of the log at which each line is due."""
    stamps = [_stamp(line) for line in lines]
    offsets = []
    i = 0
    base = next((s for s in stamps if s is not None), None)
    while i < len(lines):
        if stamps[i] is None or base is None:
            offsets.append((offsets[-1] + interval_s) if offsets else interval_s)
            i += 1
            continue
        j = i
        while j < len(lines) and stamps[j] == stamps[i]:
            j += 1
        second = (stamps[i] - base).total_seconds()
        for k in range(i, j):
            offsets.append(second + (k - i + 1) / float(j - i))
        i = j
    return offsets


def paced_lines(path, interval_ms=1000, speed=1.0, loop=False, sleep=time.sleep, clock=time.monotonic):
    """Yield the lines of ``path`` (non-blank), each when it is due; forever if ``loop``."""
    lines = [line for line in iter_lines(path) if line.strip()]
    if not lines:
        return
    offsets = _offsets(lines, interval_ms / 1000.0)
    period = offsets[-1] + (offsets[-1] - offsets[-2] if len(offsets) > 1 else interval_ms / 1000.0)
    start, lap = clock(), 0
    while True:
        for line, offset in zip(lines, offsets):
            due = start + (lap * period + offset) / speed
            delay = due - clock()
            if delay > 0:
                sleep(delay)
            yield line
        if not loop:
            return
        lap += 1
