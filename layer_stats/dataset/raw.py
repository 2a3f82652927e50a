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
"""
import json

from ..errors import DnnStatsError
from ..fsutil import AtomicFile

__all__ = ["FORMAT_VERSION", "RawFileError", "write_lines", "read_lines", "in_core"]

FORMAT_VERSION = 1


def in_core(t, t_start, t_end, boundary_s):
    """True when a sample stamped ``t`` lies in a power window's measured core,
    ``(t_start + boundary_s, t_end - boundary_s]`` (all monotonic s)."""
    return t_start + boundary_s < t <= t_end - boundary_s


class RawFileError(DnnStatsError):
    """A raw file that cannot be read (corrupt, truncated, or from a newer version)."""


def write_lines(path, records):
    """Write ``records`` (dicts) as JSON lines to ``path`` atomically."""
    with AtomicFile(path) as handle:
        for record in records:
            handle.write(json.dumps(record, sort_keys=False, separators=(",", ":")))
            handle.write("\n")


def read_lines(path, required=("layer",)):
    """The records of a raw file; raises RawFileError naming the file and line."""
    records = []
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError, UnicodeDecodeError) as exc:
        raise RawFileError("{}: cannot read ({})".format(path, exc))
    if not lines:
        raise RawFileError("{}: empty file".format(path))
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise RawFileError("{} line {}: not JSON ({})".format(path, number, exc))
        if not isinstance(record, dict):
            raise RawFileError("{} line {}: not a JSON object".format(path, number))
        version = record.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RawFileError("{} line {}: format_version {!r} is not one this version reads (<= {}): "
                               "update the tool".format(path, number, version, FORMAT_VERSION))
        missing = [key for key in required if key not in record]
        if missing:
            raise RawFileError("{} line {}: missing {}".format(path, number, ", ".join(missing)))
        records.append(record)
    return records
