"""Multi-DNN raw files -> one JSON per sample in the seed's shape, and a tidy CSV per mode.

``python3 multi_network_stats/postProcessMultinetDB.py --orinModes 0 1``

Reads ``<input_file_root>/Mode{m}/*_Map*_class*.json``; writes
``<output_file_root>/{Device}/Mode{m}/<same name>``, ``{Device}/Mode{m}.csv`` and
``{Device}/Mode{m}.provenance.json`` (telemetry source: says SIMULATED where it
is).  Without mode options every mode found is processed.  Needs no torch;
corrupt files are named and skipped.
"""
import argparse
import collections
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from layer_stats.cli import add_logging_args, run, setup_logging  # noqa: E402
from layer_stats.dataset.raw import RawFileError  # noqa: E402
from layer_stats.dataset.table import csv_text  # noqa: E402
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.fsutil import atomic_write  # noqa: E402
from layer_stats.dataset.layout import mode_folders  # noqa: E402
from layer_stats.multinet.postprocess import csv_rows, raw_files, read_raw, sample_json  # noqa: E402

logger = logging.getLogger("layer_stats.postprocess")

#: option -> the seed's Device name.
DEVICE_OPTIONS = collections.OrderedDict([("tx2Modes", "Tx2"), ("xavierModes", "Xavier"), ("orinModes", "Orin")])


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option, device in DEVICE_OPTIONS.items():
        parser.add_argument("--" + option, nargs="+", type=int, metavar="MODE",
                            help="post-process these modes of {}".format(device))
    parser.add_argument("--input_file_root", default=os.path.join("Dataset", "Multinet"),
                        help="the generator's <output_root>/Multinet (default Dataset/Multinet)")
    parser.add_argument("--output_file_root", help="default <input_file_root>/Processed")
    add_logging_args(parser)
    return parser


def _wanted(args, found):
    """[(device or None for any, mode)] to process."""
    chosen = [(device, mode) for option, device in DEVICE_OPTIONS.items() for mode in getattr(args, option) or []]
    if not chosen:
        return [(None, mode) for mode in sorted(found)]
    missing = sorted({mode for _, mode in chosen if mode not in found})
    if missing:
        raise DnnStatsError("no Mode{} folder under {} (modes found: {}): fix the mode options or "
                            "--input_file_root".format(missing[0], args.input_file_root,
                                                       ", ".join(str(m) for m in sorted(found)) or "none"))
    return chosen


def _process_mode(folder, device, out_root, problems):
    by_device = collections.OrderedDict()
    for path in raw_files(folder):
        try:
            record = read_raw(path)
            if device is not None and record["Device"] != device:
                continue
            by_device.setdefault(record["Device"], []).append((path, record, sample_json(record)))
        except (RawFileError, KeyError, TypeError, ValueError) as exc:
            problems.append(str(exc) if isinstance(exc, RawFileError) else "{}: malformed ({!r})".format(path, exc))
    written = 0
    for name, items in by_device.items():
        mode = items[0][1]["Mode"]
        target = os.path.join(out_root, str(name), "Mode{}".format(mode))
        for path, _, sample in items:
            atomic_write(os.path.join(target, os.path.basename(path)), json.dumps(sample, indent=4) + "\n")
        records = [record for _, record, _ in items]
        atomic_write(target + ".csv", csv_text(csv_rows(records, [s for _, _, s in items])))
        kinds = sorted({r.get("telemetry", "unknown") for r in records})
        atomic_write(target + ".provenance.json", json.dumps(collections.OrderedDict([
            ("Device", name), ("mode", mode), ("telemetry", kinds), ("boards", sorted({r.get("board") for r in records})),
            ("simulated", "simulated" in kinds), ("samples", len(items)),
            ("note", "SIMULATED telemetry: values come from the built-in simulator, not a Jetson"
             if "simulated" in kinds else "")]), indent=1) + "\n")
        logger.info("%s Mode%s: %d samples -> %s", name, mode, len(items), target)
        written += len(items)
    return written


def main(argv):
    args = _parser().parse_args(argv)
    setup_logging(args.log_level, args.log_file)
    if not os.path.isdir(args.input_file_root):
        raise DnnStatsError("input folder {!r} not found: pass --input_file_root (the generator's "
                            "<output_root>/Multinet)".format(args.input_file_root))
    found = mode_folders(args.input_file_root)
    out_root = args.output_file_root or os.path.join(args.input_file_root, "Processed")
    problems, written = [], 0
    for device, mode in _wanted(args, found):
        count = _process_mode(found[mode], device, out_root, problems)
        if count == 0 and device is not None:
            logger.warning("Mode%d has no %s samples under %s", mode, device, found[mode])
        written += count
    for problem in problems:
        logger.warning("skipped %s", problem)
    if problems:
        sys.stderr.write("{} raw file(s) skipped as unreadable: {}\n".format(len(problems), "; ".join(problems)))
    if written == 0:
        raise DnnStatsError("no samples processed under {}: check the mode options".format(args.input_file_root))
    return 0


if __name__ == "__main__":
    run(main)
