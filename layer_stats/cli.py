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

__all__ = ["add_logging_args", "setup_logging", "run"]

logger = logging.getLogger("layer_stats")


def add_logging_args(parser, log_file_default=None):
    parser.add_argument("--log_file", "--log-file", default=log_file_default, help="also log to this file")
    parser.add_argument("--log_level", "--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (default INFO)")


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
