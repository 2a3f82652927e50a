"""Average layer-wise raw files into one JSON per mode (the seed's shape) and a tidy CSV.

``python3 layer_stats/processedDataGeneration/processData.py [--modes 0 1] [--params VDD_SYS_CPU]``

Reads ``<input_root>/LayerStats/Mode{m}/...`` and the layers' features files
(``<input_root>/LayerStats/features/``); writes ``<output_root>/Mode{m}.json``,
``Mode{m}.provenance.json`` (``format_version``, telemetry source, boards, the power samplers the
rails came from: says SIMULATED where it is) and ``LayerStats.csv`` (a row per layer: its features,
latency, power, energy).  Corrupt or partial raw files are named and skipped; so are bad features
files (their columns stay empty).  Prints where the files went and the report command.  Needs no torch.
"""
import logging
import os
import shlex
import sys

if __name__ == "__main__" and not __package__:  # run by path, as the seed does: use this checkout
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from layer_stats.cli import (MAX_MODE, ArgumentParser, add_logging_args, describe, number, output_folder, run,  # noqa: E402
                             setup_logging, split_list)
from layer_stats.layerwise.layout import empty_mode_error, layer_root, modes_found, modes_with_data  # noqa: E402
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.fsutil import atomic_write, check_writable  # noqa: E402

logger = logging.getLogger("layer_stats.process")


def _parser():
    parser = ArgumentParser(description=describe(__doc__))
    parser.add_argument("--modes", nargs="+", type=number(int, low=0, high=MAX_MODE), help="modes to process (default: every mode found)")
    parser.add_argument("--params", nargs="+", help="power parameters to keep (default: all recorded)")
    parser.add_argument("--input_root", "--input-root", default="Dataset",
                        help="the generator's --output_root (default Dataset)")
    parser.add_argument("--output_root", "--output-root", type=output_folder,
                        help="where processed files go (default <input_root>/Processed)")
    add_logging_args(parser)
    return parser


def _check_out_root(out_root, input_root):
    """Refuse an output folder inside the raw data (its files would mix with the raw files)."""
    raw = os.path.realpath(layer_root(input_root))
    out = os.path.realpath(out_root)
    if out == raw or out.startswith(raw + os.sep):
        raise DnnStatsError("--output_root {} is inside the raw data {}: pass a folder outside it (default "
                            "<input_root>/Processed)".format(out_root, layer_root(input_root)))
    check_writable(out_root)


def main(argv):
    args = _parser().parse_args(argv)
    from layer_stats.layerwise.features import add_feature_columns
    from layer_stats.layerwise.postprocess import (layer_table, mode_json, provenance, recorded_parameters,
                                                  samples_frame, summarise)
    from layer_stats.tables import csv_text, json_text  # pandas: imported inside, so a missing one is one line
    setup_logging(args.log_level, args.log_file)
    if not os.path.isdir(args.input_root):
        raise DnnStatsError("input folder {!r} not found: pass --input_root (the generator's --output_root)".format(
            args.input_root))
    found = modes_found(args.input_root)
    if not found:
        raise DnnStatsError("no layer-wise raw data under {} (no LayerStats/Mode* folder): run "
                            "PowerLatencyDatasetGenerator.py first, or pass --input_root (its --output_root)".format(
                                args.input_root))
    modes = _modes(args.modes, found, modes_with_data(args.input_root), args.input_root)
    out_root = args.output_root or os.path.join(args.input_root, "Processed")
    _check_out_root(out_root, args.input_root)
    params = split_list(args.params)
    frame, problems = samples_frame(args.input_root, modes)
    for problem in problems:
        logger.warning("skipped %s", problem)
    if params:
        recorded = recorded_parameters(frame)
        unknown = [p for p in params if p not in recorded]
        if unknown:
            raise DnnStatsError("parameter {} not in the raw data: use one of {}".format(
                ", ".join(unknown), ", ".join(recorded) or "(no power data)"))
    summary = summarise(frame)
    written = []
    for mode in modes:
        data = mode_json(summary, mode, params)
        path = os.path.join(out_root, "Mode{}.json".format(mode))
        atomic_write(path, json_text(data))
        atomic_write(os.path.join(out_root, "Mode{}.provenance.json".format(mode)),
                     json_text(provenance(frame, mode), indent=1))
        logger.info("wrote %s (%d networks)", path, len(data))
        written.extend([os.path.basename(path), "Mode{}.provenance.json".format(mode)])
    table = _with_features(add_feature_columns(layer_table(summary, params), frame.attrs["stops"], args.input_root))
    atomic_write(os.path.join(out_root, "LayerStats.csv"), csv_text(table))
    logger.info("wrote %s (%d rows)", os.path.join(out_root, "LayerStats.csv"), len(table))
    if problems:
        sys.stderr.write("{} raw file(s) skipped as unreadable: {}\n".format(
            len(problems), "; ".join(problems)))
    _say_where(out_root, written + ["LayerStats.csv"], args.input_root)
    return 0


def _modes(asked, found, with_data, input_root):
    """The modes to process: ``asked`` (--modes; each must hold raw files), or every mode found that
    holds raw files (a folder without any is named in a warning and left out)."""
    if asked is not None:
        missing = [m for m in asked if m not in found]
        if missing:
            raise DnnStatsError("no layer-wise raw data for mode {} under {} (modes found: {}): run "
                                "PowerLatencyDatasetGenerator.py first or fix --modes".format(
                                    ", ".join(str(m) for m in missing), input_root, ", ".join(str(m) for m in found)))
        for mode in asked:
            if mode not in with_data:
                raise empty_mode_error(mode, input_root, "--modes")
        return asked
    for mode in found:
        if mode not in with_data:
            if not with_data:
                raise empty_mode_error(mode, input_root, None)
            logger.warning("%s (left out)", empty_mode_error(mode, input_root, "--modes"))
    return with_data


def _with_features(joined):
    """The CSV's table with the features; one warning per features file ignored, one info line
    for the networks without one."""
    for problem in joined.problems:
        logger.warning("features file ignored (its columns stay empty): %s; delete it and rerun the generator's "
                       "command to write it again (it measures nothing again)", problem)
    if joined.missing:
        logger.info("no features file for %s (data made before features files): rerun the generator with the same "
                    "command to add them (it measures nothing again)", ", ".join(joined.missing))
    return joined.table


def _say_where(out_root, names, input_root):
    """Print (stdout) where the outputs went and the command that makes the report."""
    print("wrote {}: {}".format(out_root, ", ".join(names)))
    print("make the report: python3 -m layer_stats.report --input_root {} --out {}".format(
        shlex.quote(input_root), shlex.quote(os.path.join(input_root, "report"))))


def console():
    """Console-script entry point (see pyproject.toml)."""
    run(main)


if __name__ == "__main__":
    console()
