"""Clean stops: SIGINT, SIGTERM and SIGHUP become one exception in the main thread.

Inside ``with stop_on_signals():`` the first of those signals raises
:class:`~layer_stats.errors.Interrupted` where the main thread is, so every
``finally`` and ``with`` block on the way out runs (child processes stopped,
temp files removed).  Further signals are ignored while that happens; a
SIGKILL still ends everything, and children die with the parent through
their parent-death signal (see ``tegrastats/recorder.py``).

``Interrupted`` is a ``BaseException``: a stop that lands inside a library's
``except Exception`` (torch.fx tracing, ptflops, a parser, logging) goes
through it.  Code that must not swallow it never catches ``BaseException``
without re-raising.  On leaving the block the handlers in place before it
are back, whichever way it is left.
"""
import contextlib
import signal
import threading

from .errors import Interrupted

__all__ = ["stop_on_signals", "held_signals", "STOP_SIGNALS"]

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def stop_on_signals(signals=STOP_SIGNALS):
    """Turn ``signals`` into :class:`Interrupted` for the duration of the block.

    A no-op outside the main thread (Python only delivers signals there).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    for sig in signals:
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def held_signals(signals=STOP_SIGNALS):
    """Hold ``signals`` for the block: none interrupts it; yields the list the
    numbers of those that came are appended to (the caller decides what to do,
    e.g. raise :class:`Interrupted` once its cleanup is done).

    For short cleanups that must not be cut in half (stop the telemetry child,
    write the run file).  A no-op, yielding an empty list, outside the main thread.
    """
    came = []
    if threading.current_thread() is not threading.main_thread():
        yield came
        return

    def handler(signum, frame):
        came.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield came
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
