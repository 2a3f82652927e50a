"""Adaptive multi-DNN windows (``--thr_ci REL``): end a mapping's window once the
throughput of every network is known within +-REL (95 %).  No torch.

What is estimated.  A network's throughput is its passes ending in the window over the
window's length (s).  Its passes end at times ``e_1 < ... < e_n``; the inter-completion
times ``e_{i+1} - e_i`` have a mean ``m`` whose inverse is the throughput, so the relative
half-width of ``m``'s 95 % interval bounds the throughput's (delta method, to first
order).  Concurrent networks contend for the same cores and GPU, so successive
inter-completion times are correlated: their interval comes from batch means
(:func:`layer_stats.measure.precision.precision`), not sigma / sqrt(n).  Counting whole
passes in a window adds up to one pass more or less whatever the timing's spread, so
:func:`throughput_ci_rel` adds ``1 / n``: a window of perfectly regular passes still needs
``n >= 1 / REL`` of them.

When the window may end (:class:`WindowRule`): every network has at least
:data:`MIN_PASSES` (31) passes and a ``ci_rel`` <= REL, and the window has lasted at least
:func:`min_window_s` (1 s, or ten telemetry lines where they are slower: a window spans
many DVFS governor periods and the power rails' averaging, and the window's power means
are taken over enough lines).  The rule is checked by the controlling thread every
:data:`CHECK_EVERY_S`, never in the networks' loops; the window also ends at
``--smpl_duration`` (``stop`` ``max``).  Without ``--thr_ci`` the window is the fixed one
(``stop`` ``fixed``).

Dry run (:func:`adaptive_window_s`): model of the rule, stated in README.
"""
import math

__all__ = ["CI_COLUMNS", "MISSED", "ci_cells", "MIN_PASSES", "MIN_WINDOW_S", "CHECK_EVERY_S", "ASSUMED_CV", "ASSUMED_SLOWEST_PER_S", "STOPS",
           "min_window_s", "throughput_ci_rel", "WindowRule", "passes_needed", "adaptive_window_s"]

#: Fewest passes per network before the window may end on precision: 30 inter-completion
#: times, the fewest :func:`~layer_stats.measure.precision.precision` cuts into its 10
#: batches (of 3, the lugsail's sub-batches need one each); below that ``ci_rel`` is None.
MIN_PASSES = 31
#: Shortest adaptive window (s), see the module doc.
MIN_WINDOW_S = 1.0
#: Telemetry lines an adaptive window holds at least (with ``--eval_tgr``).
MIN_LINES = 10
#: Seconds between two checks of the rule by the controlling thread.
CHECK_EVERY_S = 0.2
#: How a record's window ended: on precision, at ``--smpl_duration`` without it, or fixed.
STOPS = ("ci", "max", "fixed")
#: Dry-run model: effective coefficient of variation of inter-completion times, batch-means
#: inflation included (measured on the simulator's CPU mappings: 0.1-0.4).
ASSUMED_CV = 0.3
#: Dry-run model: passes/s of a mapping's slowest network (several ImageNet classifiers
#: sharing a Jetson's CPU and GPU run a few to tens of passes/s each).
ASSUMED_SLOWEST_PER_S = 5.0
_Z95 = 1.96
#: The CSV's ``--thr_ci`` columns (post-processing, where a sample of the table had a target).
CI_COLUMNS = ("stop", "ci_target", "ci_rel", "ci_flag")
#: ``ci_flag`` of a network whose throughput missed the target.
MISSED = "ci_target_missed"


def min_window_s(smpl_duration_s, tgr_interval_ms=None):
    """The shortest adaptive window (s): :data:`MIN_WINDOW_S`, or :data:`MIN_LINES`
    tegrastats lines at ``tgr_interval_ms`` (None: no telemetry) if longer; never past
    ``smpl_duration_s`` (then every window is the maximum)."""
    lines = MIN_LINES * tgr_interval_ms / 1000.0 if tgr_interval_ms else 0.0
    return min(float(smpl_duration_s), max(MIN_WINDOW_S, lines))


def throughput_ci(ends):
    """``(ci_rel, settled)`` of a network's throughput from the monotonic end times (s) of its
    passes in the window, oldest first: the batch-means relative 95 % half-width of the mean
    inter-completion time, plus ``1 / passes`` (module doc), and whether those batch means
    have settled (:class:`~layer_stats.measure.precision.StoppingRule`: batches longer than the
    gaps' correlation, without which the interval is too narrow).  ``(None, False)`` where it
    cannot be computed (fewer than :data:`MIN_PASSES` passes)."""
    from layer_stats.measure.precision import StoppingRule

    if len(ends) < MIN_PASSES:
        return None, False
    rule = StoppingRule(1.0, min_samples=MIN_PASSES - 1)
    rule.done([b - a for a, b in zip(ends, ends[1:])])
    if rule.precision.rel is None or not math.isfinite(rule.precision.rel):
        return None, False
    return rule.precision.rel + 1.0 / len(ends), rule.settled


def throughput_ci_rel(ends):
    """The ``ci_rel`` of :func:`throughput_ci` (None where it cannot be computed)."""
    return throughput_ci(ends)[0]


class WindowRule(object):
    """The adaptive stop of one mapping's window (module doc).  ``ends``: a list per
    network of its passes' end times (s, appended by the networks' threads);
    ``t_start``: the window's start (monotonic s)."""

    def __init__(self, target_rel, min_window_s):
        self.target_rel, self.min_window_s = target_rel, min_window_s
        self.rels = None

    def done(self, ends, t_start, now):
        """True once the window ``[t_start, now]`` may end; sets :attr:`rels` (the last
        ``ci_rel`` per network, None where not computable or not yet computed)."""
        if now - t_start < self.min_window_s:
            return False
        snapshot = [[t for t in list(each) if t_start <= t <= now] for each in ends]
        if any(len(each) < MIN_PASSES for each in snapshot):
            return False
        found = [throughput_ci(each) for each in snapshot]
        self.rels = [rel for rel, _ in found]
        return all(rel is not None and rel <= self.target_rel and settled for rel, settled in found)


def passes_needed(rel, cv=ASSUMED_CV):
    """Dry-run model: the fewest passes ``n`` (>= :data:`MIN_PASSES`) with
    ``1.96 cv / sqrt(n) + 1 / n <= rel``."""
    n = MIN_PASSES
    while _Z95 * cv / math.sqrt(n) + 1.0 / n > rel:
        n = int(n * 1.1) + 1
    low = n // 2
    while low < n - 1:  # the smallest n that meets it, between the last miss and n
        mid = (low + n) // 2
        if _Z95 * cv / math.sqrt(mid) + 1.0 / mid > rel:
            low = mid
        else:
            n = mid
    return max(n, MIN_PASSES)


def adaptive_window_s(rel, smpl_duration_s, tgr_interval_ms=None, rate_per_s=ASSUMED_SLOWEST_PER_S):
    """Dry-run model of one mapping's adaptive window (s): :func:`passes_needed` of the
    slowest network at ``rate_per_s`` passes/s, between :func:`min_window_s` and
    ``smpl_duration_s``."""
    wanted = passes_needed(rel) / float(rate_per_s)
    return min(float(smpl_duration_s), max(min_window_s(smpl_duration_s, tgr_interval_ms), wanted))


def ci_cells(record):
    """``{network: (stop, ci_target, ci_rel, ci_flag)}`` of a checked raw record (files before
    format version 4: ``fixed``, None, their ``ci_rel`` or None, ``""``).  ``ci_flag`` is
    :data:`MISSED` where there was a target and the network's ``ci_rel`` is above it or
    unknown: its window ended at ``--smpl_duration`` first."""
    stop, target = record.get("stop", "fixed"), record.get("ci_target")
    cells = {}
    for network, result in record["networks"].items():
        rel = result.get("ci_rel")
        missed = target is not None and (rel is None or rel > target)
        cells[network] = (stop, target, rel, MISSED if missed else "")
    return cells
