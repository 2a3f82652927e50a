"""Can a file serve as a recorded tegrastats log?  Checked before anything runs.

A replay log is checked when its source is made (:func:`check_log`), so an
empty file, a binary (``/bin/ls``, random bytes), a text that holds no
tegrastats line, or a log too short to start a run is one error line that
names the file, what is wrong and the flag to change, instead of a
misleading failure minutes later.  Only the start of the file is read
(:data:`HEAD_BYTES`): a log of hours is not read twice.

Text rules are those of :func:`~layer_stats.tegrastats.parse.open_log`: UTF-8,
a byte order mark dropped, undecodable bytes as U+FFFD, CR/LF/CRLF line ends.
"""
import collections
import io
import os
import re

from ..errors import TelemetryError, printable, quote_text
from .parse import LineParser, is_tegrastats

__all__ = ["LogHead", "read_head", "check_log", "HEAD_BYTES", "HEAD_SAMPLES", "BINARY_SHARE"]

#: Bytes read from the start of a log to check it (1 MiB: thousands of lines).
HEAD_BYTES = 1 << 20
#: Tegrastats lines of the head kept, parsed, for telling the board.
HEAD_SAMPLES = 50
#: A head with no tegrastats line is called binary when more than this share of
#: its characters are control characters or undecodable bytes.
BINARY_SHARE = 0.05

#: ``path``; ``lines``: the non-blank lines of the head, as text; ``samples``: the
#: parsed dicts of its first tegrastats lines (at most HEAD_SAMPLES); ``count``: the
#: tegrastats lines of the head; ``complete``: the head is the whole file.
LogHead = collections.namedtuple("LogHead", "path lines samples count complete")

_BOM = b"\xef\xbb\xbf"
_LINE_END = re.compile(r"\r\n|\r|\n")
_NOT_TEXT = re.compile(r"[\x00-\x08\x0e-\x1f\x7f\ufffd]")
_CURE = "{} must name a tegrastats log recorded on a Jetson (sudo tegrastats --interval 100 > LOG)"


def _show(path):
    return quote_text(path, 200)


def _read_bytes(path, flag, max_bytes):
    """The first ``max_bytes`` of ``path`` and whether that is all of it; raises
    TelemetryError naming ``flag`` if it is missing, not a file or unreadable."""
    if not os.path.exists(path):
        raise TelemetryError("{} {}: no such file: {}".format(flag, _show(path), _CURE.format(flag)))
    if not os.path.isfile(path):
        raise TelemetryError("{} {} is not a file: {}".format(flag, _show(path), _CURE.format(flag)))
    try:
        with io.open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except (IOError, OSError) as exc:
        raise TelemetryError("{} {} cannot be read ({}): make it readable, or give another log".format(
            flag, _show(path), printable(exc.strerror or exc, 80)))
    return data[:max_bytes], len(data) <= max_bytes


def read_head(path, flag="--replay", max_bytes=HEAD_BYTES):
    """The :class:`LogHead` of ``path`` (at most ``max_bytes`` read).

    Raises TelemetryError (naming ``flag``) if the file is missing or unreadable;
    says nothing about its content (see :func:`check_log`).  A line cut by the
    byte limit is left out.
    """
    data, complete = _read_bytes(path, flag, max_bytes)
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    lines = _LINE_END.split(data.decode("utf-8", "replace"))
    if not complete:
        lines.pop()
    lines = [line for line in lines if line.strip()]
    parser, samples, count = LineParser(), [], 0
    for line in lines:
        parsed = parser.parse(line)
        if is_tegrastats(parsed):
            count += 1
            if len(samples) < HEAD_SAMPLES:
                samples.append(parsed)
    return LogHead(path, lines, samples, count, complete)


def _binary_share(lines):
    """Share of the characters of ``lines`` that are control characters or U+FFFD."""
    size = sum(len(line) for line in lines)
    if not size:
        return 0.0
    return sum(len(_NOT_TEXT.findall(line)) for line in lines) / float(size)


def _no_tegrastats(head, flag):
    """The error for a head that holds no tegrastats line."""
    where = "" if head.complete else " in its first {} MiB".format(HEAD_BYTES >> 20)
    share = _binary_share(head.lines)
    if share > BINARY_SHARE:
        what = "is binary, not a tegrastats log ({:.0%} of its text{} is control characters or not UTF-8)".format(
            share, where)
    else:
        what = "holds no tegrastats line{} (line 1: {})".format(where, quote_text(head.lines[0]))
    return TelemetryError("{} {} {}: {}".format(flag, _show(head.path), what, _CURE.format(flag)))


def check_log(path, flag="--replay", min_lines=1, loop_flag=None):
    """The :class:`LogHead` of ``path`` if it can serve a replay; else TelemetryError.

    Wrong: missing or unreadable, empty (nothing but blank lines), binary or
    any text without a tegrastats line (:func:`~layer_stats.tegrastats.parse.is_tegrastats`),
    or fewer than ``min_lines`` tegrastats lines in all (only for a log whose
    whole text fits the head).  ``flag`` is the option that named the file;
    ``loop_flag``, if given, is offered as the cure for a short log.
    """
    head = read_head(path, flag)
    if not head.lines:
        raise TelemetryError("{} {} is empty: {}".format(flag, _show(path), _CURE.format(flag)))
    if not head.count:
        raise _no_tegrastats(head, flag)
    if head.complete and head.count < min_lines:
        cure = "pass {} to repeat it, or a longer log as {}".format(loop_flag, flag) if loop_flag else \
            "pass a longer log as {}".format(flag)
        raise TelemetryError("{} {} has {} tegrastats line{}, fewer than the {} a run needs to start: {}".format(
            flag, _show(path), head.count, "" if head.count == 1 else "s", min_lines, cure))
    return head
