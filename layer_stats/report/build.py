"""The report from start to end: check the inputs and the output folder, read the data
(:mod:`.data`), draw every figure, write ``index.html`` (:mod:`.page`).

Everything is written under the output folder: ``index.html`` and ``figures/*.png``.  PNG files
of ``figures/`` that this run did not write (left by an earlier report of other data) are
removed, so the folder holds what the page shows.
"""
import collections
import glob
import logging
import os
import re

from multi_network_stats.layout import raw_files

from .. import __version__
from ..clock import utc_now_iso
from ..errors import DnnStatsError
from ..fsutil import check_writable, mode_folders
from ..layerwise.layout import empty_mode_error, layer_root, modes_with_data
from .page import PAGE, Figure, Note, Section, Table, write_page
from .plotting import pyplot

logger = logging.getLogger(__name__)

__all__ = ["Inputs", "find_inputs", "check_out", "build_report", "FIGURES", "Report"]

#: The figures' folder inside the output folder.
FIGURES = "figures"
#: Skipped raw files listed on the page (the rest are counted).
_MAX_PROBLEMS = 20
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

#: What :func:`find_inputs` found: ``layer_modes`` and ``multi_modes`` (sorted lists of the
#: modes to report of each product; either may be empty, not both).
Inputs = collections.namedtuple("Inputs", "layer_modes multi_modes")
#: What :func:`build_report` wrote: ``page`` (index.html's path), ``figures`` (PNG paths),
#: ``notes`` (the figures or sections left out, and why), ``simulated``.
Report = collections.namedtuple("Report", "page figures notes simulated")


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def find_inputs(input_root, multinet_root, modes=None):
    """:class:`Inputs` under ``input_root`` (layer-wise: ``<input_root>/LayerStats/Mode{m}``)
    and ``multinet_root`` (``Mode{m}`` folders); ``modes`` (None: every mode found) limits both.
    Raises DnnStatsError when there is no data, or a mode asked for has none."""
    if not os.path.isdir(input_root):
        raise DnnStatsError("input folder {!r} not found: pass --input_root (the generators' --output_root, "
                            "e.g. Dataset)".format(input_root))
    layer = modes_with_data(input_root)
    multi = sorted(m for m, folder in mode_folders(multinet_root).items() if raw_files(folder))
    empty = [m for m in sorted(mode_folders(layer_root(input_root))) if m not in layer]
    if empty and not layer and not multi:
        raise empty_mode_error(empty[0], input_root, None)
    for mode in empty:
        if modes is not None and mode in modes and mode not in multi:
            raise empty_mode_error(mode, input_root, "--modes")
        logger.warning("%s (left out)", empty_mode_error(mode, input_root, "--modes"))
    if not layer and not multi:
        raise DnnStatsError("no raw data under {} (no raw file in LayerStats/Mode*, nor in a Mode* folder of {}): run "
                            "PowerLatencyDatasetGenerator.py or MappingDBGenerator.py first, or pass --input_root "
                            "(and --multinet_root)".format(input_root, multinet_root))
    if modes is None:
        return Inputs(layer, multi)
    missing = [m for m in modes if m not in layer and m not in multi]
    if missing:
        raise DnnStatsError("no raw data for mode {} (layer-wise modes found: {}; multi-DNN: {}): fix --modes".format(
            ", ".join(str(m) for m in missing), ", ".join(str(m) for m in layer) or "none",
            ", ".join(str(m) for m in multi) or "none"))
    return Inputs([m for m in layer if m in modes], [m for m in multi if m in modes])


def check_out(out, input_root, multinet_root):
    """Refuse an output folder among the raw data (in ``<input_root>/LayerStats``, the multi-DNN
    root itself, or in one of its ``Mode`` folders) or one that cannot be written."""
    raw = [layer_root(input_root)] + sorted(mode_folders(multinet_root).values())
    clash = [folder for folder in raw if _inside(out, folder)]
    if os.path.realpath(out) == os.path.realpath(multinet_root):
        clash.append(multinet_root)
    if clash:
        raise DnnStatsError("--out {} is inside the raw data {}: pass a folder outside it (e.g. {})".format(
            out, clash[0], os.path.join(input_root, "report")))
    check_writable(out, "--out")


class _Writer(object):
    """Names the PNG files (``figures/<name>.png``, one folder, names made of safe characters)
    and keeps what was written."""

    def __init__(self, out):
        self.folder = os.path.join(out, FIGURES)
        self.written = []

    def path_of(self, *parts):
        name = "-".join(_UNSAFE.sub("_", str(p)) for p in parts if p is not None and str(p) != "")
        return os.path.join(self.folder, name + ".png")

    def keep(self, items):
        self.written.extend(item.path for item in items if isinstance(item, Figure))
        return items

    def prune(self):
        """Remove the PNG files of the figures folder this run did not write."""
        written = {os.path.realpath(p) for p in self.written}
        for path in sorted(glob.glob(os.path.join(self.folder, "*.png"))):
            if os.path.realpath(path) not in written:
                os.remove(path)
                logger.info("removed %s: an earlier report's figure", path)


def _run_table(product, mode, runs):
    columns = sorted({key for run in runs for key in run}, key=lambda k: list(runs[0]).index(k)
                     if k in runs[0] else len(runs[0]))
    rows = [[run.get(c) for c in columns] for run in runs]
    return Table("{} Mode {}: {} run file(s)".format(product, mode, len(runs)), columns, rows)


def _runs_section(layer_runs, multi_runs):
    items = []
    for product, runs_by_mode in (("layer-wise", layer_runs), ("multi-DNN", multi_runs)):
        for mode, runs in sorted(runs_by_mode.items()):
            items.append(_run_table(product, mode, runs) if runs else Note("{} Mode {}: no run file (run-*.json) "
                                                                           "found.".format(product, mode)))
    return Section(2, "Runs (board, mode, telemetry source)", items or [Note("No run files found.")])


def _problems_section(problems):
    if not problems:
        return []
    items = [Note(p) for p in problems[:_MAX_PROBLEMS]]
    if len(problems) > _MAX_PROBLEMS:
        items.append(Note("... and {} more (see the log).".format(len(problems) - _MAX_PROBLEMS)))
    return [Section(2, "Raw files skipped as unreadable ({})".format(len(problems)), items)]


def build_report(input_root, out, multinet_root=None, modes=None):
    """Check, read, draw and write the report (module doc); returns a :class:`Report`.
    ``multinet_root``: default ``<input_root>/Multinet``; ``modes``: None for every mode found."""
    from .sections import layerwise_sections, multinet_sections

    pyplot()  # a missing matplotlib is one line before anything is read
    multinet_root = multinet_root or os.path.join(input_root, "Multinet")
    inputs = find_inputs(input_root, multinet_root, modes)
    check_out(out, input_root, multinet_root)
    writer = _Writer(out)
    layer_sections, layer_runs, layer_problems, layer_simulated = layerwise_sections(
        input_root, inputs.layer_modes, writer)
    multi_sections, multi_runs, multi_problems, multi_simulated = multinet_sections(
        multinet_root, inputs.multi_modes, writer)
    problems = layer_problems + multi_problems
    for problem in problems:
        logger.warning("skipped %s", problem)
    sections = [_runs_section(layer_runs, multi_runs)] + layer_sections + multi_sections + _problems_section(problems)
    simulated = layer_simulated or multi_simulated
    intro = ["Made {} by dnn-stats {} from the raw data in {} (layer-wise modes: {}) and {} (multi-DNN modes: {})."
             .format(utc_now_iso(), __version__, input_root, ", ".join(str(m) for m in inputs.layer_modes) or "none",
                     multinet_root, ", ".join(str(m) for m in inputs.multi_modes) or "none"),
             "Click a figure for its full size. Latency in ms per inference (batch as measured), power in mW, energy "
             "in mJ per inference."]
    page = write_page(os.path.join(out, PAGE), "DNN stats report", sections, simulated, intro)
    writer.prune()
    notes = [item.text for section in sections for item in section.items if isinstance(item, Note)]
    return Report(page, list(writer.written), notes, simulated)
