"""Parse tegrastats lines from every Jetson board and JetPack into flat dicts.

One generic token grammar covers all formats (JetPack 3 to 7, TX1 to Thor,
with or without root); nothing here is specific to a board.  A line is read
left to right, one token at a time, by a single compiled pattern whose
alternatives are the token *shapes* tegrastats prints:

========================  ==========================================================
shape                     keys produced (units in the name)
========================  ==========================================================
``MM-DD-YYYY HH:MM:SS``   ``timestamp`` (the text as printed)
``RAM u/tMB (lfb NxS)``   ``RAM_used_MB``, ``RAM_total_MB``, ``RAM_lfb_blocks``,
                          ``RAM_lfb_block_kB`` (largest free block: count x size)
``SWAP u/tMB (cached c)`` ``SWAP_used_MB``, ``SWAP_total_MB``, ``SWAP_cached_MB``
``IRAM u/tkB(lfb s)``     ``IRAM_used_kB``, ``IRAM_total_kB``, ``IRAM_lfb_kB``
``CPU [u%@f,off,..]``     ``CPU{i}_util_pct``, ``CPU{i}_freq_MHz`` (None when off)
``cpu [u%,..]@f``         the same, every core at the shared frequency ``f``
``NAME u%@f`` and kin     ``{NAME}_util_pct``, ``{NAME}_freq_MHz``; ``@[f,g]`` also
                          gives ``{NAME}_gpc{j}_freq_MHz``; ``NAME off`` gives
                          ``{NAME}_state = "off"``; a bare ``NAME f`` is a clock
``MTS fg a% bg b%``       ``MTS_fg_pct``, ``MTS_bg_pct``
``EDP limit f``           ``EDP_limit_MHz``
``name@tC``, ``@t/mC``    ``temp_{name}_C`` (None for -256C: sensor absent),
                          ``temp_{name}_max_C`` (JetPack 7)
``RAIL c/a[/m]``          ``{RAIL}_mW``, ``{RAIL}_avg_mW``, ``{RAIL}_max_mW``; unit-less
                          values (JetPack 4 and older) are mW; a rail name seen
                          again in the same line becomes ``{RAIL}_2``, ``_3``...
========================  ==========================================================

Every result also has ``unparsed``: the tokens that fit no shape (empty for
every line of the real corpus).  :func:`parse_line` never raises (a stop
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

__all__ = ["parse_line", "parse_file", "iter_lines", "open_log", "is_tegrastats", "LineParser", "column_order"]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<ts>\d\d-\d\d-\d{4}\s+\d\d:\d\d:\d\d)
    | (?P<mem>RAM|SWAP|IRAM)\s+(?P<mem_used>\d+)/(?P<mem_total>\d+)(?P<mem_unit>[kMG]B)
        (?:\s*\((?P<mem_kind>lfb|cached)\s+(?:(?P<mem_n>\d+)x)?(?P<mem_size>\d+)(?P<mem_size_unit>[kMG]B)\))?
    | (?P<cpu>CPU|cpu)\s+\[(?P<cores>[^\]\s]*)\](?:@(?P<cpu_freq>\d+))?
    | MTS\s+fg\s+(?P<mts_fg>\d+)%\s+bg\s+(?P<mts_bg>\d+)%
    | EDP\s+limit\s+(?P<edp>\d+)
    | (?P<temp>[^\s@]+)@(?P<temp_cur>-?\d+(?:\.\d+)?C)(?:/(?P<temp_max>-?\d+(?:\.\d+)?C))?
    | (?P<rail>[A-Za-z]\w*)\s+(?P<rail_cur>\d+)(?:mW)?/(?P<rail_avg>\d+)(?:mW)?(?:/(?P<rail_max>\d+)(?:mW)?)?
    | (?P<eng>[A-Za-z]\w*)\s+(?:
          (?P<eng_off>off)
        | (?P<eng_util>\d+)%(?:@(?P<eng_freq>\d+|\[[\d,]*\]))?
        | @(?P<eng_at>\d+|\[[\d,]*\])
        | (?P<eng_bare>\d+))
    )(?=\s|$)""",
    re.X,
)
_CORE = re.compile(r"(?:(off)|(\d+)%(?:@(\d+))?)(?:,|$)")
_CLOCK = re.compile(r"(\d+)")
_SIZE_KB = {"kB": 1, "MB": 1024, "GB": 1024 * 1024}
_ABSENT_C = -256.0


def _celsius(text):
    """``45.5C`` -> 45.5; ``-256C`` (no sensor) -> None."""
    value = float(text[:-1])
    return None if value == _ABSENT_C else value


def _scaled(text, scale):
    """``int(text) * scale`` as an int when whole (sizes stay integers as printed)."""
    value = int(text) * scale
    return int(value) if value == int(value) else value


class _Fields(object):
    """Values read from one line, each with the span of text it came from.

    ``items`` is a list of ``(key, value, start, end)``; ``start`` is None for a
    value that no single span of text gives.
    """

    __slots__ = ("items", "rails", "_next")

    def __init__(self):
        self.items = []
        self.rails = set()
        self._next = {}  # name -> the next suffix to try: repeats stay linear

    def add(self, key, value, m=None, group=None, offset=0, span=None):
        if span is None and group is not None:
            span = m.span(group)
        if span is None:
            self.items.append((key, value, None, None))
        else:
            self.items.append((key, value, span[0] + offset, span[1] + offset))

    def rail_name(self, name):
        """``NAME``, or ``NAME_2``, ``NAME_3``... when the line printed it before.

        Suffixes already tried are not tried again, so a line repeating one
        rail n times costs O(n), not O(n^2).
        """
        unique = name
        if unique in self.rails:
            n = self._next.get(name, 2)
            unique = "{}_{}".format(name, n)
            while unique in self.rails:
                n += 1
                unique = "{}_{}".format(name, n)
            self._next[name] = n + 1
        self.rails.add(unique)
        return unique


def _clocks(m, group, name, fields):
    """``f`` or ``[f,g,..]`` (MHz): the first clock, and each GPC's for brackets."""
    text, start = m.group(group), m.start(group)
    if text[0] != "[":
        fields.add(name + "_freq_MHz", int(text), m, group)
        return
    clocks = list(_CLOCK.finditer(text))
    if not clocks:
        fields.add(name + "_freq_MHz", None, m, group)
    for j, c in enumerate(clocks):
        if j == 0:
            fields.add(name + "_freq_MHz", int(c.group(1)), span=c.span(1), offset=start)
        fields.add("{}_gpc{}_freq_MHz".format(name, j), int(c.group(1)), span=c.span(1), offset=start)


def _cores(m, fields):
    """Per-core ``u%@f`` / ``u%`` / ``off`` entries; False if one is malformed."""
    text, start = m.group("cores"), m.start("cores")
    pos, cores = 0, []
    while pos < len(text):
        c = _CORE.match(text, pos)
        if c is None:
            return False
        cores.append(c)
        pos = c.end()
    if not cores or text.endswith(","):
        return False
    for i, c in enumerate(cores):
        util_key, freq_key = "CPU{}_util_pct".format(i), "CPU{}_freq_MHz".format(i)
        if c.group(1):
            fields.add(util_key, None, span=c.span(1), offset=start)
            fields.add(freq_key, None, span=c.span(1), offset=start)
            continue
        fields.add(util_key, int(c.group(2)), span=c.span(2), offset=start)
        if c.group(3) is not None:
            fields.add(freq_key, int(c.group(3)), span=c.span(3), offset=start)
        elif m.group("cpu_freq") is not None:
            fields.add(freq_key, int(m.group("cpu_freq")), m, "cpu_freq")
        else:
            fields.add(freq_key, None)
    return True


def _memory(m, fields):
    name = m.group("mem")
    scale_kb = _SIZE_KB[m.group("mem_unit")]
    if name == "IRAM":
        scale, unit = scale_kb, "_kB"
    else:
        scale, unit = scale_kb / 1024.0, "_MB"
    fields.add(name + "_used" + unit, _scaled(m.group("mem_used"), scale), m, "mem_used")
    fields.add(name + "_total" + unit, _scaled(m.group("mem_total"), scale), m, "mem_total")
    kind = m.group("mem_kind")
    if kind is None:
        return
    size_kb = _SIZE_KB[m.group("mem_size_unit")]
    if kind == "cached":
        fields.add(name + "_cached_MB", _scaled(m.group("mem_size"), size_kb / 1024.0), m, "mem_size")
    elif m.group("mem_n") is not None:
        fields.add(name + "_lfb_blocks", int(m.group("mem_n")), m, "mem_n")
        fields.add(name + "_lfb_block_kB", _scaled(m.group("mem_size"), size_kb), m, "mem_size")
    else:
        fields.add(name + "_lfb_kB", _scaled(m.group("mem_size"), size_kb), m, "mem_size")


def _token(m, fields):
    """Add one matched token's values to ``fields``; False if it is malformed."""
    group = m.group
    if group("rail") is not None:
        name = fields.rail_name(group("rail"))
        fields.add(name + "_mW", int(group("rail_cur")), m, "rail_cur")
        fields.add(name + "_avg_mW", int(group("rail_avg")), m, "rail_avg")
        if group("rail_max") is not None:
            fields.add(name + "_max_mW", int(group("rail_max")), m, "rail_max")
    elif group("temp") is not None:
        name = "temp_" + group("temp")
        fields.add(name + "_C", _celsius(group("temp_cur")), m, "temp_cur")
        if group("temp_max") is not None:
            fields.add(name + "_max_C", _celsius(group("temp_max")), m, "temp_max")
    elif group("eng") is not None:
        name = group("eng")
        if group("eng_off") is not None:
            fields.add(name + "_state", "off", m, "eng_off")
        elif group("eng_util") is not None:
            fields.add(name + "_util_pct", int(group("eng_util")), m, "eng_util")
            if group("eng_freq") is not None:
                _clocks(m, "eng_freq", name, fields)
        elif group("eng_at") is not None:
            _clocks(m, "eng_at", name, fields)
        else:
            fields.add(name + "_freq_MHz", int(group("eng_bare")), m, "eng_bare")
    elif group("cpu") is not None:
        return _cores(m, fields)
    elif group("mem") is not None:
        _memory(m, fields)
    elif group("ts") is not None:
        fields.add("timestamp", " ".join(group("ts").split()), m, "ts")
    elif group("mts_fg") is not None:
        fields.add("MTS_fg_pct", int(group("mts_fg")), m, "mts_fg")
        fields.add("MTS_bg_pct", int(group("mts_bg")), m, "mts_bg")
    elif group("edp") is not None:
        fields.add("EDP_limit_MHz", int(group("edp")), m, "edp")
    else:
        return False
    return True


_WORD = re.compile(r"\s*(\S+)")


def _read_tokens(line):
    """The grammar (slow path): ``(fields, unparsed)`` for one stripped line.

    Linear in ``len(line)``: every attempt starts at a token boundary, and a
    token that fits no shape is skipped whole (one regex step, not a Python
    loop over its characters).
    """
    fields, unparsed = _Fields(), []
    pos, end = 0, len(line)
    match, word = _TOKEN.match, _WORD.match
    while pos < end:
        m = match(line, pos)
        if m is not None:
            mark = len(fields.items)
            if _token(m, fields):
                pos = m.end()
                continue
            del fields.items[mark:]
        w = word(line, pos)
        if w is None:  # only blanks left
            break
        unparsed.append(w.group(1))
        pos = w.end()
    return fields, unparsed


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
        fields, unparsed = _read_tokens(line)
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
