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

:func:`install_handlers` and :func:`restore_handlers` are the same steps
without a ``with`` block, for an owner whose handlers change on the way
(:class:`~layer_stats.session.RunSession` stops on signals while a run
measures, then holds them while it cleans up).
"""
import contextlib
import signal
import threading

from .errors import Interrupted

__all__ = ["stop_on_signals", "install_handlers", "restore_handlers", "stopping_handler",
           "holding_handler", "STOP_SIGNALS"]

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def stopping_handler(signals=STOP_SIGNALS):
    """A handler raising :class:`Interrupted`, after setting ``signals`` to be ignored
    (one stop is enough: a second signal must not cut the way out short)."""
    def handler(signum, frame):
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)
    return handler


def holding_handler(came):
    """A handler that only appends the signal's number to the list ``came``."""
    def handler(signum, frame):
        came.append(signum)
    return handler


def install_handlers(handler, signals=STOP_SIGNALS):
    """Set ``handler`` for ``signals``; returns ``{signal: previous handler}`` for
    :func:`restore_handlers`.  Outside the main thread (where Python delivers no
    signal and cannot set handlers) nothing is set and ``{}`` is returned."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, handler) for sig in signals}


def restore_handlers(previous):
    """Put back the handlers :func:`install_handlers` returned."""
    for sig, old in previous.items():
        signal.signal(sig, old)


@contextlib.contextmanager
def stop_on_signals(signals=STOP_SIGNALS):
    """Turn ``signals`` into :class:`Interrupted` for the duration of the block.

    A no-op outside the main thread (Python only delivers signals there).
    """
    previous = install_handlers(stopping_handler(signals), signals)
    try:
        yield
    finally:
        restore_handlers(previous)

