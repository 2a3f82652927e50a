"""Start telemetry for a measurement run: recorder, board and the parameters to keep.

:func:`start_telemetry` starts a :class:`Recorder`, waits for its first line,
works out the board (the source's label, else the device tree, else the line's
rails) and resolves ``--tgr_params`` against it.  Without ``--tgr_params`` the
parameters are the board's rails for the given roles (``cpu`` for ``--device
cpu``, ``gpu`` for ``cuda``), e.g. TX2: VDD_SYS_CPU / VDD_SYS_GPU, Orin NX:
VDD_CPU_GPU_CV.
"""
import logging

from ..clock import monotonic
from ..errors import DnnStatsError, TelemetryError, quote_text
from .detect import detect_board
from .params import resolve_params, role_rail
from .parse import is_tegrastats, parse_line
from .recorder import Recorder

logger = logging.getLogger(__name__)

__all__ = ["start_telemetry", "default_params", "check_interval", "FIRST_LINE_TIMEOUT_S", "MIN_SAMPLES_PER_WINDOW"]

#: Fewest tegrastats samples a measured window must be able to hold.
MIN_SAMPLES_PER_WINDOW = 2

FIRST_LINE_TIMEOUT_S = 10.0


def check_interval(interval_ms, windows, interval_flag="--tgr_interval"):
    """Raise DnnStatsError when a sampling interval (ms) leaves fewer than
    :data:`MIN_SAMPLES_PER_WINDOW` samples in one of ``windows`` ([(flag, seconds)])."""
    for flag, seconds in windows:
        if interval_ms * MIN_SAMPLES_PER_WINDOW > seconds * 1000.0:
            raise DnnStatsError("{} {:g} ms leaves fewer than {} tegrastats samples in the {} window ({:g} s): "
                                "lower {} or raise {}".format(interval_flag, interval_ms, MIN_SAMPLES_PER_WINDOW,
                                                              flag, seconds, interval_flag, flag))


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


def _unknown_board(source, raw):
    """The error for telemetry whose board neither the source, the device tree nor ``raw`` tells."""
    if source.kind == "replay":
        return TelemetryError("cannot tell which board recorded replay log {} (its lines show no known power "
                              "rails, e.g. {}): replay a log recorded as root, or use --simulate BOARD".format(
                                  quote_text(source.detail, 200), quote_text(raw)))
    return TelemetryError("cannot tell the board from the device tree or the tegrastats line: pass --simulate "
                          "BOARD only off a Jetson; on one, report this line: " + quote_text(raw, 200))


def _first_sample(recorder, source):
    """``(parsed, raw)`` of the first tegrastats line the recorder gets (a log's junk
    line before it is passed over), waiting up to :data:`FIRST_LINE_TIMEOUT_S`."""
    deadline = monotonic() + FIRST_LINE_TIMEOUT_S
    count = 1
    while recorder.wait_for(count, max(0.0, deadline - monotonic())):
        raw = recorder.latest().raw
        parsed = parse_line(raw)
        if is_tegrastats(parsed):
            return parsed, raw
        count += 1
    recorder.require_more()
    raise TelemetryError("{} printed no tegrastats line in {:.0f} s: check that it runs on its own ({})".format(
        source.kind, FIRST_LINE_TIMEOUT_S, " ".join(source.argv)))


def start_telemetry(source, roles, tgr_params=None, root="/", max_age_s=900.0):
    """Start a recorder for ``source``; returns ``(recorder, board, params)``.

    The caller owns the recorder (stop it, or use it in a ``with`` block).
    Raises TelemetryError if no tegrastats line arrives within
    :data:`FIRST_LINE_TIMEOUT_S` or the board cannot be told.
    """
    recorder = Recorder(source, max_age_s=max_age_s)
    recorder.start()
    try:
        sample, raw = _first_sample(recorder, source)
        board = source.board or detect_board(root, sample)
        if board is None:
            raise _unknown_board(source, raw)
        names = tgr_params if tgr_params else default_params(board, roles, sample)
        params = resolve_params(board, names)
        logger.info("telemetry: %s (%s), board %s, parameters %s", source.kind, source.detail, board,
                    ", ".join(p.name for p in params) or "all (every line is kept whole)")
        return recorder, board, params
    except BaseException:
        recorder.stop()
        raise
