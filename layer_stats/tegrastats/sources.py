"""Where telemetry comes from: real tegrastats, the simulator, or a recorded log.

A :class:`Source` is the command line of a child process that prints
tegrastats lines on stdout, plus a label.  All three kinds run as a child
process, so the recorder and everything downstream take the same path:

- ``tegrastats``: the board's own binary, ``tegrastats --interval MS``;
- ``simulated``: ``python -m layer_stats.tegrastats simulate --board B``;
- ``replay``: ``python -m layer_stats.tegrastats replay LOG`` (ends at the log's
  end unless ``loop``).  The log is checked first (:func:`replay_source`), and
  the source's ``board`` is the board that recorded it, so data is filed as
  that board whatever host replays it.

The simulator cannot see the work a run puts on a GPU: a run tells it through a
file (:meth:`Source.following_gpu_load`, :meth:`Source.gpu_load_hint`); the
other kinds see the real load, or none, and get a hint that does nothing.
"""
import os
import shutil
import sys
from collections import namedtuple

from ..errors import TelemetryError
from .boards import board_names
from .detect import board_from_samples, resolve_board
from .logcheck import check_log
from .simulate import GPU_LOAD_FILE, GpuLoadHint

__all__ = ["Source", "find_tegrastats", "tegrastats_source", "simulated_source", "replay_source",
           "source_from_args", "require_log", "KINDS", "REPLAY_MIN_LINES"]


class Source(namedtuple("Source", "kind argv board detail endless gpu_load_file")):
    """Where telemetry comes from.

    ``kind``: tegrastats, simulated or replay; ``argv``: the child's command line;
    ``board``: the board key where known (None for real tegrastats until detected;
    for a replay, the board whose rails the log shows, None if they do not tell);
    ``detail``: binary path, board or log path, for run metadata; ``endless``:
    False when the child ends by itself (a replay without loop); ``gpu_load_file``:
    the file the simulator takes its GPU load from (None: no such file, default).
    """
    __slots__ = ()

    def following_gpu_load(self, folder):
        """This source, for a run writing into ``folder``: the simulator takes its GPU load
        from ``folder/.simulated_gpu_load`` (:data:`~.simulate.GPU_LOAD_FILE`, absolute);
        real tegrastats and a replay are returned unchanged."""
        if self.kind != "simulated":
            return self
        path = os.path.join(os.path.abspath(folder), GPU_LOAD_FILE)
        argv = list(self.argv)
        if "--gpu_load_file" in argv:  # following another folder's file: follow this one instead
            del argv[argv.index("--gpu_load_file"):argv.index("--gpu_load_file") + 2]
        return self._replace(argv=argv + ["--gpu_load_file", path], gpu_load_file=path)

    def gpu_load_hint(self):
        """The :class:`~.simulate.GpuLoadHint` a run tells this source the GPU load with
        (one that does nothing unless :meth:`following_gpu_load` gave a file)."""
        return GpuLoadHint(self.gpu_load_file)


Source.__new__.__defaults__ = (None,)

KINDS = ("tegrastats", "simulated", "replay")
_FALLBACK_PATHS = ("/usr/bin/tegrastats", "/usr/sbin/tegrastats")
#: Tegrastats lines a replay without loop needs: the first only starts the
#: recorder, so one line can serve no measurement window.
REPLAY_MIN_LINES = 2


def _no_jetson_hint():
    return "pass --simulate BOARD ({}) to use the built-in simulator, or --replay LOG".format(
        "|".join(board_names()))


def find_tegrastats(path=None):
    """The tegrastats binary: ``path`` if given, else PATH, else /usr/bin; raises if none."""
    if path:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
        raise TelemetryError("tegrastats binary {!r} is not an executable file: fix the path, or {}".format(
            path, _no_jetson_hint()))
    found = shutil.which("tegrastats")
    if found:
        return found
    for candidate in _FALLBACK_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    raise TelemetryError("no tegrastats binary on this host (not a Jetson?): " + _no_jetson_hint())


def _python_child(args):
    """argv running this package's CLI in a fresh interpreter, wherever the user's cwd is."""
    return [sys.executable, "-m", "layer_stats.tegrastats"] + [str(a) for a in args]


def child_env():
    """The environment for a child: ours, unbuffered and UTF-8.  (The package is found
    because the child starts in :data:`~layer_stats.paths.PACKAGE_PARENT`.)"""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    # UTF-8 whatever the locale (LANG=C under sudo on Python 3.6 means ASCII): a
    # replayed line holding U+FFFD must not kill the child.
    env["PYTHONIOENCODING"] = "utf-8:replace"
    return env


def tegrastats_source(interval_ms, binary=None):
    path = find_tegrastats(binary)
    return Source("tegrastats", [path, "--interval", str(int(interval_ms))], None, path, True)


def simulated_source(board, interval_ms, seed=None):
    """The simulator for ``board`` (its GPU idle unless :meth:`Source.following_gpu_load`)."""
    board = resolve_board(board, "--simulate")
    args = ["simulate", "--board", board, "--interval", int(interval_ms)]
    if seed is not None:
        args += ["--seed", seed]
    return Source("simulated", _python_child(args), board, board, True)


def require_log(path):
    """``path`` if it is a file; otherwise raises an error that names it."""
    if not os.path.isfile(path):
        raise TelemetryError("log {!r} not found: give the path of a recorded tegrastats log".format(path))
    return path


def replay_source(log, interval_ms=None, loop=False, speed=1.0):
    """Replay of the tegrastats log ``log``, checked first.

    Raises TelemetryError naming ``--replay`` if the log is missing, unreadable,
    empty, binary, holds no tegrastats line, or (without ``loop``) has fewer
    than :data:`REPLAY_MIN_LINES` (naming ``--replay_loop``); see
    :func:`~layer_stats.tegrastats.logcheck.check_log`.
    """
    head = check_log(log, "--replay", 1 if loop else REPLAY_MIN_LINES, loop_flag="--replay_loop")
    args = ["replay", os.path.abspath(log), "--speed", speed]
    if interval_ms:
        args += ["--interval", int(interval_ms)]
    if loop:
        args.append("--loop")
    return Source("replay", _python_child(args), board_from_samples(head.samples), os.path.abspath(log), bool(loop))


def source_from_args(args, interval_ms):
    """The :class:`Source` chosen by :func:`~layer_stats.cli.add_telemetry_args` options."""
    if getattr(args, "simulate", None):
        return simulated_source(args.simulate, interval_ms, getattr(args, "sim_seed", None))
    if getattr(args, "replay", None):
        return replay_source(args.replay, interval_ms, getattr(args, "replay_loop", False))
    return tegrastats_source(interval_ms, getattr(args, "tegrastats", None))
