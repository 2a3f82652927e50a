"""Power windows: run a callable in a loop while the recorder samples tegrastats.

A layer runs for ``boundary + duration + boundary`` seconds; the samples of the
whole window are kept, each flagged ``boundary`` when it falls in the first or
last ``boundary`` seconds (post-processing trims by the timestamps, not by the
flag).  Before a network an idle baseline is taken; after each layer
:func:`wait_until_idle` waits (bounded) for power to come back near it.

Sample dicts (JSON-ready): ``t`` (s, monotonic, when the line arrived),
``boundary`` (bool) and ``values`` ({tegrastats key: value}, e.g.
``VDD_SYS_CPU_mW``; units are in the keys).
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

__all__ = ["SampleReader", "run_for", "idle_baseline", "wait_until_idle", "IDLE_TOLERANCE_MW", "IDLE_TOLERANCE_REL"]

#: Power counts as back to idle within max(IDLE_TOLERANCE_MW, IDLE_TOLERANCE_REL x idle).
IDLE_TOLERANCE_MW = 50.0
IDLE_TOLERANCE_REL = 0.10


class SampleReader(object):
    """Turns recorder samples into sample dicts holding only the chosen parameters.

    ``params``: resolved :class:`~layer_stats.tegrastats.params.Param` list.
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

    def power_keys(self):
        """The ``*_mW`` keys among the chosen parameters (after the first line)."""
        return [key for keys in (self.keys or {}).values() for key in keys if key.endswith("_mW")]


def run_for(fn, arg, seconds, device="cpu"):
    """Call ``fn(arg)`` until ``seconds`` have passed (at least once), synchronising
    the device after each call.  Returns ``(t_start, t_end, iterations)``, monotonic s."""
    import torch

    sync = synchronizer(device)
    iterations = 0
    with torch.no_grad():
        sync()
        t_start = monotonic()
        deadline = t_start + seconds
        while True:
            fn(arg)
            sync()
            iterations += 1
            if monotonic() >= deadline:
                break
    return t_start, monotonic(), iterations


def _means(samples, keys):
    return {key: mean([s["values"].get(key) for s in samples]) for key in keys}


def idle_baseline(recorder, reader, seconds, lead_s=None):
    """Wait ``lead_s`` (default ``min(1, seconds)``; not measured: clocks and power
    fall after the model was built and its inputs computed), then sleep
    ``seconds`` and return ``{"t_start", "t_end", "n", "lead_s", "values": {key: mean}}``."""
    lead_s = min(1.0, seconds) if lead_s is None else lead_s
    time.sleep(lead_s)
    t_start = monotonic()
    time.sleep(seconds)
    t_end = monotonic()
    recorder.wait_past(t_end)
    samples = reader.read(recorder.window(t_start, t_end, include_next=True))
    if not samples:
        raise TelemetryError("no tegrastats samples in a {:.1f} s idle window: is the interval longer "
                             "than the window? lower --tgr_interval".format(seconds))
    keys = [key for keys in reader.keys.values() for key in keys]
    return {"t_start": round(t_start, 6), "t_end": round(t_end, 6), "n": len(samples), "lead_s": lead_s,
            "values": _means(samples, keys)}


def wait_until_idle(recorder, reader, idle_values, timeout_s=10.0, recent_s=0.3, poll_s=0.1):
    """Wait until the mean of every power key over the last ``recent_s`` seconds is
    within tolerance of ``idle_values``.  Only samples that arrived at least
    ``recent_s / 2`` after the call count, so the work just finished is never among
    them.  Returns ``(settled, waited_s)``; gives up (settled False) after
    ``timeout_s``."""
    keys = [k for k in reader.power_keys() if idle_values.get(k) is not None]
    start = monotonic()
    while True:
        time.sleep(poll_s if monotonic() - start >= recent_s else recent_s)
        now = monotonic()
        waited = now - start
        if not keys:
            return True, round(waited, 3)
        recent = reader.read(recorder.window(max(start + recent_s / 2.0, now - recent_s), now))
        if recent:
            means = _means(recent, keys)
            if all(means[k] is not None and
                   means[k] <= idle_values[k] + max(IDLE_TOLERANCE_MW, IDLE_TOLERANCE_REL * idle_values[k])
                   for k in keys):
                return True, round(waited, 3)
        if waited >= timeout_s:
            return False, round(waited, 3)
