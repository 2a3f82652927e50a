"""Latency of one callable: warm-up runs (not kept), then timed runs.

Each run is timed with ``time.perf_counter`` between two device synchronisations
(``torch.cuda.synchronize`` on CUDA, nothing on CPU), so queued GPU work is never
billed to the next run.  Inputs are prepared by the caller, outside the timing.
"""
import time

__all__ = ["synchronizer", "time_runs", "timer_resolution_s"]


def synchronizer(device):
    """A no-argument function that waits for ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``)."""
    if str(device).startswith("cuda"):
        import torch
        return torch.cuda.synchronize
    return lambda: None


def timer_resolution_s():
    """perf_counter's resolution on this host, s."""
    return time.get_clock_info("perf_counter").resolution


def time_runs(fn, arg, count, warmup=10, device="cpu", stop=None):
    """``fn(arg)`` ``warmup`` times, then up to ``count`` timed runs; list of durations, s.

    ``stop``: None (exactly ``count`` runs), or a callable given the durations so far after
    each run (outside the timing) that returns True to end the runs early
    (:class:`~layer_stats.measure.adaptive.LatencyStop`)."""
    import torch

    sync = synchronizer(device)
    durations = []
    with torch.no_grad():
        for _ in range(int(warmup)):
            fn(arg)
        sync()
        for _ in range(int(count)):
            start = time.perf_counter()
            fn(arg)
            sync()
            durations.append(time.perf_counter() - start)
            if stop is not None and stop(durations):
                break
    return durations
