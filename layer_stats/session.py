"""One measurement run's lifetime, the same for both generators.

Usage (see ``layer_stats/layerwise/generate.py`` and ``multi_network_stats/generate.py``)::

    with RunSession("layerwise", output_root, folder, mode, source) as session:
        ...                                    # read what is there, build networks
        session.start_telemetry(["cpu"])       # recorder, board, parameters
        session.begin(closing=counts, device="cpu")   # run file: status running
        with session.gpu_busy(1.0):            # the simulator shows the GPU loaded
            ...                                # measure

Entering checks the board's mode (``nvpmodel -q`` against ``mode``; a
mismatch raises DnnStatsError unless ``force_mode``), that ``output_root``
is writable, and takes its :class:`~layer_stats.fsutil.OutputLock` (one run
at a time per root); from then on SIGINT, SIGTERM and SIGHUP raise
:class:`~layer_stats.errors.Interrupted` (see :mod:`layer_stats.lifecycle`).
A telemetry source that simulates follows a GPU-load file in ``folder``
(:meth:`~layer_stats.tegrastats.sources.Source.following_gpu_load`; one a
killed run left there is removed on entering, as are simulated power monitors).
:meth:`RunSession.start_telemetry` also starts the power sampler the run asked
for (``power_sampler``: auto, tegrastats or ina; see
:func:`~layer_stats.power.start.start_power`), and the run file says where power
came from (``power_sampler`` and, for ina, the rails and rates).

Leaving, whichever way, closes the run with those signals held, so no stop
cuts the cleanup in half: the telemetry children (power sampler, simulated
monitors, tegrastats) are stopped, the GPU-load file
removed, the run file (if :meth:`RunSession.begin` wrote one) rewritten with
``finished``, ``interrupted`` (Interrupted, KeyboardInterrupt) or ``failed``
(any other exception), the end time, ``board``, ``tgr_params`` and the keys
the generator adds; then the lock is released and the signal handlers in
place before the session are back.  An error of the cleanup is raised after a
run that finished, and only logged after one that is already leaving by an
exception: it never replaces that exception.  A stop that came during the
cleanup of a finished run is raised, as Interrupted, once the cleanup is done.
"""
import logging

from .errors import Interrupted
from .fsutil import OutputLock, check_writable
from .lifecycle import holding_handler, install_handlers, restore_handlers, stopping_handler
from .nvpmodel import check_mode, query_mode
from .power.start import remove_simulated
from .runfile import RunFile
from .runmeta import UNAVAILABLE

__all__ = ["RunSession", "run_status"]

logger = logging.getLogger(__name__)


def run_status(exc_type):
    """The run file's status for a run ended by ``exc_type`` (None: no exception)."""
    if exc_type is None:
        return "finished"
    return "interrupted" if issubclass(exc_type, (Interrupted, KeyboardInterrupt)) else "failed"


class RunSession(object):
    """``with RunSession(kind, output_root, folder, mode, source) as session:`` one run.

    ``kind``: the run file's ``kind`` (``layerwise``, ``multinet``); ``folder``: where
    the run file and ``Mode{m}.conf`` go (created if needed), under ``output_root``;
    ``source``: the telemetry :class:`~layer_stats.tegrastats.sources.Source`, None
    when no telemetry runs; ``sys_root``: the filesystem root run metadata (and the power
    monitors) are read from; ``power_sampler``, ``power_rate_hz``: ``--power_sampler``,
    ``--power_rate``.

    After entering: ``queried`` (:func:`~layer_stats.nvpmodel.query_mode`'s answer),
    ``mode_status``; after :meth:`start_telemetry`: ``recorder``, ``board``,
    ``params``, ``power`` (a :class:`~layer_stats.power.start.PowerSampler` or None); after :meth:`begin`: ``run_file``, ``meta``; after leaving: ``status``.
    """

    def __init__(self, kind, output_root, folder, mode, source=None, force_mode=False, sys_root="/",
                 power_sampler="auto", power_rate_hz=500.0):
        self.kind, self.output_root, self.folder, self.mode = kind, output_root, folder, mode
        self.power_sampler, self.power_rate_hz, self.power = power_sampler, power_rate_hz, None
        self.source = source.following_gpu_load(folder) if source is not None else None
        self.force_mode, self.sys_root = force_mode, sys_root
        self.queried, self.mode_status = None, UNAVAILABLE
        self.recorder, self.board, self.params = None, source.board if source is not None else None, []
        self.run_file, self.meta, self.status = None, {}, None
        self._hint = self.source.gpu_load_hint() if self.source is not None else None
        self._closing = None
        self._lock = None
        self._handlers = {}

    # -- opening ----------------------------------------------------------------------
    def __enter__(self):
        self._handlers = install_handlers(stopping_handler())
        try:
            self.queried = query_mode()
            self.mode_status = check_mode(self.mode, self.queried, self.force_mode)
            check_writable(self.output_root)
            self._lock = OutputLock(self.output_root).__enter__()
            if self._hint is not None:
                self._hint.remove()  # a killed run's hint would show a loaded GPU from the start
                remove_simulated(self.folder)  # and its simulated power monitors would be in the way
        except BaseException:
            self._release()
            raise
        return self

    def start_telemetry(self, roles, tgr_params=None, window_s=60.0):
        """Start the recorder (see :func:`~layer_stats.tegrastats.start.start_telemetry`: ``roles``
        pick the default rails, ``tgr_params`` names others), then the power sampler the run
        asked for (:func:`~layer_stats.power.start.start_power`; ``window_s``: the longest
        window the run cuts, s, which bounds the readings kept); sets ``recorder``, ``board``,
        ``params`` and ``power`` (None: power from tegrastats).  Without a source, does nothing."""
        from .power.start import start_power
        from .tegrastats.start import start_telemetry

        if self.source is None:
            return
        self.recorder, self.board, self.params = start_telemetry(self.source, roles, tgr_params, self.sys_root)
        self.power = start_power(self.power_sampler, self.power_rate_hz, self.source, self.board, self.params,
                                 self.sys_root, self.folder, max(120.0, 3.0 * window_s))

    def power_meta(self):
        """Run-file keys saying where power came from (``power_sampler``: ``ina`` or ``tegrastats``)."""
        if self.power is not None:
            return self.power.meta()
        return {"power_sampler": "tegrastats" if self.source is not None else "none"}

    def begin(self, closing=None, **extra):
        """Write the run file (status ``running``) with the ``extra`` keys; returns its metadata.
        ``closing()``, if given, returns the keys added when the run ends (counts, clocks)."""
        self._closing = closing
        self.run_file = RunFile(self.folder, self.kind, self.mode, self.source, self.board, self.queried,
                                self.mode_status, self.sys_root)
        extra = dict(self.power_meta(), **extra)
        self.meta = self.run_file.begin(**extra)
        return self.meta

    @property
    def run_name(self):
        """The run file's name, None before :meth:`begin`."""
        return self.run_file.name if self.run_file is not None else None

    def gpu_busy(self, load=1.0):
        """``with session.gpu_busy(load):`` the simulator shows the GPU ``load`` (0..1) loaded
        for the block, then idle; with other telemetry, or none, nothing happens."""
        if self._hint is None:
            return _NOTHING
        return self._hint.busy(load)

    # -- closing ----------------------------------------------------------------------
    def __exit__(self, exc_type, exc, tb):
        came = []
        install_handlers(holding_handler(came))  # the handlers from before the session come back in _release
        self.status = run_status(exc_type)
        try:
            errors = self._close()
        finally:
            self._release()
        for error in errors[1:] if self.status == "finished" else errors:
            logger.error("cleaning up the %s run failed too: %s", self.status, error)
        if errors and self.status == "finished":
            raise errors[0]
        if came and self.status == "finished":
            raise Interrupted(came[0])
        return False

    def _close(self):
        """Stop the telemetry, remove the GPU-load file, close the run file: each step is
        tried whatever the one before did; returns the errors."""
        errors = []
        for step in (self._stop_telemetry, self._remove_hint, self._finish_run_file):
            try:
                step()
            except Exception as error:
                errors.append(error)
        return errors

    def _stop_telemetry(self):
        try:
            if self.power is not None:
                self.power.stop()
        finally:
            if self.recorder is not None:
                self.recorder.stop()

    def _remove_hint(self):
        if self._hint is not None:
            self._hint.remove()

    def _finish_run_file(self):
        if self.run_file is None or not self.run_file.path:
            return
        extra = {"board": self.board or UNAVAILABLE, "tgr_params": [p.name for p in self.params]}
        if self._closing is not None:
            extra.update(self._closing())
        self.run_file.finish(self.status, **extra)

    def _release(self):
        """Release the lock and put the signal handlers from before the session back."""
        try:
            if self._lock is not None:
                self._lock.__exit__(None, None, None)
                self._lock = None
        finally:
            restore_handlers(self._handlers)
            self._handlers = {}


class _Nothing(object):
    """A reusable ``with`` block that does nothing (contextlib.nullcontext is Python 3.7+)."""

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_NOTHING = _Nothing()
