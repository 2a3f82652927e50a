"""Adaptive stops for the layer-wise generator (``--tgr_ci``, ``--lt_ci``): the ONE place the
stopping rule of :mod:`.precision` is applied, for power windows and for timed runs.

Power (:class:`PowerWatch`): :func:`~layer_stats.measure.power.run_for` calls the watch every
:data:`CHECK_EVERY_S` (never inside the layer's loop body); each call reads only the samples
that arrived since the previous call (tegrastats lines are parsed once, power-monitor
readings once) and appends the rails' values of those stamped up to the newest time every
feed has reached (:attr:`PowerWatch.core_end`; later ones wait for the next call), so the
span a line averages, ``(core_start, core_end]``, is exactly the span the rule judged.  The window ends when, for every chosen rail
(``*_mW`` key), the 95% interval of the mean of the samples after the core start is within
+-``target_rel`` of it, with at least :data:`MIN_CORE_S` of core and the rule's minimum
samples and batches.  The core starts ``boundary_s`` after the loop starts (a fixed
boundary), or, with ``--tgr_smpl_boundary auto``, :data:`AUTO_LEAD_S` after it and then at
the MSER-5 truncation point the data give (``steady=True``).

Latency (:class:`LatencyStop`): after each timed run past :data:`MIN_RUNS`, the rule on the
durations so far (checked after every run up to 50 runs, then every tenth of the runs so far).

``ci_rel``: the achieved relative half-width (worst rail), or None where it cannot be
computed (too few samples or batches, a zero mean).
"""
import math

from ..stats import is_number

__all__ = ["PowerWatch", "LatencyStop", "CHECK_EVERY_S", "MIN_CORE_S", "AUTO_LEAD_S", "MIN_RUNS", "finite_rel",
           "check_target", "expected_window_s", "expected_runs", "ASSUMED_CV", "ASSUMED_INFLATION"]

#: Seconds between two stop checks of a power window (the loop only compares the clock between them).
CHECK_EVERY_S = 0.15
#: Least core a power window averages before it may stop on precision, s: about ten
#: tegrastats lines at the default 20 ms and 100 readings at 500/s.
MIN_CORE_S = 0.2
#: With ``--tgr_smpl_boundary auto``, the fixed lead before the data decide where the ramp ends, s.
AUTO_LEAD_S = 0.05
#: Least timed runs before the latency rule may stop.
MIN_RUNS = 10


#: What the dry run's model assumes of a rail's samples: spread (std / mean) and how much their
#: autocorrelation widens the interval over the i.i.d. one (batch means / naive width).
ASSUMED_CV = 0.05
ASSUMED_INFLATION = 2.0
#: The spread the model assumes of one layer's timed runs (std / mean).
ASSUMED_LATENCY_CV = 0.05
_Z95 = 1.96
_MIN_SAMPLES = 30  # the rule's least samples: 10 batches of 3


def _needed(target_rel, cv, inflation=1.0):
    """Samples for a 95 % half-width of ``target_rel`` at spread ``cv`` and ``inflation``."""
    return (_Z95 * cv * inflation / target_rel) ** 2


def expected_window_s(target_rel, interval_s, boundary_s, max_core_s):
    """The dry run's model of one adaptive power window, s: the front boundary, then a core
    of the samples :data:`ASSUMED_CV` and :data:`ASSUMED_INFLATION` need for ``target_rel``
    at one sample per ``interval_s`` (at least :data:`MIN_CORE_S` and the rule's 30 samples,
    at most ``max_core_s``)."""
    samples = max(_MIN_SAMPLES, _needed(target_rel, ASSUMED_CV, ASSUMED_INFLATION))
    return boundary_s + min(max_core_s, max(MIN_CORE_S, samples * interval_s))


def expected_runs(target_rel, max_runs):
    """The dry run's model of one layer's adaptive timed runs: what :data:`ASSUMED_LATENCY_CV`
    needs for ``target_rel`` (at least the rule's 30 samples and :data:`MIN_RUNS`, at most ``max_runs``)."""
    return int(min(max_runs, max(MIN_RUNS, _MIN_SAMPLES, math.ceil(_needed(target_rel, ASSUMED_LATENCY_CV)))))


def check_target(value, flag):
    """``value`` as a relative half-width target in (0, 1); ValueError naming ``flag`` otherwise."""
    if not (isinstance(value, float) and 0.0 < value < 1.0):
        raise ValueError("{} {!r} is not a relative half-width in (0, 1), e.g. 0.02".format(flag, value))
    return value


def finite_rel(precision):
    """A :class:`~layer_stats.measure.precision.Precision`'s ``rel`` rounded, or None when not finite."""
    if precision is None or precision.rel is None or not math.isfinite(precision.rel):
        return None
    return round(precision.rel, 6)


class PowerWatch(object):
    """The stop check of one layer's power window (module doc).

    ``feeds``: the run's :mod:`.power` feeds; ``target_rel``: the relative half-width asked;
    ``boundary_s``: seconds after the loop start that never count (``None``: ``auto``, the
    MSER-5 point after :data:`AUTO_LEAD_S`); ``max_core_s``: the core's maximum, s.
    Call :meth:`start` with the loop start, then the watch with the time (monotonic s);
    after the loop, :attr:`stop` (``ci`` or ``max``), :attr:`core_start` and :attr:`core_end`
    (monotonic s: the samples judged are those stamped in ``(core_start, core_end]``; a window
    that ran to its maximum averages up to its end instead) and :meth:`final_rel`.
    """

    def __init__(self, feeds, target_rel, boundary_s, max_core_s):
        from .precision import StoppingRule

        self.target_rel = target_rel
        self.steady = boundary_s is None
        self.lead_s = AUTO_LEAD_S if self.steady else boundary_s
        self.max_core_s = max_core_s
        self._rule = StoppingRule(target_rel, min_duration_s=MIN_CORE_S)
        self._feeds = [(feed, [k for k in feed.keys() if k.endswith("_mW")]) for feed in feeds]
        self._feeds = [(feed, keys) for feed, keys in self._feeds if keys]
        self.t_start = self.core_start = self.core_end = None
        self.stop, self.rel = "max", None
        self._pending = {}
        self._seen = {}
        self._values = {}
        self._times = {}

    def start(self, t_start):
        """The loop started at ``t_start`` (monotonic s)."""
        self.t_start = t_start
        self.core_start = self.core_end = self._lead_end = t_start + self.lead_s
        for feed, keys in self._feeds:
            self._seen[feed.name] = self._lead_end
            self._pending[feed.name] = []
            for key in keys:
                self._values[key], self._times[key] = [], []

    def _pull(self, now):
        """Append the values of the samples stamped in ``(core_end, cutoff]``, ``cutoff`` the newest
        stamp every feed has reached by ``now`` (samples of a feed arrive in stamp order); the
        later ones stay pending.  :attr:`core_end` becomes ``cutoff``."""
        newest = []
        for feed, _ in self._feeds:
            pending = self._pending[feed.name]
            last = pending[-1]["t"] if pending else self._seen[feed.name]
            if now > last:
                pending.extend(sample for sample in feed.recent(last, now) if sample["t"] > last)
            newest.append(pending[-1]["t"] if pending else self._seen[feed.name])
        cutoff = min(newest) if newest else self.core_end
        for feed, keys in self._feeds:
            pending = self._pending[feed.name]
            taken = 0
            while taken < len(pending) and pending[taken]["t"] <= cutoff:
                sample = pending[taken]
                taken += 1
                for key in keys:
                    value = sample["values"].get(key)
                    if is_number(value):
                        self._values[key].append(float(value))
                        self._times[key].append(sample["t"])
            if taken:
                self._seen[feed.name] = pending[taken - 1]["t"]
                del pending[:taken]
        self.core_end = max(self.core_end, cutoff)

    def __call__(self, now):
        """True when every rail's mean is known to the target (the loop then stops at ``now``)."""
        self._pull(now)
        if not self._feeds:
            return False
        duration = self.core_end - self._lead_end
        worst, done, start = 0.0, True, self._lead_end
        for key, values in self._values.items():
            if not self._rule.done(values, duration, steady=self.steady):
                done = False
            rel = self._rule.precision.rel if self._rule.precision is not None else math.inf
            worst = max(worst, rel if rel is not None else math.inf)
            if self.steady and self._rule.start and self._rule.start <= len(values):
                start = max(start, self._times[key][self._rule.start - 1])
        self.rel = worst
        if self.steady:
            self.core_start = start
        if done:
            self.stop = "ci"
        return done

    def final_rel(self, values_by_key):
        """The achieved worst-rail relative half-width over ``values_by_key`` ({key: [values]} of the
        core span the line records), or None where it cannot be computed."""
        from .precision import precision

        worst = None
        for values in values_by_key.values():
            rel = finite_rel(precision([v for v in values if is_number(v)]))
            if rel is None:
                return None
            worst = rel if worst is None else max(worst, rel)
        return worst


class LatencyStop(object):
    """The stop check of one layer's timed runs: call it with the durations so far (s);
    True ends the runs.  :attr:`stop` (``ci`` or ``max``) and :attr:`rel` after them."""

    def __init__(self, target_rel):
        from .precision import StoppingRule

        self.target_rel = target_rel
        self._rule = StoppingRule(target_rel, min_samples=MIN_RUNS)
        self.stop, self.rel = "max", None
        self._next = MIN_RUNS

    def __call__(self, durations):
        n = len(durations)
        if n < self._next:
            return False
        self._next = n + 1 if n < 50 else n + max(1, n // 10)
        done = self._rule.done(durations)
        if done:
            self.stop = "ci"
        return done

    def final_rel(self, durations):
        """The achieved relative half-width of all ``durations``, or None."""
        from .precision import precision

        return finite_rel(precision(list(durations)))
