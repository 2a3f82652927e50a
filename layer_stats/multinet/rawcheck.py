"""Check a raw mapping file's content before post-processing reads it (no torch).

Raw files can be edited, truncated or written by another tool; every field the
post-processing reads is checked here, so a bad file is named and skipped with
the field and what is wrong (``networks.resnet50.stages[0].inf_times_s[3] is
NaN, not a finite number >= 0``) instead of ending in a traceback or putting
NaN into an output.  :func:`check_record` raises
:class:`~layer_stats.dataset.raw.RawFileError`; it returns nothing.
"""
import math
import re

from ..dataset.raw import RawFileError
from ..dataset.stats import is_number

__all__ = ["check_record", "SAFE_NAME"]

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
    for network, stages in mapping.items():
        for key, device in c.obj(stages, "mapping." + network).items():
            c.text(device, "mapping.{}.{}".format(network, key))
    for network, result in networks.items():
        _check_network(c, "networks." + network, result)
    _check_tegrastats(c, record.get("tegrastats"))


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
