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
"""
import collections
import json
import os
import re

from ..dataset.raw import RawFileError
from ..dataset.stats import mean, numbers
from ..tegrastats.boards import BOARDS
from ..tegrastats.params import param_keys, resolve_params
from ..tegrastats.parse import LineParser
from .modelinfo import human
from .runner import FORMAT_VERSION

__all__ = ["read_raw", "raw_files", "sample_json", "tegrastats_block", "csv_rows", "SEED_KEYS"]

SEED_KEYS = ("mapping", "stageSummary", "samplingDuration", "Mode", "Device", "Tegrastats", "ModelInfo")
_FILE = re.compile(r"^(SingleNet|MultiNet)_Map\d+_nm_\d+_set_\d+_class[A-D]\.json$")
_CORE = re.compile(r"^CPU(\d+)_(util_pct|freq_MHz)$")
_ENGINE = re.compile(r"^(\w+?)_(util_pct|freq_MHz|state)$")


def raw_files(mode_dir):
    """The mapping files of a ``Mode{m}`` folder, sorted by map index."""
    names = [n for n in os.listdir(mode_dir) if _FILE.match(n)] if os.path.isdir(mode_dir) else []
    return [os.path.join(mode_dir, n) for n in sorted(names, key=lambda n: int(n.split("_Map")[1].split("_")[0]))]


def read_raw(path):
    """A raw mapping file as a dict; raises RawFileError naming the file and the problem."""
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        raise RawFileError("{}: not readable JSON ({})".format(path, exc))
    if not isinstance(record, dict):
        raise RawFileError("{}: not a JSON object".format(path))
    version = record.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RawFileError("{}: format_version {!r} is not one this version reads (<= {})".format(
            path, version, FORMAT_VERSION))
    missing = [k for k in ("mapping", "networks", "samplingDuration", "Mode", "Device", "class") if k not in record]
    if missing:
        raise RawFileError("{}: missing {}".format(path, ", ".join(missing)))
    return record


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
            block[key.split("_")[0]] = round(mean([s.get(key) for s in samples]), 4)
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
            block[friendly.get(rail.lower(), rail)] = round(mean([s.get(key) for s in samples]), 4)
        else:
            _engine(block, key, samples)
    return block


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
