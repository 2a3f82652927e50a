"""Average layer-wise raw files into one JSON per mode (the seed's shape) and a tidy CSV.

``python3 layer_stats/processedDataGeneration/processData.py [--modes 0 1] [--params VDD_SYS_CPU]``

Reads ``<input_root>/LayerStats/Mode{m}/...``; writes ``<output_root>/Mode{m}.json``,
``Mode{m}.provenance.json`` (telemetry source, boards: says SIMULATED where it
is) and ``LayerStats.csv``.  Corrupt or partial raw files are named and
skipped.  Needs no torch.
"""
import argparse
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from layer_stats.cli import add_logging_args, run, setup_logging, split_list  # noqa: E402
from layer_stats.dataset.layout import modes_found  # noqa: E402
from layer_stats.dataset.process import collect, mode_json, provenance, tidy_rows  # noqa: E402
from layer_stats.dataset.table import csv_text  # noqa: E402
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.fsutil import atomic_write  # noqa: E402

logger = logging.getLogger("layer_stats.process")


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", type=int, help="modes to process (default: every mode found)")
    parser.add_argument("--params", nargs="+", help="power parameters to keep (default: all recorded)")
    parser.add_argument("--input_root", "--input-root", default="Dataset",
                        help="the generator's --output_root (default Dataset)")
    parser.add_argument("--output_root", "--output-root",
                        help="where processed files go (default <input_root>/Processed)")
    add_logging_args(parser)
    return parser


def main(argv):
    args = _parser().parse_args(argv)
    setup_logging(args.log_level, args.log_file)
    if not os.path.isdir(args.input_root):
        raise DnnStatsError("input folder {!r} not found: pass --input_root (the generator's --output_root)".format(
            args.input_root))
    found = modes_found(args.input_root)
    modes = args.modes if args.modes is not None else found
    missing = [m for m in modes if m not in found]
    if missing or not modes:
        raise DnnStatsError("no layer-wise raw data for mode {} under {} (modes found: {}): run "
                            "PowerLatencyDatasetGenerator.py first or fix --modes".format(
                                ", ".join(str(m) for m in missing) or "any", args.input_root,
                                ", ".join(str(m) for m in found) or "none"))
    params = split_list(args.params)
    layers, problems = collect(args.input_root, modes)
    for problem in problems:
        logger.warning("skipped %s", problem)
    if params:
        recorded = {p for layer in layers.values() for p in layer.params}
        unknown = [p for p in params if p not in recorded]
        if unknown:
            raise DnnStatsError("parameter {} not in the raw data: use one of {}".format(
                ", ".join(unknown), ", ".join(sorted(recorded)) or "(no power data)"))
    out_root = args.output_root or os.path.join(args.input_root, "Processed")
    for mode in modes:
        data = mode_json(layers, mode, params)
        path = os.path.join(out_root, "Mode{}.json".format(mode))
        atomic_write(path, json.dumps(data, indent=4) + "\n")
        atomic_write(os.path.join(out_root, "Mode{}.provenance.json".format(mode)),
                     json.dumps(provenance(layers, mode), indent=1) + "\n")
        logger.info("wrote %s (%d networks)", path, len(data))
    rows = tidy_rows(layers, modes, params)
    atomic_write(os.path.join(out_root, "LayerStats.csv"), csv_text(rows))
    logger.info("wrote %s (%d rows)", os.path.join(out_root, "LayerStats.csv"), len(rows))
    if problems:
        sys.stderr.write("{} raw file(s) skipped as unreadable: {}\n".format(
            len(problems), "; ".join(problems)))
    return 0


if __name__ == "__main__":
    run(main)
