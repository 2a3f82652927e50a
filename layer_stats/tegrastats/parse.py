"""Parse tegrastats lines from every Jetson board and JetPack into flat dicts.

The keys come from the token grammar (:mod:`.grammar`, whose module doc lists every
token shape and the keys it gives, units in the names).  Every result also has
``unparsed``: the tokens that fit no shape (empty for every line of the real corpus).  :func:`parse_line` never raises (a stop
signal's :class:`~layer_stats.errors.Interrupted` is no error and passes).
Values are ints, except temperatures (float or None), ``timestamp`` and
``*_state`` (str).  Key order follows the line for the first line of each
layout; do not rely on it.

Hostile text: a UTF-8 byte order mark and NUL bytes (a log zero-filled after a
power cut) are dropped, bytes that are not UTF-8 become U+FFFD (and their
token ``unparsed``), CR/LF line ends are ignored.  Time is linear in the
length of the line, whatever it holds (1 MB of garbage, 100,000 tokens, one
rail repeated 100,000 times).

Speed: a log repeats one layout (the same tokens, other numbers) line after
line.  After the grammar has read a line, :class:`LineParser` compiles that
layout into one anchored pattern in which every number is a group and all
other text is literal; later lines with the layout are read by a single match.
A number whose value is not simply its text (an ``off`` core, -256C, a size in
GB) stays literal in the layout, so the fast path always gives exactly what the
grammar gives.
"""
import io
import re

from .grammar import read_tokens

__all__ = ["parse_line", "parse_file", "iter_lines", "open_log", "is_tegrastats", "LineParser", "column_order"]

# How a compiled layout reads a value back from its text.  A value becomes a
# group of the layout only if ``_value_of(text)`` gives it exactly (same type),
# so the fast path cannot disagree with the grammar.
_VALUE_TEXT = (
    (re.compile(r"[0-9]+\Z"), r"([0-9]+)"),
    (re.compile(r"[0-9]+(?:\.[0-9]+)?C\Z"), r"([0-9]+(?:\.[0-9]+)?C)"),
    (re.compile(r"[0-9]{2}-[0-9]{2}-[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2}\Z"),
     r"([0-9]{2}-[0-9]{2}-[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2})"),
)


def _value_of(text):
    """A layout group's text as its value: ``45.5C`` -> 45.5, timestamp -> str, else int."""
    if text[-1] == "C":
        return float(text[:-1])
    if ":" in text:
        return text
    return int(text)


# text -> value for layout groups: tegrastats repeats its values, so each
# distinct text is converted once.  Emptied past _VALUES_LIMIT entries.
_VALUES = {}
_VALUES_LIMIT = 200000


def _values(texts):
    """The values of a layout's group texts, converted through ``_VALUES``."""
    try:
        return list(map(_VALUES.__getitem__, texts))
    except KeyError:
        if len(_VALUES) > _VALUES_LIMIT:
            _VALUES.clear()
        for text in texts:
            if text not in _VALUES:
                _VALUES[text] = _value_of(text)
        return list(map(_VALUES.__getitem__, texts))


def _group_pattern(value, text):
    """The layout pattern for ``text`` if it gives ``value`` back exactly, else None."""
    for check, pattern in _VALUE_TEXT:
        if check.match(text):
            back = _value_of(text)
            return pattern if type(back) is type(value) and back == value else None
    return None


class _Layout(object):
    """One compiled line layout: an anchored pattern, the key of each group (in
    line order), keys that repeat another key's value, and constant values."""

    __slots__ = ("match", "keys", "aliases", "template")

    def __init__(self, pattern, keys, aliases, constants, order):
        self.match = re.compile(pattern).match
        self.keys = keys
        self.aliases = aliases
        # Every key in line order, constants filled in: each line copies this.
        self.template = dict.fromkeys(order)
        self.template.update(constants)
        self.template["unparsed"] = None

    def read(self, line):
        """The parsed dict for ``line``, or None if the line has another layout."""
        m = self.match(line)
        if m is None:
            return None
        out = self.template.copy()
        out.update(zip(self.keys, _values(m.groups())))
        for key, same in self.aliases:
            out[key] = out[same]
        out["unparsed"] = []
        return out


def _compile_layout(line, fields):
    """The :class:`_Layout` of a fully parsed line (see the module doc), or None."""
    spans = {}
    constants = {}
    for key, value, start, end in fields.items:
        pattern = None if start is None else _group_pattern(value, line[start:end])
        if pattern is None:
            constants[key] = value
        else:
            spans.setdefault((start, end), (pattern, []))[1].append(key)
    if not spans:
        return None
    pieces, keys, aliases, pos = [], [], [], 0
    for (start, end), (pattern, span_keys) in sorted(spans.items()):
        if start < pos:
            return None  # overlapping spans: leave this layout to the grammar
        pieces.append(re.escape(line[pos:start]))
        pieces.append(pattern)
        pos = end
        keys.append(span_keys[0])
        aliases.extend((key, span_keys[0]) for key in span_keys[1:])
    pieces.append(re.escape(line[pos:]))
    pieces.append(r"\s*\Z")
    return _Layout("".join(pieces), keys, aliases, constants, [item[0] for item in fields.items])


#: Lines longer than this (chars) are read by the grammar only: no real line
#: comes near it (the corpus's longest is 562), and compiling a pattern for a
#: huge line would cost more than it saves.
LAYOUT_MAX_CHARS = 4096


def _clean(line):
    """``line`` as text without a byte order mark or NUL bytes (see the module doc)."""
    if type(line) is not str:
        line = line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line or "")
    if line[:1] == "\ufeff":
        line = line[1:]
    if "\x00" in line:
        line = line.replace("\x00", "")
    return line


class LineParser(object):
    """Parses lines with the grammar, reusing compiled layouts of earlier lines.

    ``max_layouts`` bounds the layouts kept (most recently used first).  One
    instance is not meant to be shared between threads.
    """

    def __init__(self, max_layouts=16):
        self.max_layouts = max_layouts
        self._layouts = []

    def parse(self, line):
        """See :func:`parse_line`."""
        try:
            line = _clean(line)
            layouts = self._layouts
            if layouts:
                out = layouts[0].read(line)
                if out is not None:
                    return out
            for i, layout in enumerate(layouts[1:], 1):
                out = layout.read(line)
                if out is not None:
                    if i:
                        layouts.insert(0, layouts.pop(i))
                    return out
            return self._parse_slow(line.rstrip())
        except Exception as exc:  # "never raises"; Interrupted and KeyboardInterrupt are not Exceptions
            return {"unparsed": ["<parser error: {}>".format(type(exc).__name__)]}

    def _parse_slow(self, line):
        fields, unparsed = read_tokens(line)
        out = {key: value for key, value, _, _ in fields.items}
        out["unparsed"] = unparsed
        if fields.items and not unparsed and len(line) <= LAYOUT_MAX_CHARS:
            layout = _compile_layout(line, fields)
            if layout is not None:
                self._layouts.insert(0, layout)
                del self._layouts[self.max_layouts:]
        return out


_default = LineParser()

#: Fields one of which every tegrastats format prints (memory, CPU cores, power).
_CORE_FIELDS = ("RAM_used_MB", "CPU0_util_pct")


def is_tegrastats(parsed):
    """True if ``parsed`` (a :func:`parse_line` result) is a tegrastats line: it has
    RAM, the CPU cores or a power rail, and more fields than unparsed tokens (so
    text that happens to hold ``A 1/2`` is not one)."""
    fields = len(parsed) - 1 if "unparsed" in parsed else len(parsed)
    if fields <= len(parsed.get("unparsed") or ()):
        return False
    return any(key in parsed for key in _CORE_FIELDS) or any(key.endswith("_mW") for key in parsed)


def parse_line(line):
    """Parse one tegrastats line into a flat dict (keys: see the module doc).

    Never raises: ``None``, bytes that are not UTF-8, garbage and truncated
    lines all give a dict whose ``unparsed`` list holds what could not be read.
    """
    return _default.parse(line)


def open_log(path):
    """``path`` opened as text: UTF-8 with a byte order mark dropped, undecodable bytes
    as U+FFFD, CR, LF and CRLF all ending a line."""
    return io.open(path, "r", encoding="utf-8-sig", errors="replace", newline=None)


def iter_lines(path):
    """Yield the lines of a log file without their newline (see :func:`open_log`)."""
    with open_log(path) as handle:
        for line in handle:
            yield line.rstrip("\r\n")


def parse_file(path):
    """Yield :func:`parse_line` for every line of ``path`` (blank lines included)."""
    parse = LineParser().parse
    with open_log(path) as handle:
        for line in handle:  # a layout's pattern allows the trailing newline
            yield parse(line)


_COLUMN_RANK = (
    ("timestamp", 0), ("RAM_", 1), ("SWAP_", 2), ("IRAM_", 3), ("CPU", 4), ("temp_", 7),
)
_CPU_KEY = re.compile(r"CPU(\d+)_")


def column_order(keys):
    """Sort parsed keys for tables: time, memory, CPU cores by index, engines,
    temperatures, rails, ``unparsed``; otherwise in the order given."""
    keys = list(keys)
    first = {key: i for i, key in reversed(list(enumerate(keys)))}

    def rank(key):
        if key == "unparsed":
            return (9, 0, 0)
        cpu = _CPU_KEY.match(key)
        if cpu:
            return (4, int(cpu.group(1)), first[key])
        if key.endswith("_mW"):
            return (8, 0, first[key])
        for prefix, value in _COLUMN_RANK:
            if key.startswith(prefix):
                return (value, 0, first[key])
        return (5, 0, first[key])

    return sorted(set(keys), key=rank)
