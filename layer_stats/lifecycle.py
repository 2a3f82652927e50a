"""Clean stops: SIGINT, SIGTERM and SIGHUP become one exception in the main thread.

Inside ``with stop_on_signals():`` the first of those signals raises
:class:`~layer_stats.errors.Interrupted` where the main thread is, so every
``finally`` and ``with`` block on the way out runs (child processes stopped,
temp files removed).  Further signals are ignored while that happens; a
SIGKILL still ends everything, and children die with the parent through
their parent-death signal (see ``tegrastats/recorder.py``).
"""
import contextlib
import signal
import threading

from .errors import Interrupted

__all__ = ["stop_on_signals", "STOP_SIGNALS"]

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
