"""The sampling loop: read the chosen rails at a fixed rate and keep only fresh conversions.

A power monitor converts on its own clock (an INA3221 every ``update_interval`` ms:
channels x samples x (bus + shunt conversion time)); reading faster returns the
same conversion again.  :class:`FreshFilter` keeps a reading when its raw values
differ from the reading before it, or when a whole conversion period has passed
since the last one kept (a new conversion that gave the same numbers); a reading
that repeats the last conversion is dropped.  Where the driver does not say how
often it converts (``ina3221x``, ``ina238``), :data:`UNKNOWN_PERIOD_S` stands in.

The loop (:func:`sample_loop`) wakes on absolute deadlines ``t0 + i / rate`` (no
drift), skips the deadlines it overran instead of bursting to catch up, and
stamps each reading with the midpoint of its file reads on ``time.monotonic()``
(CLOCK_MONOTONIC: the same clock in every process, so a parent can cut windows of
a child's readings).  The rate is clamped to what the chip delivers
(:func:`effective_rate`).

A reading is one line of JSON (:func:`line_format`)::

    {"t_mono":1234.567890,"VDD_IN_mW":4521.000,"VDD_SOC_mW":1406.250}

keys ``{rail}_mW`` (mW, 3 decimals) in the order the rails were chosen.
"""
import time

from ..clock import monotonic
from .read import update_interval_ms

__all__ = ["FreshFilter", "sample_loop", "conversion_period_s", "effective_rate", "line_format", "parse_line",
           "stamp_of", "UNKNOWN_PERIOD_S", "READING_PREFIX"]

#: Conversion period assumed where the driver does not publish one (s): an
#: unchanged reading counts as a new conversion once this much time has passed.
UNKNOWN_PERIOD_S = 0.010
#: How every reading line starts (a header or other line does not).
READING_PREFIX = '{"t_mono":'


def conversion_period_s(rails):
    """The slowest ``update_interval`` of ``rails`` (s), or None where no rail's driver has one."""
    periods = [update_interval_ms(rail) for rail in rails]
    known = [p for p in periods if p]
    return max(known) / 1000.0 if known else None


def effective_rate(rate_hz, period_s):
    """``rate_hz`` clamped to one reading per conversion (``period_s``; None: not clamped)."""
    if period_s:
        return min(float(rate_hz), 1.0 / period_s)
    return float(rate_hz)


class FreshFilter(object):
    """Tells new conversions from repeats of the last one (module doc).

    ``period_s``: the conversion period (None: :data:`UNKNOWN_PERIOD_S`).
    """

    def __init__(self, period_s=None):
        self.period_s = period_s or UNKNOWN_PERIOD_S
        self._last = None
        self._kept_at = None
        self.repeats = 0

    def fresh(self, raw, t):
        """True when ``raw`` (the tuple :meth:`RailReader.read_raw` gave at ``t``, s) is a new conversion."""
        if raw != self._last or self._kept_at is None or t - self._kept_at >= self.period_s:
            self._last = raw
            self._kept_at = t
            return True
        self.repeats += 1
        return False


def line_format(rails):
    """The ``%`` format of one reading line for ``rails`` (names): ``t_mono`` then each rail's mW."""
    fields = ['"{}_mW":%.3f'.format(name) for name in rails]
    return READING_PREFIX + "%.6f," + ",".join(fields) + "}"


def stamp_of(line):
    """The ``t_mono`` of a reading line (s), or None for any other line (a header)."""
    if not line.startswith(READING_PREFIX):
        return None
    try:
        return float(line[len(READING_PREFIX):line.index(",")])
    except ValueError:
        return None


def parse_line(line):
    """A reading line as ``(t_mono, {key: mW})``, or None for any other line."""
    import json

    if stamp_of(line) is None:
        return None
    values = json.loads(line)
    return values.pop("t_mono"), values


def sample_loop(reader, rate_hz, emit, period_s=None, duration_s=None, stop=None, stats=None,
                clock=monotonic, sleep=time.sleep):
    """Read ``reader`` (a :class:`~layer_stats.power.read.RailReader`) every ``1 / rate_hz`` s
    and call ``emit(t_mono, mW_list)`` for every fresh reading, until ``duration_s`` has
    passed (None: forever), ``stop()`` returns True, or a stop signal raises.

    Returns ``stats`` (a new dict if None), filled however the loop ends: ``reads``,
    ``fresh``, ``repeats``, ``overruns`` (deadlines the loop woke too late for; it then
    skips to the next one ahead), ``elapsed_s`` and ``cpu_s`` (this process's CPU time
    meanwhile, s: what sampling costs).
    """
    stats = {} if stats is None else stats
    step = 1.0 / rate_hz
    fresh_filter = FreshFilter(period_s)
    read_raw, to_mW, fresh = reader.read_raw, reader.to_mW, fresh_filter.fresh
    reads = kept = overruns = 0
    cpu0 = time.process_time()
    t0 = clock()
    due = t0
    end = None if duration_s is None else t0 + duration_s
    try:
        while True:
            before = clock()
            raw = read_raw()
            t = (before + clock()) / 2.0
            reads += 1
            if fresh(raw, t):
                kept += 1
                emit(t, to_mW(raw))
            due += step
            now = clock()
            if now > due:
                missed = int((now - due) / step) + 1
                overruns += missed
                due += missed * step
            if end is not None and due > end:
                break
            if stop is not None and stop():
                break
            sleep(max(0.0, due - clock()))
    finally:
        stats.update(reads=reads, fresh=kept, repeats=fresh_filter.repeats, overruns=overruns,
                     elapsed_s=round(clock() - t0, 3), cpu_s=round(time.process_time() - cpu0, 3))
    return stats
