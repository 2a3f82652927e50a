"""Raw layer-wise files: JSON lines, one layer per line, written atomically.

Every line carries ``format_version`` (:data:`FORMAT_VERSION`); readers accept
every version up to it.  Format history:

- 1: first version.

Latency line: ``format_version``, ``network``, ``image``, ``device`` (cpu/cuda),
``layer`` (int index, or ``"model"`` for the whole model timed the same way),
``name`` (the units the layer holds), ``batch_size``, ``input_shape``,
``warmup`` (runs not kept), ``samples_s`` (every timed run, s).

Power line: ``format_version``, ``network``, ``image``, ``device``, ``layer``,
``name``, ``batch_size``, ``params`` ({parameter: [tegrastats keys]}),
``t_start``/``t_end`` (monotonic s, the loop's start and end), ``boundary_s``,
``duration_s``, ``iterations`` (calls of the layer in the window),
``samples`` ([{``t``, ``boundary``, ``values``}], the whole window plus the
first sample after it), ``idle`` ({``t_start``, ``t_end``, ``n``, ``lead_s``,
``values``: {key: mean}}, the baseline taken before the network, after an
unmeasured lead), ``settle_s`` and
``settled`` (the wait for power to return near idle after the layer).

The generator imports this module on the board: it needs the standard library only
(no pandas or numpy; tests/test_measurement_path.py runs it with both unimportable).
"""
import json

from .. import errors
from ..fsutil import AtomicFile
from ..stats import is_number

__all__ = ["FORMAT_VERSION", "RawFileError", "write_lines", "read_lines", "line_problem",
           "check_file", "RUN_SETTINGS"]

#: Keys whose value must be the same on every line a run adds to a dataset: a
#: resumed run with other settings must not mix its lines with these.
RUN_SETTINGS = ("device", "granularity", "batch_size", "board")
#: The label of a value a run could not know (as ``runmeta.UNAVAILABLE``).
UNKNOWN = "unavailable"

FORMAT_VERSION = 1


class RawFileError(errors.RawFileError):
    """A layer-wise raw file that cannot be read (corrupt, truncated, or from a newer version)."""


def write_lines(path, records):
    """Write ``records`` (dicts) as JSON lines to ``path`` atomically."""
    with AtomicFile(path) as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=False, separators=(",", ":")))
            handle.write("\n")


_LABELS = ("network", "image", "device", "name", "telemetry", "board", "granularity")


def _no_constant(name):
    raise ValueError("{} is not a number JSON allows".format(name))


def _is_text_list(value):
    return isinstance(value, list) and value and all(isinstance(v, str) for v in value)


def _latency_problem(record):
    samples = record.get("samples_s")
    if not isinstance(samples, list) or not samples:
        return "samples_s is not a non-empty list"
    if not all(is_number(v) and v >= 0 for v in samples):
        return "samples_s holds a value that is not a duration in s"
    return None


def _sample_problem(sample):
    if not isinstance(sample, dict) or not is_number(sample.get("t")) or not isinstance(sample.get("values"), dict):
        return "a sample is not {t: number, values: {...}}"
    for key, value in sample["values"].items():
        if key.endswith("_mW") and value is not None and not is_number(value):
            return "a sample's {} is {!r}, not a power in mW".format(key, value)
    return None


def _power_problem(record):
    params = record.get("params")
    if not isinstance(params, dict) or not params or not all(_is_text_list(v) for v in params.values()):
        return "params is not {parameter: [tegrastats keys]}"
    for key in ("t_start", "t_end", "boundary_s"):
        if not is_number(record.get(key)):
            return "{} is not a number".format(key)
    if record["t_end"] < record["t_start"] or record["boundary_s"] < 0:
        return "the window's times are out of order"
    samples = record.get("samples")
    if not isinstance(samples, list):
        return "samples is not a list"
    for sample in samples:
        problem = _sample_problem(sample)
        if problem:
            return problem
    idle = record.get("idle")
    if idle is not None and not (isinstance(idle, dict) and isinstance(idle.get("values", {}), dict)):
        return "idle is not {..., values: {...}}"
    return None


def line_problem(record, kind=None):
    """What is wrong with one raw ``record`` of ``kind`` (power/latency, None: either), or None.

    Checks the version, the layer index and, per kind, the types of every field
    post-processing reads (numbers must be finite).
    """
    if not isinstance(record, dict):
        return "not a JSON object"
    version = record.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        return "format_version {!r} is not one this version reads (<= {}): update the tool".format(
            version, FORMAT_VERSION)
    layer = record.get("layer")
    if not ((isinstance(layer, int) and not isinstance(layer, bool) and layer >= 0) or layer == "model"):
        return "layer {!r} is not an index or \"model\"".format(layer)
    for key in _LABELS:
        if key in record and not isinstance(record[key], str):
            return "{} {!r} is not text".format(key, record[key])
    kind = kind or ("power" if "params" in record else "latency")
    return _power_problem(record) if kind == "power" else _latency_problem(record)


def read_lines(path, kind=None):
    """The records of a raw file of ``kind`` (power/latency; None: told by each line);
    raises RawFileError naming the file, the line and what is wrong (see :func:`line_problem`)."""
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError, UnicodeDecodeError) as exc:
        raise RawFileError("{}: cannot read ({})".format(path, exc))
    if not lines:
        raise RawFileError("{}: empty file".format(path))
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line, parse_constant=_no_constant)
        except ValueError as exc:
            raise RawFileError("{} line {}: not JSON ({})".format(path, number, exc))
        problem = line_problem(record, kind)
        if problem:
            raise RawFileError("{} line {}: {}".format(path, number, problem))
        records.append(record)
    return records


def check_file(path, kind, expect=None):
    """``(state, why)`` of the raw file at ``path``: ``("ok", None)`` for a finished file of
    ``kind``; ``("corrupt", why)`` when it does not read cleanly or its layers are not
    0..n-1 in order (a latency file then its ``"model"`` line); ``("mismatch", why)``
    when a line's value differs from ``expect`` ({key: value}, e.g. granularity; a line
    whose value is ``"unavailable"``, a board a latency-only run could not tell, matches).
    """
    try:
        records = read_lines(path, kind)
    except RawFileError as exc:
        return "corrupt", str(exc)
    layers = [r["layer"] for r in records]
    want = list(range(len(layers) - 1)) + ["model"] if kind == "latency" else list(range(len(layers)))
    if layers != want:
        return "corrupt", "{}: layers {} are not 0..n-1{}".format(
            path, layers[:6], " then model" if kind == "latency" else "")
    for key, value in (expect or {}).items():
        seen = {r.get(key) for r in records if key in r} - {UNKNOWN}
        if seen and seen != {value}:
            return "mismatch", "{}: {} {} where this run asks {!r}".format(
                path, key, ", ".join(sorted(repr(v) for v in seen)), value)
    return "ok", None
