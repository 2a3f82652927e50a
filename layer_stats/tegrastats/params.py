"""tegrastats parameter names (``--tgr_params``): raw or friendly, checked per board.

A parameter is one of: a power rail (``VDD_IN``, or its friendly name ``IN
Power``), a temperature sensor (``BCPU``, ``CPU Temperature``), ``RAM``,
``SWAP``, ``IRAM``, ``CPU`` (every core's load and clock) or an engine
(``EMC_FREQ``, ``GR3D_FREQ``...).  Where a raw name is both a rail and a
sensor (AGX Xavier's ``GPU`` and ``CPU``) it means the rail; ask for the sensor
by its friendly name (``GPU Temperature``).
"""
from collections import namedtuple

from ..cli import split_list
from ..errors import DnnStatsError
from .boards import BOARDS, all_rails

__all__ = ["Param", "valid_params", "resolve_params", "param_keys", "role_rail"]

#: ``name``: as the user wrote it; ``kind``: rail, temp, memory, cpu or engine;
#: ``raw``: the name tegrastats prints.
Param = namedtuple("Param", "name kind raw")

_MEMORY = ("RAM", "SWAP", "IRAM")


def _table(board):
    """name -> Param for every name valid on ``board`` (raw names first, then friendly)."""
    entry = BOARDS[board]
    table = {}
    for name in _MEMORY:
        table[name] = Param(name, "memory", name)
    table["CPU"] = Param("CPU", "cpu", "CPU")
    for name in entry["engines"]:
        table[name] = Param(name, "engine", name)
    for name in entry["temps"]:
        table[name] = Param(name, "temp", name)
    rails = all_rails(board)
    for name in rails:
        table[name] = Param(name, "rail", name)
    for friendly, raw in entry["friendly"].items():
        kind = "temp" if "Temperature" in friendly or "sensor" in friendly else "rail"
        if kind == "rail" and raw not in rails:
            continue
        table[friendly] = Param(friendly, kind, raw)
    return table


def valid_params(board):
    """Every parameter name accepted on ``board``, raw names first, sorted within each."""
    table = _table(board)
    raw = sorted(name for name, p in table.items() if name == p.raw)
    friendly = sorted(name for name, p in table.items() if name != p.raw)
    return raw + friendly


def resolve_params(board, names):
    """Params for ``names`` (a list, or one comma-separated string) on ``board``.

    Raises DnnStatsError naming the unknown parameter and listing the valid ones.
    """
    names = split_list(names, spaces=False)
    table = _table(board)
    out = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        param = table.get(name)
        if param is None:
            raise DnnStatsError("unknown tegrastats parameter {!r} for {} ({}): use one of {}".format(
                name, board, BOARDS[board]["name"], ", ".join(valid_params(board))))
        if param not in out:
            out.append(param)
    return out


def param_keys(param, sample):
    """The keys of a parsed ``sample`` that hold ``param``'s values (may be empty).

    Temperature names are matched without regard to case, since JetPack 5
    prints ``CPU@`` where JetPack 6 prints ``cpu@``.
    """
    if param.kind == "rail":
        key = param.raw + "_mW"
        return [key] if key in sample else []
    if param.kind == "temp":
        want = "temp_" + param.raw.lower() + "_c"
        return [key for key in sample if key.lower() == want]
    if param.kind == "memory":
        return [key for key in (param.raw + "_used_MB", param.raw + "_used_kB") if key in sample]
    if param.kind == "cpu":
        return [key for key in sample if key.startswith("CPU") and key.endswith(("_util_pct", "_freq_MHz"))]
    prefix = param.raw + "_"
    return [key for key in sample if key.startswith(prefix) and key.endswith(("_util_pct", "_freq_MHz"))]


def role_rail(board, role, sample=None):
    """The rail measuring ``role`` (cpu, gpu, soc, total) on ``board``, or None.

    With ``sample``, the first candidate present in it; otherwise the first
    candidate.  ``total`` is None on boards without an input rail.
    """
    candidates = BOARDS[board]["roles"].get(role) or ()
    for rail in candidates:
        if sample is None or rail + "_mW" in sample:
            return rail
    return None
