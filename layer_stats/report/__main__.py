"""Draw a dataset's figures and one index.html that shows them with the run metadata.

``python3 -m layer_stats.report --input_root Dataset --out report/`` (``dnn-stats-report``)

Reads the raw files of ``<input_root>/LayerStats/Mode{m}`` and of ``--multinet_root``
(default ``<input_root>/Multinet``): every mode found, or ``--modes``.  Writes only under
``--out`` (default ``<input_root>/report``): ``index.html`` and ``figures/*.png``.  Needs
pandas and matplotlib (``pip install matplotlib``, or ``pip install -e ".[report]"`` in the checkout), never torch.
Simulated data are labelled SIMULATED on every figure and on the page.
"""
import logging
import os
import sys

from ..cli import MAX_MODE, ArgumentParser, add_logging_args, command_name, describe, number, output_folder, run, \
    setup_logging

logger = logging.getLogger("layer_stats.report")


def _parser():
    parser = ArgumentParser(prog=command_name("layer_stats.report"), description=describe(__doc__))
    parser.add_argument("--input_root", "--input-root", default="Dataset",
                        help="the generators' --output_root (default Dataset)")
    parser.add_argument("--multinet_root", "--multinet-root",
                        help="the multi-DNN raw data, the folder of its Mode{m} folders (default <input_root>/Multinet)")
    parser.add_argument("--out", type=output_folder,
                        help="folder for index.html and figures/ (default <input_root>/report)")
    parser.add_argument("--modes", nargs="+", type=number(int, low=0, high=MAX_MODE), metavar="MODE",
                        help="modes to report (default: every mode found)")
    add_logging_args(parser)
    return parser


def main(argv):
    args = _parser().parse_args(argv)
    setup_logging(args.log_level, args.log_file)
    from .build import build_report  # pandas: imported inside, so a missing one is one line

    out = args.out or os.path.join(args.input_root, "report")
    modes = sorted(set(args.modes)) if args.modes is not None else None
    report = build_report(args.input_root, out, args.multinet_root, modes)
    sys.stdout.write("wrote {} ({} figures{}){}\n".format(
        report.page, len(report.figures), ", SIMULATED data" if report.simulated else "",
        "; {} figure(s) or section(s) left out, see the notes on the page".format(len(report.notes))
        if report.notes else ""))
    return 0


def console():
    """Console-script entry point, ``dnn-stats-report`` (see pyproject.toml)."""
    run(main)


if __name__ == "__main__":
    console()
