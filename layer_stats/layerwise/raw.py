"""Raw layer-wise files: JSON lines, one layer per line, written atomically.

Every line carries ``format_version`` (:data:`FORMAT_VERSION`); readers accept
every version up to it.  Format history:

- 1: first version.
- 2: a power line says where its rails came from: ``power_sampler`` (``tegrastats`` or
  ``ina``); an ``ina`` line adds ``power_rate_hz`` and ``power_samples`` (the power
  monitors' readings) and its ``idle`` adds ``power_n``.  A version-1 power line has no
  ``power_sampler``: its rails came from tegrastats lines, and it reads as ``tegrastats``
  (:func:`run_setting`).
- 3: adaptive measurement (``--tgr_ci``, ``--lt_ci``).  Every line says how it stopped: ``stop``
  (``ci``: the mean's 95% interval reached +-``ci_target``; ``max``: the maximum
  (``--tgr_smpl_duration``, ``--lt_smpl_count``) came first; ``fixed``: a run without a target),
  ``ci_rel`` (the achieved relative half-width of the mean over the span averaged, the worst rail
  of a power line; null where it cannot be computed, and on ``fixed`` lines) and ``ci_target``
  (the target, null on ``fixed`` lines).  An adaptive power line adds ``core_start`` and
  ``core_end`` (monotonic s): its averaged samples are those stamped in ``(core_start, core_end]``
  (no trailing boundary; ``core_end`` is the newest stamp the stopping rule had judged when it
  stopped, at most ``t_end``, where the loop ended; ``t_end`` itself on a ``max`` line; a line
  without ``core_end`` averages up to ``t_end``); its ``boundary_s`` is the lead that never
  counts (:data:`~layer_stats.measure.adaptive.AUTO_LEAD_S` with ``--tgr_smpl_boundary auto``,
  whose ``core_start`` is then the MSER-5 point).  Lines before version 3 (and any line without ``stop``) read as ``fixed``.

Latency line: ``format_version``, ``network``, ``image``, ``device`` (cpu/cuda),
``layer`` (int index, or ``"model"`` for the whole model timed the same way),
``name`` (the units the layer holds), ``batch_size``, ``granularity`` (block/fine),
``telemetry`` (the run's telemetry source: tegrastats, simulated, replay; None without
one), ``board`` (``"unavailable"`` where the run could not tell), ``input_shape``,
``warmup`` (runs not kept), ``samples_s`` (every timed run, s).

Power line: ``format_version``, ``network``, ``image``, ``device``, ``layer``,
``name``, ``batch_size``, ``granularity``, ``telemetry``, ``board``, ``params``
({parameter: [keys]}: the tegrastats keys, units in their names; a rail the power
sampler reads has the same key, ``{RAIL}_mW``), ``t_start``/``t_end`` (monotonic s,
the loop's start and end), ``boundary_s``, ``duration_s``, ``iterations`` (calls of
the layer in the window), ``samples`` ([{``t`` (s, when the line arrived),
``boundary``, ``values``: {key: value}}]: the tegrastats lines of the whole window
plus the first one after it, holding the keys tegrastats serves; ``[]`` where the
power sampler serves every parameter), ``power_sampler`` (version 2: ``tegrastats``,
the rails are in ``samples``, or ``ina``, they are in ``power_samples``), ``idle``
({``t_start``, ``t_end``, ``n`` (tegrastats samples), ``lead_s``, ``values``: {key:
mean}}, the baseline taken before the network, after an unmeasured lead; ``ina``
lines add ``power_n``, the readings it averages), ``settle_s`` and ``settled`` (the
wait for power to return near idle after the layer).  An ``ina`` line also has
``power_rate_hz`` (readings/s the sampler was set to) and ``power_samples``
([{``t`` (s, monotonic, when the monitor was read), ``values``: {``{RAIL}_mW``:
mW}}]: every fresh reading stamped in ``[t_start, t_end]``, oldest first; each
holds the same keys: the ``_mW`` keys of ``params``, every rail the run names).

The generator imports this module on the board: it needs the standard library only
(no pandas or numpy; tests/test_measurement_path.py runs it with both unimportable).
"""
import json

from .. import errors
from ..fsutil import AtomicFile
from ..stats import is_number

__all__ = ["FORMAT_VERSION", "RawFileError", "write_lines", "read_lines", "line_problem", "core_span",
           "check_file", "run_setting", "rail_keys", "RUN_SETTINGS", "POWER_SAMPLERS", "STOPS", "stop_of"]

#: Keys whose value must be the same on every line a run adds to a dataset: a
#: resumed run with other settings must not mix its lines with these
#: (``power_sampler``: power lines only, see :func:`run_setting`).
RUN_SETTINGS = ("device", "granularity", "batch_size", "board", "power_sampler")
#: The label of a value a run could not know (as ``runmeta.UNAVAILABLE``).
UNKNOWN = "unavailable"
#: Where a power line's rails came from (``power_sampler``).
POWER_SAMPLERS = ("tegrastats", "ina")

#: Format history: see the module doc.
FORMAT_VERSION = 3
#: How a version-3 line stopped (``stop``).
STOPS = ("ci", "max", "fixed")


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


def _stop_problem(record):
    """What is wrong with a line's ``stop``, ``ci_rel``, ``ci_target`` (version 3; absent before)."""
    if "stop" not in record:  # before version 3, or a line written without a stop: fixed
        return None
    stop, rel, target = record.get("stop"), record.get("ci_rel"), record.get("ci_target")
    if stop not in STOPS:
        return "stop {!r} is not one of {}".format(stop, ", ".join(STOPS))
    if rel is not None and not (is_number(rel) and rel >= 0):
        return "ci_rel {!r} is not a relative half-width (a number >= 0, or null)".format(rel)
    if (target is None) != (stop == "fixed") or (target is not None and not (is_number(target) and 0 < target < 1)):
        return "ci_target {!r} does not fit stop {!r} (a number in (0, 1) unless fixed, null then)".format(target, stop)
    return None


def _core_problem(record):
    """What is wrong with a power line's ``core_start`` / ``core_end`` (adaptive lines only)."""
    if "core_start" not in record:
        return None
    core, end = record["core_start"], record.get("core_end", record["t_end"])
    if not is_number(core) or not record["t_start"] <= core <= record["t_end"]:
        return "core_start {!r} is not a time within [t_start, t_end]".format(core)
    if not is_number(end) or not core <= end <= record["t_end"]:
        return "core_end {!r} is not a time within [core_start, t_end]".format(end)
    return None


def core_span(record):
    """``(low, high)``, monotonic s: a power line averages the samples stamped in ``(low, high]``:
    ``(core_start, core_end]`` of an adaptive (version-3) line (``core_end`` defaults to
    ``t_end``), else the fixed window's core ``(t_start + boundary_s, t_end - boundary_s]``."""
    if "core_start" in record:
        return record["core_start"], record.get("core_end", record["t_end"])
    return record["t_start"] + record["boundary_s"], record["t_end"] - record["boundary_s"]


def stop_of(record):
    """How a line stopped: its ``stop``, or ``fixed`` for a line before version 3."""
    return record.get("stop", "fixed")


def _latency_problem(record):
    problem = _stop_problem(record)
    if problem:
        return problem
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


def rail_keys(record):
    """The ``_mW`` keys of a power line's ``params``: on an ``ina`` line, the ones the power
    sampler served (it reads every rail a run names), found in ``power_samples``."""
    return {key for names in record["params"].values() for key in names if key.endswith("_mW")}


def _rails_problem(keys, record):
    """What is wrong with the keys of ``power_samples[0]``: they must be the line's rails."""
    for key in keys:
        if not key.endswith("_mW"):
            return "power_samples key {!r} is not a rail's power (a name ending _mW)".format(key)
    rails = rail_keys(record)
    if set(keys) != rails:
        return "power_samples[0] holds {}, not the rails of params ({})".format(
            ", ".join(sorted(str(k) for k in keys)) or "nothing", ", ".join(sorted(rails)) or "none")
    return None


def _readings_problem(record):
    """What is wrong with an ``ina`` line's ``power_rate_hz``, ``power_samples`` and ``idle.power_n``."""
    rate = record.get("power_rate_hz")
    if not is_number(rate) or rate <= 0:
        return "power_rate_hz {!r} is not a rate in readings/s".format(rate)
    readings = record.get("power_samples")
    if not isinstance(readings, list):
        return "power_samples is not a list"
    keys = None
    for index, reading in enumerate(readings):
        if not (isinstance(reading, dict) and is_number(reading.get("t")) and isinstance(reading.get("values"), dict)):
            return "power_samples[{}] is not {{t: number, values: {{key: mW}}}}".format(index)
        values = reading["values"]
        if keys is None:
            keys = values.keys()
            problem = _rails_problem(keys, record)
            if problem:
                return problem
        elif values.keys() != keys:
            return "power_samples[{}] holds other keys than power_samples[0]".format(index)
        for key, value in values.items():
            if not is_number(value):
                return "power_samples[{}] {} is {!r}, not a power in mW".format(index, key, value)
    power_n = record["idle"].get("power_n")
    if not isinstance(power_n, int) or isinstance(power_n, bool) or power_n < 0:
        return "idle power_n {!r} is not a count of readings".format(power_n)
    return None


def _sampler_problem(record):
    """What is wrong with a power line's ``power_sampler`` (required from version 2) and what it brings."""
    if "power_sampler" not in record:
        return "power_sampler is missing" if record["format_version"] >= 2 else None
    sampler = record["power_sampler"]
    if sampler not in POWER_SAMPLERS:
        return "power_sampler {!r} is not one of {}".format(sampler, ", ".join(POWER_SAMPLERS))
    return _readings_problem(record) if sampler == "ina" else None


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
    if record.get("power_sampler") == "ina" and idle is None:
        return "idle is missing"
    return _stop_problem(record) or _core_problem(record) or _sampler_problem(record)


def line_problem(record, kind=None):
    """What is wrong with one raw ``record`` of ``kind`` (power/latency, None: either), or None.

    Checks the version, the layer index, the labels' types, ``batch_size`` (an int >= 1) and,
    per kind, the types of every field post-processing reads (numbers must be finite; a
    reading's keys end ``_mW``).
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
    batch = record.get("batch_size", 1)  # with granularity, names the line's features file (features.py)
    if not (isinstance(batch, int) and not isinstance(batch, bool) and batch >= 1):
        return "batch_size {!r} is not a count of images".format(batch)
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


def run_setting(record, key):
    """A line's value of ``key`` (one of :data:`RUN_SETTINGS`), or None where it has none.

    A power line without ``power_sampler`` (version 1) reads as ``tegrastats``: before
    version 2 every rail came from tegrastats lines.  A latency line has no power sampler.
    """
    if key not in record and key == "power_sampler" and "params" in record:
        return "tegrastats"
    return record.get(key)


def check_file(path, kind, expect=None):
    """``(state, why)`` of the raw file at ``path``: ``("ok", None)`` for a finished file of
    ``kind``; ``("corrupt", why)`` when it does not read cleanly or its layers are not
    0..n-1 in order (a latency file then its ``"model"`` line); ``("mismatch", why)``
    when a line's value (:func:`run_setting`) differs from ``expect`` ({key: value}, e.g.
    granularity; a line without the key, or whose value is null or ``"unavailable"``, a
    board a latency-only run could not tell, matches; but ``ci_target``, the adaptive
    target, must be the same, null (a fixed window, every line before version 3) included).
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
        if key == "ci_target":  # null is a setting here: a fixed window (every line before version 3)
            seen = {r.get(key) for r in records}
            if seen != {value}:
                flag = "--tgr_ci" if kind == "power" else "--lt_ci"
                return "mismatch", "{}: measured with {} {} where this run asks {}".format(
                    path, flag, ", ".join(sorted("none" if v is None else "{:g}".format(v) for v in seen)),
                    "none" if value is None else "{:g}".format(value))
            continue
        seen = {run_setting(r, key) for r in records} - {UNKNOWN, None}
        if seen and seen != {value}:
            return "mismatch", "{}: {} {} where this run asks {!r}".format(
                path, key, ", ".join(sorted(repr(v) for v in seen)), value)
    return "ok", None
