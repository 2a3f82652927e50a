"""The multi-DNN raw file format: one JSON object per mapping (no torch).

Raw file (JSON, ``format_version`` :data:`FORMAT_VERSION`; history: 1, first version,
ModelInfo from ptflops (``backend`` ``aten`` or ``pytorch``, FLOPs = 2 x MACs); 2, the
same keys, ModelInfo from :mod:`layer_stats.models.complexity` (``backend``
``fn-count/deepspeed-rules v1``: MACs without bias, FLOPs by DeepSpeed's rules, the
same figures on every torch), so the figures of a version-1 file differ; 3, adds
``power``, the readings of the INA3221/INA238 power monitors (a version-2 file reads
as one whose ``power`` is None); 4, adds ``stop``, ``ci_target``, ``window.max_s`` and
each network's ``ci_rel`` for ``--thr_ci`` (a file before version 4 reads as one with
``stop`` ``fixed``, ``ci_target`` None and no ``ci_rel``)):
``index``, ``class``, ``k``, ``set``, ``file``, ``mapping``, ``samplingDuration``
(s: the window the throughputs are over, the actual one), ``stop`` (how the window
ended: ``ci``, every network's throughput known within ``ci_target``; ``max``, at
``--smpl_duration`` without that; ``fixed``, no ``--thr_ci``), ``ci_target`` (``--thr_ci``,
a fraction in (0, 1), or None), ``Mode``, ``Device`` (the seed's board name), ``board``, ``telemetry``,
``run`` (the run file's name), ``window`` ({``t_start``, ``t_end``, ``settle_s``, ``max_s`` (``--smpl_duration``)}),
``networks`` ({network: {``image``, ``batch_size``, ``passes``, ``throughput_per_s``
(passes/s), ``images_per_s``, ``ci_rel`` (the achieved relative 95 % half-width of
the throughput, see :mod:`.adaptive`; None where fewer passes than it needs),
``stages``: [{``key``, ``device``, ``first_layer``, ``last_layer``,
``infCount``, ``inf_times_s``, ``transfer_times_s``, ``modelinfo``}]}}),
``tegrastats`` ({``interval_ms``, ``params`` (``--tgr_params``; empty: all),
``samples``: [{``t``, ``raw``}]}: every line of the window and the first after
it) or None without ``--eval_tgr``, and ``power``: None where the power rails come
from the tegrastats lines (``--power_sampler tegrastats``, ``auto`` falling back, a
replayed log, no ``--eval_tgr``), else {``sampler`` (``ina``), ``telemetry`` (``ina``:
a board's monitors; ``simulated``), ``rate_hz`` (readings/s asked of the sampler),
``rails`` (the monitors' rail names, ``VDD_IN``...), ``samples``: [{``t`` (monotonic s,
the clock of ``window``), ``values``: {``{rail}_mW``: mW}}]}: every fresh reading
stamped inside the window, oldest first (readings are instantaneous conversions, so
none outside it is needed).  ``window`` times and every ``t`` are rounded to 1 us.

:func:`write_record` writes one atomically; :func:`read_raw` reads one back and
checks it field by field (:func:`check_record`): raw files can be edited, truncated
or written by another tool, so a bad file is named with the field and what is wrong
(``networks.resnet50.stages[0].inf_times_s[3] is NaN, not a finite number >= 0``)
instead of ending in a traceback or putting NaN into an output.  Both raise
:class:`RawFileError`.  :func:`power_sampler_of` says where a record's power came
from.  The generator imports this module on the board: it needs the
standard library only (no pandas or numpy; tests/test_measurement_path.py runs it with both
unimportable).
"""
import io
import json
import math
import re

from layer_stats import errors
from layer_stats.fsutil import atomic_write
from layer_stats.stats import is_number

__all__ = ["FORMAT_VERSION", "MODELINFO_SINCE", "STOP_SINCE", "STOPS", "POWER_SAMPLERS", "RawFileError",
           "write_record", "read_raw", "check_record", "power_sampler_of", "stop_of", "SAFE_NAME"]

#: History in the module doc.
FORMAT_VERSION = 4
#: The first ``format_version`` whose records say how their window stopped.
STOP_SINCE = 4
#: ``stop`` values (:mod:`.adaptive`).
STOPS = ("ci", "max", "fixed")
#: The first ``format_version`` whose ModelInfo is counted as this version counts it.
MODELINFO_SINCE = 2
#: ``power.sampler`` values a file may hold.
POWER_SAMPLERS = ("ina",)
#: ``power.telemetry`` values a file may hold.
_POWER_TELEMETRY = ("ina", "simulated")


class RawFileError(errors.RawFileError):
    """A multi-DNN raw file that cannot be read (corrupt, truncated, or from a newer version)."""

#: A ``Device`` value becomes a folder name: letters, digits, ``_.-``, not ``.``/``..``.
SAFE_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,64}$")
_CLASSES = ("A", "B", "C", "D")


def _show(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Checker(object):
    def __init__(self, path):
        self.path = path

    def fail(self, where, value, wanted):
        raise RawFileError("{}: {} is {}, not {}".format(self.path, where, _show(value), wanted))

    def obj(self, value, where):
        if not isinstance(value, dict):
            self.fail(where, value, "an object")
        return value

    def array(self, value, where, nonempty=False):
        if not isinstance(value, list) or (nonempty and not value):
            self.fail(where, value, "a non-empty list" if nonempty else "a list")
        return value

    def text(self, value, where, pattern=None):
        if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
            self.fail(where, value, "a name of letters, digits, '_.-'" if pattern is not None else "a string")
        return value

    def finite(self, value, where):
        if not is_number(value):
            self.fail(where, value, "a finite number")
        return value

    def number(self, value, where, positive=False):
        ok = is_number(value) and (value > 0 if positive else value >= 0)
        if not ok:
            self.fail(where, value, "a finite number " + ("> 0" if positive else ">= 0"))
        return value

    def integer(self, value, where):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.fail(where, value, "an integer >= 0")
        return value

    def optional(self, record, key, check):
        if record.get(key) is not None:
            check(record[key], key)


def check_record(path, record, mode=None):
    """Raise RawFileError naming ``path`` and the first field the post-processing cannot use;
    ``mode``: the number of the ``Mode{m}`` folder the file was found in (its ``Mode`` must match)."""
    c = _Checker(path)
    c.obj(record, "the file")
    _check_top(c, record, mode)
    mapping = c.obj(record["mapping"], "mapping")
    networks = c.obj(record["networks"], "networks")
    if sorted(mapping) != sorted(networks):
        raise RawFileError("{}: mapping names {} but networks holds {}".format(
            path, ", ".join(sorted(mapping)) or "none", ", ".join(sorted(networks)) or "none"))
    if not networks:
        raise RawFileError("{}: mapping names no network: a sample runs at least one".format(path))
    for network, stages in mapping.items():
        for key, device in c.obj(stages, "mapping." + network).items():
            c.text(device, "mapping.{}.{}".format(network, key))
    for network, result in networks.items():
        _check_network(c, "networks." + network, result)
    _check_stop(c, record)
    _check_tegrastats(c, record.get("tegrastats"))
    _check_power(c, record.get("power"), record.get("window"))


def power_sampler_of(record):
    """Where a (checked) record's power rails came from: its ``power.sampler`` (``ina``),
    ``tegrastats`` (the lines; every file before version 3), or ``none`` (no telemetry)."""
    if record.get("power") is not None:
        return record["power"]["sampler"]
    return "tegrastats" if record.get("tegrastats") is not None else "none"


def stop_of(record):
    """``(stop, ci_target)`` of a (checked) record: ``("fixed", None)`` before version 4."""
    return record.get("stop", "fixed"), record.get("ci_target")


def _check_stop(c, record):
    """From version 4: ``stop`` one of :data:`STOPS`; ``ci_target`` None for ``fixed``, else
    a fraction in (0, 1); each network's ``ci_rel`` None or a number >= 0 (a measured figure:
    the post-processing, not the format, flags one that misses ``ci_target``)."""
    version = record.get("format_version")
    if not isinstance(version, int) or version < STOP_SINCE:
        return
    for key in ("stop", "ci_target"):
        if key not in record:
            raise RawFileError("{}: missing {}".format(c.path, key))
    stop, target = record["stop"], record["ci_target"]
    if stop not in STOPS:
        c.fail("stop", stop, "one of " + ", ".join(STOPS))
    if stop == "fixed" and target is not None:
        c.fail("ci_target", target, "null for a fixed window")
    if stop != "fixed" and not (is_number(target) and 0 < target < 1):
        c.fail("ci_target", target, "a fraction in (0, 1) for a window that stopped on {}".format(stop))
    for network, result in record["networks"].items():
        where = "networks.{}.ci_rel".format(network)
        if "ci_rel" not in result:
            raise RawFileError("{}: networks.{} has no ci_rel".format(c.path, network))
        rel = result["ci_rel"]
        if rel is not None:
            c.number(rel, where)


def _check_top(c, record, mode):
    for key in ("mapping", "networks", "samplingDuration", "Mode", "Device", "class"):
        if key not in record:
            raise RawFileError("{}: missing {}".format(c.path, key))
    c.number(record["samplingDuration"], "samplingDuration", positive=True)
    c.integer(record["Mode"], "Mode")
    if mode is not None and record["Mode"] != mode:
        raise RawFileError("{}: Mode is {} but the file is in the Mode{} folder".format(c.path, record["Mode"], mode))
    c.text(record["Device"], "Device", SAFE_NAME)
    if record["class"] not in _CLASSES:
        c.fail("class", record["class"], "one of A, B, C, D")
    for key in ("k", "set"):
        c.optional(record, key, c.integer)
    for key in ("file", "board", "telemetry"):
        c.optional(record, key, c.text)


def _check_network(c, where, result):
    c.obj(result, where)
    for key in ("passes", "throughput_per_s", "stages"):
        if key not in result:
            raise RawFileError("{}: {} has no {}".format(c.path, where, key))
    c.integer(result["passes"], where + ".passes")
    c.number(result["throughput_per_s"], where + ".throughput_per_s")
    if result.get("images_per_s") is not None:
        c.number(result["images_per_s"], where + ".images_per_s")
    for i, stage in enumerate(c.array(result["stages"], where + ".stages", nonempty=True)):
        _check_stage(c, "{}.stages[{}]".format(where, i), stage)


def _check_stage(c, where, stage):
    c.obj(stage, where)
    for key in ("device", "infCount", "inf_times_s", "transfer_times_s", "first_layer", "last_layer"):
        if key not in stage:
            raise RawFileError("{}: {} has no {}".format(c.path, where, key))
    c.text(stage["device"], where + ".device")
    for key in ("infCount", "first_layer", "last_layer"):
        c.integer(stage[key], "{}.{}".format(where, key))
    for key in ("inf_times_s", "transfer_times_s"):
        for i, value in enumerate(c.array(stage[key], "{}.{}".format(where, key))):
            c.number(value, "{}.{}[{}]".format(where, key, i))
    info = stage.get("modelinfo")
    if info is not None:
        c.obj(info, where + ".modelinfo")
        for key in ("params", "macs", "flops"):
            if key in info:
                c.number(info[key], "{}.modelinfo.{}".format(where, key))
        if "functionalLayerCount" in info:
            c.integer(info["functionalLayerCount"], where + ".modelinfo.functionalLayerCount")


def _check_tegrastats(c, tegra):
    if tegra is None:
        return
    c.obj(tegra, "tegrastats")
    if tegra.get("params") is not None:
        for i, name in enumerate(c.array(tegra["params"], "tegrastats.params")):
            c.text(name, "tegrastats.params[{}]".format(i))
    for i, sample in enumerate(c.array(tegra.get("samples") or [], "tegrastats.samples")):
        c.obj(sample, "tegrastats.samples[{}]".format(i))
        c.text(sample.get("raw"), "tegrastats.samples[{}].raw".format(i))


def _window_bounds(window):
    """``(t_start, t_end)`` of a record's ``window`` where both are finite numbers, else None."""
    if isinstance(window, dict) and is_number(window.get("t_start")) and is_number(window.get("t_end")):
        return window["t_start"], window["t_end"]
    return None


def _check_power(c, power, window):
    """The ``power`` block (module doc): known sampler and telemetry, a rate > 0, rail names,
    at least one reading, each stamped after the one before (inside ``window`` where the
    record has one) with a finite mW for some of the block's rails and nothing else."""
    if power is None:
        return
    c.obj(power, "power")
    for key in ("sampler", "telemetry", "rate_hz", "rails", "samples"):
        if key not in power:
            raise RawFileError("{}: power has no {}".format(c.path, key))
    if power["sampler"] not in POWER_SAMPLERS:
        c.fail("power.sampler", power["sampler"], "one of " + ", ".join(POWER_SAMPLERS))
    if power["telemetry"] not in _POWER_TELEMETRY:
        c.fail("power.telemetry", power["telemetry"], "one of " + ", ".join(_POWER_TELEMETRY))
    c.number(power["rate_hz"], "power.rate_hz", positive=True)
    keys = set()
    for i, rail in enumerate(c.array(power["rails"], "power.rails", nonempty=True)):
        keys.add(c.text(rail, "power.rails[{}]".format(i), SAFE_NAME) + "_mW")
    bounds, last = _window_bounds(window), None
    for i, sample in enumerate(c.array(power["samples"], "power.samples", nonempty=True)):
        where = "power.samples[{}]".format(i)
        c.obj(sample, where)
        t = c.finite(sample.get("t"), where + ".t")
        if last is not None and t <= last:
            c.fail(where + ".t", t, "a time after the reading before ({!r} s)".format(last))
        if bounds is not None and not bounds[0] <= t <= bounds[1]:
            c.fail(where + ".t", t, "a time inside the window ({!r}-{!r} s)".format(*bounds))
        last = t
        values = c.obj(sample.get("values"), where + ".values")
        if not values:
            raise RawFileError("{}: {}.values is empty, not at least one rail's mW".format(c.path, where))
        for key, value in values.items():
            if key not in keys:
                raise RawFileError("{}: {}.values has {}, not a {{rail}}_mW key of a rail in power.rails".format(
                    c.path, where, _show(key)))
            c.finite(value, "{}.values.{}".format(where, key))


def write_record(path, record):
    """Write ``record`` (a dict in this format) to ``path`` atomically, as one line of strict JSON."""
    atomic_write(path, json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")


def read_raw(path, mode=None):
    """A raw mapping file as a dict, checked (:func:`check_record`; ``mode``: its
    ``Mode{m}`` folder's number); raises RawFileError naming the file and the problem."""
    try:
        with io.open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError, RecursionError) as exc:
        raise RawFileError("{}: not readable JSON ({})".format(path, str(exc).splitlines()[0] if str(exc) else
                                                                type(exc).__name__))
    if not isinstance(record, dict):
        raise RawFileError("{}: holds {}, not a JSON object".format(path, type(record).__name__))
    version = record.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise RawFileError("{}: format_version {!r} is not one this version reads (1-{})".format(
            path, version, FORMAT_VERSION))
    check_record(path, record, mode)
    return record
