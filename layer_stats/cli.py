"""The one command-line vocabulary every script and both products use.

- Entry: scripts call :func:`run` with their ``main(argv)``; it turns the project's
  exceptions into one ``ERROR: ...`` line on stderr and an exit status (2 for a
  problem the user can fix, 128 + signal number when stopped by a signal).
  Parsers are :class:`ArgumentParser`, whose errors are one such line too.
- Numbers: :func:`number`, :func:`positive`, :func:`number_list`: every numeric flag
  rejects NaN, infinities and out-of-range values with a message naming it.
- Lists: :func:`split_list` / :func:`name_list`: names separated by commas and/or
  spaces, as the seed writes them (``--imgs img1.jpg,img2.jpg`` or ``img1.jpg img2.jpg``).
- Shared options: :func:`add_tgr_args` (tegrastats measurement), :func:`add_telemetry_args`
  (where telemetry comes from), :func:`add_output_root_arg`, :func:`add_logging_args`
  with :func:`check_log_file` and :func:`setup_logging`.
"""
import argparse
import logging
import math
import os
import sys

from .errors import DnnStatsError, Interrupted
from .fsutil import chown_to_invoker, ensure_dir, write_error
from .lifecycle import stop_on_signals
from .paths import IMAGE_DIR

__all__ = ["ArgumentParser", "command_name", "describe", "number", "positive", "number_list", "add_logging_args",
           "add_output_root_arg", "output_folder", "add_tgr_args", "add_telemetry_args", "check_log_file", "split_list", "name_list", "setup_logging", "run", "MAX_SECONDS", "MAX_INTERVAL_MS",
           "MAX_MODE"]

logger = logging.getLogger("layer_stats")

#: Largest accepted duration flag (s): a day; larger values are typos (and overflow sleep()).
MAX_SECONDS = 86400
#: Largest accepted tegrastats interval (ms).
MAX_INTERVAL_MS = 60000
#: Largest accepted nvpmodel mode number.
MAX_MODE = 999
#: Prefix of every console script (pyproject.toml, [project.scripts]).
COMMAND_PREFIX = "dnn-stats-"
#: Endings of data files a --log_file must never append to.
DATA_SUFFIXES = (".json", ".jsonl", ".conf", ".csv", ".partial", ".corrupt", ".pth")


def command_name(module):
    """The command as the user typed it, for ``--help`` and error hints: the console
    script's name when run through one (``dnn-stats-tegrastats``, see pyproject.toml),
    else ``python3 -m MODULE``."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return script if script.startswith(COMMAND_PREFIX) else "python3 -m " + module


def describe(doc):
    """A script's ``--help`` description: the first paragraph of its docstring, on one
    line, without reST markup."""
    return " ".join(doc.strip().split("\n\n")[0].replace("``", "").split())


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors raise :class:`DnnStatsError` (one ``ERROR:`` line
    from :func:`run`, exit 2) instead of printing the usage block."""

    def error(self, message):
        raise DnnStatsError("{} (see {} --help)".format(message, self.prog))


def _bounds_text(low, high, low_open, high_open):
    parts = []
    if low is not None:
        parts.append("{} {:g}".format(">" if low_open else ">=", low))
    if high is not None:
        parts.append("{} {:g}".format("<" if high_open else "<=", high))
    return " and ".join(parts)


def number(kind=float, low=None, high=None, low_open=False, high_open=False, special=()):
    """An argparse ``type=`` that accepts a finite ``kind`` (int or float) within bounds.

    ``low``/``high``: inclusive bounds (exclusive with ``low_open``/``high_open``);
    ``special``: values accepted whatever the bounds (e.g. ``-1`` for "no limit").
    The error names the rule and the text given, e.g. ``must be a number > 0, got 'nan'``.
    """
    rule = _bounds_text(low, high, low_open, high_open)
    what = "an integer" if kind is int else "a number"
    if special:
        rule = " or ".join(filter(None, [rule, " or ".join("{:g}".format(v) for v in special)]))
    message = "must be {}{}".format(what, " " + rule if rule else "")

    def parse(text):
        try:
            value = kind(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError("{}, got {!r}".format(message, text))
        if value in special:
            return value
        if (isinstance(value, float) and not math.isfinite(value)) or \
                (low is not None and (value <= low if low_open else value < low)) or \
                (high is not None and (value >= high if high_open else value > high)):
            raise argparse.ArgumentTypeError("{}, got {!r}".format(message, text))
        return value

    parse.__name__ = "number"
    return parse


def number_list(kind=float, **bounds):
    """An argparse ``type=`` for a comma-separated list of :func:`number` values (at least one)."""
    one = number(kind, **bounds)

    def parse(text):
        parts = [part for part in str(text).split(",") if part.strip()]
        if not parts:
            raise argparse.ArgumentTypeError("give comma-separated numbers, got {!r}".format(text))
        return [one(part) for part in parts]

    parse.__name__ = "number list"
    return parse


def add_logging_args(parser, log_file_default=None):
    parser.add_argument("--log_file", "--log-file", default=log_file_default, help="also log to this file")
    parser.add_argument("--log_level", "--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (default INFO)")


def add_output_root_arg(parser, default="Dataset"):
    parser.add_argument("--output_root", "--output-root", default=default, type=output_folder,
                        help="folder every output goes under (default {})".format(default))


def inputs_folder():
    """The folder of the shipped input images (``data/``), as a real path."""
    return os.path.realpath(os.path.dirname(IMAGE_DIR))


def inside_inputs(path):
    """True if ``path`` is the input images' folder or lies in it (real paths compared:
    a symlinked checkout too)."""
    data, real = inputs_folder(), os.path.realpath(path)
    return real == data or real.startswith(data + os.sep)


def output_folder(text):
    """argparse type of every output-root option: a folder name that is not empty and not
    in the shipped input images."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a folder, got an empty name")
    if inside_inputs(text):
        raise argparse.ArgumentTypeError("{!r} is inside the input images' folder {}: pick a folder of its "
                                         "own".format(text, inputs_folder()))
    return text


def check_new_file(out, option="--out"):
    """Refuse an output file ``out`` (of ``option``) that is no file name (empty, blank, a
    folder's), in the shipped input images, or that exists, or whose ``.partial`` (a stopped
    recording's) exists: nothing is written over."""
    if not out.strip() or (out.endswith(("/", os.sep)) and not os.path.isdir(out)):
        raise DnnStatsError("{} {!r} is no file name: name a new file, e.g. {} run.jsonl".format(option, out, option))
    if inside_inputs(out):
        raise DnnStatsError("{} {} is inside the input images' folder {}: name a file elsewhere".format(
            option, out, inputs_folder()))
    if os.path.lexists(out):
        raise DnnStatsError("{} {} exists: name a new file, or move the old one away".format(option, out))
    if os.path.lexists(out + ".partial"):
        raise DnnStatsError("{} {}.partial exists (a recording that was killed?): keep it under another name, or "
                            "remove it, then record again".format(option, out))


def check_log_file(log_file, inputs):
    """Refuse a ``--log_file`` that is one of the run's ``inputs`` (paths; None ignored), a
    data file, or an existing file that is not a ``.log`` (logs are appended)."""
    log = os.path.realpath(log_file)
    if any(os.path.realpath(path) == log for path in inputs if path):
        raise DnnStatsError("--log_file {} is also an input of the run: name another file".format(log_file))
    _check_log_target(log_file)


def _check_log_target(log_file):
    """A log is only ever appended to a ``.log`` file or a new one: never to a data file,
    a program or another tool's file."""
    if log_file.endswith(DATA_SUFFIXES):
        raise DnnStatsError("--log_file {} names a data file: name a .log file".format(log_file))
    if inside_inputs(log_file):
        raise DnnStatsError("--log_file {} is inside the input images' folder {}: put the log elsewhere".format(
            log_file, inputs_folder()))
    if os.path.isfile(log_file) and not log_file.endswith(".log"):
        raise DnnStatsError("--log_file {} exists and is not a .log file: name a new file or a .log file (logs "
                            "are appended)".format(log_file))


def _parts(values, spaces):
    """Every entry of ``values`` as written, empty ones included (see :func:`split_list`)."""
    listed = isinstance(values, (list, tuple))
    parts = []
    for text in [str(v) for v in values] if listed else [str(values)]:
        for part in text.split(","):
            parts.extend((part.split() if spaces and not listed else [part.strip()]) or [""])
    return parts


def split_list(values, spaces=True):
    """Names from ``values``: None, a text, or a list of texts (argparse ``nargs="+"``).

    Commas separate names.  In a single text, whitespace does too unless ``spaces`` is
    False; the items of a list are what the shell already split on spaces, so only
    commas split them (a quoted ``"CPU Power"`` or ``"my photo.jpg"`` stays one name).
    Names are stripped, empty ones dropped.  None gives None.
    """
    if values is None:
        return None
    return [part for part in _parts(values, spaces) if part]


def name_list(values, option, what, fix, spaces=True):
    """:func:`split_list` of ``values`` naming at least one ``what`` (model, device...), each
    once; raises DnnStatsError naming ``option`` for an empty list (``fix`` says what to
    give instead), an empty entry (``a,,b``, ``cpu,``) or a repeat."""
    names = split_list(values, spaces) or []
    shown = values if isinstance(values, str) else ",".join(str(v) for v in values or ())
    if not names:
        raise DnnStatsError("{} {!r} names no {}: {}".format(option, shown, what, fix))
    if "" in _parts(values, spaces):
        raise DnnStatsError("{} {!r} has an empty entry: remove the extra comma".format(option, shown))
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DnnStatsError("{} names {} more than once: name each {} once".format(
            option, ", ".join(repeated), what))
    return names


def positive(kind=float, high=None):
    """argparse type: a finite ``kind`` above 0 (and at most ``high``)."""
    return number(kind, low=0, high=high, low_open=True)


def _seconds_or_auto(text):
    """argparse type of ``--tgr_smpl_boundary``: seconds (0 up to a day), or ``"auto"``."""
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        return number(low=0, high=MAX_SECONDS)(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError("{} (or auto)".format(exc))


_seconds_or_auto.__name__ = "seconds or auto"


def add_tgr_args(parser, interval_ms, boundary_s):
    """The tegrastats options both generators share, spelled as the seed spells them."""
    group = parser.add_argument_group("tegrastats (power) options")
    group.add_argument("--eval_tgr", action="store_true", help="record tegrastats (power) for each measurement")
    group.add_argument("--tgr_params", nargs="+", metavar="PARAM",
                       help="tegrastats parameters to keep, raw or friendly names, space- or comma-separated "
                            "(default: the board's rail for the device; list: python3 -m layer_stats.tegrastats "
                            "params --board B)")
    group.add_argument("--tgr_interval", type=number(int, low=1, high=MAX_INTERVAL_MS), default=interval_ms,
                       help="tegrastats sampling interval, ms (default {})".format(interval_ms))
    group.add_argument("--tgr_smpl_boundary", "--tgr_smpl_boundry", dest="tgr_smpl_boundary",
                       type=_seconds_or_auto, default=boundary_s,
                       help="settling time before and after each measured window, s (default {:g}; both spellings "
                            "work; the layer-wise generator also takes auto with --tgr_ci: the ramp's end found "
                            "in the data)".format(boundary_s))
    group.add_argument("--power_sampler", "--power-sampler", choices=("auto", "tegrastats", "ina"), default="auto",
                       help="where power rails come from: ina reads the board's INA3221/INA238 monitors directly "
                            "(hundreds of readings a second; needs root on most boards), tegrastats its lines, "
                            "auto the monitors where readable, else tegrastats (default auto)")
    group.add_argument("--power_rate", "--power-rate", type=positive(float, 5000), default=500.0, metavar="HZ",
                       help="power-monitor readings per second (default 500; clamped to the chips' conversion rate)")
    return group


def add_telemetry_args(parser, interval_default=None):
    """``--simulate BOARD``, ``--replay LOG``, ``--replay_loop``, ``--tegrastats PATH``, ``--sim_seed``."""
    from .tegrastats.boards import board_names

    group = parser.add_argument_group("telemetry source (default: this Jetson's tegrastats)")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--simulate", metavar="BOARD",
                        help="use the built-in simulator for BOARD ({}) instead of tegrastats".format(
                            ", ".join(board_names())))
    choice.add_argument("--replay", metavar="LOG", help="replay a recorded tegrastats log at its own pace")
    group.add_argument("--replay_loop", "--replay-loop", action="store_true",
                       help="start the replayed log again when it ends")
    group.add_argument("--tegrastats", metavar="PATH", help="tegrastats binary (default: found on PATH)")
    group.add_argument("--sim_seed", "--sim-seed", type=number(int, low=0, high=2 ** 32 - 1), default=None, help="simulator noise seed")
    return group


class _LogFile(logging.FileHandler):
    """A log file that, when it cannot be written (a full disk), says so once on stderr
    and stops, instead of logging's traceback for every record."""

    def handleError(self, record):
        if self.stream is not None:
            error = sys.exc_info()[1]
            sys.stderr.write("WARNING: cannot write the log file {} ({}): going on without it\n".format(
                self.baseFilename, getattr(error, "strerror", None) or error))
            logging.getLogger().removeHandler(self)
            try:
                self.close()
            except OSError:
                pass
            self.stream = None


def setup_logging(level="INFO", log_file=None):
    """Log to stderr, and to ``log_file`` (appended, owned by the sudo invoker) if given."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        _check_log_target(log_file)
        folder = os.path.dirname(os.path.abspath(log_file))
        ensure_dir(folder)
        try:
            handlers.append(_LogFile(log_file, encoding="utf-8"))
        except OSError as exc:
            raise write_error(log_file, exc, "--log_file")
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
    """Call ``main(argv)`` and exit with its status, reporting errors on one line.

    :class:`Interrupted` -> ``stopped: SIGTERM`` and ``128 + signum``; Ctrl-C
    outside :func:`~layer_stats.lifecycle.stop_on_signals` -> ``stopped: SIGINT``, 130;
    :class:`DnnStatsError` -> ``ERROR: message`` (newlines folded), 2; a closed
    stdout (``| head``) -> 0.
    """
    try:
        with stop_on_signals():  # a stop before the run's own handlers (importing torch) is reported too
            status = main(sys.argv[1:] if argv is None else argv)
    except Interrupted as exc:  # a BaseException: no library handler on the way could keep it
        # Built from the signal, never from str() or args, which wrappers may have extended.
        sys.stderr.write("stopped: {}\n".format(exc.signame))
        status = 128 + exc.signum
    except KeyboardInterrupt:
        sys.stderr.write("stopped: SIGINT\n")
        status = 130
    except DnnStatsError as exc:
        # One line whatever the message quotes (a raw tegrastats line, a path with a newline).
        sys.stderr.write("ERROR: {}\n".format(" ".join(str(exc).splitlines())))
        status = 2
    except ImportError as exc:  # ModuleNotFoundError: a package this command needs is not installed
        sys.stderr.write("ERROR: {}\n".format(missing_package(exc)))
        status = 2
    except BrokenPipeError:
        status = 0
    sys.exit(status or 0)


#: pip's name where the import name differs.
_DISTRIBUTIONS = {"PIL": "pillow"}
#: Install hints for the third-party packages the commands import (by top-level name).
_INSTALL_HINTS = {
    "torch": "install torch and torchvision (on a Jetson, NVIDIA's JetPack wheels; elsewhere: pip install torch "
             "torchvision); post-processing needs neither",
    "torchvision": "install torchvision matching torch (on a Jetson, NVIDIA's build for the JetPack)",
}


def missing_package(exc):
    """The one-line message for an ImportError: which package is missing and how to get it."""
    name = (getattr(exc, "name", None) or "").split(".")[0]
    if not name or name in ("layer_stats", "multi_network_stats"):
        return "cannot import {} ({}): run from the repository root, or pip install -e . there".format(
            name or "a module", " ".join(str(exc).splitlines()))
    hint = _INSTALL_HINTS.get(name, "{} -m pip install -r requirements.txt (or run the venv's python)".format(
        sys.executable))
    return "the Python package {!r} is not installed for {}: {}".format(_DISTRIBUTIONS.get(name, name),
                                                                       sys.executable, hint)
