"""Files that are never half-written and belong to the user who ran ``sudo``.

- :func:`atomic_write` / :class:`AtomicFile`: write a temp file in the target's
  folder, fsync, then rename over the target; on error the target is untouched
  and the temp file removed.
- :func:`ensure_dir`: ``mkdir -p`` that hands every folder it creates to the
  invoking user.
- :func:`chown_to_invoker`: under sudo (root with SUDO_UID/SUDO_GID set), give a
  path to that user; a no-op otherwise.
- :func:`check_writable`: prove, before any measuring, that files can be written
  in a folder; :class:`OutputLock`: one run at a time per output root.

Every ``OSError`` on the way (a path component that is a file, a read-only
file system, a full disk) becomes one :class:`DnnStatsError` line naming the
path and the fix.
"""
import errno
import glob
import io
import os
import re
import socket
import tempfile

from .clock import utc_now_iso
from .errors import DnnStatsError

__all__ = ["mode_folders", "invoker_ids", "chown_to_invoker", "ensure_dir", "AtomicFile", "atomic_write", "check_writable",
           "check_folder", "write_error", "set_aside", "OutputLock", "LOCK_NAME"]

#: The lock file :class:`OutputLock` holds in an output root.
LOCK_NAME = ".dnn_stats.lock"

_FIXES = {errno.ENOSPC: "free some space or pick another output folder",
          errno.EDQUOT: "free some space or pick another output folder",
          errno.EROFS: "the file system is read-only: pick another output folder",
          errno.EACCES: "fix the permissions or pick another output folder",
          errno.EPERM: "fix the permissions or pick another output folder",
          errno.ENOTDIR: "a part of the path is a file: pick another output folder",
          errno.EEXIST: "a part of the path is a file: pick another output folder",
          errno.EISDIR: "it is a folder: name a file"}


def write_error(path, exc, option=None):
    """A :class:`DnnStatsError` for an ``OSError`` met while writing ``path``; ``option``
    (e.g. ``--output_root``) is named in the fix."""
    fix = _FIXES.get(getattr(exc, "errno", None), "check the path")
    if option:
        fix = fix.replace("pick another output folder", "pass another " + option)
        if option not in fix:
            fix += ", for " + option
    return DnnStatsError("cannot write {}: {} ({})".format(path, getattr(exc, "strerror", None) or exc, fix))


def invoker_ids(environ=None):
    """``(uid, gid)`` of the user behind sudo, or None when not running under sudo as root."""
    environ = os.environ if environ is None else environ
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    try:
        return int(environ["SUDO_UID"]), int(environ["SUDO_GID"])
    except (KeyError, ValueError):
        return None


def chown_to_invoker(path):
    """Give ``path`` to the sudo invoker (see :func:`invoker_ids`); errors are ignored."""
    ids = invoker_ids()
    if ids is not None:
        try:
            os.chown(path, ids[0], ids[1])
        except OSError:
            pass


def ensure_dir(path, option=None):
    """Create ``path`` and missing parents; each folder created goes to the sudo invoker.
    Raises :class:`DnnStatsError` (naming ``option`` in the fix) when it cannot."""
    path = os.path.abspath(path)
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
        except OSError as exc:
            if not os.path.isdir(folder):
                raise write_error(folder, exc, option)
            continue
        chown_to_invoker(folder)


class AtomicFile(object):
    """``with AtomicFile(path) as f: f.write(...)``: ``path`` appears only when the block succeeds.

    Text mode (UTF-8) by default; ``binary=True`` for bytes.  The folder is
    created if needed; the file goes to the sudo invoker.
    """

    def __init__(self, path, binary=False):
        self.path = os.path.abspath(path)
        self.binary = binary
        self._handle = None
        self._tmp = None

    def __enter__(self):
        folder = os.path.dirname(self.path)
        ensure_dir(folder)
        if os.path.isdir(self.path):
            raise write_error(self.path, OSError(errno.EISDIR, os.strerror(errno.EISDIR)))
        try:
            fd, self._tmp = tempfile.mkstemp(prefix="." + os.path.basename(self.path) + ".", suffix=".tmp",
                                             dir=folder)
        except OSError as exc:
            raise write_error(self.path, exc)
        if self.binary:
            self._handle = io.open(fd, "wb")
        else:
            self._handle = io.open(fd, "w", encoding="utf-8", newline="\n")
        return self._handle

    def __exit__(self, exc_type, exc, tb):
        handle, self._handle = self._handle, None
        try:
            if exc_type is None:
                handle.flush()
                os.fsync(handle.fileno())
            handle.close()
            if exc_type is None:
                os.chmod(self._tmp, 0o644)
                chown_to_invoker(self._tmp)
                os.rename(self._tmp, self.path)
                self._tmp = None
        except OSError as error:
            if exc_type is None:
                raise write_error(self.path, error)
        finally:
            if self._tmp is not None and os.path.exists(self._tmp):
                try:
                    os.unlink(self._tmp)
                except OSError:
                    pass
        if exc_type is not None and issubclass(exc_type, OSError) and not isinstance(exc, DnnStatsError):
            raise write_error(self.path, exc)
        return False


def atomic_write(path, data):
    """Write ``data`` (str or bytes) to ``path`` atomically (see :class:`AtomicFile`)."""
    with AtomicFile(path, binary=isinstance(data, bytes)) as handle:
        handle.write(data)


def set_aside(path, suffix=".corrupt"):
    """Rename ``path`` to ``path + suffix`` (``-2``, ``-3``, ... added while taken), so a file
    about to be redone is kept, never overwritten; returns the new path."""
    aside, number = path + suffix, 1
    while os.path.exists(aside):
        number += 1
        aside = "{}{}-{}".format(path, suffix, number)
    os.rename(path, aside)
    return aside


def check_folder(folder, option="--output_root"):
    """Without creating anything: raise :class:`DnnStatsError` naming ``option`` when
    ``folder`` is a file, sits under a file, or its nearest existing folder is not
    writable (for dry runs; a run then proves it with :func:`check_writable`)."""
    path = os.path.abspath(folder)
    if os.path.exists(path) and not os.path.isdir(path):
        raise DnnStatsError("{} {!r} is a file, not a folder: pass another {}".format(option, folder, option))
    while not os.path.exists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        raise write_error(path, OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)), option)
    if not os.access(path, os.W_OK):
        raise write_error(path, OSError(errno.EACCES, os.strerror(errno.EACCES)), option)


def check_writable(folder, option="--output_root"):
    """Create ``folder`` if needed and write, then remove, a probe file there.

    Raises :class:`DnnStatsError` naming ``option`` when ``folder`` is a file,
    sits under a file, is read-only or on a full disk.
    """
    check_folder(folder, option)
    ensure_dir(folder, option)
    probe = os.path.join(os.path.abspath(folder), ".write-probe-{}".format(os.getpid()))
    try:
        with io.open(probe, "wb") as handle:
            handle.write(b"x" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise write_error(folder, exc, option)
    finally:
        if os.path.exists(probe):
            os.unlink(probe)


class OutputLock(object):
    """``with OutputLock(folder):`` one measurement run at a time in ``folder``.

    An exclusive ``flock`` on ``folder/.dnn_stats.lock``, which records the
    holder's pid, host and start time.  The kernel drops the lock when the
    holder dies, even by SIGKILL, so a killed run never blocks the next one.
    A second run raises :class:`DnnStatsError` naming the holder.
    """

    def __init__(self, folder, option="--output_root"):
        self.folder, self.option = folder, option
        self.path = os.path.join(os.path.abspath(folder), LOCK_NAME)
        self._fd = None

    def __enter__(self):
        import fcntl

        ensure_dir(self.folder)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_error(self.path, exc, self.option)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 512).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise DnnStatsError("another run ({}) is writing into {}: wait for it to end, or pass another "
                                "{}".format(holder, self.folder, self.option))
        chown_to_invoker(self.path)
        os.ftruncate(fd, 0)
        os.write(fd, "pid {} on {}, started {}".format(os.getpid(), socket.gethostname(), utc_now_iso()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (removing it would race)
            self._fd = None
        return False


_MODE = re.compile(r"^Mode(-?\d+)$")


def mode_folders(base):
    """``{mode: path}`` of the ``Mode{m}`` folders directly under ``base`` (both products' layout)."""
    found = {}
    for path in glob.glob(os.path.join(base, "Mode*")):
        match = _MODE.match(os.path.basename(path))
        if match and os.path.isdir(path):
            found[int(match.group(1))] = path
    return found
