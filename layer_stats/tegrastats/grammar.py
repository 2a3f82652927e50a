"""The tegrastats token grammar: one line of any board and JetPack, read token by token.

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

Tokens that fit no shape are returned apart (``unparsed``).  Time is linear in the
length of the line, whatever it holds.
"""
import re

__all__ = ["read_tokens", "Fields"]

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


class Fields(object):
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


def read_tokens(line):
    """The grammar (slow path): ``(fields, unparsed)`` for one stripped line.

    Linear in ``len(line)``: every attempt starts at a token boundary, and a
    token that fits no shape is skipped whole (one regex step, not a Python
    loop over its characters).
    """
    fields, unparsed = Fields(), []
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
