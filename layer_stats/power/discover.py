"""The board's power monitors and their rails, found in sysfs under a ``sys_root``.

Every I2C device is ``<sys_root>/sys/bus/i2c/devices/<bus>-<addr>/`` with a
``name`` file; the ones named after a driver of :data:`.drivers.DRIVERS` are
power monitors, everything else (temperature sensors, EEPROMs, adapters) is
ignored.  Discovery reads only ``name`` and label files, which are
world-readable on real boards: the value files may need root, and
:mod:`.read` opens them.

Nothing here names a board: unlabelled channels (Thor's INA238) take their
name from the board's ``monitors`` table in
:mod:`layer_stats.tegrastats.boards`.
"""
import collections
import glob
import io
import logging
import os
import re

from ..errors import DnnStatsError, quote_text
from ..tegrastats.boards import BOARDS
from .drivers import DRIVERS, is_rail_label

logger = logging.getLogger(__name__)

__all__ = ["Rail", "find_monitors", "find_rails", "select_rails", "check_rail_names", "board_rail_names", "devices_folder"]

#: One connected channel of a power monitor.  ``rail``: its name (the kernel's
#: label, or the board table's for unlabelled chips); ``driver``, ``device``
#: (``<bus>-<addr>``), ``channel`` (the driver's number); ``power_file`` (absolute
#: path or None) read as ``value x power_scale`` mW; ``voltage_file`` (mV) and
#: ``current_file`` (mA), None where absent; ``update_interval_file`` (ms) or None.
Rail = collections.namedtuple("Rail", "rail driver device channel power_file power_scale voltage_file "
                                      "current_file update_interval_file")

_DEVICE = re.compile(r"^(\d+)-([0-9a-fA-F]+)$")


def devices_folder(sys_root="/"):
    """``<sys_root>/sys/bus/i2c/devices``: where every I2C device has its folder."""
    return os.path.join(sys_root, "sys", "bus", "i2c", "devices")


def _read_text(path):
    """A small sysfs text file, stripped; None when it is missing or unreadable."""
    try:
        with io.open(path, "rb") as handle:
            return handle.read(256).decode("utf-8", "replace").strip()
    except (IOError, OSError):
        return None


def _device_key(device):
    """Sort key: bus then address as numbers ("2-0040" before "10-0040"); other names last."""
    match = _DEVICE.match(device)
    if match:
        return (0, int(match.group(1)), int(match.group(2), 16), device)
    return (1, 0, 0, device)


def find_monitors(sys_root="/"):
    """Every power monitor under ``sys_root``: a list of ``(driver, device, channel_folder)``.

    A device counts when its ``name`` file (stripped) is a key of
    :data:`.drivers.DRIVERS`; a device without a readable ``name`` is ignored, as
    is one whose channel folder (``iio:deviceN`` or ``hwmon/hwmonN``, N whatever
    the release gives) is missing.  Sorted by device (bus, then address); an
    empty list where there is no I2C folder at all (not a Jetson).
    """
    top = devices_folder(sys_root)
    try:
        devices = os.listdir(top)
    except OSError:
        return []
    found = []
    for device in sorted(devices, key=_device_key):
        driver = _read_text(os.path.join(top, device, "name"))
        if driver not in DRIVERS:
            continue
        folders = sorted(path for path in glob.glob(os.path.join(top, device, DRIVERS[driver]["folder"]))
                         if os.path.isdir(path))
        if not folders:
            logger.debug("power monitor %s (%s) has no %s folder: skipped", device, driver, DRIVERS[driver]["folder"])
            continue
        found.append((driver, device, os.path.abspath(folders[0])))
    return found


def _layout_chips(board):
    """Every chip ``(driver, device, names)`` of ``board``'s monitor layouts, once each."""
    chips = []
    for layout in BOARDS.get(board, {}).get("monitors", ()):
        for chip in layout["chips"]:
            chip = (chip[0], chip[1], tuple(chip[2]))
            if chip not in chips:
                chips.append(chip)
    return chips


def _table_name(board, driver, device, channel):
    """An unlabelled channel's name from ``board``'s table: the chip at ``device``, else the
    board's only chip of ``driver`` (Thor's INA238 is "VIN" wherever it sits), else
    ``"{driver}_{device}_{channel}"``."""
    index = DRIVERS[driver]["channels"].index(channel)
    chips = [chip for chip in _layout_chips(board) if chip[0] == driver]
    exact = [names for _, at, names in chips if at == device]
    names = exact[0] if exact else (chips[0][2] if len({chip[2] for chip in chips}) == 1 else None)
    if names is not None and index < len(names):
        return names[index]
    return "{}_{}_{}".format(driver, device, channel)


def _existing(folder, pattern, channel):
    """``folder/pattern`` for ``channel`` when that file exists (a stat, never a read), else None."""
    if pattern is None:
        return None
    path = os.path.join(folder, pattern.format(k=channel))
    return path if os.path.exists(path) else None


def _channel_rail(driver, device, folder, channel, board):
    """The :class:`Rail` of one channel, or None when it is no rail (NC, sum, no label, no files)."""
    spec = DRIVERS[driver]
    if spec["label"] is not None:
        name = _read_text(os.path.join(folder, spec["label"].format(k=channel)))
    else:
        name = _table_name(board, driver, device, channel)
    if not is_rail_label(name):
        return None
    power = _existing(folder, spec["power"], channel)
    voltage = _existing(folder, spec["voltage"], channel)
    current = _existing(folder, spec["current"], channel)
    if power is None and (voltage is None or current is None):
        logger.debug("rail %s on %s channel %s has no power nor voltage and current files: skipped",
                     name, device, channel)
        return None
    interval = _existing(folder, spec["update_interval"], channel)
    return Rail(name.strip(), driver, device, channel, power, spec["power_scale"] if power else None,
                voltage, current, interval)


def find_rails(sys_root="/", board=None):
    """Every connected rail under ``sys_root``: a list of :class:`Rail`, in device then channel order.

    Unconnected ("NC") channels, the ina3221's shunt-voltage (in4..in6) and
    shunt-sum (in7) channels and channels without a label file (labelled
    drivers) are left out.  ``board`` (a key of ``BOARDS``, or None) names the
    rails of unlabelled chips (see :data:`Rail`).  Reads only ``name`` and label
    files, so it works without root; [] on a machine without power monitors.
    """
    rails = []
    for driver, device, folder in find_monitors(sys_root):
        for channel in DRIVERS[driver]["channels"]:
            rail = _channel_rail(driver, device, folder, channel, board)
            if rail is not None:
                rails.append(rail)
    return rails


def _board_text(board):
    return board if board else "this board"


def select_rails(rails, names, board=None):
    """The :class:`Rail` of each name in ``names`` (a list, or one comma-separated string),
    in the order given, duplicates and empty names dropped.

    Raises :class:`DnnStatsError` naming the first unknown rail and listing the
    rails of ``rails`` (``board`` only words the message), or saying there are
    none when ``rails`` is empty.
    """
    if isinstance(names, str):
        names = names.split(",")
    by_name = collections.OrderedDict()
    for rail in rails:
        by_name.setdefault(rail.rail, rail)
    chosen = []
    for name in (name.strip() for name in names):
        if not name:
            continue
        if name not in by_name:
            raise _unknown_rail(name, list(by_name), board)
        if by_name[name] not in chosen:
            chosen.append(by_name[name])
    return chosen


def _unknown_rail(name, known, board):
    if not known:
        return DnnStatsError("unknown power rail {} on {}: no power monitor rails were found "
                             "(pass --power_sampler tegrastats)".format(quote_text(name), _board_text(board)))
    return DnnStatsError("unknown power rail {} on {}: the rails are {}".format(
        quote_text(name), _board_text(board), ", ".join(known)))


def check_rail_names(names, board):
    """Raise :func:`select_rails`' error for the first of ``names`` that no monitor layout of
    ``board`` names (before anything starts: a simulated board's rails are known from its table)."""
    known = board_rail_names(board)
    for name in names:
        if name not in known:
            raise _unknown_rail(name, known, board)


def board_rail_names(board):
    """Every connected channel name of ``board``'s monitor layouts (all JetPacks), in table
    order, once each; [] for a board without a table."""
    names = []
    for _, _, channel_names in _layout_chips(board):
        names.extend(name for name in channel_names if is_rail_label(name) and name not in names)
    return names
