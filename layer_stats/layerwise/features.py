"""Layer features files: what each layer of a network is and how big, recorded once per
(network, granularity, batch size) next to the raw data, and joined into ``LayerStats.csv``.

The generator writes one file per network when it builds the network for measuring (on the
CPU, before the layers move to the device), and on a rerun that finds the raw files done but
the features file missing (data made before features files: it builds the network and
writes only this file).  Where: :func:`.layout.features_file`,
``<output_root>/LayerStats/features/<granularity>/batch<N>/<network>.json``.  A valid file
counted with the same method is kept; any other is written again.

File format (one JSON object, written atomically; :func:`features_problem` checks it):

- ``format_version``: :data:`FORMAT_VERSION`; readers accept every version up to it;
- ``method``: the counting method (``layer_stats.models.complexity.METHOD``): the generator
  writes a file of another method again, and post-processing warns where the files it joins
  were counted by different methods;
- ``torch``, ``torchvision``: the versions that built the network; ``network``,
  ``granularity`` (``block``/``fine``), ``batch_size`` (images per inference);
- ``input_shape``: the model's input, batch first (``[N, 3, 224, 224]``);
- ``layers``: one object per layer, in order (:data:`LAYER_KEYS`, from
  ``layer_stats.models.features.layer_features``): ``layer`` (index from 0), ``name`` (the
  units it holds, as the raw lines' ``name``), ``types`` (the ``torch.nn`` modules it calls,
  class names in call order joined with ``+``: ``Conv2d+BatchNorm2d+ReLU``; function names
  for a layer that calls none), ``input_shape``, ``output_shape`` (lists of ints, each
  layer's output the next one's input), ``params`` (parameters), ``macs`` (multiply-
  accumulates) and ``flops`` (floating-point operations) for one inference of the whole
  batch, ``leaf_ops`` (torch.fx leaf operations: module, function and method calls);
- ``total``: the whole network (:data:`TOTAL_KEYS`): the model's ``input_shape`` and
  ``output_shape``, and the sums of the layers' ``params``, ``macs``, ``flops``, ``leaf_ops``.

History: 1, the first version.

:func:`add_feature_columns` joins the files into the ``LayerStats.csv`` table
(:data:`CSV_COLUMNS` right after ``name``; the ``model`` row: the totals).  Standard library
only: the generator imports it on the board and post-processing has no torch.
"""
import collections
import io
import json
import logging
import os
import re

from . import layout
from ..errors import DnnStatsError
from ..fsutil import atomic_write

logger = logging.getLogger(__name__)

__all__ = ["FORMAT_VERSION", "LAYER_KEYS", "TOTAL_KEYS", "CSV_COLUMNS", "FeaturesFileError", "features_document",
           "write_features", "record_features", "ensure_features", "read_features", "features_problem",
           "features_state", "shape_text", "add_feature_columns", "FeatureJoin"]

#: Format history: see the module doc.
FORMAT_VERSION = 1
#: A layer's keys, in the file's order.
LAYER_KEYS = ("layer", "name", "types", "input_shape", "output_shape", "params", "macs", "flops", "leaf_ops")
#: The figures summed over the layers into ``total``.
SUMMED = ("params", "macs", "flops", "leaf_ops")
#: ``total``'s keys, in the file's order.
TOTAL_KEYS = ("input_shape", "output_shape") + SUMMED
#: The columns :func:`add_feature_columns` puts after ``name`` (shapes as text: ``1x64x56x56``).
CSV_COLUMNS = ("types", "input_shape", "output_shape") + SUMMED
#: A model's input without the batch: what :func:`layer_stats.models.inputs.load_batch` gives.
INPUT_CHW = (3, 224, 224)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")  # a granularity or network that is one path component


class FeaturesFileError(DnnStatsError):
    """A features file that cannot be read (corrupt, truncated, or from a newer version)."""


def features_document(network, granularity, batch_size, layers, total, method, software):
    """The file's object (module doc) for ``layers`` (the per-layer dicts) and ``total``
    (their totals); ``software``: {``torch``: version, ``torchvision``: version}."""
    return collections.OrderedDict([
        ("format_version", FORMAT_VERSION), ("method", method), ("torch", software.get("torch")),
        ("torchvision", software.get("torchvision")), ("network", network), ("granularity", granularity),
        ("batch_size", batch_size), ("input_shape", list(total["input_shape"])),
        ("layers", [collections.OrderedDict((k, layer[k]) for k in LAYER_KEYS) for layer in layers]),
        ("total", collections.OrderedDict((k, total[k]) for k in TOTAL_KEYS))])


def write_features(path, doc):
    """Write ``doc`` to ``path`` atomically; raises DnnStatsError if it is not a valid file
    (:func:`features_problem`): a features file is never written wrong."""
    problem = features_problem(doc)
    if problem:
        raise DnnStatsError("internal error: the features of {} are not a valid file ({}); please report it".format(
            doc.get("network") if isinstance(doc, dict) else "?", problem))
    atomic_write(path, _text(doc))


def _text(doc):
    """JSON text of a features file (any JSON reader reads it): a key per line, a layer per line."""
    def dump(value):
        return json.dumps(value, allow_nan=False)

    lines = ["{"] + ["  {}: {},".format(dump(key), dump(value)) for key, value in doc.items()
                     if key not in ("layers", "total")]
    lines += ['  "layers": [', ",\n".join("    " + dump(layer) for layer in doc["layers"]), "  ],"]
    lines += ['  "total": ' + dump(doc["total"]), "}"]
    return "\n".join(lines) + "\n"


def record_features(path, network, chain, granularity, batch_size):
    """Count ``chain``'s features (its layers on the CPU) for a batch of ``batch_size`` images and
    write them to ``path``; returns the file's object.  Needs torch."""
    import torch
    import torchvision

    from ..models.complexity import METHOD
    from ..models.features import feature_totals, layer_features

    example = torch.zeros((int(batch_size),) + INPUT_CHW)  # shapes alone decide the figures
    layers = layer_features(chain, example)
    doc = features_document(network, granularity, batch_size, layers, feature_totals(layers), METHOD,
                            {"torch": torch.__version__, "torchvision": torchvision.__version__})
    write_features(path, doc)
    return doc


def ensure_features(output_root, network, granularity, batch_size, weights=None, chain=None):
    """Write ``network``'s features file (:func:`.layout.features_file`) unless a valid one counted
    by this method is there (a corrupt one or one of another method is written again, with a
    warning).  ``chain``: its layers, on the CPU; None: build the network (``weights``, see
    :func:`~layer_stats.models.registry.build_model`) and cut it for this alone, with a log line.
    Returns the path.  Needs torch."""
    from ..models.complexity import METHOD

    path = layout.features_file(output_root, granularity, batch_size, network)
    state, why = features_state(path, METHOD)
    if state == "ok":
        return path
    if why:
        logger.warning("%s (writing it again)", why)
    if chain is None:
        from ..models.registry import build_model
        from ..models.split import split_model

        logger.info("%s: every raw file is done but %s is %s: building the network to write it (nothing is "
                    "measured)", network, path, "not valid" if why else "missing (data made before features files)")
        chain = split_model(build_model(network, weights), granularity)
    record_features(path, network, chain, granularity, batch_size)
    logger.info("%s: features of %d layers written to %s", network, len(chain.layers), path)
    return path


def _no_constant(name):
    raise ValueError("{} is not a number JSON allows".format(name))


def read_features(path):
    """The features file at ``path`` as a dict; raises FeaturesFileError naming the file and
    what is wrong (unreadable, not JSON, :func:`features_problem`)."""
    try:
        with io.open(path, encoding="utf-8") as handle:
            doc = json.loads(handle.read(), parse_constant=_no_constant)
    except (IOError, OSError, UnicodeDecodeError) as exc:
        raise FeaturesFileError("{}: cannot read ({})".format(path, exc))
    except ValueError as exc:
        raise FeaturesFileError("{}: not JSON ({})".format(path, exc))
    problem = features_problem(doc)
    if problem:
        raise FeaturesFileError("{}: {}".format(path, problem))
    return doc


def _count(value):
    """True for an int >= 0 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_shape(value):
    return isinstance(value, list) and len(value) > 0 and all(_count(v) for v in value)


def _head_problem(doc):
    version = doc.get("format_version")
    if not (_count(version) and 1 <= version <= FORMAT_VERSION):
        return "format_version {!r} is not one this version reads (1 to {}): update the tool".format(
            version, FORMAT_VERSION)
    for key in ("method", "torch", "torchvision", "network", "granularity"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            return "{} {!r} is not text".format(key, doc.get(key))
    batch, shape = doc.get("batch_size"), doc.get("input_shape")
    if not (_count(batch) and batch >= 1):
        return "batch_size {!r} is not a count of images".format(batch)
    if not _is_shape(shape) or shape[0] != batch:
        return "input_shape {!r} is not a shape of batch_size {}".format(shape, batch)
    return None


def _layer_problem(index, layer, expect_input):
    if not isinstance(layer, dict) or any(key not in layer for key in LAYER_KEYS):
        return "layers[{}] is not an object with {}".format(index, ", ".join(LAYER_KEYS))
    if layer["layer"] != index or isinstance(layer["layer"], bool):
        return "layers[{}] says layer {!r}".format(index, layer["layer"])
    if not isinstance(layer["name"], str) or not isinstance(layer["types"], str):
        return "layers[{}]: name and types are not text".format(index)
    for key in ("input_shape", "output_shape"):
        if not _is_shape(layer[key]):
            return "layers[{}] {} {!r} is not a shape".format(index, key, layer[key])
    if layer["input_shape"] != expect_input:
        return "layers[{}] input_shape {} is not the previous output {}".format(index, layer["input_shape"],
                                                                               expect_input)
    for key in SUMMED:
        if not _count(layer[key]):
            return "layers[{}] {} {!r} is not a count".format(index, key, layer[key])
    return None


def features_problem(doc):
    """What is wrong with a features file's object ``doc`` (module doc), or None: the header's
    types, every layer (keys, index, text, shapes that chain, counts), and ``total`` (the sums
    of the layers, the first input and the last output)."""
    if not isinstance(doc, dict):
        return "not a JSON object"
    problem = _head_problem(doc)
    if problem:
        return problem
    layers = doc.get("layers")
    if not isinstance(layers, list) or not layers:
        return "layers is not a non-empty list"
    expect = doc["input_shape"]
    for index, layer in enumerate(layers):
        problem = _layer_problem(index, layer, expect)
        if problem:
            return problem
        expect = layer["output_shape"]
    total = doc.get("total")
    if not isinstance(total, dict):
        return "total is not an object"
    want = dict(input_shape=doc["input_shape"], output_shape=expect,
                **{key: sum(layer[key] for layer in layers) for key in SUMMED})
    for key in TOTAL_KEYS:
        if total.get(key) != want[key] or isinstance(total.get(key), bool):
            return "total {} {!r} is not the layers' {!r}".format(key, total.get(key), want[key])
    return None


def features_state(path, method):
    """``(state, why)`` of the features file at ``path``: ``ok`` (valid, counted by ``method``),
    ``missing``, ``corrupt`` (why: the file and what is wrong) or ``other_method``."""
    if not os.path.exists(path):
        return "missing", None
    try:
        doc = read_features(path)
    except FeaturesFileError as exc:
        return "corrupt", str(exc)
    if doc["method"] != method:
        return "other_method", "{}: counted by {!r}, not {!r}".format(path, doc["method"], method)
    return "ok", None


def shape_text(shape):
    """``[1, 64, 56, 56]`` -> ``"1x64x56x56"``."""
    return "x".join(str(size) for size in shape)


#: What :func:`add_feature_columns` returns: ``table`` (the CSV's table with the features),
#: ``problems`` (one line per features file that was ignored: the file and what is wrong) and
#: ``missing`` (``network (granularity, batch N)`` per network without a features file).
FeatureJoin = collections.namedtuple("FeatureJoin", "table problems missing")


def _as_count(value):
    """``value`` as an int >= 1 where it is one (1, 1.0, numpy's 1), else None."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number == value and number >= 1 else None


def _settings(stops):
    """``{(mode, device, network): {(granularity, batch_size)}}`` from the raw lines' table."""
    out = collections.defaultdict(set)
    columns = ["mode", "device", "network", "granularity", "batch_size"]
    for mode, device, network, granularity, batch in stops[columns].drop_duplicates().itertuples(
            index=False, name=None):
        out[(mode, device, network)].add((granularity if isinstance(granularity, str) else None, _as_count(batch)))
    return out


def _file_for(input_root, network, settings):
    """``(path, label)`` of the features file of ``network`` measured with ``settings`` (a set of
    ``(granularity, batch_size)`` its raw lines gave), or ``(None, label)`` where they do not
    name exactly one valid setting (lines without them, or mixed by hand)."""
    if len(settings) != 1 or not _NAME.match(network):
        return None, "{} (granularity and batch size unknown)".format(network)
    granularity, batch = next(iter(settings))
    if granularity is None or not _NAME.match(granularity) or batch is None:
        return None, "{} (granularity and batch size unknown)".format(network)
    return (layout.features_file(input_root, granularity, batch, network),
            "{} ({}, batch {})".format(network, granularity, batch))


def _load(path, cache, problems):
    """The features file at ``path`` (read once), or None: missing, or a problem noted."""
    if path not in cache:
        cache[path] = None
        if os.path.exists(path):
            try:
                cache[path] = read_features(path)
            except FeaturesFileError as exc:
                problems.append(str(exc))
    return cache[path]


def _matches(doc, names, path):
    """None where ``doc``'s layers are the raw data's (``names``: {layer index: raw name or
    None}), else what differs."""
    if sorted(names) != list(range(len(doc["layers"]))):
        return "{}: {} layers, the raw data has layers {}".format(path, len(doc["layers"]), sorted(names)[:6])
    for index, name in sorted(names.items()):
        if name is not None and doc["layers"][index]["name"] != name:
            return "{}: layer {} is {!r} there and {!r} in the raw data (made by another torchvision?)".format(
                path, index, doc["layers"][index]["name"], name)
    return None


def _cells(entry, model_row):
    """A row's cells: a layer's features, or (``model_row``) the totals, with no ``types``."""
    return [None if model_row else entry["types"], shape_text(entry["input_shape"]),
            shape_text(entry["output_shape"])] + [entry[key] for key in SUMMED]


def add_feature_columns(table, stops, input_root):
    """``table`` (``LayerStats.csv``'s, from :func:`.postprocess.layer_table`) with
    :data:`CSV_COLUMNS` after ``name``: each layer's features, and on the ``model`` row the
    totals and the model's input and output shapes, from the features files under
    ``input_root``; a :class:`FeatureJoin`.

    ``stops``: the raw lines' table (``frame.attrs["stops"]`` of :func:`.postprocess.samples_frame`:
    ``mode``, ``device``, ``network``, ``granularity``, ``batch_size`` per line, as the lines say).
    A network's cells stay empty where its file is missing, unreadable or invalid, or its layers
    are not the raw data's (count, names); each such file is one ``problems`` line, and so are
    files counted by different methods (their figures do not compare: the generator, run again,
    writes the older ones anew).  The columns are there, empty, when no file is found.
    """
    if "name" not in table.columns:
        return FeatureJoin(table, [], [])
    by_group = _settings(stops)
    groups = collections.defaultdict(dict)
    rows = table[["mode", "device", "network", "layer", "name"]].itertuples(index=False, name=None)
    for mode, device, network, layer, name in rows:
        if str(layer).isdigit():
            groups[(mode, device, network)][int(layer)] = name if isinstance(name, str) else None
    cache, problems, missing, docs = {}, [], [], {}
    for group, names in groups.items():
        path, label = _file_for(input_root, group[2], by_group.get(group, set()))
        doc = _load(path, cache, problems) if path is not None else None
        if doc is None and (path is None or not os.path.exists(path)) and label not in missing:
            missing.append(label)
        problem = _matches(doc, names, path) if doc is not None else None
        if problem and problem not in problems:
            problems.append(problem)
        docs[group] = None if problem else doc
    methods = sorted(set(doc["method"] for doc in docs.values() if doc is not None))
    if len(methods) > 1:
        problems.append("features counted by different methods ({}): rerun the generator over this data to count "
                        "them all alike".format(", ".join(methods)))
    columns = [[] for _ in CSV_COLUMNS]
    rows = table[["mode", "device", "network", "layer"]].itertuples(index=False, name=None)
    for mode, device, network, layer in rows:
        doc = docs.get((mode, device, network))
        model_row = str(layer) == "model"
        if doc is None or not (model_row or str(layer).isdigit()):
            values = [None] * len(CSV_COLUMNS)
        else:
            values = _cells(doc["total"] if model_row else doc["layers"][int(layer)], model_row)
        for column, value in zip(columns, values):
            column.append(value)
    at = list(table.columns).index("name") + 1
    table = table.copy()
    for offset, (column, values) in enumerate(zip(CSV_COLUMNS, columns)):
        table.insert(at + offset, column, values)
    return FeatureJoin(table, problems, missing)
