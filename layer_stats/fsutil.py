"""Files that are never half-written and belong to the user who ran ``sudo``.

- :func:`atomic_write` / :class:`AtomicFile`: write a temp file in the target's
  folder, fsync, then rename over the target; on error the target is untouched
  and the temp file removed.
- :func:`ensure_dir`: ``mkdir -p`` that hands every folder it creates to the
  invoking user.
- :func:`chown_to_invoker`: under sudo (root with SUDO_UID/SUDO_GID set), give a
  path to that user; a no-op otherwise.
"""
import io
import os
import tempfile

__all__ = ["invoker_ids", "chown_to_invoker", "ensure_dir", "AtomicFile", "atomic_write"]


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


def ensure_dir(path):
    """Create ``path`` and missing parents; each folder created goes to the sudo invoker."""
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
        except OSError:
            if not os.path.isdir(folder):
                raise
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
        fd, self._tmp = tempfile.mkstemp(prefix="." + os.path.basename(self.path) + ".", suffix=".tmp", dir=folder)
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
        finally:
            if self._tmp is not None and os.path.exists(self._tmp):
                os.unlink(self._tmp)
        return False


def atomic_write(path, data):
    """Write ``data`` (str or bytes) to ``path`` atomically (see :class:`AtomicFile`)."""
    with AtomicFile(path, binary=isinstance(data, bytes)) as handle:
        handle.write(data)
