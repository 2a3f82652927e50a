"""Fake sysfs trees laid out as the real boards' power monitors, for tests and the simulator.

:func:`build_tree` writes, under ``<root>/sys/bus/i2c/devices/<device>/``,
every chip of a board's monitor layout (``BOARDS[board]["monitors"]``) the way
its driver lays it out (see :mod:`.drivers`), plus the
``/sys/bus/i2c/drivers/<driver>/<device>`` links and, optionally, unrelated
chips beside them.  :class:`TreeWriter` then rewrites the value files in
place, as the kernel's values change under a reader that holds them open.
"""
import logging
import os

from ..errors import DnnStatsError
from ..tegrastats.boards import BOARDS, board_names
from .discover import devices_folder
from .read import HeldFiles
from .drivers import DRIVERS, is_rail_label

logger = logging.getLogger(__name__)

__all__ = ["build_tree", "layout_for", "TreeWriter", "DEFAULT_mW", "SHUNT_mOhm", "VALUE_WIDTH"]

#: Power written for every rail (and NC channel) not given a value, mW.
DEFAULT_mW = 1000.0
#: Shunt resistor the fake ina3221/ina238 shunt-voltage files assume, milliohm.
SHUNT_mOhm = 5.0
#: Characters :class:`TreeWriter` right-aligns each value in (then a newline): room for any
#: value a board gives (60 W in uW is 8 digits), so a file's size never changes.
VALUE_WIDTH = 11
#: ina3221 averaging count written in ``samples``: with 3 channels x 1 sample x
#: (bus + shunt conversion, 140 us each) the chip converts about every 1 ms,
#: the ``update_interval_ms`` of the ina3221 layouts.
_INA3221_SAMPLES = 1


def layout_for(board, jetpack=None):
    """``board``'s monitor layout for ``jetpack`` (a string or number; None: the newest).

    Raises :class:`DnnStatsError` for an unknown board or JetPack, listing the known ones.
    """
    if board not in BOARDS:
        raise DnnStatsError("unknown board '{}': pick one of {}".format(board, ", ".join(board_names())))
    layouts = BOARDS[board]["monitors"]
    if jetpack is None:
        return layouts[0]
    for layout in layouts:
        if layout["jetpack"] == str(jetpack):
            return layout
    raise DnnStatsError("no power monitor layout for JetPack {} on {}: the table has JetPack {}".format(
        jetpack, board, ", ".join(layout["jetpack"] for layout in layouts)))


def _put(path, value):
    """Write ``value`` as the kernel prints it: the text, then a newline."""
    with open(path, "w") as handle:
        handle.write("{}\n".format(value))


def _mA(mW, bus_mV):
    return int(round(mW * 1000.0 / bus_mV))


def _shunt_uV(mA):
    """The shunt's voltage drop, uV (mA x mOhm = uV)."""
    return int(round(mA * SHUNT_mOhm))


def _ina3221x(folder, names, mW, bus_mV, files, layout):
    """Channels 0..2 in NVIDIA's IIO layout: rail_name_K, power (mW), voltage (mV), current (mA)."""
    for k, name in zip(DRIVERS["ina3221x"]["channels"], names):
        power = mW.get(name, DEFAULT_mW)
        paths = {"power": os.path.join(folder, "in_power{}_input".format(k)),
                 "voltage": os.path.join(folder, "in_voltage{}_input".format(k)),
                 "current": os.path.join(folder, "in_current{}_input".format(k))}
        _put(os.path.join(folder, "rail_name_{}".format(k)), name)
        _put(paths["power"], int(round(power)))
        _put(paths["voltage"], bus_mV)
        _put(paths["current"], _mA(power, bus_mV))
        if is_rail_label(name):
            files[name] = dict(paths, driver="ina3221x")


def _ina3221(folder, names, mW, bus_mV, files, layout):
    """Channels 1..3, shunt voltages in4..in6 and their sum in7 in uV (kernel's ina3221.rst)."""
    shunts = []
    for k, name in zip(DRIVERS["ina3221"]["channels"], names):
        current = _mA(mW.get(name, DEFAULT_mW), bus_mV)
        paths = {"power": None, "voltage": os.path.join(folder, "in{}_input".format(k)),
                 "current": os.path.join(folder, "curr{}_input".format(k))}
        _put(os.path.join(folder, "in{}_label".format(k)), name)
        _put(paths["voltage"], bus_mV)
        _put(paths["current"], current)
        _put(os.path.join(folder, "in{}_input".format(k + 3)), _shunt_uV(current))
        shunts.append(_shunt_uV(current))
        if is_rail_label(name):
            files[name] = dict(paths, driver="ina3221")
    _put(os.path.join(folder, "in7_label"), "sum of shunt voltages")
    _put(os.path.join(folder, "in7_input"), sum(shunts))
    interval_ms = layout["update_interval_ms"]
    _put(os.path.join(folder, "update_interval"), interval_ms if interval_ms is not None else 1)
    _put(os.path.join(folder, "samples"), _INA3221_SAMPLES)


def _ina238(folder, names, mW, bus_mV, files, layout):
    """One channel: shunt in0 (mV), bus in1 (mV), curr1 (mA), power1 (uW); no label file."""
    name = names[0]
    power = mW.get(name, DEFAULT_mW)
    paths = {"power": os.path.join(folder, "power1_input"), "voltage": os.path.join(folder, "in1_input"),
             "current": os.path.join(folder, "curr1_input")}
    _put(os.path.join(folder, "in0_input"), int(round(_shunt_uV(_mA(power, bus_mV)) / 1000.0)))
    _put(paths["voltage"], bus_mV)
    _put(paths["current"], _mA(power, bus_mV))
    _put(paths["power"], int(round(power * 1000)))
    if is_rail_label(name):
        files[name] = dict(paths, driver="ina238")


#: How each driver's channel files are written: ``(folder, names, mW, bus_mV, files, layout)``.
_WRITERS = {"ina3221x": _ina3221x, "ina3221": _ina3221, "ina238": _ina238}


def _link(root, driver, device):
    """``/sys/bus/i2c/drivers/<driver>/<device>`` -> the device's folder, as the kernel links it."""
    folder = os.path.join(root, "sys", "bus", "i2c", "drivers", driver)
    os.makedirs(folder, exist_ok=True)
    link = os.path.join(folder, device)
    if not os.path.islink(link):
        os.symlink(os.path.join("..", "..", "devices", device), link)


def _unrelated(top, bus):
    """Chips that are no power monitor: a tmp451 sensor, an adapter, a device without ``name``."""
    sensor = os.path.join(top, "{}-004c".format(bus), "hwmon", "hwmon0")
    os.makedirs(sensor, exist_ok=True)
    _put(os.path.join(top, "{}-004c".format(bus), "name"), "tmp451")
    _put(os.path.join(sensor, "temp1_input"), 45000)
    adapter = os.path.join(top, "i2c-{}".format(bus))
    os.makedirs(adapter, exist_ok=True)
    _put(os.path.join(adapter, "name"), "Tegra I2C adapter")
    os.makedirs(os.path.join(top, "{}-0050".format(bus)), exist_ok=True)


def build_tree(root, board, jetpack=None, mW=None, bus_mV=5000, unrelated=True):
    """Write ``board``'s power monitors (layout :func:`layout_for` ``(board, jetpack)``) under
    ``root`` as sysfs shows them; return the TreeFiles dict.

    ``mW`` maps rail -> mW (default :data:`DEFAULT_mW` each, NC channels too);
    values are written in each driver's units as integers (power: ina3221x mW,
    ina238 uW; voltage ``bus_mV``; current ``round(mW * 1000 / bus_mV)`` mA).
    Each chip gets its own channel-folder number N = 1, 3, 5... in layout order
    (``iio:deviceN`` or ``hwmon/hwmonN``: real numbers vary by release).  Raises
    :class:`DnnStatsError` for an unknown board or JetPack.  With ``unrelated``, other I2C devices
    sit beside the monitors (see :func:`_unrelated`).  The returned dict maps each
    connected rail to ``{"power": path or None, "voltage": path, "current": path,
    "driver": driver}``, the files :class:`TreeWriter` rewrites.
    """
    layout = layout_for(board, jetpack)
    mW, bus_mV = mW or {}, int(round(bus_mV))
    top = devices_folder(root)
    files = {}
    for index, (driver, device, names) in enumerate(layout["chips"]):
        folder = os.path.join(top, device, DRIVERS[driver]["folder"].replace("*", str(2 * index + 1)))
        os.makedirs(folder, exist_ok=True)
        _put(os.path.join(top, device, "name"), driver)
        _WRITERS[driver](folder, names, mW, bus_mV, files, layout)
        _link(root, driver, device)
    if unrelated:
        _unrelated(top, layout["chips"][0][1].split("-")[0])
    return files


class TreeWriter(HeldFiles):
    """Rewrites a fake tree's value files in place, as the kernel's values change.

    ``files`` is :func:`build_tree`'s dict.  Every value file stays open
    (``os.O_WRONLY``); :meth:`write` puts the new text at offset 0 (``pwrite``)
    and truncates to its length if that changed, so a reader holding the file
    open (``os.pread``) sees the new value: a rename would leave that reader on
    the old file.  Values are right-aligned in :data:`VALUE_WIDTH` characters
    (``"       5000\n"``; ``int()`` reads it as the kernel's ``"5000\n"``): a
    file whose length changed in place could be read, mid-write, as the new
    digits cut at the old length ("20" of "20000": 1 read in 70 on ext4 with
    reader and writer in tight loops), never when the length stays.  On open, every
    file is rewritten that way with the value it holds; the voltage files hold
    ``bus_mV`` throughout and are written only then.
    """

    def __init__(self, files, bus_mV=5000):
        self.bus_mV = float(bus_mV)
        self._fds = []
        self._length = {}
        self._plan = {}
        try:
            for rail, paths in files.items():
                self._put(self._open(paths["voltage"]), int(round(bus_mV)))
                factor = 1000.0 if paths["driver"] == "ina238" else 1.0
                self._plan[rail] = (self._keep(paths.get("power")), factor, self._keep(paths["current"]))
        except BaseException:
            self.close()
            raise

    def _open(self, path):
        try:
            fd = os.open(path, os.O_WRONLY)
        except OSError as exc:
            raise DnnStatsError("cannot open fake power monitor file {} for writing: {}".format(
                path, exc.strerror or exc))
        self._fds.append(fd)
        self._length[fd] = os.fstat(fd).st_size
        return fd

    def _keep(self, path):
        """Open ``path`` (None: no file) and rewrite the value it holds (0 if none) at full width."""
        if not path:
            return None
        with open(path, "rb") as handle:
            text = handle.read(64)
        fd = self._open(path)
        try:
            self._put(fd, int(text))
        except ValueError:
            self._put(fd, 0)
        return fd

    def _put(self, fd, value):
        data = b"%*d\n" % (VALUE_WIDTH, value)
        os.pwrite(fd, data, 0)
        if len(data) != self._length[fd]:
            os.ftruncate(fd, len(data))
            self._length[fd] = len(data)

    def write(self, mW_by_rail):
        """Set each rail of ``mW_by_rail`` (rail -> mW) to that power, in its driver's units.

        Rails left out keep their values; a rail the tree does not have raises
        :class:`DnnStatsError`.
        """
        put, per_mA = self._put, 1000.0 / self.bus_mV
        for rail, mW in mW_by_rail.items():
            try:
                power, factor, current = self._plan[rail]
            except KeyError:
                raise DnnStatsError("the fake power monitor tree has no rail '{}': it has {}".format(
                    rail, ", ".join(sorted(self._plan))))
            if power is not None:
                put(power, int(round(mW * factor)))
            put(current, int(round(mW * per_mA)))
