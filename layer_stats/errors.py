"""The project's exception types.

The library raises :class:`DnnStatsError` (or a subclass) with a message that
says what went wrong *and* what to do about it; only the command-line scripts
turn it into a one-line ``ERROR: ...`` and an exit status.

A stop signal is not an error: :class:`Interrupted` derives from
``BaseException`` (as ``KeyboardInterrupt`` does), so no ``except Exception``
handler, ours or a library's (torch.fx, ptflops, logging), can swallow it.
"""
import signal

__all__ = ["DnnStatsError", "TelemetryError", "RawFileError", "Interrupted", "signal_name", "printable", "quote_text"]


class DnnStatsError(Exception):
    """A problem the user can fix; ``str(err)`` is a complete one-line message."""


class TelemetryError(DnnStatsError):
    """tegrastats (or its simulator/replay stand-in) is missing, died or misbehaved."""


def _escape(char):
    """One character as the escape ``repr`` would print: ``\\x00``, ``\\ufffd``."""
    code = ord(char)
    if code < 0x100:
        return "\\x{:02x}".format(code)
    if code < 0x10000:
        return "\\u{:04x}".format(code)
    return "\\U{:08x}".format(code)


def printable(text, limit=80):
    """``text`` made safe to put in a one-line message.

    Everything but printable ASCII is escaped (``\\x00``, ``\\ufffd``: a binary
    line cannot garble a terminal or split the line); past ``limit`` characters
    (after escaping) it is cut, ending ``... (N chars)`` with the original length.
    Costs O(limit), whatever the length of ``text``.
    """
    text = text if isinstance(text, str) else str(text)
    pieces, size = [], 0
    for char in text[:limit]:
        piece = char if " " <= char <= "~" else _escape(char)
        if size + len(piece) > limit:
            break
        pieces.append(piece)
        size += len(piece)
    else:
        if len(text) <= limit:
            return "".join(pieces)
    return "{}... ({} chars)".format("".join(pieces), len(text))


def quote_text(text, limit=80):
    """:func:`printable` in single quotes, for quoting raw input in an error message."""
    return "'{}'".format(printable(text, limit))


def signal_name(signum):
    """``15`` -> ``"SIGTERM"``; a number that names no signal -> its text."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


class RawFileError(DnnStatsError):
    """A raw data file that cannot be read; each product's ``raw`` module has its own subclass."""


class Interrupted(BaseException):
    """The run was stopped by a signal (SIGINT, SIGTERM or SIGHUP).

    ``signum`` holds the signal number; scripts exit with ``128 + signum``.
    ``str()`` is always the one line ``stopped by SIGTERM``, built from
    ``signum``: libraries that append text to an exception's ``args`` on its
    way out (torch.fx's "While executing ..." notes) cannot change it.
    """

    def __init__(self, signum):
        BaseException.__init__(self, signum)
        self.signum = signum

    @property
    def signame(self):
        """The signal's name, e.g. ``SIGTERM``."""
        return signal_name(self.signum)

    def __str__(self):
        return "stopped by " + self.signame

    def __reduce__(self):
        return (type(self), (self.signum,))
