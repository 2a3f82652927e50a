"""Average layer-wise raw files into the seed's per-mode JSON and one tidy CSV (no torch).

Per (mode, device, network, layer) the samples of every image are pooled:

- latency: every timed run (s): mean, median, std, n;
- power: per tegrastats key, the samples inside each window's core
  ``(t_start + boundary_s, t_end - boundary_s]`` (trimmed by timestamp): mean,
  std, n; the idle baseline (mean of the files' baselines); dynamic power
  (mean - idle) and energy per inference (mean power x mean latency, mJ).

``Mode{m}.json`` has exactly the seed's shape: network -> ``cpu``/``gpu`` ->
``power`` ({layer: {parameter: mean}}, mW rounded to 0.01) and ``latency``
({layer: mean s}).  The whole-model timing and the provenance (telemetry
source, boards, simulated or not) go to the CSV and ``Mode{m}.provenance.json``.
"""
import collections
import logging
import math
from statistics import median

from .layout import iter_raw_files
from ..measure.window import in_core
from .raw import RawFileError, read_lines
from ..stats import mean, numbers, std

logger = logging.getLogger(__name__)

__all__ = ["collect", "mode_json", "tidy_rows", "provenance", "UNSTABLE_REL", "FEW_SAMPLES"]

#: A spread (std / mean) at or above this flags a measurement as unstable.
UNSTABLE_REL = 0.10
#: Fewer power samples than this in a layer's core flags it.
FEW_SAMPLES = 10

Key = collections.namedtuple("Key", "mode device network layer")


class _Layer(object):
    """Pooled data of one (mode, device, network, layer)."""

    def __init__(self):
        self.name = None
        self.latency = []
        self.values = collections.OrderedDict()   # key -> [numbers]
        self.params = collections.OrderedDict()   # parameter -> [keys]
        self.idle = collections.defaultdict(list)  # key -> [idle means]
        self.images = set()
        self.labels = set()                        # (telemetry, board)
        self.unsettled = 0


def _add_power(layer, record):
    core = [s for s in record.get("samples", [])
            if in_core(s["t"], record["t_start"], record["t_end"], record["boundary_s"])]
    for param, keys in record["params"].items():
        known = layer.params.setdefault(param, [])
        for key in keys:
            if key not in known:
                known.append(key)
            layer.values.setdefault(key, []).extend(numbers([s["values"].get(key) for s in core]))
    for key, value in (record.get("idle") or {}).get("values", {}).items():
        if isinstance(value, (int, float)):
            layer.idle[key].append(value)
    if record.get("settled") is False:
        layer.unsettled += 1


def collect(input_root, modes=None):
    """Read every raw file; returns ``(layers, problems)``: ``{Key: _Layer}`` and a list
    of one-line reports of files that were skipped (corrupt, partial, bad shape)."""
    layers = collections.OrderedDict()
    problems = []
    for ref in iter_raw_files(input_root, modes):
        try:
            records = read_lines(ref.path, ref.kind)
        except RawFileError as exc:
            problems.append(str(exc))
            continue
        for record in records:
            key = Key(ref.mode, ref.device, ref.network, str(record["layer"]))
            layer = layers.setdefault(key, _Layer())
            layer.name = layer.name or record.get("name")
            layer.images.add(ref.image)
            layer.labels.add((record.get("telemetry", "unknown"), record.get("board", "unknown")))
            if ref.kind == "latency":
                layer.latency.extend(numbers(record["samples_s"]))
            else:
                _add_power(layer, record)
    return layers, problems


def _layer_order(key):
    return (key.mode, key.network, key.device, math.inf if not key.layer.isdigit() else int(key.layer))


def _param_mean(layer, param):
    keys = layer.params[param]
    means = [(key, mean(layer.values.get(key, []))) for key in keys]
    if len(means) == 1:
        value = means[0][1]
        return round(value, 2) if value is not None else None
    return collections.OrderedDict((key, round(v, 2) if v is not None else None) for key, v in means)


def mode_json(layers, mode, params=None):
    """The seed-shaped dict for ``mode``; ``params`` limits the power parameters."""
    out = collections.OrderedDict()
    for key in sorted((k for k in layers if k.mode == mode), key=_layer_order):
        if not key.layer.isdigit():
            continue
        layer = layers[key]
        device = out.setdefault(key.network, collections.OrderedDict()).setdefault(
            key.device, collections.OrderedDict([("power", collections.OrderedDict()),
                                                 ("latency", collections.OrderedDict())]))
        chosen = [p for p in layer.params if params is None or p in params]
        if chosen:
            device["power"][key.layer] = collections.OrderedDict((p, _param_mean(layer, p)) for p in chosen)
        if layer.latency:
            device["latency"][key.layer] = mean(layer.latency)
    for network in out.values():
        for device in network.values():
            for part in ("power", "latency"):
                if not device[part]:
                    del device[part]
    return out


def _flags(layer, lat_mean, lat_std, power_keys):
    flags = []
    if lat_mean and lat_std is not None and lat_std >= UNSTABLE_REL * lat_mean:
        flags.append("latency_unstable")
    for key in power_keys:
        values = layer.values.get(key, [])
        if len(values) < FEW_SAMPLES:
            flags.append("few_samples:" + key)
        avg, spread = mean(values), std(values)
        if avg and spread is not None and spread >= UNSTABLE_REL * avg:
            flags.append("power_unstable:" + key)
    if layer.unsettled:
        flags.append("not_settled_after:{}".format(layer.unsettled))
    return ";".join(flags)


def _power_columns(row, layer, key, lat_mean):
    values = layer.values.get(key, [])
    avg, spread = mean(values), std(values)
    if key.endswith("_mW"):
        rail = key[:-len("_mW")]
        idle = mean(layer.idle.get(key, []))
        dynamic = avg - idle if avg is not None and idle is not None else None
        row.update([(rail + "_mean_mW", avg), (rail + "_std_mW", spread), (rail + "_n", len(values)),
                    (rail + "_idle_mW", idle), (rail + "_dynamic_mW", dynamic),
                    (rail + "_energy_mJ", avg * lat_mean if avg is not None and lat_mean else None),
                    (rail + "_dynamic_energy_mJ", dynamic * lat_mean if dynamic is not None and lat_mean else None)])
    else:
        row.update([(key + "_mean", avg), (key + "_std", spread), (key + "_n", len(values))])


def tidy_rows(layers, modes=None, params=None):
    """One OrderedDict per (mode, network, device, layer), the whole-model latency as
    layer ``model``; columns as in the module doc (units in the names)."""
    rows = []
    for key in sorted(layers, key=_layer_order):
        if modes is not None and key.mode not in modes:
            continue
        layer = layers[key]
        lat_mean, lat_std = mean(layer.latency), std(layer.latency)
        telemetry = sorted({t for t, _ in layer.labels})
        boards = sorted({b for _, b in layer.labels})
        row = collections.OrderedDict([
            ("mode", key.mode), ("network", key.network), ("device", key.device), ("layer", key.layer),
            ("name", layer.name), ("telemetry", "+".join(telemetry)), ("board", "+".join(boards)),
            ("images", len(layer.images)), ("latency_mean_s", lat_mean),
            ("latency_median_s", median(layer.latency) if layer.latency else None),
            ("latency_std_s", lat_std), ("latency_n", len(layer.latency))])
        power_keys = []
        for param, keys in layer.params.items():
            if params is None or param in params:
                for k in keys:
                    _power_columns(row, layer, k, lat_mean)
                    if k.endswith("_mW"):
                        power_keys.append(k)
        row["flags"] = _flags(layer, lat_mean, lat_std, power_keys)
        rows.append(row)
    return rows


def provenance(layers, mode):
    """Where ``mode``'s numbers come from: telemetry kinds, boards, networks, simulated or not."""
    labels = set()
    networks = set()
    for key, layer in layers.items():
        if key.mode == mode:
            labels.update(layer.labels)
            networks.add(key.network)
    telemetry = sorted({t for t, _ in labels})
    return collections.OrderedDict([
        ("mode", mode), ("telemetry", telemetry), ("boards", sorted({b for _, b in labels})),
        ("simulated", "simulated" in telemetry), ("networks", sorted(networks)),
        ("note", "SIMULATED telemetry: power values come from the built-in simulator, not a Jetson"
         if "simulated" in telemetry else "")])
