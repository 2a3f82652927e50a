"""Start telemetry for a measurement run: recorder, board and the parameters to keep.

:func:`start_telemetry` starts a :class:`Recorder`, waits for its first line,
works out the board (the source's label, else the device tree, else the line's
rails) and resolves ``--tgr_params`` against it.  Without ``--tgr_params`` the
parameters are the board's rails for the given roles (``cpu`` for ``--device
cpu``, ``gpu`` for ``cuda``), e.g. TX2: VDD_SYS_CPU / VDD_SYS_GPU, Orin NX:
VDD_CPU_GPU_CV.
"""
import logging

from ..errors import TelemetryError
from .detect import detect_board
from .params import resolve_params, role_rail
from .parse import parse_line
from .recorder import Recorder

logger = logging.getLogger(__name__)

__all__ = ["start_telemetry", "default_params", "FIRST_LINE_TIMEOUT_S"]

FIRST_LINE_TIMEOUT_S = 10.0


def default_params(board, roles, sample=None):
    """Names of the rails measuring ``roles`` on ``board`` (duplicates dropped)."""
    names = []
    for role in roles:
        rail = role_rail(board, role, sample)
        if rail is None:
            raise TelemetryError("board {} has no {} power rail: name the parameters with --tgr_params".format(
                board, role))
        if rail not in names:
            names.append(rail)
    return names


def start_telemetry(source, roles, tgr_params=None, root="/", max_age_s=900.0):
    """Start a recorder for ``source``; returns ``(recorder, board, params)``.

    The caller owns the recorder (stop it, or use it in a ``with`` block).
    Raises TelemetryError if no line arrives within :data:`FIRST_LINE_TIMEOUT_S`
    or the board cannot be told.
    """
    recorder = Recorder(source, max_age_s=max_age_s)
    recorder.start()
    try:
        if not recorder.wait_for(1, FIRST_LINE_TIMEOUT_S):
            recorder.check()
            raise TelemetryError("{} printed nothing in {:.0f} s: check that it runs on its own ({})".format(
                source.kind, FIRST_LINE_TIMEOUT_S, " ".join(source.argv)))
        sample = parse_line(recorder.latest().raw)
        board = source.board or detect_board(root, sample)
        if board is None:
            raise TelemetryError("cannot tell the board from the device tree or the tegrastats line: "
                                 "pass --simulate BOARD only off a Jetson; on one, report this line: "
                                 + recorder.latest().raw[:200])
        names = tgr_params if tgr_params else default_params(board, roles, sample)
        params = resolve_params(board, names)
        logger.info("telemetry: %s (%s), board %s, parameters %s", source.kind, source.detail, board,
                    ", ".join(p.name for p in params))
        return recorder, board, params
    except BaseException:
        recorder.stop()
        raise
