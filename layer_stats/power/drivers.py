"""What each power-monitor driver puts in sysfs, as data.

One entry of :data:`DRIVERS` per kernel driver, keyed by what the chip's
``name`` file says under ``/sys/bus/i2c/devices/<bus>-<addr>/``:

- ``ina3221x``: NVIDIA's IIO driver (JetPack 4).  Channels 0..2 in
  ``iio:device<N>/``: ``rail_name_K``, ``in_powerK_input`` (mW),
  ``in_voltageK_input`` (mV), ``in_currentK_input`` (mA).
- ``ina3221``: the mainline hwmon driver (JetPack 5/6).  Channels 1..3 in
  ``hwmon/hwmon<N>/``: ``inK_label``, ``inK_input`` (bus mV), ``currK_input``
  (mA), no power file (power = mV x mA / 1000); ``update_interval`` (ms) says
  how often the chip converts.  ``in4..in6`` are shunt voltages (no label) and
  ``in7`` the "sum of shunt voltages": never rails, and never looked at, since
  only the channels listed here are.
- ``ina238``: the mainline hwmon driver (Thor).  Channel 1 in ``hwmon/hwmon<N>/``:
  ``in1_input`` (mV), ``curr1_input`` (mA), ``power1_input`` (uW), no label
  file (the board table names the rail).

Keys of an entry (file names are patterns with ``{k}`` for the channel):
``folder`` (glob under the device folder: N changes between releases, so the
folder is found by listing), ``channels``, ``label`` (None: no label file),
``power`` and ``power_scale`` (mW per unit of the power file; both None where
there is no power file), ``voltage`` (mV), ``current`` (mA) and
``update_interval`` (file name in the channel folder, or None).

Sources: the kernel's Documentation/hwmon/ina3221.rst and ina238.rst, NVIDIA's
JetPack 4 ina3221x driver, jetson-stats ``jtop/core/power.py``.
"""
import logging

logger = logging.getLogger(__name__)

__all__ = ["DRIVERS", "SKIP_LABELS", "is_rail_label", "driver_names"]

DRIVERS = {
    "ina3221x": {
        "folder": "iio:device*",
        "channels": (0, 1, 2),
        "label": "rail_name_{k}",
        "power": "in_power{k}_input",
        "power_scale": 1.0,
        "voltage": "in_voltage{k}_input",
        "current": "in_current{k}_input",
        "update_interval": None,
    },
    "ina3221": {
        "folder": "hwmon/hwmon*",
        "channels": (1, 2, 3),
        "label": "in{k}_label",
        "power": None,
        "power_scale": None,
        "voltage": "in{k}_input",
        "current": "curr{k}_input",
        "update_interval": "update_interval",
    },
    "ina238": {
        "folder": "hwmon/hwmon*",
        "channels": (1,),
        "label": None,
        "power": "power{k}_input",
        "power_scale": 0.001,
        "voltage": "in{k}_input",
        "current": "curr{k}_input",
        "update_interval": None,
    },
}

#: Labels of channels that are not rails (compared lower-case, whitespace stripped):
#: an unconnected channel, and the ina3221's shunt-sum channel.
SKIP_LABELS = ("nc", "sum of shunt voltages")


def is_rail_label(label):
    """True when ``label`` (a label file's text, or a board table's name) names a rail:
    not empty, not "NC", not "sum of shunt voltages" (any case, any surrounding whitespace)."""
    text = (label or "").strip().lower()
    return bool(text) and text not in SKIP_LABELS


def driver_names():
    """The driver names discovery looks for, sorted."""
    return sorted(DRIVERS)
