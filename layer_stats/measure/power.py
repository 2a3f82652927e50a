"""Power windows: run a callable in a loop while telemetry samples power.

A layer runs for ``boundary + duration + boundary`` seconds; the samples of the
whole window are kept (post-processing averages only the core, told by the
timestamps).  Before a network an idle baseline is taken; after each layer
:func:`wait_until_idle` waits (bounded) for power to come back near it.

Samples come from up to two *feeds*, cut by the same code:

- tegrastats lines (:class:`TegrastatsFeed`): every parameter tegrastats carries
  (temperatures, CPU, RAM...) and the rails when no power sampler runs.  A line
  reports the interval that ends when it arrives, so a window keeps the lines
  stamped in it plus the first one after it.  Sample dicts: ``t`` (s, monotonic,
  when the line arrived), ``boundary`` (bool: outside the window's core) and
  ``values`` ({tegrastats key: value}, e.g. ``VDD_SYS_CPU_mW``; units in the keys);
- the power sampler's readings (:class:`SamplerFeed`, a
  :class:`~layer_stats.power.start.PowerSampler`): the rails it serves, hundreds of
  instantaneous conversions a second, so a window keeps the readings stamped inside
  it.  Reading dicts: ``t`` and ``values`` ({``{rail}_mW``: mW}), the key names
  tegrastats parsing gives for those rails.

Nothing is parsed while a layer runs: the recorders keep raw lines, and the feeds
turn them into dicts after the loop (:func:`cut_window`).
"""
import logging
import time

from ..clock import monotonic
from .window import in_core
from ..stats import mean
from ..errors import TelemetryError
from ..tegrastats.params import param_keys
from ..tegrastats.parse import LineParser, is_tegrastats
from .latency import synchronizer

logger = logging.getLogger(__name__)

__all__ = ["SampleReader", "TegrastatsFeed", "SamplerFeed", "feeds", "tegrastats_params", "served_params",
           "run_for", "cut_window", "idle_baseline", "wait_until_idle", "IDLE_TOLERANCE_MW", "IDLE_TOLERANCE_REL",
           "SETTLE_READINGS"]

#: Power counts as back to idle within max(IDLE_TOLERANCE_MW, IDLE_TOLERANCE_REL x idle).
IDLE_TOLERANCE_MW = 50.0
IDLE_TOLERANCE_REL = 0.10
#: Readings of the power sampler :func:`wait_until_idle` averages to judge "back near idle"
#: (fewer where the rate is low: as many as 0.3 s holds, at least 2).
SETTLE_READINGS = 25


class SampleReader(object):
    """Turns recorder samples into sample dicts holding only the chosen parameters.

    ``params``: resolved :class:`~layer_stats.tegrastats.params.Param` list (may be
    empty: the lines are then read for their clocks only).
    The tegrastats keys of each parameter are learnt from the first line; a
    parameter this output lacks raises TelemetryError naming it.  Lines that are
    no tegrastats line (junk in a replayed log) hold no values and are left out.  ``clocks``
    keeps ``{unit: (min, max)}`` MHz of every clock seen (CPU cores as one unit),
    for the run metadata.
    """

    def __init__(self, params):
        self.params = list(params)
        self.keys = None
        self.clocks = {}
        self._parser = LineParser()

    def _learn(self, parsed):
        keys = {}
        for param in self.params:
            found = param_keys(param, parsed)
            if not found:
                raise TelemetryError("tegrastats parameter {!r} is not in this board's output: pick one it "
                                     "prints (python3 -m layer_stats.tegrastats params)".format(param.name))
            keys[param.name] = found
        self.keys = keys

    def read(self, samples, t_start=None, t_end=None, boundary_s=0.0):
        """Sample dicts for recorder ``samples``; ``boundary`` set from the window when given."""
        out = []
        for sample in samples:
            parsed = self._parser.parse(sample.raw)
            if not is_tegrastats(parsed):
                continue
            if self.keys is None:
                self._learn(parsed)
            self._note_clocks(parsed)
            values = {key: parsed.get(key) for keys in self.keys.values() for key in keys}
            boundary = False if t_start is None else not in_core(sample.t_mono, t_start, t_end, boundary_s)
            out.append({"t": round(sample.t_mono, 6), "boundary": boundary, "values": values})
        return out

    def _note_clocks(self, parsed):
        for key, value in parsed.items():
            if not key.endswith("_freq_MHz") or not isinstance(value, int) or "_gpc" in key:
                continue
            unit = key[:-len("_freq_MHz")]
            if unit.startswith("CPU") and unit[3:].isdigit():
                unit = "CPU"
            low, high = self.clocks.get(unit, (value, value))
            self.clocks[unit] = (min(low, value), max(high, value))

    def all_keys(self):
        """Every key of the chosen parameters, in parameter order (after the first line)."""
        return [key for keys in (self.keys or {}).values() for key in keys]

    def power_keys(self):
        """The ``*_mW`` keys among the chosen parameters (after the first line)."""
        return [key for key in self.all_keys() if key.endswith("_mW")]


def served_params(params, sampler):
    """``{parameter name: [key]}`` of the rails among ``params`` that ``sampler`` (a
    :class:`~layer_stats.power.start.PowerSampler`, or None) reads, in ``params`` order."""
    keys = set(sampler.keys) if sampler is not None else set()
    return {p.name: [p.raw + "_mW"] for p in params if p.kind == "rail" and p.raw + "_mW" in keys}


def tegrastats_params(params, sampler):
    """The ``params`` whose values come from tegrastats lines: all but the rails ``sampler`` serves."""
    served = served_params(params, sampler)
    return [p for p in params if p.name not in served]


class TegrastatsFeed(object):
    """Sample dicts cut from a tegrastats :class:`~layer_stats.tegrastats.recorder.Recorder`
    through a :class:`SampleReader`.  A feed whose reader holds no parameter still reads
    its lines (the run file's clocks come from them) but keeps none."""

    name = "tegrastats"
    #: Seconds of lines :func:`wait_until_idle` averages (about 15 at the default 20 ms interval).
    recent_s = 0.3
    #: A line stamped this long after a layer ended reports mostly time after it.
    lag_s = recent_s / 2.0

    def __init__(self, recorder, reader):
        self.recorder, self.reader = recorder, reader

    def keys(self):
        return self.reader.all_keys()

    def wait_past(self, t_mono):
        self.recorder.wait_past(t_mono)

    def cut(self, t_start, t_end, boundary_s=None):
        """The window's samples and the first one after it (``boundary`` flags set when
        ``boundary_s`` is given; False otherwise)."""
        lines = self.recorder.window(t_start, t_end, include_next=True)
        if boundary_s is None:
            samples = self.reader.read(lines)
        else:
            samples = self.reader.read(lines, t_start, t_end, boundary_s)
        return samples if self.reader.params else []

    def recent(self, t_from, t_to):
        return self.reader.read(self.recorder.window(t_from, t_to))

    def empty(self, seconds):
        return ("no tegrastats samples in a {:.1f} s idle window: is the interval longer than the window? "
                "lower --tgr_interval".format(seconds))


class SamplerFeed(object):
    """Readings cut from a :class:`~layer_stats.power.start.PowerSampler` (instantaneous
    conversions: a window keeps those stamped inside it)."""

    name = "ina"
    lag_s = 0.0

    def __init__(self, sampler):
        self.sampler = sampler
        rate = float(sampler.plan.rate_hz)
        #: Seconds of readings :func:`wait_until_idle` averages: :data:`SETTLE_READINGS` of them
        #: (0.05 s at 500/s), or at a low rate those of :attr:`TegrastatsFeed.recent_s` (at least 2).
        self.recent_s = min(SETTLE_READINGS, max(2.0, TegrastatsFeed.recent_s * rate)) / rate

    def keys(self):
        return list(self.sampler.keys)

    def wait_past(self, t_mono):
        self.sampler.wait_past(t_mono)

    def cut(self, t_start, t_end, boundary_s=None):
        return self.sampler.readings(t_start, t_end)

    def recent(self, t_from, t_to):
        return self.sampler.readings(t_from, t_to)

    def empty(self, seconds):
        return ("no power-monitor readings in a {:.1f} s idle window: the sampler stalled; check it runs on its "
                "own (python3 -m layer_stats.power rails), or pass --power_sampler tegrastats".format(seconds))


def feeds(recorder, reader, sampler=None):
    """The feeds of a run: tegrastats lines, and the power sampler's readings when it runs."""
    out = [TegrastatsFeed(recorder, reader)]
    if sampler is not None:
        out.append(SamplerFeed(sampler))
    return out


def run_for(fn, arg, seconds, device="cpu", stop=None, check_every_s=0.15):
    """Call ``fn(arg)`` until ``seconds`` have passed (at least once), synchronising
    the device after each call.  Returns ``(t_start, t_end, iterations)``, monotonic s.

    ``stop``: None, or a watch (:class:`~layer_stats.measure.adaptive.PowerWatch`): its
    ``start(t_start)`` is called when the loop starts, and the watch itself, with the time,
    at the first iteration end at least ``check_every_s`` after the previous check; True
    ends the loop, and ``t_end`` is then exactly the time it was given.  Between checks the
    loop only reads the clock once per iteration."""
    import torch

    sync = synchronizer(device)
    iterations = 0
    with torch.no_grad():
        sync()
        t_start = monotonic()
        deadline = t_start + seconds
        if stop is not None:
            stop.start(t_start)
        check = t_start + check_every_s if stop is not None else deadline
        while True:
            fn(arg)
            sync()
            iterations += 1
            now = monotonic()
            if now >= deadline:
                break
            if now >= check:
                if stop(now):
                    return t_start, now, iterations
                check = now + check_every_s
    return t_start, monotonic(), iterations


def cut_window(recorder, reader, t_start, t_end, boundary_s, sampler=None):
    """``(samples, readings)`` of a layer's window ``[t_start, t_end]`` (monotonic s), after
    waiting for each feed to pass ``t_end``: the tegrastats sample dicts, and the power
    sampler's reading dicts (None without a sampler)."""
    cut = []
    for feed in feeds(recorder, reader, sampler):
        feed.wait_past(t_end)
        cut.append(feed.cut(t_start, t_end, boundary_s))
    return cut[0], cut[1] if sampler is not None else None


def _means(samples, keys):
    return {key: mean([s["values"].get(key) for s in samples]) for key in keys}


def idle_baseline(recorder, reader, seconds, lead_s=None, sampler=None):
    """Wait ``lead_s`` (default ``min(1, seconds)``; not measured: clocks and power
    fall after the model was built and its inputs computed), then sleep ``seconds`` and
    return ``{"t_start", "t_end", "n", "lead_s", "values": {key: mean}}``: ``n`` counts the
    tegrastats samples, and with a ``sampler`` ``power_n`` its readings, whose means give
    the values of the rails it serves.  Raises TelemetryError when a feed that serves keys
    has nothing in the window."""
    lead_s = min(1.0, seconds) if lead_s is None else lead_s
    time.sleep(lead_s)
    t_start = monotonic()
    time.sleep(seconds)
    t_end = monotonic()
    values, counts = {}, {}
    for feed in feeds(recorder, reader, sampler):
        feed.wait_past(t_end)
        samples = feed.cut(t_start, t_end)
        keys = feed.keys()
        if keys and not samples:
            raise TelemetryError(feed.empty(seconds))
        values.update(_means(samples, keys))
        counts[feed.name] = len(samples)
    out = {"t_start": round(t_start, 6), "t_end": round(t_end, 6), "n": counts["tegrastats"], "lead_s": lead_s}
    if sampler is not None:
        out["power_n"] = counts["ina"]
    out["values"] = values
    return out


def _near_idle(feed, keys, idle_values, start, now):
    """True when the mean of every key in ``feed``'s recent span (stamped at least
    ``feed.lag_s`` after ``start``) is within tolerance of its idle value."""
    recent = feed.recent(max(start + feed.lag_s, now - feed.recent_s), now)
    if not recent:
        return False
    means = _means(recent, keys)
    return all(means[k] is not None and
               means[k] <= idle_values[k] + max(IDLE_TOLERANCE_MW, IDLE_TOLERANCE_REL * idle_values[k])
               for k in keys)


def wait_until_idle(recorder, reader, idle_values, timeout_s=10.0, sampler=None, poll_s=0.1):
    """Wait until the recent mean of every power key is within tolerance of ``idle_values``,
    each key judged on the feed that serves it: the last 0.3 s of tegrastats lines, or the
    last :data:`SETTLE_READINGS` readings of the power ``sampler`` (50 ms at 500/s: a
    quicker answer, from more values), checked every ``poll_s`` (s) or that span if
    shorter.  Only samples stamped a feed's ``lag_s`` after the call count, so the work just
    finished is never among them.  Returns ``(settled, waited_s)``: settled at once (0 s)
    where no power key has an idle value; gives up (settled False) after ``timeout_s``."""
    judged = []
    for feed in feeds(recorder, reader, sampler):
        keys = [k for k in feed.keys() if k.endswith("_mW") and idle_values.get(k) is not None]
        if keys:
            judged.append((feed, keys))
    if not judged:
        return True, 0.0
    first = max(feed.recent_s for feed, _ in judged)
    poll_s = min(poll_s, first)
    start = monotonic()
    while True:
        time.sleep(poll_s if monotonic() - start >= first else first)
        now = monotonic()
        waited = now - start
        if all(_near_idle(feed, keys, idle_values, start, now) for feed, keys in judged):
            return True, round(waited, 3)
        if waited >= timeout_s:
            return False, round(waited, 3)
