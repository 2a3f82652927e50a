"""Reading rails in mW, whatever the driver: files opened once, re-read in place.

One file read is one I2C transaction on a real board (~0.5 ms on an AGX
Orin), so :class:`RailReader` opens only the files the chosen rails need (the
power file where the driver has one, else voltage and current) and re-reads
them with ``os.pread`` at offset 0, which makes sysfs run the driver again;
it never re-opens a file per sample.

Units: power files are scaled by the rail's ``power_scale`` (mW per unit: 1
for ina3221x, 0.001 for ina238's uW); voltage is mV, current mA, so
power = mV x mA / 1000 mW.
"""
import collections
import errno
import io
import logging
import os

from ..errors import DnnStatsError, quote_text

logger = logging.getLogger(__name__)

__all__ = ["RailReader", "update_interval_ms", "describe"]

_DENIED = (errno.EACCES, errno.EPERM)
#: Bytes read per file: a sysfs value is one short decimal line.
_READ_BYTES = 64


def _open_error(path, exc):
    """The :class:`DnnStatsError` for an ``OSError`` met opening ``path``."""
    if exc.errno in _DENIED:
        return DnnStatsError("cannot read power monitor file {} (permission denied): run with sudo, "
                             "or pass --power_sampler tegrastats".format(path))
    return DnnStatsError("cannot read power monitor file {}: {}".format(path, exc.strerror or exc))


def _parse(data):
    """A value file's bytes (one decimal line, spaces allowed around it) as an int."""
    return int(data)


class HeldFiles(object):
    """Files held open by descriptor (``_fds``) for the life of the object: a context
    manager whose :meth:`close` closes them all (calling it again does nothing)."""

    _fds = ()

    def close(self):
        """Close every open file; calling it again does nothing."""
        fds, self._fds = self._fds, []
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


class RailReader(HeldFiles):
    """Reads ``rails`` (a list of :class:`.discover.Rail`) again and again, cheaply.

    Opens every file it needs once (``os.open``, read-only); a file that
    cannot be opened raises :class:`DnnStatsError` (permission denied: the
    sudo / ``--power_sampler tegrastats`` line), and nothing stays open.
    ``paths`` lists the open files in the order :meth:`read_raw` returns their
    values: per rail, its power file, or its voltage then current file.
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, rails):
        self.rails = list(rails)
        if not self.rails:
            raise DnnStatsError("no power rails to read: name at least one rail")
        self.names = [rail.rail for rail in self.rails]
        self.paths = []
        self._fds = []
        self._plan = []
        try:
            for rail in self.rails:
                self._plan.append(self._open_rail(rail))
        except BaseException:
            self.close()
            raise

    def _open_rail(self, rail):
        """Open ``rail``'s files; its plan ``(value index, current index or None, scale or None)``."""
        if rail.power_file:
            return (self._open(rail.power_file), None, float(rail.power_scale))
        if not (rail.voltage_file and rail.current_file):
            raise DnnStatsError("power rail {} on {} has neither a power file nor voltage and current files: "
                                "pass --power_sampler tegrastats".format(quote_text(rail.rail), rail.device))
        return (self._open(rail.voltage_file), self._open(rail.current_file), None)

    def _open(self, path):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise _open_error(path, exc)
        self._fds.append(fd)
        self.paths.append(path)
        return len(self._fds) - 1

    def read_raw(self):
        """One reading of every open file: a tuple of ints in :attr:`paths` order (raw units).

        Raises :class:`DnnStatsError` naming the file when a read fails (EIO from
        the chip mid-run) or a file does not hold a whole number.
        """
        pread = os.pread
        try:
            return tuple([int(pread(fd, _READ_BYTES, 0)) for fd in self._fds])
        except (OSError, ValueError) as exc:
            raise self._read_error(exc)

    def _read_error(self, first):
        """Find the file that fails and say so; the slow path, taken once before the run stops."""
        for fd, path in zip(self._fds, self.paths):
            try:
                data = os.pread(fd, _READ_BYTES, 0)
            except OSError as exc:
                return DnnStatsError("cannot read power monitor file {}: {}".format(path, exc.strerror or exc))
            try:
                _parse(data)
            except ValueError:
                return DnnStatsError("power monitor file {} holds {}, not a whole number: check the driver "
                                     "(dmesg)".format(path, quote_text(data.decode("utf-8", "replace"))))
        return DnnStatsError("cannot read power monitor files {}: {}".format(", ".join(self.paths), first))

    def to_mW(self, raw):
        """A :meth:`read_raw` tuple as a list of mW (floats), one per rail in rail order."""
        out = []
        for first, second, scale in self._plan:
            if second is None:
                out.append(raw[first] * scale)
            else:
                out.append(raw[first] * raw[second] / 1000.0)
        return out

    def read_mW(self):
        """One reading as ``OrderedDict(rail -> mW)``, in rail order."""
        return collections.OrderedDict(zip(self.names, self.to_mW(self.read_raw())))



def update_interval_ms(rail):
    """The chip's conversion interval for ``rail`` in ms (an int), from its ``update_interval``
    file; None where the driver has none or it cannot be read."""
    if not rail.update_interval_file:
        return None
    try:
        with io.open(rail.update_interval_file, "rb") as handle:
            return _parse(handle.read(_READ_BYTES))
    except (IOError, OSError, ValueError):
        return None


def describe(rails):
    """One dict per rail for ``rails --json``: ``rail``, ``driver``, ``device``, ``channel``, ``mW``
    (one reading rounded to 0.1 mW; None where it cannot be read, with ``error``, the one-line
    reason) and ``update_interval_ms`` (None where the driver has none)."""
    out = []
    for rail in rails:
        entry = collections.OrderedDict([("rail", rail.rail), ("driver", rail.driver), ("device", rail.device),
                                         ("channel", rail.channel), ("mW", None)])
        try:
            with RailReader([rail]) as reader:
                entry["mW"] = round(reader.to_mW(reader.read_raw())[0], 1)
        except DnnStatsError as err:
            entry["error"] = str(err)
        entry["update_interval_ms"] = update_interval_ms(rail)
        out.append(entry)
    return out
