"""The page's sections of each product: read its data (:mod:`.data`), draw its figures, and say
in a note what is missing (no data, one mode only, no power...).

Both functions return ``(sections, runs, problems, simulated)``: the :class:`~.page.Section`
list, the run metadata ({mode: [run]}), the raw files skipped, and whether any of the data
is simulated.  ``writer`` names the PNG files and keeps the list of those written
(:class:`~.build._Writer`).
"""
import functools
import logging
import os

from .data import load_layerwise, load_multinet, load_trace
from .layer_figures import Label, network_figures
from .multinet_figures import multinet_figures
from .overview_figures import macs_figure, modes_figure, scatter_figure
from .page import Note, Section
from .trace_figure import trace_figure

logger = logging.getLogger(__name__)

__all__ = ["layerwise_sections", "multinet_sections"]


def _joined(values):
    return "+".join(sorted({str(v) for v in values if v == v})) or "unknown"


def _mode_sections(table, mode, simulated, writer):
    """The sections of one mode: a level-3 section per device and network, then one per
    device across its networks."""
    sections = [Section(2, "Layer-wise, Mode {}".format(mode), [])]
    for device in sorted(table["device"].unique()):
        rows = table.loc[table["device"] == device]
        label = Label(mode, device, _joined(rows["board"]), simulated)
        for network in sorted(rows["network"].unique()):
            path_of = functools.partial(writer.path_of, "mode{}".format(mode), device, network)
            items = network_figures(rows.loc[rows["network"] == network], network, label, path_of)
            sections.append(Section(3, "{}, {}: {}".format(device, "Mode {}".format(mode), network),
                                    writer.keep(items)))
        overview = [scatter_figure(rows, label, writer.path_of("mode{}".format(mode), device, "latency-vs-energy")),
                    macs_figure(rows, label, writer.path_of("mode{}".format(mode), device, "latency-vs-macs"))]
        sections.append(Section(3, "{}, Mode {}: all networks".format(device, mode), writer.keep(overview)))
    return sections


def _across_modes(table, modes, provenance, writer):
    present = [m for m in modes if (table["mode"] == m).any()]
    items = []
    if len(present) < 2:
        items.append(Note("Only Mode {} has layer-wise data: comparing networks across modes needs the data of two "
                          "or more modes.".format(", ".join(str(m) for m in present) or "none")))
    else:
        for device in sorted(table["device"].unique()):
            rows = table.loc[table["device"] == device]
            with_device = [m for m in present if (rows["mode"] == m).any()]
            if len(with_device) < 2:
                items.append(Note("{}: measured in Mode {} only: nothing to compare across modes.".format(
                    device, ", ".join(str(m) for m in with_device))))
                continue
            simulated = any(provenance[m]["simulated"] for m in with_device)
            items.append(modes_figure(rows, device, with_device, simulated,
                                      writer.path_of("modes", device, "latency-energy")))
    return Section(2, "Layer-wise, across modes", writer.keep(items))


def layerwise_sections(input_root, modes, writer):
    """The layer-wise sections (module doc)."""
    if not modes:
        note = Note("No layer-wise raw data to report under {} (none there, or none of the modes asked; "
                    "PowerLatencyDatasetGenerator.py makes it).".format(os.path.join(input_root, "LayerStats")))
        return [Section(2, "Layer-wise", [note])], {}, [], False
    data = load_layerwise(input_root, modes)
    simulated = any(data.provenance[m]["simulated"] for m in modes)
    if data.table is None or not len(data.table):
        note = Note("No readable layer-wise raw file under {} (see the skipped files below).".format(input_root))
        return [Section(2, "Layer-wise", [note])], data.runs, data.problems, simulated
    sections = []
    for mode in modes:
        rows = data.table.loc[data.table["mode"] == mode]
        if len(rows):
            sections.extend(_mode_sections(rows, mode, data.provenance[mode]["simulated"], writer))
        else:
            sections.append(Section(2, "Layer-wise, Mode {}".format(mode), [Note("No readable raw file.")]))
    sections.append(_across_modes(data.table, modes, data.provenance, writer))
    trace = load_trace(input_root, modes)
    item = trace_figure(trace, writer.path_of("trace", trace.network if trace else None, "power"))
    sections.append(Section(2, "Telemetry trace", writer.keep([item])))
    return sections, data.runs, data.problems, simulated


def multinet_sections(multinet_root, modes, writer):
    """The multi-DNN sections (module doc)."""
    if not modes:
        note = Note("No multi-DNN raw data to report under {} (none there, or none of the modes asked; "
                    "MappingDBGenerator.py makes it, --multinet_root says where it is).".format(multinet_root))
        return [Section(2, "Multi-DNN", [note])], {}, [], False
    data = load_multinet(multinet_root, modes)
    sections = [Section(2, "Multi-DNN", [] if data.tables else [Note("No readable multi-DNN sample under {}."
                                                                     .format(multinet_root))])]
    for (device, mode), table in data.tables.items():
        label = Label(mode, device, data.boards[(device, mode)], data.simulated[(device, mode)])
        path_of = functools.partial(writer.path_of, "multinet", device, "mode{}".format(mode))
        sections.append(Section(3, "{}, Mode {} ({} samples)".format(device, mode, table["file"].nunique()),
                                writer.keep(multinet_figures(table, label, path_of))))
    return sections, data.runs, data.problems, any(data.simulated.values())
