"""Multi-DNN raw files -> the seed's per-sample JSON and a tidy CSV per mode (no torch).

Per sample (:func:`sample_json`), exactly the seed's keys: ``mapping``,
``stageSummary`` ({network: {device: {``infCount``, ``avgInfTime``,
``avgTransferTime``}}}, s), ``samplingDuration``, ``Mode``, ``Device``,
``Tegrastats`` (the window's lines: ``RAM``/``SWAP`` mean MB; ``CPU`` and each
engine as ``Utilization``/``Frequencies`` min/max/avg, per core for the CPU;
an engine that is off as ``"off"``, a bare clock as its mean MHz; sensors and
rails under the board's friendly names, mean C / mW) and ``ModelInfo``
({network: {device: {``params``, ``macs``, ``flops`` as "61.1 M",
``functionalLayerCount``}}}).

Per mode (:func:`csv_rows`): a row per sample and network with throughput,
mean latency per pass, and the slowdown against the class A run of the same
network alone on the same device where that exists.

Every raw file is checked field by field first (:mod:`.raw`): a bad one is
named with what is wrong and skipped, the rest are processed
(:func:`collect_mode`); outputs are strict JSON, never NaN (:func:`write_group`),
and never land on or among the raw files (:func:`check_output_root`,
:func:`group_items`).
"""
import collections
import logging
import os
import re

from layer_stats.tables import csv_text, json_text
from layer_stats.errors import DnnStatsError
from layer_stats.fsutil import atomic_write
from layer_stats.stats import mean, numbers
from layer_stats.tegrastats.boards import BOARDS
from layer_stats.tegrastats.params import param_keys, resolve_params
from layer_stats.tegrastats.parse import LineParser
from .modelinfo import human
from .layout import RAW_NAME, raw_files
from .raw import RawFileError, read_raw

logger = logging.getLogger(__name__)

__all__ = ["sample_json", "tegrastats_block", "csv_rows", "SEED_KEYS", "collect_mode",
           "check_output_root", "group_items", "write_group"]

SEED_KEYS = ("mapping", "stageSummary", "samplingDuration", "Mode", "Device", "Tegrastats", "ModelInfo")
_CORE = re.compile(r"^CPU(\d+)_(util_pct|freq_MHz)$")
_ENGINE = re.compile(r"^(\w+?)_(util_pct|freq_MHz|state)$")


def _stats(values, digits=2):
    values = numbers(values)
    if not values:
        return None
    return collections.OrderedDict([("min", min(values)), ("max", max(values)),
                                    ("avg", round(mean(values), digits))])


def _per_core(samples, cores, unit):
    stats = [_stats([s.get("CPU{}_{}".format(c, unit)) for s in samples]) for c in cores]
    return collections.OrderedDict((part, [st[part] if st else None for st in stats]) for part in ("min", "max", "avg"))


def _friendly(board):
    table = BOARDS.get(board, {}).get("friendly", {})
    return {raw.lower(): name for name, raw in table.items()}


def _allowed(board, params, first):
    if not params or board not in BOARDS:
        return None
    return {key for param in resolve_params(board, params) for key in param_keys(param, first)}


def tegrastats_block(raw_lines, board, params=None):
    """The seed's ``Tegrastats`` dict for a window's raw lines (see module doc)."""
    parser = LineParser()
    samples = [parser.parse(line) for line in raw_lines]
    if not samples:
        return collections.OrderedDict()
    first = samples[0]
    allowed = _allowed(board, params, first)
    friendly = _friendly(board)
    block = collections.OrderedDict()
    cores = sorted({int(m.group(1)) for k in first for m in [_CORE.match(k)] if m})
    for key in first:
        if allowed is not None and key not in allowed:
            continue
        if key in ("RAM_used_MB", "SWAP_used_MB"):
            block[key.split("_")[0]] = _rounded(mean([s.get(key) for s in samples]))
        elif _CORE.match(key):
            if "CPU" not in block:
                block["CPU"] = collections.OrderedDict([("Utilization", _per_core(samples, cores, "util_pct")),
                                                        ("Frequencies", _per_core(samples, cores, "freq_MHz"))])
        elif key.startswith("temp_") and key.endswith("_C") and not key.endswith("_max_C"):
            name = key[len("temp_"):-len("_C")]
            value = mean([s.get(key) for s in samples])
            if value is not None:
                block[friendly.get(name.lower(), name + " Temperature")] = round(value, 4)
        elif key.endswith("_mW") and not key.endswith(("_avg_mW", "_max_mW")):
            rail = key[:-len("_mW")]
            block[friendly.get(rail.lower(), rail)] = _rounded(mean([s.get(key) for s in samples]))
        else:
            _engine(block, key, samples)
    return block


def _rounded(value, digits=4):
    """``value`` rounded, or None where the window had no number for it."""
    return None if value is None else round(value, digits)


def _engine(block, key, samples):
    match = _ENGINE.match(key)
    if not match or "_gpc" in key or key.startswith(("RAM", "SWAP", "IRAM", "MTS", "EDP")):
        return
    name, unit = match.groups()
    if name in block:
        return
    util = _stats([s.get(name + "_util_pct") for s in samples])
    freq = _stats([s.get(name + "_freq_MHz") for s in samples])
    if util is not None:
        block[name] = collections.OrderedDict([("Utilization", util), ("Frequencies", freq)])
    elif freq is not None:
        block[name] = freq["avg"] * 1.0
    elif unit == "state":
        block[name] = samples[0].get(key)


def _per_device(record):
    """{network: {device: stage}} for the seed's summaries; raises if two stages share a device."""
    out = collections.OrderedDict()
    for network, result in record["networks"].items():
        by_device = out.setdefault(network, collections.OrderedDict())
        for stage in result["stages"]:
            if stage["device"] in by_device:
                raise RawFileError("{}: {} has two stages on {}; the seed's per-device summary cannot hold "
                                   "them".format(record.get("file"), network, stage["device"]))
            by_device[stage["device"]] = stage
    return out


def sample_json(record):
    """The seed's per-sample dict for a raw ``record``."""
    stages = _per_device(record)
    summary, info = collections.OrderedDict(), collections.OrderedDict()
    for network, by_device in stages.items():
        summary[network], info[network] = collections.OrderedDict(), collections.OrderedDict()
        for device, stage in by_device.items():
            summary[network][device] = collections.OrderedDict([
                ("infCount", stage["infCount"]), ("avgInfTime", mean(stage["inf_times_s"])),
                ("avgTransferTime", mean(stage["transfer_times_s"]))])
            mi = stage.get("modelinfo") or {}
            entry = collections.OrderedDict()
            for key in ("params", "macs", "flops"):
                if key in mi:
                    entry[key] = human(mi[key])
            if "functionalLayerCount" in mi:
                entry["functionalLayerCount"] = mi["functionalLayerCount"]
            info[network][device] = entry
    tegra = record.get("tegrastats") or {}
    lines = [s["raw"] for s in tegra.get("samples") or []]
    duration = record["samplingDuration"]
    return collections.OrderedDict([
        ("mapping", record["mapping"]), ("stageSummary", summary),
        ("samplingDuration", int(duration) if float(duration).is_integer() else duration),
        ("Mode", record["Mode"]), ("Device", record["Device"]),
        ("Tegrastats", tegrastats_block(lines, record.get("board"), tegra.get("params"))),
        ("ModelInfo", info)])


def _alone(records):
    """{(network, device): throughput} of the class A records."""
    out = {}
    for record in records:
        if record["class"] == "A":
            for network, result in record["networks"].items():
                devices = {s["device"] for s in result["stages"]}
                if len(devices) == 1:
                    out[(network, devices.pop())] = result["throughput_per_s"]
    return out


def csv_rows(records, processed):
    """Tidy rows for one mode: ``records`` raw dicts, ``processed`` their sample dicts."""
    alone = _alone(records)
    rows = []
    for record, sample in zip(records, processed):
        power = {k: v for k, v in sample["Tegrastats"].items() if k.endswith("Power") or k.startswith("VDD")}
        for network, result in record["networks"].items():
            devices = [s["device"] for s in result["stages"]]
            whole = len(set(devices)) == 1
            base = alone.get((network, devices[0])) if whole else None
            per_pass = sum(mean(s["inf_times_s"]) or 0.0 for s in result["stages"]) + \
                sum(mean(s["transfer_times_s"]) or 0.0 for s in result["stages"])
            row = collections.OrderedDict([
                ("mode", record["Mode"]), ("device", record["Device"]), ("file", record.get("file")),
                ("class", record["class"]), ("k", record.get("k")), ("set", record.get("set")),
                ("network", network),
                ("stages", " ".join("{}:{}-{}".format(s["device"], s["first_layer"], s["last_layer"])
                                    for s in result["stages"])),
                ("passes", result["passes"]), ("throughput_per_s", result["throughput_per_s"]),
                ("images_per_s", result.get("images_per_s", result["throughput_per_s"])),
                ("latency_per_pass_s", per_pass if result["passes"] else None),
                ("alone_throughput_per_s", base),
                ("slowdown", base / result["throughput_per_s"] if base and result["throughput_per_s"] else None),
                ("telemetry", record.get("telemetry"))])
            for name, value in power.items():
                row[name.replace(" ", "_") + "_mW"] = value
            rows.append(row)
    return rows


def collect_mode(folder, mode, device=None):
    """Read and convert every raw file of one ``Mode{m}`` folder.

    Returns ``(items, problems)``: ``items`` [(path, record, sample)] of ``device``
    (the seed's name; None: any), ``problems`` one line per file skipped, naming
    the file and what is wrong with it.
    """
    items, problems = [], []
    for path in raw_files(folder):
        try:
            record = read_raw(path, mode)
            if device is not None and record["Device"] != device:
                continue
            items.append((path, record, sample_json(record)))
        except DnnStatsError as exc:  # RawFileError, or a tegrastats parameter the board lacks
            problems.append(str(exc))
        except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
            problems.append("{}: malformed ({}: {})".format(path, type(exc).__name__, exc))
    return items, problems


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_root(input_root, output_root, mode_dirs):
    """Raise DnnStatsError when processed files would land among raw ones: ``output_root``
    equal to ``input_root`` or inside one of its ``mode_dirs`` ({mode: folder})."""
    if os.path.realpath(output_root) == os.path.realpath(input_root):
        raise DnnStatsError("--output_file_root {} is --input_file_root: processed files would mix with the raw "
                            "Mode folders; pass another folder (default: {})".format(
                                output_root, os.path.join(input_root, "Processed")))
    for folder in mode_dirs.values():
        if _inside(output_root, folder):
            raise DnnStatsError("--output_file_root {} is inside the raw folder {}: processed files would mix with "
                                "raw ones; pass a folder outside it".format(output_root, folder))


def group_items(items, out_root, mode_dirs):
    """{target folder: items} (``<out_root>/{Device}/Mode{m}``); raises DnnStatsError if a
    target is, or is inside, a raw ``Mode`` folder (it would overwrite raw files)."""
    groups = collections.OrderedDict()
    for item in items:
        record = item[1]
        target = os.path.join(out_root, record["Device"], "Mode{}".format(record["Mode"]))
        clash = [folder for folder in mode_dirs.values() if _inside(target, folder)]
        if clash:
            raise DnnStatsError("processed files for {} Mode{} would go to {}, the raw folder {}: pass another "
                                "--output_file_root".format(record["Device"], record["Mode"], target, clash[0]))
        groups.setdefault(target, []).append(item)
    return groups


def write_group(target, items):
    """Write one device and mode: a sample file per raw file, ``{target}.csv`` and
    ``{target}.provenance.json`` (strict JSON: no NaN); processed samples in ``target``
    whose raw file was not processed this time are removed, so the folder and the CSV
    agree.  Returns the number of samples written."""
    records = [record for _, record, _ in items]
    names = set()
    for path, _, sample in items:
        names.add(os.path.basename(path))
        atomic_write(os.path.join(target, os.path.basename(path)), json_text(sample))
    _prune(target, names)
    atomic_write(target + ".csv", csv_text(csv_rows(records, [s for _, _, s in items])))
    kinds = sorted({r.get("telemetry") or "unknown" for r in records})
    atomic_write(target + ".provenance.json", json_text(collections.OrderedDict([
        ("Device", records[0]["Device"]), ("mode", records[0]["Mode"]), ("telemetry", kinds),
        ("boards", sorted({r.get("board") or "unknown" for r in records})), ("simulated", "simulated" in kinds),
        ("samples", len(items)),
        ("note", "SIMULATED telemetry: values come from the built-in simulator, not a Jetson"
         if "simulated" in kinds else "")]), indent=1))
    return len(items)


def _prune(target, keep):
    for name in sorted(os.listdir(target)):
        if RAW_NAME.match(name) and name not in keep:
            os.remove(os.path.join(target, name))
            logger.warning("removed %s: its raw file was skipped or is gone", os.path.join(target, name))
