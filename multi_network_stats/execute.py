"""Run a workload: every network in its own thread, its stages in order on their devices.

One measurement phase gives everything: the threads start, run for a settle
period, then for ``duration_s`` seconds whose bounds are the tegrastats window.
Each pass of a network times, per stage, the transfer of its input to the
stage's device and the stage's inference, each between device
synchronisations, so queued GPU work is billed to the inference and never to
a transfer.  A pass counts when it ends inside the window.

Result per network (:func:`run_workload`): ``passes`` (completed in the
window), ``ends`` (their monotonic end times, s) and, per stage in order,
``inf_times_s`` and ``transfer_times_s`` (one entry per counted pass).

With a ``rule`` (:class:`~.adaptive.WindowRule`, ``--thr_ci``), the controlling
thread asks it every :data:`~.adaptive.CHECK_EVERY_S` whether the window may end
before ``duration_s``; the networks' loops only append their end times.  Passes
that end after the window's actual end are dropped once the threads are joined,
so the count is exact however late a thread sees the stop.
"""
import logging
import threading
import time

from layer_stats.clock import monotonic
from layer_stats.devices import torch_device
from layer_stats.measure.latency import synchronizer

logger = logging.getLogger(__name__)

__all__ = ["NetworkLoad", "run_workload", "is_out_of_memory"]

_JOIN_S = 60.0


def is_out_of_memory(exc):
    """True for a CUDA out-of-memory error (torch >= 2 has a type for it, 1.x a RuntimeError)."""
    return "out of memory" in str(exc).lower() and isinstance(exc, RuntimeError)


class NetworkLoad(object):
    """One network of a workload: ``stages`` (:class:`~.stages.Stage` list) fed ``image``
    (a CPU tensor, preprocessed once)."""

    def __init__(self, name, stages, image):
        self.name, self.stages, self.image = name, stages, image
        self.syncs = [synchronizer(torch_device(stage.device)) for stage in stages]
        self.targets = [torch_device(stage.device) for stage in stages]
        self.inf = [[] for _ in stages]
        self.transfer = [[] for _ in stages]
        self.passes = 0
        self.ends = []
        self.error = None

    def one_pass(self):
        """Run every stage once; returns ``[(transfer_s, inference_s), ...]``."""
        x = self.image
        times = []
        for stage, target, sync in zip(self.stages, self.targets, self.syncs):
            start = time.perf_counter()
            x = x.to(target)
            sync()
            moved = time.perf_counter()
            x = stage.module(x)
            sync()
            times.append((moved - start, time.perf_counter() - moved))
        return times

    def loop(self, window, stop):
        """Pass after pass until ``stop`` is set; keep those that end inside ``window``."""
        import torch

        try:
            with torch.no_grad():
                while not stop.is_set():
                    times = self.one_pass()
                    end = monotonic()
                    t_start, t_end = window
                    if t_start is not None and t_start <= end <= t_end:
                        self.passes += 1
                        self.ends.append(end)
                        for i, (moved, inferred) in enumerate(times):
                            self.transfer[i].append(moved)
                            self.inf[i].append(inferred)
        except BaseException as exc:  # reported by run_workload in the main thread
            self.error = exc
            stop.set()

    def trim(self, t_end):
        """Drop the passes that ended after ``t_end`` (monotonic s; the threads are joined)."""
        keep = sum(1 for end in self.ends if end <= t_end)
        self.passes = keep
        del self.ends[keep:]
        for times in self.inf + self.transfer:
            del times[keep:]


def run_workload(loads, settle_s, duration_s, rule=None):
    """Run ``loads`` (:class:`NetworkLoad`) together; returns ``(t_start, t_end, stop)``:
    the measurement window (monotonic s) and how it ended, ``fixed`` (no ``rule``),
    ``ci`` (``rule`` said so) or ``max`` (``duration_s`` reached first).  Re-raises the
    first error of any thread."""
    window = [None, None]
    stop = threading.Event()
    threads = [threading.Thread(target=load.loop, args=(window, stop), name="net-" + load.name, daemon=True)
               for load in loads]
    try:
        for thread in threads:
            thread.start()
        _sleep_unless(stop, settle_s)
        t_start = monotonic()
        window[:] = [t_start, t_start + duration_s]
        if rule is None:
            _sleep_unless(stop, duration_s)
            t_end, how = window[1], "fixed"
        else:
            t_end, how = _watch(loads, window, stop, rule)
    finally:
        stop.set()
        for thread in threads:
            thread.join(_JOIN_S)
    for load in loads:
        if load.error is not None:
            raise load.error
    if how != "fixed":
        for load in loads:
            load.trim(t_end)
    return t_start, t_end, how


def _watch(loads, window, stop, rule):
    """Wait until ``rule`` ends the window or its planned end comes: ``(t_end, stop)``."""
    from .adaptive import CHECK_EVERY_S

    t_start, t_max = window
    while not stop.is_set():
        now = monotonic()
        if now >= t_max:
            break
        if rule.done([load.ends for load in loads], t_start, now):
            return now, "ci"
        _sleep_unless(stop, min(CHECK_EVERY_S, t_max - monotonic()))
    return t_max, "max"


def _sleep_unless(stop, seconds):
    """Sleep ``seconds`` in short steps (signals get through), ending early if ``stop`` is set."""
    deadline = monotonic() + seconds
    while not stop.is_set():
        left = deadline - monotonic()
        if left <= 0:
            return
        time.sleep(min(0.1, left))
