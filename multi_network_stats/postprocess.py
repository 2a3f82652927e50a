"""Multi-DNN raw files -> one tidy DataFrame of stages -> the seed's per-sample JSON, a CSV
table and the provenance per device and mode (pandas; no torch).

Every raw file is checked field by field first (:mod:`.raw`): a bad one is named with
what is wrong and skipped, the rest are processed (:func:`collect_mode`).

:func:`stage_frame` puts every stage of every sample into ONE tidy DataFrame, a row per
(sample, network, stage), in file then network then stage order (:data:`COLUMNS`):

- per sample: ``path`` (the raw file), ``file`` (its name as recorded), ``mode``,
  ``Device`` (the seed's board name), ``class`` (A-D), ``k``, ``set``, ``board``,
  ``telemetry`` (missing where the file does not say), ``power_sampler`` (where its
  power rails came from: ``ina``, ``tegrastats`` or ``none``, see
  :func:`~.raw.power_sampler_of`);
- per network: ``network``, ``passes``, ``throughput_per_s`` (passes/s), ``images_per_s``;
- per stage: ``stage`` (0, 1, ... within the network), ``device`` (where it ran: cpu,
  cuda...), ``first_layer``/``last_layer``, ``infCount``, and the means of its timings,
  ``inf_time_mean_s`` and ``transfer_time_mean_s`` (s; NaN for a stage with none).

From it come each sample's ``stageSummary`` and the ``{Device}/Mode{m}.csv`` table
(:func:`mode_table`: a row per sample and network with throughput, the mean latency of a
pass (the sum of its stages' mean inference and transfer times, s), and the slowdown
against the class A run of the same network alone on the same device where one exists;
then, where a sample of the table was measured with ``--thr_ci``, the columns
:data:`~.adaptive.CI_COLUMNS`: how its window stopped, the target, each throughput's achieved
relative 95 % half-width and ``ci_target_missed`` where it missed the target; then the
sample's power rails, mW) and ``{Device}/Mode{m}.provenance.json`` (telemetry,
``power_samplers``: every sampler the samples' power came from, boards, simulated).

Per sample (:func:`sample_json`), exactly the seed's keys: ``mapping``,
``stageSummary`` ({network: {device: {``infCount``, ``avgInfTime``,
``avgTransferTime``}}}, s), ``samplingDuration``, ``Mode``, ``Device``,
``Tegrastats`` and ``ModelInfo``.  The last two are transformations of the one raw file:
``Tegrastats`` (:func:`tegrastats_block`) summarises the window's lines (``RAM``/``SWAP``
mean MB; ``CPU`` and each engine as ``Utilization``/``Frequencies`` min/max/avg, per core
for the CPU; an engine that is off as ``"off"``, a bare clock as its mean MHz; sensors
and rails under the board's friendly names, mean C / mW; a rail the file's ``power``
block holds takes the mean of its readings instead, in the same place, see
:func:`apply_power`); ``ModelInfo`` ({network:
{device: {``params``, ``macs``, ``flops`` as "61.1 M", ``functionalLayerCount``}}})
formats the stage's recorded figures.

Outputs are strict JSON, never NaN (:func:`write_group`), and never land on or among the
raw files (:func:`check_output_root`, :func:`group_items`).
"""
import collections
import logging
import os
import re

import numpy as np
import pandas as pd

from layer_stats.tables import csv_text, json_text
from layer_stats.errors import DnnStatsError
from layer_stats.fsutil import atomic_write
from layer_stats.stats import is_number, mean
from layer_stats.tegrastats.boards import BOARDS
from layer_stats.tegrastats.params import param_keys, resolve_params
from layer_stats.tegrastats.parse import LineParser
from .adaptive import CI_COLUMNS, MISSED, ci_cells
from .modelinfo import human
from .layout import RAW_NAME, raw_files
from .raw import RawFileError, power_sampler_of, read_raw

logger = logging.getLogger(__name__)

__all__ = ["COLUMNS", "SUMMARY", "Sample", "collect_mode", "stage_frame", "sample_json", "tegrastats_block",
           "apply_power", "mode_table", "SEED_KEYS", "check_output_root", "group_items", "write_group"]

SEED_KEYS = ("mapping", "stageSummary", "samplingDuration", "Mode", "Device", "Tegrastats", "ModelInfo")
#: The stage frame's columns (module doc), units in the names.
COLUMNS = ("path", "file", "mode", "Device", "class", "k", "set", "board", "telemetry", "power_sampler", "network",
           "passes", "throughput_per_s", "images_per_s", "stage", "device", "first_layer", "last_layer", "infCount",
           "inf_time_mean_s", "transfer_time_mean_s")
#: A stage's columns in the seed's ``stageSummary``, in :func:`sample_json`'s order.
SUMMARY = ["network", "device", "infCount", "inf_time_mean_s", "transfer_time_mean_s"]
#: The CSV's columns before the power rails.
_TABLE = ["mode", "device", "file", "class", "k", "set", "network", "stages", "passes", "throughput_per_s",
          "images_per_s", "latency_per_pass_s", "alone_throughput_per_s", "slowdown", "telemetry"]
_CORE = re.compile(r"^CPU(\d+)_(util_pct|freq_MHz)$")
_ENGINE = re.compile(r"^(\w+?)_(util_pct|freq_MHz|state)$")

#: One checked raw file: its ``path``, the ``record`` (dict) and its seed ``Tegrastats`` block
#: (:func:`tegrastats_block` of its lines, then :func:`apply_power`).
Sample = collections.namedtuple("Sample", "path record tegrastats")


def _stats(values, digits=2):
    values = [v for v in values if is_number(v)]
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


def apply_power(block, power, board):
    """Put the mean of each rail's readings in ``power`` (a raw file's ``power`` block, None:
    nothing to do) into ``block`` (:func:`tegrastats_block`), under the rail's friendly name:
    in place of the tegrastats lines' mean where the block has it, else at the end.  The
    readings come at a fixed rate, so their plain mean is the window's mean power (mW).
    Returns ``block``."""
    if power is None:
        return block
    friendly = _friendly(board)
    for rail in power["rails"]:
        value = mean([s["values"].get(rail + "_mW") for s in power["samples"]])
        if value is not None:
            block[friendly.get(rail.lower(), rail)] = _rounded(value)
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


def _check_one_stage_per_device(path, record):
    """The seed's summaries are per device: raise if two stages of a network share one."""
    for network, result in record["networks"].items():
        devices = [stage["device"] for stage in result["stages"]]
        if len(set(devices)) != len(devices):
            raise RawFileError("{}: {} has two stages on one device ({}); the seed's per-device summary cannot "
                               "hold them".format(path, network, ", ".join(devices)))


def _read_sample(path, mode):
    record = read_raw(path, mode)
    _check_one_stage_per_device(path, record)
    tegra = record.get("tegrastats") or {}
    lines = [s["raw"] for s in tegra.get("samples") or []]
    block = tegrastats_block(lines, record.get("board"), tegra.get("params"))
    return Sample(path, record, apply_power(block, record.get("power"), record.get("board")))


def collect_mode(folder, mode, device=None):
    """Read and check every raw file of one ``Mode{m}`` folder.

    Returns ``(samples, problems)``: ``samples`` [:class:`Sample`] of ``device`` (the
    seed's name; None: any), ``problems`` one line per file skipped, naming the file and
    what is wrong with it.
    """
    samples, problems = [], []
    for path in raw_files(folder):
        try:
            sample = _read_sample(path, mode)
            if device is None or sample.record["Device"] == device:
                samples.append(sample)
        except DnnStatsError as exc:  # RawFileError, or a tegrastats parameter the board lacks
            problems.append(str(exc))
        except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
            problems.append("{}: malformed ({}: {})".format(path, type(exc).__name__, exc))
    return samples, problems


def _stage_means(stages, field):
    """Per stage, the mean of its ``field`` list (s), NaN where it is empty (pandas groupby)."""
    sizes = [len(stage[field]) for stage in stages]
    values = pd.Series([v for stage in stages for v in stage[field]], dtype=float)
    owner = np.repeat(np.arange(len(stages)), sizes)
    return values.groupby(owner).mean().reindex(range(len(stages))).to_numpy()


def stage_frame(samples):
    """The tidy DataFrame of every stage of ``samples`` (module doc)."""
    rows, stages = [], []
    for sample in samples:
        record = sample.record
        head = (sample.path, record.get("file"), record["Mode"], record["Device"], record["class"], record.get("k"),
                record.get("set"), record.get("board"), record.get("telemetry"), power_sampler_of(record))
        for network, result in record["networks"].items():
            middle = (network, result["passes"], result["throughput_per_s"],
                      result.get("images_per_s", result["throughput_per_s"]))
            for index, stage in enumerate(result["stages"]):
                rows.append(head + middle + (index, stage["device"], stage["first_layer"], stage["last_layer"],
                                             stage["infCount"]))
                stages.append(stage)
    frame = pd.DataFrame.from_records(rows, columns=COLUMNS[:-2])  # the timing means come next
    for column in ("k", "set"):
        frame[column] = frame[column].astype("Int64")
    for column in ("throughput_per_s", "images_per_s"):
        frame[column] = frame[column].astype(float)
    frame["inf_time_mean_s"] = _stage_means(stages, "inf_times_s")
    frame["transfer_time_mean_s"] = _stage_means(stages, "transfer_times_s")
    return frame


def _model_info(record):
    info = collections.OrderedDict()
    for network, result in record["networks"].items():
        info[network] = collections.OrderedDict()
        for stage in result["stages"]:
            mi = stage.get("modelinfo") or {}
            entry = collections.OrderedDict((key, human(mi[key])) for key in ("params", "macs", "flops") if key in mi)
            if "functionalLayerCount" in mi:
                entry["functionalLayerCount"] = mi["functionalLayerCount"]
            info[network][stage["device"]] = entry
    return info


def sample_json(sample, stages):
    """The seed's per-sample dict for ``sample``; ``stages``: its rows of :func:`stage_frame`
    as tuples of :data:`SUMMARY` (NaN where a stage has no timing)."""
    summary = collections.OrderedDict()
    for network, device, count, inf_s, transfer_s in stages:
        summary.setdefault(network, collections.OrderedDict())[device] = collections.OrderedDict([
            ("infCount", count), ("avgInfTime", inf_s), ("avgTransferTime", transfer_s)])
    record = sample.record
    duration = record["samplingDuration"]
    return collections.OrderedDict([
        ("mapping", record["mapping"]), ("stageSummary", summary),
        ("samplingDuration", int(duration) if float(duration).is_integer() else duration),
        ("Mode", record["Mode"]), ("Device", record["Device"]), ("Tegrastats", sample.tegrastats),
        ("ModelInfo", _model_info(record))])


def _power(samples):
    """A row per sample (by path): its rails (``Tegrastats`` keys ending in ``Power`` or
    starting with ``VDD``) as ``{name}_mW`` columns, in the order they first appear."""
    rows = [collections.OrderedDict((name.replace(" ", "_") + "_mW", value)
                                    for name, value in sample.tegrastats.items()
                                    if name.endswith("Power") or name.startswith("VDD")) for sample in samples]
    return pd.DataFrame(rows, index=[sample.path for sample in samples])


def mode_table(frame, samples):
    """``{Device}/Mode{m}.csv`` as a DataFrame for one device and mode: ``frame`` its rows of
    :func:`stage_frame`, ``samples`` its :class:`Sample` list (module doc)."""
    by = ["path", "network"]
    groups = frame.groupby(by, sort=False)
    spans = frame["device"] + ":" + frame["first_layer"].astype(str) + "-" + frame["last_layer"].astype(str)
    table = frame.loc[frame["stage"] == 0].set_index(by)
    table["stages"] = spans.groupby([frame[c] for c in by], sort=False).agg(" ".join)
    table["whole"] = groups["device"].nunique() == 1
    per_pass = groups["inf_time_mean_s"].sum() + groups["transfer_time_mean_s"].sum()
    table["latency_per_pass_s"] = per_pass.where(table["passes"] != 0)
    table = table.reset_index()
    alone = table.loc[(table["class"] == "A") & table["whole"]].drop_duplicates(["network", "device"], keep="last")
    alone = alone.set_index(["network", "device"])["throughput_per_s"]
    base = alone.reindex(pd.MultiIndex.from_arrays([table["network"], table["device"]])).to_numpy()
    table["alone_throughput_per_s"] = np.where(table["whole"], base, np.nan)
    base, throughput = table["alone_throughput_per_s"], table["throughput_per_s"]
    table["slowdown"] = (base / throughput).where(base.notna() & (base != 0) & (throughput != 0))
    table["device"] = table["Device"]
    columns = list(_TABLE)
    if any(sample.record.get("ci_target") is not None for sample in samples):
        table = table.join(_precision(samples), on=["path", "network"])
        columns += list(CI_COLUMNS)
    power = _power(samples)
    return table[columns + ["path"]].join(power, on="path")[columns + list(power.columns)]


def _precision(samples):
    """The :data:`~.adaptive.CI_COLUMNS` per (path, network) (:func:`~.adaptive.ci_cells`)."""
    rows = [(sample.path, network) + cells for sample in samples
            for network, cells in ci_cells(sample.record).items()]
    frame = pd.DataFrame.from_records(rows, columns=["path", "network"] + list(CI_COLUMNS))
    frame["ci_target"] = frame["ci_target"].astype(float)
    frame["ci_rel"] = frame["ci_rel"].astype(float)
    return frame.set_index(["path", "network"])


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


def group_items(samples, out_root, mode_dirs):
    """{target folder: samples} (``<out_root>/{Device}/Mode{m}``); raises DnnStatsError if a
    target is, or is inside, a raw ``Mode`` folder (it would overwrite raw files)."""
    groups = collections.OrderedDict()
    for sample in samples:
        record = sample.record
        target = os.path.join(out_root, record["Device"], "Mode{}".format(record["Mode"]))
        clash = [folder for folder in mode_dirs.values() if _inside(target, folder)]
        if clash:
            raise DnnStatsError("processed files for {} Mode{} would go to {}, the raw folder {}: pass another "
                                "--output_file_root".format(record["Device"], record["Mode"], target, clash[0]))
        groups.setdefault(target, []).append(sample)
    return groups


def _provenance(rows, count):
    first = rows.drop_duplicates("path")

    def kinds(column):
        values = first[column].where(first[column].notna() & (first[column] != ""), "unknown")
        return sorted(values.drop_duplicates().tolist())

    telemetry = kinds("telemetry")
    return collections.OrderedDict([
        ("Device", first["Device"].iloc[0]), ("mode", int(first["mode"].iloc[0])), ("telemetry", telemetry),
        ("power_samplers", kinds("power_sampler")), ("boards", kinds("board")),
        ("simulated", "simulated" in telemetry), ("samples", count),
        ("note", "SIMULATED telemetry: values come from the built-in simulator, not a Jetson"
         if "simulated" in telemetry else "")])


def write_group(target, samples, frame):
    """Write one device and mode: a sample file per raw file, ``{target}.csv`` and
    ``{target}.provenance.json`` (strict JSON: no NaN); ``frame``: :func:`stage_frame` of
    (at least) ``samples``.  Processed samples in ``target`` whose raw file was not
    processed this time are removed, so the folder and the CSV agree.  Returns the number
    of samples written."""
    rows = frame.loc[frame["path"].isin([sample.path for sample in samples])]
    stages = collections.defaultdict(list)
    for row in rows[["path"] + SUMMARY].itertuples(index=False, name=None):
        stages[row[0]].append(row[1:])
    names = set()
    for sample in samples:
        names.add(os.path.basename(sample.path))
        atomic_write(os.path.join(target, os.path.basename(sample.path)),
                     json_text(sample_json(sample, stages[sample.path])))
    _prune(target, names)
    table = mode_table(rows, samples)
    if "ci_flag" in table:
        missed = table.loc[table["ci_flag"] == MISSED, "file"].drop_duplicates()
        if len(missed):
            logger.warning("%d mapping(s) stopped at --smpl_duration before every throughput was within --thr_ci "
                           "(flagged %s in %s.csv): %s", len(missed), MISSED, target, ", ".join(missed))
    atomic_write(target + ".csv", csv_text(table))
    atomic_write(target + ".provenance.json", json_text(_provenance(rows, len(samples)), indent=1))
    return len(samples)


def _prune(target, keep):
    for name in sorted(os.listdir(target)):
        if RAW_NAME.match(name) and name not in keep:
            os.remove(os.path.join(target, name))
            logger.warning("removed %s: its raw file was skipped or is gone", os.path.join(target, name))
