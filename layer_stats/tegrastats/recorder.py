"""Run tegrastats (or a stand-in) as a child process and keep its lines, stamped in time.

Usage::

    with Recorder(simulated_source("tx2", 20)) as rec:
        t0 = monotonic(); run_layer(); t1 = monotonic()
        rec.wait_past(t1)
        samples = rec.window(t0, t1)     # [Sample(t_mono, t_wall, raw), ...]

A reader thread stamps each line with ``time.monotonic()`` the moment it
arrives and stores the raw text: no parsing inside a measurement window (on a
TX2 core, parsing time would show up in the CPU power being measured).  A
tegrastats line reports the interval that ends when it is printed, so the
samples that describe ``[t0, t1]`` are those stamped inside it plus the first
one after ``t1``; :meth:`window` with ``include_next=True`` returns that.

The child is stopped on every way out: :meth:`stop` (also from ``with``,
``atexit`` and :mod:`layer_stats.lifecycle`'s signal handling), and on Linux it
also gets SIGTERM from the kernel if this process dies, even by SIGKILL
(``PR_SET_PDEATHSIG``).  Start the recorder from a thread that lives as long
as it (the main thread): the kernel ties that signal to the starting thread.

A replay without loop ends by itself: a window asked for after its last line
raises TelemetryError naming ``--replay_loop`` (:meth:`Recorder.require_more`)
instead of giving an empty window.  Lines are kept as text whatever the child
prints (undecodable bytes as U+FFFD), each cut to :data:`MAX_LINE_BYTES`.
"""
import atexit
import bisect
import collections
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import threading

from ..clock import WallClock, monotonic
from ..errors import TelemetryError, printable, quote_text
from ..paths import PACKAGE_PARENT
from .sources import child_env

logger = logging.getLogger(__name__)

__all__ = ["Sample", "Recorder"]

#: One tegrastats line: ``t_mono`` (s, time.monotonic when it arrived), ``t_wall``
#: (Unix time, s) and ``raw`` (the line, without newline).
Sample = collections.namedtuple("Sample", "t_mono t_wall raw")

_PR_SET_PDEATHSIG = 1
_STDERR_KEEP = 20
_STDERR_SHOWN = 3
#: Longest line kept (bytes); the rest of a longer line is read and dropped, so a
#: child printing binary without newlines cannot fill the memory.
MAX_LINE_BYTES = 4 << 20


def _read_lines(stream, limit=MAX_LINE_BYTES):
    """Yield the lines of a binary ``stream`` (newline kept), each cut to ``limit`` bytes."""
    while True:
        raw = stream.readline(limit)
        if not raw:
            return
        if len(raw) >= limit and not raw.endswith(b"\n"):
            rest = raw
            while rest and not rest.endswith(b"\n"):
                rest = stream.readline(limit)
        yield raw


def _die_with_parent():
    """In the child, before exec: own process group, and SIGTERM when the parent dies."""
    os.setpgid(0, 0)
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Recorder(object):
    """Keeps the lines of one telemetry :class:`~layer_stats.tegrastats.sources.Source`.

    ``max_age_s``: samples older than this (relative to the newest) are dropped,
    so hours-long runs use bounded memory; windows must be cut within it.
    ``stamp``: for a child that stamps its own lines (the power sampler), a function
    of the line giving its ``time.monotonic()`` instant (CLOCK_MONOTONIC is one clock
    for every process), or None for a line to drop; default: the arrival time.
    Stamps must not decrease.
    """

    def __init__(self, source, max_age_s=900.0, stamp=None):
        self.source = source
        self.max_age_s = float(max_age_s)
        self.stamp = stamp
        self.clock = WallClock()
        self._proc = None
        self._threads = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._times = []
        self._samples = []
        self._dropped = 0
        self._drained = 0
        self._stderr = collections.deque(maxlen=_STDERR_KEEP)
        self._stopping = False
        self._eof = False

    # -- life cycle ----------------------------------------------------------
    def start(self):
        """Start the child and its reader; raises TelemetryError if it cannot run."""
        if self._proc is not None:
            return self
        try:
            self._proc = subprocess.Popen(
                self.source.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=child_env(), cwd=PACKAGE_PARENT, close_fds=True, preexec_fn=_die_with_parent)
        except OSError as exc:
            raise TelemetryError("cannot start {} ({}): {}".format(self.source.kind, self.source.argv[0], exc))
        atexit.register(self.stop)
        for target in (self._read_stdout, self._read_stderr):
            thread = threading.Thread(target=target, name="tegrastats-" + target.__name__, daemon=True)
            thread.start()
            self._threads.append(thread)
        logger.info("telemetry %s started (pid %d): %s", self.source.kind, self._proc.pid,
                    " ".join(self.source.argv))
        return self

    def stop(self, timeout_s=3.0):
        """Stop the child (SIGTERM to its group, then SIGKILL) and the readers; idempotent."""
        proc = self._proc
        if proc is None or self._stopping:
            return
        self._stopping = True
        if proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except OSError:
                    break
                try:
                    proc.wait(timeout_s)
                    break
                except subprocess.TimeoutExpired:
                    continue
        proc.wait()
        for thread in self._threads:
            thread.join(timeout_s)
        for stream in (proc.stdout, proc.stderr):
            stream.close()
        try:
            atexit.unregister(self.stop)
        except AttributeError:
            pass
        lines = self._dropped + len(self._samples)
        logger.info("%s child stopped after %d line%s of output", self.source.kind, lines, "" if lines == 1 else "s")

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False

    @property
    def pid(self):
        """The child's process id, or None before :meth:`start`."""
        return None if self._proc is None else self._proc.pid

    # -- readers (threads) ---------------------------------------------------
    def _read_stdout(self):
        stdout, now, wall, stamp = self._proc.stdout, monotonic, self.clock.wall, self.stamp
        for raw in _read_lines(stdout):
            t = now()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if stamp is not None:
                t = stamp(line)
                if t is None:
                    continue
            with self._lock:
                self._times.append(t)
                self._samples.append(Sample(t, wall(t), line))
                if len(self._times) % 512 == 0:
                    self._trim(t)
                self._arrived.notify_all()
        with self._lock:
            self._eof = True
            self._arrived.notify_all()

    def _read_stderr(self):
        for raw in _read_lines(self._proc.stderr, 64 << 10):
            self._stderr.append(raw.decode("utf-8", "replace").rstrip())

    def _trim(self, newest):
        cut = bisect.bisect_left(self._times, newest - self.max_age_s)
        if cut:
            del self._times[:cut]
            del self._samples[:cut]
            self._dropped += cut
            self._drained = max(0, self._drained - cut)

    # -- state ---------------------------------------------------------------
    @property
    def ended(self):
        """True once the child's output has ended (a finished replay, or a dead tegrastats)."""
        return self._eof

    def check(self):
        """Raise TelemetryError if the child ended while nobody asked it to.

        A replay that ends by itself is not an error.
        """
        if self._proc is None:
            raise TelemetryError("the telemetry recorder was never started")
        if self._stopping or not self._eof:
            return
        code = self._proc.wait()
        if self.source.kind == "replay" and code == 0:
            return
        shown = [printable(line, 200) for line in list(self._stderr)[-_STDERR_SHOWN:] if line.strip()]
        detail = " | ".join(shown) or "no error output"
        raise TelemetryError("{} exited with status {} ({}): check that it runs on its own ({}){}".format(
            self.source.kind, code, detail, " ".join(self.source.argv),
            "; tegrastats needs root for power rails: run with sudo" if self.source.kind == "tegrastats" else ""))

    def require_more(self, t_mono=None):
        """Raise TelemetryError if the child's output ended by itself with no sample
        after ``t_mono`` (monotonic s; None: any time), as a replay without loop
        does at the end of its log: a measurement that needs more cannot have it.

        A child that died raises :meth:`check`'s error instead; a stopped
        recorder raises nothing.
        """
        self.check()
        if self._stopping or not self._eof:
            return
        with self._lock:
            newest = self._times[-1] if self._times else None
            count = self._dropped + len(self._samples)
        if newest is not None and t_mono is not None and newest > t_mono:
            return
        raise TelemetryError(self._ran_out_message(count, newest))

    def _ran_out_message(self, count, newest):
        if self.source.kind != "replay":
            return "{} ended after {} lines, before the run did: check that it runs on its own ({})".format(
                self.source.kind, count, " ".join(self.source.argv))
        ago = "" if newest is None else ", the last {:.1f} s ago".format(monotonic() - newest)
        return ("replay log {} ran out after {} lines{}, before the run did: pass --replay_loop to start it "
                "again at its end, or a longer log as --replay").format(quote_text(self.source.detail, 200),
                                                                          count, ago)

    # -- access --------------------------------------------------------------
    def wait_for(self, count, timeout_s):
        """Wait until ``count`` samples have arrived in total; False on timeout or end."""
        deadline = monotonic() + timeout_s
        with self._arrived:
            while self._dropped + len(self._samples) < count and not self._eof:
                left = deadline - monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
            return self._dropped + len(self._samples) >= count

    def wait_past(self, t_mono, timeout_s=None):
        """Wait for the first sample stamped after ``t_mono`` (it reports the interval
        that contains ``t_mono``).  Returns False on timeout; raises TelemetryError
        if the output ended first (:meth:`require_more`)."""
        if timeout_s is None:
            timeout_s = 5.0
        deadline = monotonic() + timeout_s
        with self._arrived:
            while not (self._times and self._times[-1] > t_mono) and not self._eof:
                left = deadline - monotonic()
                if left <= 0:
                    break
                self._arrived.wait(left)
            found = bool(self._times) and self._times[-1] > t_mono
        if not found:
            self.require_more(t_mono)
        return found

    def window(self, t_start, t_end, include_next=False):
        """Samples stamped in ``[t_start, t_end]`` (monotonic seconds), oldest first.

        ``include_next`` adds the first sample after ``t_end``, whose interval
        covers the end of the window.  Raises TelemetryError if the child died, or
        if its output ended before ``t_end`` (:meth:`require_more`).
        """
        self.require_more(t_end)
        with self._lock:
            lo = bisect.bisect_left(self._times, t_start)
            hi = bisect.bisect_right(self._times, t_end)
            if include_next and hi < len(self._times):
                hi += 1
            if lo == 0 and self._dropped and self._times and self._times[0] > t_start:
                logger.warning("window starts %.1f s before the oldest kept sample: raise max_age_s",
                               self._times[0] - t_start)
            return self._samples[lo:hi]

    def drain(self):
        """Samples that arrived since the last call, oldest first (for streaming to a file)."""
        with self._lock:
            new = self._samples[self._drained:]
            self._drained = len(self._samples)
            return new

    def latest(self):
        """The newest sample, or None."""
        with self._lock:
            return self._samples[-1] if self._samples else None
