"""Power from the monitors for a measuring run: which sampler, its processes, what the files say.

:func:`start_power` decides where a run's power rails come from
(``--power_sampler``): ``tegrastats`` always from tegrastats lines; ``ina`` from the
INA3221/INA238 monitors (:class:`PowerSampler`), or a one-line error saying why it
cannot (a replayed log has no monitors, an unknown rail, files only root may read);
``auto`` from the monitors where the chosen rails are readable, else from
tegrastats, saying which and why in the log.  tegrastats runs either way, for
everything else (utilisation, clocks, temperatures, RAM).

A sampler is a child process (``python3 -m layer_stats.power sample``) stamping its
own readings on ``time.monotonic()``, kept by a
:class:`~layer_stats.tegrastats.recorder.Recorder` with the same lifecycle as
tegrastats' (no orphan, stopped on every way out).  On the simulator a second child
serves the board's monitors as files in the run's folder
(:func:`serve_simulated`, :class:`~layer_stats.power.simulate.SysfsSimulator`),
following the same GPU-load file as the simulated tegrastats.
"""
import collections
import contextlib
import datetime
import glob
import logging
import os
import shutil
import sys
import tempfile

from ..clock import monotonic
from ..errors import DnnStatsError, TelemetryError
from ..tegrastats.boards import BOARDS
from ..tegrastats.detect import detect_board
from ..tegrastats.recorder import Recorder
from ..tegrastats.sources import Source
from .discover import find_rails, select_rails
from .drivers import DRIVERS
from .read import RailReader, update_interval_ms
from .sampler import conversion_period_s, effective_rate, line_format, parse_line, stamp_of
from .simulate import SIM_FOLDER

logger = logging.getLogger(__name__)

__all__ = ["SAMPLERS", "Plan", "sampling_plan", "header", "serve_simulated", "board_at", "PowerSampler",
           "start_power", "check_power_choice", "check_power_rate", "remove_simulated", "HEADER_VERSION", "READY_TIMEOUT_S"]

#: ``--power_sampler`` choices.
SAMPLERS = ("auto", "tegrastats", "ina")
#: ``format_version`` of the header line a recording starts with.
HEADER_VERSION = 1
#: Seconds a child has to report ready (the simulator) or give its first reading (the sampler).
READY_TIMEOUT_S = 15.0

#: How a run samples: ``rate_hz`` (readings/s asked of the loop, after clamping),
#: ``requested_rate_hz``, ``period_s`` (the chips' conversion period, None where unknown)
#: and ``line_format`` (see :func:`~layer_stats.power.sampler.line_format`).
Plan = collections.namedtuple("Plan", "rate_hz requested_rate_hz period_s line_format")


def sampling_plan(rails, rate_hz):
    """The :class:`Plan` for reading ``rails`` at ``rate_hz``, clamped to the chips' conversion rate."""
    period = conversion_period_s(rails)
    return Plan(effective_rate(rate_hz, period), float(rate_hz), period, line_format([r.rail for r in rails]))


def _rail_meta(rails):
    return [collections.OrderedDict([("rail", r.rail), ("driver", r.driver), ("device", r.device),
                                     ("channel", r.channel), ("update_interval_ms", update_interval_ms(r))])
            for r in rails]


def header(rails, plan, board, root, telemetry):
    """The first line of a recording: when (wall clock once, and the same instant on the
    monotonic clock), where from and how fast."""
    t_mono = monotonic()
    return collections.OrderedDict([
        ("format_version", HEADER_VERSION), ("t_wall", round(datetime.datetime.now(datetime.timezone.utc).timestamp(), 6)),
        ("t_mono", round(t_mono, 6)), ("telemetry", telemetry), ("board", board), ("sys_root", os.path.abspath(root)),
        ("rails", _rail_meta(rails)), ("rate_hz", round(plan.rate_hz, 3)),
        ("requested_rate_hz", plan.requested_rate_hz),
        ("conversion_period_ms", None if plan.period_s is None else round(plan.period_s * 1000.0, 3))])


def _child(args):
    return [sys.executable, "-m", "layer_stats.power"] + [str(a) for a in args]


def remove_simulated(folder):
    """Delete simulated trees a killed run left in ``folder`` (a tree is named ``.simulated_sysfs-PID``)."""
    for path in glob.glob(os.path.join(folder, SIM_FOLDER + "-*")):
        if os.path.isdir(os.path.join(path, "sys", "bus", "i2c")):
            shutil.rmtree(path, ignore_errors=True)


def _wait_ready(recorder, what):
    if not recorder.wait_for(1, READY_TIMEOUT_S):
        recorder.check()
        raise TelemetryError("{} did not start in {:.0f} s: check that it runs on its own ({})".format(
            what, READY_TIMEOUT_S, " ".join(recorder.source.argv)))


@contextlib.contextmanager
def serve_simulated(board, folder=None, seed=None, gpu_load_file=None):
    """``with serve_simulated(board, folder) as root:`` the simulated monitors of ``board``
    under ``root`` (``folder/.simulated_sysfs-PID``; a temporary folder when ``folder`` is
    None), served by a child process until the block ends; ``root`` is None when
    ``board`` is None (nothing simulated)."""
    if not board:
        yield None
        return
    temporary = folder is None
    folder = tempfile.mkdtemp(prefix="dnn-stats-power-") if temporary else folder
    root = os.path.join(folder, "{}-{}".format(SIM_FOLDER, os.getpid()))
    args = ["simulate", "--board", board, "--root", root]
    if seed is not None:
        args += ["--seed", seed]
    if gpu_load_file:
        args += ["--gpu_load_file", gpu_load_file]
    recorder = Recorder(Source("power-simulator", _child(args), board, root, True))
    try:
        recorder.start()
        _wait_ready(recorder, "the power-monitor simulator")
        yield root
    finally:
        recorder.stop()
        shutil.rmtree(folder if temporary else root, ignore_errors=True)


def _board_from_rails(rails):
    """The board whose monitor tables name exactly the labelled ``rails`` (unlabelled
    chips, as an INA238, cannot tell: they are left out of the comparison), or None."""
    labelled = {r.rail for r in rails if DRIVERS[r.driver]["label"] is not None}
    for board, entry in sorted(BOARDS.items()):
        for layout in entry.get("monitors") or []:
            table = {name for driver, _, channels in layout["chips"] if DRIVERS[driver]["label"] is not None
                     for name in channels if name != "NC"}
            if labelled and table == labelled:
                return board
    return None


def board_at(root):
    """The board whose monitors are under ``root``: its device tree, else the rails' names."""
    return detect_board(root) or _board_from_rails(find_rails(root))


class PowerSampler(object):
    """A run's sampler child reading ``rails`` (discovered under ``root``) per ``plan``.

    ``telemetry``: ``ina`` (a board's files) or ``simulated``; ``serving``: the
    :func:`serve_simulated` block to close after the sampler (None off the simulator).
    :attr:`recorder` holds the readings (``Sample.raw`` is the reading line, its
    ``t_mono`` the child's stamp); :meth:`readings` cuts windows of them.
    """

    def __init__(self, rails, plan, board, root, telemetry, serving=None, max_age_s=900.0):
        self.rails, self.plan, self.board, self.root, self.telemetry = rails, plan, board, root, telemetry
        self._serving = serving
        args = ["sample", "--rails", ",".join(r.rail for r in rails), "--rate", plan.requested_rate_hz,
                "--sys_root", root]
        if board:
            args += ["--board", board]
        self.recorder = Recorder(Source("power-sampler", _child(args), board, root, True), max_age_s, stamp_of)

    @property
    def keys(self):
        """The ``{rail}_mW`` keys of the readings, in rail order."""
        return [r.rail + "_mW" for r in self.rails]

    def start(self):
        try:
            self.recorder.start()
            _wait_ready(self.recorder, "the power sampler")
        except BaseException:
            self.stop()
            raise
        logger.info("power: %s rails %s sampled at %g Hz (asked %g Hz; conversion period %s) from %s",
                    self.telemetry, ", ".join(r.rail for r in self.rails), self.plan.rate_hz,
                    self.plan.requested_rate_hz,
                    "unknown" if self.plan.period_s is None else "{:g} ms".format(self.plan.period_s * 1000.0),
                    self.root)
        return self

    def stop(self):
        """Stop the sampler, then the simulator serving its files (if any); idempotent."""
        try:
            self.recorder.stop()
        finally:
            if self._serving is not None:
                serving, self._serving = self._serving, None
                serving.__exit__(None, None, None)

    def readings(self, t_start, t_end):
        """``[{"t": s, "values": {key: mW}}]`` of the fresh readings stamped in ``[t_start, t_end]``
        (monotonic s); raises TelemetryError if the sampler died."""
        out = []
        for sample in self.recorder.window(t_start, t_end):
            parsed = parse_line(sample.raw)
            if parsed is not None:
                out.append({"t": round(parsed[0], 6), "values": parsed[1]})
        return out

    def wait_past(self, t_mono, timeout_s=5.0):
        """Wait for a reading stamped after ``t_mono`` (the sampler flushes every few ms)."""
        return self.recorder.wait_past(t_mono, timeout_s)

    def meta(self):
        """Run-file keys: where power came from and how fast it was sampled."""
        return collections.OrderedDict([
            ("power_sampler", "ina"), ("power_telemetry", self.telemetry), ("power_sys_root", self.root),
            ("power_rails", _rail_meta(self.rails)), ("power_rate_hz", round(self.plan.rate_hz, 3)),
            ("power_requested_rate_hz", self.plan.requested_rate_hz),
            ("power_conversion_period_ms", None if self.plan.period_s is None else round(self.plan.period_s * 1e3, 3))])


def _seed_of(source):
    argv = list(source.argv)
    return argv[argv.index("--seed") + 1] if "--seed" in argv[:-1] else None


def _wanted_rails(params):
    """Rail names among ``params`` (resolved tegrastats parameters); None: every rail (no parameters named)."""
    if not params:
        return None
    return [p.raw for p in params if p.kind == "rail"]


def _open_sampler(choice, rate_hz, source, board, names, sys_root, folder, max_age_s):
    simulated = source.kind == "simulated"
    serving = serve_simulated(board, folder, _seed_of(source), source.gpu_load_file) if simulated else None
    root = serving.__enter__() if serving is not None else sys_root
    try:
        found = find_rails(root, board)
        if not found:
            raise DnnStatsError("no INA3221/INA238 power monitors under {}".format(
                os.path.join(root, "sys", "bus", "i2c", "devices")))
        rails = select_rails(found, names, board) if names is not None else found
        with RailReader(rails) as reader:
            reader.read_raw()
        plan = sampling_plan(rails, rate_hz)
        return PowerSampler(rails, plan, board, root, "simulated" if simulated else "ina", serving,
                            max_age_s).start()
    except BaseException:
        if serving is not None:
            serving.__exit__(None, None, None)
        raise


def check_power_rate(rate_hz, windows, choice="auto"):
    """Raise DnnStatsError when ``--power_rate`` (Hz) leaves fewer than
    :data:`~layer_stats.tegrastats.start.MIN_SAMPLES_PER_WINDOW` readings in one of
    ``windows`` ([(flag, seconds)]); nothing to check with ``--power_sampler tegrastats``."""
    from ..tegrastats.start import MIN_SAMPLES_PER_WINDOW

    if choice == "tegrastats":
        return
    for flag, seconds in windows:
        if rate_hz * seconds < MIN_SAMPLES_PER_WINDOW:
            raise DnnStatsError("--power_rate {:g} Hz leaves fewer than {} power-monitor readings in the {} window "
                                "({:g} s): raise --power_rate (default 500) or {}".format(
                                    rate_hz, MIN_SAMPLES_PER_WINDOW, flag, seconds, flag))


def check_power_choice(choice, kind, sys_root="/"):
    """Refuse, before anything is built, a ``--power_sampler ina`` that cannot be had: with a
    replayed log (``kind`` ``replay``: no monitors), or with real tegrastats (``kind``
    ``tegrastats``) on a host whose monitors are missing or unreadable.  The simulator's
    monitors are always there; ``auto`` and ``tegrastats`` are never refused."""
    if choice != "ina" or kind in (None, "simulated"):
        return
    if kind == "replay":
        raise DnnStatsError("--power_sampler ina reads the board's power monitors, which a replayed log does not "
                            "have: pass --power_sampler tegrastats (or auto)")
    rails = find_rails(sys_root)
    if not rails:
        raise DnnStatsError("--power_sampler ina: no INA3221/INA238 power monitors under {}: pass --power_sampler "
                            "tegrastats (or auto)".format(os.path.join(sys_root, "sys", "bus", "i2c", "devices")))
    with RailReader(rails) as reader:
        reader.read_raw()


def start_power(choice, rate_hz, source, board, params, sys_root="/", folder=None, max_age_s=900.0):
    """The started :class:`PowerSampler` for a run, or None where its power comes from tegrastats.

    ``choice``: ``auto``/``tegrastats``/``ina`` (module doc); ``source``: the run's
    tegrastats Source; ``board``: its board; ``params``: the resolved ``--tgr_params``
    (the rails among them are sampled; none named: every connected rail); ``folder``:
    where a simulated tree goes.  Raises DnnStatsError when ``ina`` cannot be had.
    """
    if choice == "tegrastats":
        logger.info("power: from tegrastats lines (--power_sampler tegrastats)")
        return None
    names = _wanted_rails(params)
    if names == []:
        if choice == "ina":
            raise DnnStatsError("--power_sampler ina samples power rails, and --tgr_params names none ({}): add a "
                                "rail, or pass --power_sampler auto".format(", ".join(p.name for p in params)))
        logger.info("power: no power rail among the parameters: nothing for the power sampler")
        return None
    if source.kind == "replay":
        check_power_choice(choice, source.kind)
        logger.info("power: from the replayed tegrastats lines (a log has no power monitors to sample)")
        return None
    try:
        return _open_sampler(choice, rate_hz, source, board, names, sys_root, folder, max_age_s)
    except DnnStatsError as exc:
        if choice == "ina":
            raise
        logger.warning("power: from tegrastats lines, not the power monitors (%s)", exc)
        return None
