"""Multi-DNN raw files -> one JSON per sample in the seed's shape, and a tidy CSV per mode.

``python3 multi_network_stats/postProcessMultinetDB.py --orinModes 0 1``

Reads ``<input_file_root>/Mode{m}/*_Map*_class*.json``; writes
``<output_file_root>/{Device}/Mode{m}/<same name>``, ``{Device}/Mode{m}.csv`` and
``{Device}/Mode{m}.provenance.json`` (telemetry source: says SIMULATED where it
is).  Without mode options every mode found is processed.  Needs no torch; a
file that is corrupt or holds a value of the wrong kind is named, with what is
wrong, and skipped.  Says on stdout where the outputs went and the command that draws
the figures (``python3 -m layer_stats.report``).
"""
import collections
import logging
import os
import shlex
import sys

if __name__ == "__main__" and not __package__:  # run by path, as the seed does: use this checkout
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from layer_stats.cli import (MAX_MODE, ArgumentParser, add_logging_args, describe, number, output_folder, run,  # noqa: E402
                             setup_logging)
from layer_stats.fsutil import mode_folders  # noqa: E402
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.fsutil import check_writable  # noqa: E402

logger = logging.getLogger("layer_stats.postprocess")

#: option -> the seed's Device name.
DEVICE_OPTIONS = collections.OrderedDict([("tx2Modes", "Tx2"), ("xavierModes", "Xavier"), ("orinModes", "Orin")])


def _parser():
    parser = ArgumentParser(description=describe(__doc__))
    for option, device in DEVICE_OPTIONS.items():
        parser.add_argument("--" + option, nargs="+", type=number(int, low=0, high=MAX_MODE), metavar="MODE",
                            help="post-process these modes of {}".format(device))
    parser.add_argument("--input_file_root", default=os.path.join("Dataset", "Multinet"),
                        help="the generator's <output_root>/Multinet (default Dataset/Multinet)")
    parser.add_argument("--output_file_root", type=output_folder, help="default <input_file_root>/Processed")
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
    return list(collections.OrderedDict.fromkeys(chosen))


def _report_command(input_root):
    """The report command for raw data in ``input_root`` (the generator's ``<output_root>/Multinet``)."""
    root = os.path.dirname(os.path.normpath(input_root)) or "."
    command = "python3 -m layer_stats.report --input_root {}".format(shlex.quote(root))
    if os.path.basename(os.path.normpath(input_root)) != "Multinet":
        command += " --multinet_root {}".format(shlex.quote(input_root))
    return command + " --out {}".format(shlex.quote(os.path.join(root, "report")))


def _say_where(written, input_root):
    """Print (stdout) where each device and mode went, and how to draw the figures."""
    for target, count in written:
        sys.stdout.write("wrote {0}.csv, {0}.provenance.json and {1} sample file(s) in {0}{2}\n".format(
            target, count, os.sep))
    sys.stdout.write("make the report: {}\n".format(_report_command(input_root)))


def main(argv):
    args = _parser().parse_args(argv)
    from multi_network_stats.postprocess import (  # pandas: imported inside, so a missing one is one line
        check_output_root, collect_mode, group_items, stage_frame, write_group)
    setup_logging(args.log_level, args.log_file)
    if not os.path.isdir(args.input_file_root):
        raise DnnStatsError("input folder {!r} not found: pass --input_file_root (the generator's "
                            "<output_root>/Multinet)".format(args.input_file_root))
    found = mode_folders(args.input_file_root)
    out_root = args.output_file_root or os.path.join(args.input_file_root, "Processed")
    check_output_root(args.input_file_root, out_root, found)
    samples, problems = [], []
    for device, mode in _wanted(args, found):
        got, bad = collect_mode(found[mode], mode, device)
        if not got and device is not None:
            logger.warning("Mode%d has no %s samples under %s", mode, device, found[mode])
        samples.extend(got)
        problems.extend(bad)
    groups = group_items(samples, out_root, found)
    if groups:
        check_writable(out_root, "--output_file_root")
    frame = stage_frame(samples)
    written = []
    for target, group in groups.items():
        written.append((target, write_group(target, group, frame)))
        logger.info("%d samples -> %s", len(group), target)
    problems = list(collections.OrderedDict.fromkeys(problems))  # a folder read for two devices
    for problem in problems:
        logger.warning("skipped %s", problem)
    if problems:
        sys.stderr.write("{} raw file(s) skipped: {}\n".format(len(problems), "; ".join(problems)))
    if not samples:
        raise DnnStatsError("no samples processed under {}: check the mode options, and that --input_file_root "
                            "is the folder holding the Mode{{m}} folders (the generator's <output_root>/Multinet)"
                            .format(args.input_file_root))
    _say_where(written, args.input_file_root)
    return 0


def console():
    """Console-script entry point (see pyproject.toml)."""
    run(main)


if __name__ == "__main__":
    console()
