"""What every script shares: logging options, error reporting, exit codes.

Scripts call :func:`run` with their ``main(argv)``; it turns the project's
exceptions into one ``ERROR: ...`` line on stderr and an exit status (2 for
a problem the user can fix, 128 + signal number when stopped by a signal).
"""
import logging
import os
import sys

from .errors import DnnStatsError, Interrupted
from .fsutil import chown_to_invoker, ensure_dir

__all__ = ["add_logging_args", "add_output_root_arg", "add_tgr_args", "split_list", "setup_logging", "run"]

logger = logging.getLogger("layer_stats")


def add_logging_args(parser, log_file_default=None):
    parser.add_argument("--log_file", "--log-file", default=log_file_default, help="also log to this file")
    parser.add_argument("--log_level", "--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (default INFO)")


def add_output_root_arg(parser, default="Dataset"):
    parser.add_argument("--output_root", "--output-root", default=default,
                        help="folder every output goes under (default {})".format(default))


def split_list(values):
    """argparse ``nargs="+"`` values that may also hold commas -> flat list of names.

    Friendly names contain spaces ("IN Power"), so a single value keeps its spaces.
    """
    if values is None:
        return None
    out = []
    for value in values if isinstance(values, (list, tuple)) else [values]:
        out.extend(part.strip() for part in str(value).split(",") if part.strip())
    return out


def add_tgr_args(parser, interval_ms, boundary_s):
    """The tegrastats options both generators share, spelled as the seed spells them."""
    group = parser.add_argument_group("tegrastats (power) options")
    group.add_argument("--eval_tgr", action="store_true", help="record tegrastats (power) for each measurement")
    group.add_argument("--tgr_params", nargs="+", metavar="PARAM",
                       help="tegrastats parameters to keep, raw or friendly names, space- or comma-separated "
                            "(default: the board's rail for the device; list: python3 -m layer_stats.tegrastats "
                            "params --board B)")
    group.add_argument("--tgr_interval", type=int, default=interval_ms,
                       help="tegrastats sampling interval, ms (default {})".format(interval_ms))
    group.add_argument("--tgr_smpl_boundary", "--tgr_smpl_boundry", dest="tgr_smpl_boundary", type=float,
                       default=boundary_s, help="settling time before and after each measured window, s "
                                                "(default {:g}; both spellings work)".format(boundary_s))
    return group


def setup_logging(level="INFO", log_file=None):
    """Log to stderr, and to ``log_file`` (appended, owned by the sudo invoker) if given."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        folder = os.path.dirname(os.path.abspath(log_file))
        ensure_dir(folder)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        chown_to_invoker(log_file)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(fmt)
        root.addHandler(handler)
    root.setLevel(getattr(logging, str(level).upper(), logging.INFO))


def run(main, argv=None):
    """Call ``main(argv)`` and exit with its status, reporting errors on one line."""
    try:
        status = main(sys.argv[1:] if argv is None else argv)
    except Interrupted as exc:
        sys.stderr.write("stopped: {}\n".format(exc))
        status = 128 + exc.signum
    except KeyboardInterrupt:
        sys.stderr.write("stopped: SIGINT\n")
        status = 130
    except DnnStatsError as exc:
        sys.stderr.write("ERROR: {}\n".format(exc))
        status = 2
    except BrokenPipeError:
        status = 0
    sys.exit(status or 0)
