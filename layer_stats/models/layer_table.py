"""Layer counts of every torchvision classifier in both granularities, shipped as a table
(``layer_counts.json`` next to this file) so that the multi-DNN planner needs no torch.

Reading the table needs only the standard library.  Making it needs torch:
``python3 -m layer_stats.models table`` builds and splits every classification
model of the installed torchvision (a few minutes) and records the torch and
torchvision versions it was made with.  Another torchvision may cut a model
differently, so a run checks the count of every model it builds against the
table (:func:`check_count`) before measuring anything.  (The table made with
torchvision 0.29.1 holds, in both granularities, the same counts as torchvision
0.11.2, the TX2's, gives for all 59 classifiers that version has.)

File (JSON, ``format_version`` :data:`TABLE_FORMAT_VERSION`; 1: first version):
``torch``, ``torchvision`` (the versions it was made with), ``generated_by``
(the command), ``counts`` ({granularity: {model: layer count}}).  A model that
cannot be split in a granularity is absent from that granularity.
"""
import json
import logging
import os

from ..errors import DnnStatsError

logger = logging.getLogger(__name__)

__all__ = ["TABLE_FILE", "TABLE_FORMAT_VERSION", "REGENERATE", "load_table", "table_models", "table_count",
           "planned_layer_counts", "count_layers", "check_count", "make_table", "table_text"]

TABLE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layer_counts.json")
TABLE_FORMAT_VERSION = 1
REGENERATE = "python3 -m layer_stats.models table"

_CACHE = {}


def _invalid(path, why):
    return DnnStatsError("layer table {} {}: regenerate it with {} (needs torch and torchvision)".format(
        path, why, REGENERATE))


def load_table(path=TABLE_FILE):
    """The table as a dict (read once per path); raises DnnStatsError if it is missing or malformed."""
    if path not in _CACHE:
        try:
            with open(path) as handle:
                table = json.load(handle)
        except (IOError, OSError, ValueError) as exc:
            raise _invalid(path, "cannot be read ({})".format(exc))
        if not isinstance(table, dict) or table.get("format_version") != TABLE_FORMAT_VERSION:
            raise _invalid(path, "is not a version {} layer table".format(TABLE_FORMAT_VERSION))
        counts = table.get("counts")
        if not isinstance(counts, dict) or not all(
                isinstance(per, dict) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                              for n in per.values()) for per in counts.values()):
            raise _invalid(path, "holds counts that are not positive integers")
        _CACHE[path] = table
    return _CACHE[path]


def table_models(table=None, granularity="block"):
    """Sorted model names the table has a ``granularity`` count for."""
    table = load_table() if table is None else table
    return sorted(table["counts"].get(granularity, {}))


def table_count(name, granularity="block", table=None):
    """The table's layer count for ``name`` (None if it has none)."""
    table = load_table() if table is None else table
    return table["counts"].get(granularity, {}).get(name)


def count_layers(name, granularity="block"):
    """Build ``name`` (random weights) and count its layers with torch.fx (needs torch)."""
    from .registry import build_model
    from .split import split_model

    return len(split_model(build_model(name), granularity).layers)


def _torch_missing():
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        return True
    return False


def planned_layer_counts(models, granularity="block", table=None):
    """``{model: layer count}`` for the planner, from the table.

    A model the table lacks (a newer torchvision) is built and counted when torch
    is installed (logged); without torch that raises DnnStatsError.
    """
    table = load_table() if table is None else table
    installed = _installed_torchvision()
    if installed not in ("none", table.get("torchvision")):
        logger.warning("the layer table was made with torchvision %s, this is %s: the run checks the layer count "
                       "of every network it builds", table.get("torchvision"), installed)
    counts, missing = {}, []
    for name in models:
        count = table_count(name, granularity, table)
        if count is None:
            missing.append(name)
        else:
            counts[name] = count
    if missing and _torch_missing():
        raise DnnStatsError("the layer table (torchvision {}) has no {} count for {}: install torch and "
                            "torchvision to count it, or regenerate the table with {}".format(
                                table.get("torchvision"), granularity, ", ".join(missing), REGENERATE))
    for name in missing:
        counts[name] = count_layers(name, granularity)
        logger.info("%s is not in the layer table (torchvision %s): counted %d %s layers by building it",
                    name, table.get("torchvision"), counts[name], granularity)
    return counts


def check_count(name, counted, planned, granularity="block"):
    """Raise DnnStatsError when a model built now has another layer count than the one planned with."""
    if counted != planned:
        table = load_table()
        raise DnnStatsError("{} has {} {} layers with this torchvision ({}) but the plan used {} (layer table made "
                            "with torchvision {}): regenerate the table with {}, then rerun into a new "
                            "--output_root".format(name, counted, granularity, _installed_torchvision(), planned,
                                                   table.get("torchvision"), REGENERATE))


def _installed_torchvision():
    """The installed torchvision's version without a local suffix ("0.11.2"), or "none"."""
    try:
        import torchvision
    except ImportError:
        return "none"
    return torchvision.__version__.split("+")[0]


def make_table(names, granularities=("block", "fine"), on_count=None):
    """A new table for ``names`` (needs torch); ``on_count(name, granularity, count or None)``
    is called after each model.  A model that cannot be split is left out of that granularity."""
    import torch
    import torchvision

    counts = {g: {} for g in granularities}
    for granularity in granularities:
        for name in names:
            try:
                counts[granularity][name] = count_layers(name, granularity)
            except DnnStatsError as exc:
                logger.warning("%s (%s) left out of the table: %s", name, granularity, exc)
            if on_count is not None:
                on_count(name, granularity, counts[granularity].get(name))
    return {"format_version": TABLE_FORMAT_VERSION, "torch": torch.__version__.split("+")[0],
            "torchvision": torchvision.__version__.split("+")[0], "generated_by": REGENERATE, "counts": counts}


def table_text(table):
    """The table as the JSON text the file holds (sorted keys, so regenerating shows a small diff)."""
    return json.dumps(table, indent=1, sort_keys=True) + "\n"
