"""The run file both generators write: ``run-<UTC start>.json`` next to the data, plus
``Mode{m}.conf`` (the mode's block of /etc/nvpmodel.conf).

It is written when the run starts (``status: running``) and rewritten when it
ends (``finished``, ``interrupted`` or ``failed``, with the end time and
whatever the generator adds), atomically both times.
:class:`~layer_stats.session.RunSession` decides when and with which status.
"""
import glob
import json
import logging
import os

from .clock import utc_now_iso
from .fsutil import atomic_write
from .nvpmodel import conf_block
from .runmeta import UNAVAILABLE, collect_all, collect_software, collect_telemetry

__all__ = ["RunFile", "RUN_FORMAT_VERSION", "close_dead_runs"]

logger = logging.getLogger(__name__)

#: Version of the run file's keys.  1: first version; 2: ``status`` may also be
#: ``killed`` (set by the next run in the folder, with ``closed_by``: that run's file),
#: for a run that ended without closing its file (SIGKILL, power loss).
RUN_FORMAT_VERSION = 2


class RunFile(object):
    """``RunFile(folder, kind, mode, ...)``, then :meth:`begin` and :meth:`finish`.

    ``source``: the telemetry Source (None when no telemetry runs); ``queried``:
    :func:`layer_stats.nvpmodel.query_mode`'s result; ``mode_status``: what
    :func:`layer_stats.nvpmodel.check_mode` returned.
    """

    def __init__(self, folder, kind, mode, source=None, board=None, queried=None, mode_status=UNAVAILABLE,
                 sys_root="/"):
        self.folder, self.kind, self.mode = folder, kind, mode
        self.source, self.board, self.queried, self.mode_status = source, board, queried, mode_status
        self.sys_root = sys_root
        self.path = None
        self.meta = {}

    def begin(self, **extra):
        """Collect the metadata, write the file with ``extra`` keys, save ``Mode{m}.conf``."""
        started = utc_now_iso()
        self.path = _free_name(os.path.join(self.folder, "run-{}".format(started.replace(":", "").replace("-", ""))))
        close_dead_runs(self.folder, os.path.basename(self.path))
        queried = self.queried
        meta = collect_all(self.sys_root)
        meta.update(collect_software())
        meta.update({"format_version": RUN_FORMAT_VERSION, "kind": self.kind, "status": "running",
                     "start": started, "end": None, "mode": self.mode, "mode_check": self.mode_status,
                     "nvpmodel_mode": queried["id"] if queried else UNAVAILABLE,
                     "nvpmodel_name": (queried.get("name") or UNAVAILABLE) if queried else UNAVAILABLE})
        if self.source is None:
            meta.update({"telemetry": "none", "telemetry_detail": UNAVAILABLE, "board": UNAVAILABLE,
                         "simulated": False})
        else:
            meta.update(collect_telemetry(self.source, self.board or UNAVAILABLE))
        block = conf_block(self.mode, self.sys_root)
        if block is not None:
            atomic_write(os.path.join(self.folder, "Mode{}.conf".format(self.mode)), block)
        meta["nvpmodel_conf"] = "Mode{}.conf".format(self.mode) if block else UNAVAILABLE
        meta.update(extra)
        self.meta = meta
        self._save()
        return meta

    def finish(self, status, **extra):
        """Rewrite the file with ``status``, the end time and ``extra`` keys."""
        self.meta.update({"status": status, "end": utc_now_iso()})
        self.meta.update(extra)
        self._save()

    @property
    def name(self):
        return os.path.basename(self.path) if self.path else None

    def _save(self):
        atomic_write(self.path, json.dumps(self.meta, indent=1, sort_keys=True, default=str) + "\n")


def close_dead_runs(folder, closer):
    """Mark ``killed`` every run file in ``folder`` still saying ``running``.

    Call it only while holding the output root's :class:`~layer_stats.fsutil.OutputLock`:
    then no live run can own such a file, and its process ended without closing it.
    ``closer``: the new run's file name, recorded as ``closed_by``.  Unreadable files
    are left alone.
    """
    for path in sorted(glob.glob(os.path.join(folder, "run-*.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                meta = json.load(handle)
        except (IOError, OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("status") == "running":
            meta.update(status="killed", closed_by=closer)
            atomic_write(path, json.dumps(meta, indent=1, sort_keys=True, default=str) + "\n")
            logger.warning("%s: that run ended without closing its file (killed?): marked killed", path)


def _free_name(stem):
    """``stem.json``, or ``stem-2.json``, ... when a run started in the same second left one."""
    path, number = stem + ".json", 1
    while os.path.exists(path):
        number += 1
        path = "{}-{}.json".format(stem, number)
    return path

