"""Which Jetson board this is: from the device tree on a Jetson, else from a line's rails;
and which board a recorded log comes from (:func:`replay_board`).

Both read the tables in :mod:`layer_stats.tegrastats.boards`; nothing here
names a board.
"""
import collections
import io
import os

from ..errors import DnnStatsError
from .boards import BOARDS, DEVICE_ALIASES, MODEL_PATTERNS, board_names
from .logcheck import check_log

__all__ = ["read_model", "board_from_model", "board_from_sample", "board_from_samples", "detect_board",
           "replay_board", "resolve_board"]


def read_model(root="/"):
    """The text of ``<root>/proc/device-tree/model`` (NUL stripped), or None off a Jetson."""
    path = os.path.join(root, "proc", "device-tree", "model")
    try:
        with io.open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace").strip("\x00\n ") or None
    except (IOError, OSError):
        return None


def board_from_model(model):
    """The board key for a device-tree model string, or None if it names no known board."""
    text = (model or "").lower()
    for pattern, board in MODEL_PATTERNS:
        if pattern in text:
            return board
    return None


def _jaccard(a, b):
    return len(a & b) / float(len(a | b)) if a or b else 0.0


def board_from_sample(sample):
    """The board whose rail set best matches the rails of a parsed line, or None.

    Scores each board's rail sets by overlap with the line's rails (Jaccard);
    boards with the same rails (Xavier NX and Orin NX/Nano) are told apart by
    their temperature sensors.  A line with no rails (Nano 2GB, DRIVE Orin)
    gives None.
    """
    rails = {key[:-3] for key in sample if key.endswith("_mW") and not key.endswith(("_avg_mW", "_max_mW"))}
    if not rails:
        return None
    sensors = {key[5:-2].lower() for key in sample if key.startswith("temp_") and key.endswith("_C")}
    best, best_score = None, 0.0
    for board in board_names():
        temps = {name.lower() for name in BOARDS[board]["temps"]}
        for rail_set in BOARDS[board]["rail_sets"]:
            score = _jaccard(rails, set(rail_set)) + 0.1 * _jaccard(sensors, temps)
            if score > best_score:
                best, best_score = board, score
    return best


def board_from_samples(samples):
    """The board most of ``samples`` (parsed lines) point to (:func:`board_from_sample`);
    the earliest wins a tie; None if no line tells."""
    votes = collections.Counter()
    first = {}
    for sample in samples:
        board = board_from_sample(sample)
        if board is not None:
            votes[board] += 1
            first.setdefault(board, len(first))
    if not votes:
        return None
    return max(votes, key=lambda board: (votes[board], -first[board]))


def replay_board(path, flag="--replay"):
    """The board key of the Jetson that recorded the tegrastats log ``path``, or None
    when its lines do not tell (no power rails: Nano 2GB, DRIVE Orin, old TX1 logs).

    Reads the log's first lines only (see :mod:`layer_stats.tegrastats.logcheck`);
    raises TelemetryError naming ``flag`` if the file is no tegrastats log.
    """
    return board_from_samples(check_log(path, flag).samples)


def detect_board(root="/", sample=None):
    """The board key: the device tree first, then ``sample``'s rails; None if neither tells."""
    return board_from_model(read_model(root)) or (board_from_sample(sample) if sample else None)


def resolve_board(name, flag=None):
    """A board key from a user's spelling (``tx2``, ``Tx2``, ``AGX-Orin``); raises if unknown,
    naming ``flag`` (the option that gave it) where given."""
    if name in DEVICE_ALIASES:
        return DEVICE_ALIASES[name]
    key = str(name).strip().lower().replace("_", "-")
    if key in BOARDS:
        return key
    raise DnnStatsError("unknown board {!r}{}: choose one of {}".format(
        name, " given to " + flag if flag else "", ", ".join(board_names())))

