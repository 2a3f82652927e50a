"""Layer-wise raw files -> one tidy DataFrame of samples -> the seed's Mode JSON, the CSV
table and the provenance (pandas; no torch).

:func:`samples_frame` reads every raw file through :func:`.raw.read_lines` (a corrupt,
partial or hostile file is named and skipped) into ONE tidy DataFrame, a row per sample
(:data:`COLUMNS`):

- ``mode`` (int), ``device`` (``cpu``/``gpu``, the folder), ``network``, ``image`` (the raw
  file's name without ``.jsonl``), ``layer`` (text: ``"0"``, ``"1"``... or ``"model"``, the
  whole model), ``line`` (the sample's line in its raw file: one layer of one image);
- ``name`` (the units the layer holds; missing where the line has none), ``telemetry``
  (``tegrastats``, ``simulated``, ``replay``) and ``board``, ``unknown`` where the line
  does not say;
- ``kind``: ``latency`` (one timed run), ``power`` (one sample of one key in a layer's
  window) or ``idle`` (one key's idle baseline before the network, one per window);
- ``sampler``: where a power or idle row's key came from: ``ina`` (the power monitors'
  readings, the line's ``power_samples``: the rails the power sampler served) or
  ``tegrastats`` (tegrastats lines, the line's ``samples``: every other key, and every
  key of a version-1 line or a ``--power_sampler tegrastats`` run); missing for latency;
- ``parameter`` (the ``--tgr_params`` name) and ``key`` (the tegrastats key, its unit in
  its name: ``_mW``, ``_MHz``, ``_pct``...), missing for latency;
- ``value`` (float): s for latency, the key's unit otherwise; NaN where a sample holds no
  finite number for the key (a core that is off, ``"off"``, a field missing);
- ``t_s``: a power sample's time (monotonic s; NaN on other rows): when its tegrastats line
  arrived, or when the monitor was read;
- ``boundary``: True for a power sample outside its line's averaged span
  (:func:`.raw.core_span`: the fixed window's core ``(t_start + boundary_s, t_end - boundary_s]``,
  or an adaptive line's ``(core_start, core_end]``), told by its timestamp (the raw file's own
  flag is not used);
  boundary samples are never averaged;
- ``settled``: False on the rows of a window after which power did not come back near idle.

:func:`summarise` pools, per layer ``(mode, device, network, layer)``, the samples of
every image with pandas groupby: latency mean, median, sample std (0 for one run) and n
(s); per tegrastats key, the core samples' mean, std and n, the idle baseline (mean of
the windows' baselines), dynamic power (mean - idle) and energy per inference (mean power
x mean latency, mJ); and the layer's flags (:data:`UNSTABLE_REL`, :data:`FEW_SAMPLES`).
From that summary come ``Mode{m}.json`` (:func:`mode_json`: exactly the seed's shape,
network -> ``cpu``/``gpu`` -> ``power`` ({layer: {parameter: mean}}, mW rounded to 0.01)
and ``latency`` ({layer: mean s})) and ``LayerStats.csv`` (:func:`layer_table`: a row per
layer, the whole model as layer ``model``; processData adds the features, :mod:`.features`).
:func:`provenance` says where a mode's numbers come from (telemetry, boards, power samplers,
simulated or not).  The Mode JSON and the CSV name a rail the same way whichever sampler measured it.
"""
import collections
import logging
import math

import numpy as np
import pandas as pd

from .layout import iter_raw_files
from .raw import RawFileError, core_span, rail_keys, read_lines, stop_of
from ..stats import is_number

logger = logging.getLogger(__name__)

__all__ = ["COLUMNS", "samples_frame", "summarise", "Summary", "recorded_parameters", "mode_json",
           "layer_table", "provenance", "UNSTABLE_REL", "FEW_SAMPLES", "OUTPUT_VERSION"]

#: The processed outputs' version (``format_version`` in ``Mode{m}.provenance.json``): 1, the files before it
#: was written (unversioned); 2, ``LayerStats.csv`` has each layer's features (processData, :mod:`.features`).
OUTPUT_VERSION = 2
#: A spread (std / mean) at or above this flags a measurement as unstable.
UNSTABLE_REL = 0.10
#: Fewer power samples than this in a layer's core flags it.
FEW_SAMPLES = 10

#: The labels every row of one raw line's key shares, then the per-sample columns.
_LABELS = ("mode", "device", "network", "image", "layer", "line", "name", "telemetry", "board", "kind",
           "sampler", "parameter", "key", "settled")
COLUMNS = _LABELS + ("value", "t_s", "boundary")
_TEXT = ["device", "network", "image", "layer", "name", "telemetry", "board", "kind", "sampler", "parameter", "key"]
#: One layer of one network on one device in one mode: what the outputs average over.
UNIT = ["mode", "device", "network", "layer"]
_FIRST = ["mode", "network", "device", "layer", "name", "telemetry", "board", "images", "latency_mean_s",
          "latency_median_s", "latency_std_s", "latency_n"]
#: (statistic, CSV suffix for a power rail ``{RAIL}_mW``, suffix for any other key or None).
_STATS = (("mean", "_mean_mW", "_mean"), ("std", "_std_mW", "_std"), ("n", "_n", "_n"),
          ("idle", "_idle_mW", None), ("dynamic", "_dynamic_mW", None), ("energy", "_energy_mJ", None),
          ("dynamic_energy", "_dynamic_energy_mJ", None))
_NUMBER_TYPES = (int, float)
#: A row per raw line (``frame.attrs["stops"]``): how it stopped, its precision, the settings naming its features.
STOP_COLUMNS = UNIT + ["kind", "stop", "ci_rel", "ci_target", "granularity", "batch_size"]

#: What :func:`summarise` returns: ``layers``, a row per layer in output order (``mode``, ``network``, ``device``,
#: ``layer`` as a number) with the CSV's first columns, ``unsettled`` and ``flags``; ``keys``, a row per (layer,
#: parameter, key) in the same order, the parameters and keys as first recorded, with ``rank`` (the layer's row).
Summary = collections.namedtuple("Summary", "layers keys")


class _Rows(object):
    """The frame's columns, filled a segment (the rows of one raw line and key) at a time."""

    def __init__(self):
        self.labels, self.sizes = [], []
        self.values, self.times, self.boundary = [], [], []

    def add(self, labels, values, times=None, boundary=None):
        self.labels.append(labels)
        self.sizes.append(len(values))
        # a type test, not is_number, per sample: NaN, infinities and huge ints are dropped in _floats
        self.values.extend(v if type(v) in _NUMBER_TYPES else None for v in values)
        self.times.extend([None] * len(values) if times is None else times)
        self.boundary.extend([False] * len(values) if boundary is None else boundary)

    def frame(self):
        # text labels as categoricals (categories sorted): a row holds small codes, grouping and sorting use them
        segments = pd.DataFrame.from_records(self.labels, columns=_LABELS).astype({c: "category" for c in _TEXT})
        frame = segments.take(np.repeat(np.arange(len(self.labels)), self.sizes)).reset_index(drop=True)
        frame["value"] = _floats(self.values)
        frame["t_s"] = np.array(self.times, dtype=float)
        frame["boundary"] = np.array(self.boundary, dtype=bool)
        frame["settled"] = frame["settled"].astype(bool)
        return frame


def _floats(values):
    """``values`` (numbers and None) as float64, NaN for None and for anything not finite."""
    try:
        out = np.array(values, dtype=float)
    except OverflowError:  # an int beyond a float's range
        out = np.array([v if is_number(v) else None for v in values], dtype=float)
    out[~np.isfinite(out)] = np.nan
    return out


def _feeds(record):
    """``{sampler: (samples, times, boundary flags)}`` of a power line, and the keys the
    power sampler served (:func:`.raw.rail_keys` on an ``ina`` line; none otherwise)."""
    feeds = {"tegrastats": record["samples"]}
    ina = record.get("power_sampler") == "ina"
    if ina:
        feeds["ina"] = record["power_samples"]
    out = {}
    for sampler, samples in feeds.items():
        times = [s["t"] for s in samples]
        low, high = core_span(record)
        out[sampler] = (samples, times, [not low < t <= high for t in times])
    return out, rail_keys(record) if ina else set()


def _add_power(rows, labels, record):
    feeds, served = _feeds(record)
    idle = (record.get("idle") or {}).get("values") or {}
    settled = record.get("settled") is not False
    for param, keys in record["params"].items():
        for key in keys:
            sampler = "ina" if key in served else "tegrastats"
            samples, times, boundary = feeds[sampler]
            rows.add(labels + ("power", sampler, param, key, settled), [s["values"].get(key) for s in samples],
                     times, boundary)
            rows.add(labels + ("idle", sampler, param, key, settled), [idle.get(key)])


def samples_frame(input_root, modes=None):
    """``(frame, problems)``: every raw file of ``modes`` (None: all) under ``input_root``
    as one tidy DataFrame (module doc), and one line per file skipped (corrupt, partial,
    a field of the wrong type), naming the file, the line and what is wrong."""
    rows = _Rows()
    problems, stops = [], []
    for ref in iter_raw_files(input_root, modes):
        try:
            records = read_lines(ref.path, ref.kind)
        except RawFileError as exc:
            problems.append(str(exc))
            continue
        for number, record in enumerate(records, 1):
            labels = (ref.mode, ref.device, ref.network, ref.image, str(record["layer"]), number,
                      record.get("name") or None, record.get("telemetry", "unknown"), record.get("board", "unknown"))
            if ref.kind == "latency":
                rows.add(labels + ("latency", None, None, None, True), record["samples_s"])
            else:
                _add_power(rows, labels, record)
            stops.append((ref.mode, ref.device, ref.network, str(record["layer"]), ref.kind, stop_of(record),
                          *(record.get(k) for k in ("ci_rel", "ci_target", "granularity", "batch_size"))))
    frame = rows.frame()
    frame.attrs["stops"] = pd.DataFrame.from_records(stops, columns=STOP_COLUMNS)
    return frame, problems


def recorded_parameters(frame):
    """The power parameters (``--tgr_params`` names) the frame holds, sorted."""
    return sorted(frame.loc[frame["kind"] == "idle", "parameter"].drop_duplicates().tolist())


def _joined(values, unit):
    """Per layer (``unit`` ids), the distinct ``values``, sorted, joined with ``+`` (most
    layers have one: only the others are joined one by one)."""
    pairs = pd.DataFrame({"unit": unit, "value": values}).drop_duplicates().sort_values("value", kind="mergesort")
    joined = pairs.drop_duplicates("unit").set_index("unit")["value"].astype(object)
    count = pairs.groupby("unit").size()
    several = count.index[count > 1]
    if len(several):
        mixed = pairs.loc[pairs["unit"].isin(several)]
        joined.loc[several] = mixed["value"].astype(object).groupby(mixed["unit"]).agg("+".join)
    return joined


def _describe(values, by, stats=("mean", "count")):
    """``stats`` of ``values`` per group ``by`` (NaN skipped), and ``std``: the sample standard
    deviation, two-pass (sqrt(sum((x - mean)^2) / (n - 1)): within an ulp of
    :func:`statistics.stdev`, closer than pandas' running one), 0 for one value, NaN for none."""
    groups = values.groupby(by, sort=False)
    out = groups.agg(list(stats))
    count = groups.count()
    squares = ((values - groups.transform("mean")) ** 2).groupby(by, sort=False).sum()
    out["std"] = np.sqrt(squares / (count - 1)).where(count > 1)
    out.loc[count == 1, "std"] = 0.0
    return out


def _layers(frame, unit):
    first = ~unit.duplicated()
    layers = frame.loc[first, UNIT].set_index(unit[first])
    named = frame["name"].notna()  # the first name a layer's lines give
    layers["name"] = pd.DataFrame({"unit": unit, "name": frame["name"]})[named].drop_duplicates("unit").set_index(
        "unit")["name"].astype(object)
    layers["images"] = frame["image"].groupby(unit).nunique()
    layers["telemetry"], layers["board"] = _joined(frame["telemetry"], unit), _joined(frame["board"], unit)
    latency = frame["kind"] == "latency"
    stats = _describe(frame.loc[latency, "value"], unit[latency], ("mean", "median", "count"))
    layers = layers.join(stats.rename(columns={"mean": "latency_mean_s", "median": "latency_median_s",
                                               "std": "latency_std_s", "count": "latency_n"}))
    unsettled = (frame["kind"] == "idle") & ~frame["settled"]
    windows = pd.DataFrame({"unit": unit, "image": frame["image"], "line": frame["line"]})[unsettled]
    layers["unsettled"] = windows.drop_duplicates().groupby("unit").size()
    for column in ("latency_n", "unsettled"):
        layers[column] = layers[column].fillna(0).astype(int)
    layers["order"] = pd.to_numeric(layers["layer"], errors="coerce").fillna(math.inf)
    layers = layers.sort_values(["mode", "network", "device", "order"])
    mean, std = layers["latency_mean_s"], layers["latency_std_s"]
    layers["flags"] = np.where((mean.notna() & (mean != 0)) & (std >= UNSTABLE_REL * mean), "latency_unstable", "")
    return layers.drop(columns="order")


def _keys(frame, unit, ranks):
    """A row per (layer, parameter, key), in ``ranks`` order ({unit id: rank}), then in the
    order parameters and keys were first recorded (``first``: the frame row)."""
    power = frame["kind"] != "latency"
    key_id = frame.loc[power].groupby([unit[power], frame.loc[power, "parameter"], frame.loc[power, "key"]],
                                      sort=False, observed=True).ngroup()
    ids = key_id[frame.loc[power, "kind"] == "idle"]  # one idle row per window and key: every key recorded
    first = ~ids.duplicated()
    keys = frame.loc[ids.index[first], ["parameter", "key"]].astype(object).set_index(ids[first].to_numpy())
    keys["first"] = ids.index[first]
    keys["idle"] = frame.loc[ids.index, "value"].groupby(ids).mean()
    keys["rank"] = ranks.reindex(unit[ids.index[first]]).to_numpy()
    core = frame["kind"].eq("power") & ~frame["boundary"]
    keys = keys.join(_describe(frame.loc[core, "value"], key_id[core[power]]))
    keys["n"] = keys.pop("count").fillna(0).astype(int)
    keys["param_first"] = keys.groupby(["rank", "parameter"], sort=False)["first"].transform("min")
    return keys.sort_values(["rank", "param_first", "first"])


def _derived(keys, layers):
    """Dynamic power and energy per inference (mW x s = mJ), and each key's flags."""
    latency = layers["latency_mean_s"].to_numpy()[keys["rank"].to_numpy()]
    timed = pd.Series((latency != 0) & ~np.isnan(latency), index=keys.index)
    keys["dynamic"] = keys["mean"] - keys["idle"]
    keys["energy"] = (keys["mean"] * latency).where(timed)
    keys["dynamic_energy"] = (keys["dynamic"] * latency).where(timed)
    rail = keys["key"].str.endswith("_mW")
    few = np.where(rail & (keys["n"] < FEW_SAMPLES), "few_samples:" + keys["key"], "")
    spread = keys["mean"].notna() & (keys["mean"] != 0) & (keys["std"] >= UNSTABLE_REL * keys["mean"])
    unstable = np.where(rail & spread, "power_unstable:" + keys["key"], "")
    keys["flags"] = [";".join(f for f in pair if f) for pair in zip(few, unstable)]
    return keys.drop(columns=["first", "param_first"]).reset_index(drop=True)


def summarise(frame):
    """The frame's statistics per layer and per (layer, key): a :class:`Summary`."""
    unit = frame.groupby(UNIT, sort=False, observed=True).ngroup()  # an integer per layer: the labels grouped once
    layers = _layers(frame, unit)
    ranks = pd.Series(np.arange(len(layers)), index=layers.index)
    keys = _keys(frame, unit, ranks)
    layers = _with_stops(layers.reset_index(drop=True), frame.attrs.get("stops"))
    return Summary(layers, _derived(keys, layers))


def _with_stops(layers, stops):
    """Adaptive data (some line has a ``ci_target``): ``power_ci_rel`` and ``latency_ci_rel``, the
    worst achieved relative half-width of a layer's lines (NaN where none could be computed), and
    ``ci_not_reached:{kind}`` flags where a line with a target stopped at its maximum or its
    ``ci_rel`` (over the span it averages) is above the target, or unknown.  Data
    without a target (fixed runs, versions 1-2) are returned unchanged."""
    if stops is None or not stops["ci_target"].notna().any():
        return layers
    stops = stops.assign(ci_rel=pd.to_numeric(stops["ci_rel"], errors="coerce"))
    index = pd.MultiIndex.from_frame(layers[UNIT].astype({"layer": object}))
    target = pd.to_numeric(stops["ci_target"], errors="coerce")
    # at the maximum, or a precision over the line's final span that is not the target (a check
    # judged a shorter span, or too few samples for an interval)
    missed = target.notna() & ((stops["stop"] == "max") | ~(stops["ci_rel"] <= target))
    flags = [[] for _ in range(len(layers))]
    for kind in ("power", "latency"):
        mine = stops.loc[stops["kind"] == kind]
        worst = mine.groupby(UNIT)["ci_rel"].max()
        layers[kind + "_ci_rel"] = worst.reindex(index).to_numpy()
        flagged = set(mine.loc[missed[mine.index], UNIT].itertuples(index=False, name=None))
        for row, unit in enumerate(index):
            if unit in flagged:
                flags[row].append("ci_not_reached:" + kind)
    layers["flags"] = [";".join(f for f in [old] + extra if f) for old, extra in zip(layers["flags"], flags)]
    return layers


def _chosen(keys, params):
    return keys if params is None else keys.loc[keys["parameter"].isin(list(params))]


def _rounded(value, digits=2):
    """Python's round (not NumPy's) of a mean, or None where there was no number."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _power_entry(keys):
    """{parameter: mean} (a parameter of several keys: {key: mean}) of one layer's ``keys``."""
    by_param = collections.OrderedDict()
    for param, key, value in keys:
        by_param.setdefault(param, []).append((key, _rounded(value)))
    return collections.OrderedDict(
        (p, found[0][1] if len(found) == 1 else collections.OrderedDict(found)) for p, found in by_param.items())


def mode_json(summary, mode, params=None):
    """The seed-shaped dict for ``mode`` (module doc); ``params`` limits the power parameters."""
    keys = collections.defaultdict(list)
    for rank, param, key, value in _chosen(summary.keys, params)[["rank", "parameter", "key", "mean"]].itertuples(
            index=False, name=None):
        keys[rank].append((param, key, value))
    out = collections.OrderedDict()
    columns = ["mode", "network", "device", "layer", "latency_n", "latency_mean_s"]
    for rank, (m, network, device, layer, n, latency) in enumerate(
            summary.layers[columns].itertuples(index=False, name=None)):
        if m != mode or not layer.isdigit():
            continue
        entry = out.setdefault(network, collections.OrderedDict()).setdefault(
            device, collections.OrderedDict([("power", collections.OrderedDict()),
                                             ("latency", collections.OrderedDict())]))
        if keys[rank]:
            entry["power"][layer] = _power_entry(keys[rank])
        if n:
            entry["latency"][layer] = latency
    for network in out.values():
        for entry in network.values():
            for part in ("power", "latency"):
                if not entry[part]:
                    del entry[part]
    return out


def _power_cells(keys):
    """Long ``(rank, column, value)`` cells of the CSV's power columns, in the order the
    columns first appear row by row (a rail: ``{RAIL}_mean_mW``...; any other key:
    ``{KEY}_mean``, ``_std``, ``_n``)."""
    rail = keys["key"].str.endswith("_mW")
    prefix = keys["key"].where(~rail, keys["key"].str[:-len("_mW")])
    parts = []
    for order, (stat, rail_suffix, other_suffix) in enumerate(_STATS):
        part = keys.loc[rail if other_suffix is None else slice(None)]
        suffix = rail_suffix if other_suffix is None else np.where(rail[part.index], rail_suffix, other_suffix)
        parts.append(pd.DataFrame({"rank": part["rank"], "column": prefix[part.index] + suffix,
                                   "value": part[stat].astype(float), "row": part.index, "order": order}))
    cells = pd.concat(parts).sort_values(["row", "order"], kind="mergesort")
    return cells.drop_duplicates(["rank", "column"], keep="last")


def layer_table(summary, params=None):
    """``LayerStats.csv`` as a DataFrame: a row per layer (module doc), ``params`` limiting
    the power parameters; columns in the order they first appear row by row, ``flags``
    after the first row's power columns."""
    layers, keys = summary.layers, _chosen(summary.keys, params)
    if not len(layers):
        return pd.DataFrame()
    cells = _power_cells(keys)
    columns = cells["column"].drop_duplicates().tolist()
    first = len(cells.loc[cells["rank"] == 0, "column"].drop_duplicates())
    wide = cells.pivot(index="rank", columns="column", values="value").reindex(index=range(len(layers)),
                                                                              columns=columns)
    for column in columns:
        if column.endswith("_n"):
            wide[column] = wide[column].astype("Int64")
    key_flags = keys.loc[keys["flags"] != ""].groupby("rank")["flags"].agg(";".join).astype(object)
    settled = ["not_settled_after:{}".format(n) if n else "" for n in layers["unsettled"]]
    flags = [";".join(f for f in parts if f) for parts in zip(
        layers["flags"], key_flags.reindex(range(len(layers)), fill_value=""), settled)]
    table = pd.concat([layers[_FIRST], wide.reset_index(drop=True), pd.Series(flags, name="flags")], axis=1)
    adaptive = [c for c in ("power_ci_rel", "latency_ci_rel") if c in layers]  # adaptive data only: at the end
    table = pd.concat([table, layers[adaptive]], axis=1)
    return table[_FIRST + columns[:first] + ["flags"] + columns[first:] + adaptive]


def provenance(frame, mode):
    """Where ``mode``'s numbers come from: telemetry kinds, the samplers of its power rows
    (``power_samplers``: ``tegrastats`` and/or ``ina``; a version-1 file's are ``tegrastats``),
    boards, networks, simulated or not."""
    rows = frame.loc[frame["mode"] == mode]
    telemetry = sorted(rows["telemetry"].drop_duplicates().tolist())
    samplers = sorted(rows.loc[rows["kind"] == "power", "sampler"].dropna().drop_duplicates().tolist())
    return collections.OrderedDict([
        ("format_version", OUTPUT_VERSION), ("mode", mode), ("telemetry", telemetry), ("power_samplers", samplers),
        ("boards", sorted(rows["board"].drop_duplicates().tolist())),
        ("simulated", "simulated" in telemetry), ("networks", sorted(rows["network"].drop_duplicates().tolist())),
        ("note", "SIMULATED telemetry: power values come from the built-in simulator, not a Jetson"
         if "simulated" in telemetry else "")])
