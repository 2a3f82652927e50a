"""The board's power mode: what ``nvpmodel -q`` reports, the mode's block of
``/etc/nvpmodel.conf``, and the check that ``--mode`` matches it.

``--mode`` never changes the board's mode (set it first with
``sudo nvpmodel -m N``); it names the folder the data goes to, so a run in the
wrong mode would file its numbers under the wrong name.
"""
import logging
import os
import re
import shutil
import subprocess

from .errors import DnnStatsError

logger = logging.getLogger(__name__)

__all__ = ["query_mode", "conf_block", "check_mode", "CONF_PATH"]

CONF_PATH = "etc/nvpmodel.conf"
_NAME = re.compile(r"NV Power Mode:\s*(.+)")
_MODEL = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)(?:\s+NAME=(\S+))?\s*>")


def query_mode(binary=None, timeout_s=10.0):
    """``{"id": int, "name": str}`` from ``nvpmodel -q``, or None where there is no nvpmodel
    (not a Jetson) or it fails (the reason is logged)."""
    path = binary or shutil.which("nvpmodel") or ("/usr/sbin/nvpmodel" if os.access("/usr/sbin/nvpmodel", os.X_OK)
                                                  else None)
    if not path:
        return None
    try:
        done = subprocess.run([path, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("nvpmodel -q failed: %s", exc)
        return None
    name, mode_id = None, None
    for line in done.stdout.splitlines():
        line = line.strip()
        match = _NAME.search(line)
        if match:
            name = match.group(1).strip()
        elif line.isdigit():
            mode_id = int(line)
    if mode_id is None:
        logger.warning("nvpmodel -q printed no mode number (exit %s): %s", done.returncode,
                       (done.stdout + done.stderr).strip()[:200])
        return None
    return {"id": mode_id, "name": name}


def conf_block(mode, root="/"):
    """The text of ``< POWER_MODEL ID=mode ... >`` up to the next ``<`` header in
    ``/etc/nvpmodel.conf`` (under ``root``), or None if the file or block is missing."""
    path = os.path.join(root, CONF_PATH)
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    block = None
    for line in lines:
        header = line.strip().startswith("<")
        match = _MODEL.search(line)
        if block is not None and header:
            break
        if match and int(match.group(1)) == int(mode):
            block = []
        if block is not None:
            block.append(line)
    return "\n".join(block).rstrip() + "\n" if block else None


def check_mode(requested, queried, force=False):
    """Raise DnnStatsError if ``queried`` (from :func:`query_mode`) is not ``requested``,
    unless ``force``.  Returns a short status: ``match``, ``forced``, ``unavailable``."""
    if queried is None:
        return "unavailable"
    if int(queried["id"]) == int(requested):
        return "match"
    message = "mode mismatch: --mode {} but nvpmodel reports mode {} ({})".format(
        requested, queried["id"], queried.get("name") or "?")
    if force:
        logger.warning("%s; going on because of --force_mode", message)
        return "forced"
    raise DnnStatsError(message + ": run 'sudo nvpmodel -m {}' first, or pass --force_mode to record "
                        "under Mode{} anyway".format(requested, requested))
