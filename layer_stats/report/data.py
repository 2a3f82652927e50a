"""What the report shows, read from the RAW data through the products' own libraries (pandas;
never torch).

- Layer-wise (:func:`load_layerwise`): :func:`~layer_stats.layerwise.postprocess.samples_frame`,
  ``summarise``, ``layer_table`` and :func:`~layer_stats.layerwise.features.add_feature_columns`:
  the ``LayerStats.csv`` table, a row per (mode, network, device, layer) (layer ``model``: the
  whole model), latency in s, power in mW, energy in mJ, the layer's features (``macs``...)
  where its features file is there; and ``provenance`` per mode (simulated or not).
- One telemetry trace (:func:`load_trace`): the power samples of one layer's window, read
  from its raw file (:func:`~layer_stats.layerwise.raw.read_lines`).
- Multi-DNN (:func:`load_multinet`): :func:`~multi_network_stats.postprocess.collect_mode`,
  ``stage_frame`` and ``mode_table`` per board (``Device``) and mode: the ``Mode{m}.csv`` table,
  a row per sample and network (throughput in passes/s, slowdown against the network alone,
  the sample's power rails in mW).
- Run metadata (:func:`run_metadata`): the run files ``run-*.json`` of each ``Mode{m}`` folder.

Files that cannot be read are skipped and named in ``problems`` (the report lists them).
"""
import collections
import glob
import json
import logging
import os
import re

from ..fsutil import mode_folders
from ..layerwise.layout import iter_raw_files, layer_root
from ..layerwise.raw import RawFileError, core_span, rail_keys, read_lines

logger = logging.getLogger(__name__)

__all__ = ["LayerData", "MultiData", "Trace", "load_layerwise", "load_multinet", "load_trace", "run_metadata",
           "rails", "layer_rows", "whole_network", "RUN_KEYS"]

#: The run-file keys the report shows, in this order (missing ones are left out).
RUN_KEYS = ("start", "end", "status", "board", "board_model", "l4t_release", "telemetry", "simulated", "mode",
            "nvpmodel_mode", "nvpmodel_name", "mode_check", "jetson_clocks", "power_sampler", "device", "Device",
            "torch", "torchvision")
_RAIL = re.compile(r"^(.+)_mean_mW$")
#: The layer table's text labels (categoricals in the frame it comes from).
_TEXT = ("network", "device", "layer", "name", "telemetry", "board")

#: Layer-wise data: ``table`` (``layer_table``, all modes), ``provenance`` ({mode: dict}),
#: ``problems`` (raw files skipped), ``runs`` ({mode: [run metadata]}).
LayerData = collections.namedtuple("LayerData", "table provenance problems runs")
#: Multi-DNN data: ``tables`` ({(Device, mode): ``mode_table``}), ``boards`` ({(Device, mode): the
#: boards that measured, e.g. ``orin``, joined with ``+``}), ``simulated`` ({(Device, mode): bool}),
#: ``problems``, ``runs`` ({mode: [run metadata]}).
MultiData = collections.namedtuple("MultiData", "tables boards simulated problems runs")
#: One layer's power window: labels (``mode``, ``device``, ``network``, ``image``, ``layer``,
#: ``name``, ``rail``: the key, e.g. ``VDD_SYS_CPU_mW``; ``sampler``: ``ina`` or
#: ``tegrastats``; ``simulated``), ``times`` (s from the window's start), ``values`` (mW),
#: ``averaged`` (per sample: in the averaged core), ``window`` and ``core`` ((start, end),
#: s from the window's start), ``idle`` (mW, None when not recorded), ``mean`` (mW: the mean
#: of the averaged samples, None when there are none), ``board`` (as the line says).
Trace = collections.namedtuple("Trace", "mode device network image layer name rail sampler simulated times values "
                                        "averaged window core idle mean board")


def run_metadata(folder):
    """The run files ``run-*.json`` of ``folder``, oldest first: a list of ordered dicts of
    :data:`RUN_KEYS` (values as recorded; a file that does not read as JSON is skipped)."""
    runs = []
    for path in sorted(glob.glob(os.path.join(folder, "run-*.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                meta = json.load(handle)
        except (IOError, OSError, ValueError) as exc:
            logger.warning("skipped the run file %s: %s", path, exc)
            continue
        if isinstance(meta, dict):
            args = meta.get("args") if isinstance(meta.get("args"), dict) else {}
            meta.setdefault("power_sampler", args.get("power_sampler"))
            row = collections.OrderedDict([("file", os.path.basename(path))])
            row.update((key, meta[key]) for key in RUN_KEYS if meta.get(key) is not None)
            runs.append(row)
    return runs


def load_layerwise(input_root, modes):
    """:class:`LayerData` of ``modes`` (a list) under ``input_root``; its ``table`` is empty
    where no raw file could be read."""
    from ..layerwise.features import add_feature_columns
    from ..layerwise.postprocess import layer_table, provenance, samples_frame, summarise

    frame, problems = samples_frame(input_root, modes)
    table = None
    if len(frame):
        joined = add_feature_columns(layer_table(summarise(frame)), frame.attrs["stops"], input_root)
        for problem in joined.problems:
            logger.warning("features file ignored (no MACs from it): %s", problem)
        table = joined.table
    if table is not None and len(table):  # labels as plain text: groups of what is there, never empty categories
        table = table.astype({c: object for c in _TEXT if c in table})
    found = mode_folders(layer_root(input_root))
    return LayerData(table, {mode: provenance(frame, mode) for mode in modes}, problems,
                     {mode: run_metadata(found[mode]) for mode in modes if mode in found})


def rails(table):
    """The power rails ``table`` (``layer_table`` rows) holds numbers for, as their names
    without ``_mW`` (``VDD_SYS_CPU``...), in column order."""
    names = []
    for column in table.columns:
        match = _RAIL.match(str(column))
        if match and table[column].notna().any():
            names.append(match.group(1))
    return names


def layer_rows(table):
    """The rows of single layers (not ``model``), in layer order."""
    rows = table.loc[table["layer"].astype(str).str.isdigit()].copy()
    rows["index"] = rows["layer"].astype(int)
    return rows.sort_values("index")


def whole_network(table, rail):
    """Per network of ``table`` (one mode and device): ``(latency_s, energy_mJ, latency_from,
    energy_from)`` of the whole network, each from the ``model`` row where it has the figure,
    else the sum over the layers (``*_from`` says which: ``model`` or ``sum of layers``; None
    with NaN where neither has it).  The generators time the whole model but measure power per
    layer only, so energy is usually the layers' sum.  ``rail``: whose energy (None: none)."""
    out = collections.OrderedDict()
    energy = None if rail is None else rail + "_energy_mJ"
    for network, rows in table.groupby("network", sort=True):
        model = rows.loc[rows["layer"].astype(str) == "model"]
        layers = layer_rows(rows)
        figures = []
        for column in ("latency_mean_s", energy):
            if column is None or column not in rows:
                figures.append((float("nan"), None))
            elif len(model) and model[column].notna().any():
                figures.append((float(model[column].iloc[0]), "model"))
            elif layers[column].notna().any():
                figures.append((float(layers[column].sum()), "sum of layers"))
            else:
                figures.append((float("nan"), None))
        out[network] = (figures[0][0], figures[1][0], figures[0][1], figures[1][1])
    return out


def _trace_candidates(input_root, modes):
    """(file reference, record, rail key) for every power line of the first readable power file."""
    for ref in iter_raw_files(input_root, modes):
        if ref.kind != "power":
            continue
        try:
            records = read_lines(ref.path, ref.kind)
        except RawFileError as exc:
            logger.info("no trace from %s: %s", ref.path, exc)
            continue
        found = []
        for record in records:
            keys = [k for ks in record["params"].values() for k in ks if k.endswith("_mW")]
            if keys:
                found.append((ref, record, keys[0]))
        if found:
            return found
    return []


def _trace(ref, record, key):
    sampler = "ina" if record.get("power_sampler") == "ina" and key in rail_keys(record) else "tegrastats"
    samples = record["power_samples"] if sampler == "ina" else record["samples"]
    points = [(s["t"], s["values"].get(key)) for s in samples if isinstance(s["values"].get(key), (int, float))]
    start = record["t_start"]
    low, high = core_span(record)
    averaged = [low < t <= high for t, _ in points]
    core_values = [v for (t, v), inside in zip(points, averaged) if inside]
    idle = ((record.get("idle") or {}).get("values") or {}).get(key)
    return Trace(ref.mode, ref.device, ref.network, ref.image, record["layer"], record.get("name"), key, sampler,
                 record.get("telemetry") == "simulated", [t - start for t, _ in points], [v for _, v in points],
                 averaged, (0.0, record["t_end"] - start), (low - start, high - start),
                 idle if isinstance(idle, (int, float)) else None,
                 sum(core_values) / len(core_values) if core_values else None, record.get("board", "unknown"))


def load_trace(input_root, modes):
    """A :class:`Trace`: of the first readable power file under ``input_root`` (modes, devices,
    networks and images in sorted order), the layer whose averaged power is furthest above
    its idle baseline (its ramp and settling show best); None without power data."""
    best = None
    for ref, record, key in _trace_candidates(input_root, modes):
        trace = _trace(ref, record, key)
        if trace.mean is None:
            continue
        lift = trace.mean - (trace.idle if trace.idle is not None else 0.0)
        if best is None or lift > best[0]:
            best = (lift, trace)
    return best[1] if best else None


def load_multinet(multinet_root, modes):
    """:class:`MultiData` of ``modes`` under ``multinet_root`` (``<input_root>/Multinet``); its
    ``tables`` are empty where there is no readable sample."""
    from multi_network_stats.postprocess import collect_mode, mode_table, stage_frame

    found = mode_folders(multinet_root)
    tables, boards, simulated, problems, runs = collections.OrderedDict(), {}, {}, [], {}
    for mode in modes:
        if mode not in found:
            continue
        runs[mode] = run_metadata(found[mode])
        samples, bad = collect_mode(found[mode], mode)
        problems.extend(bad)
        by_device = collections.OrderedDict()
        for sample in samples:
            by_device.setdefault(sample.record["Device"], []).append(sample)
        for device, group in sorted(by_device.items()):
            frame = stage_frame(group)
            tables[(device, mode)] = mode_table(frame, group)
            boards[(device, mode)] = "+".join(sorted(frame["board"].fillna("unknown").astype(str).unique()))
            simulated[(device, mode)] = bool((frame["telemetry"] == "simulated").any())
    return MultiData(tables, boards, simulated, problems, runs)
