"""A tegrastats stand-in: real-format lines for a chosen board, driven by this host's load.

Where the values come from (see also README "Simulated telemetry"):

- CPU: per-core load from /proc/stat between two lines; board core ``i`` shows
  host core ``i mod n``.  Clocks follow cpufreq (current/max of the host core,
  scaled onto the board's range) where the host has cpufreq; otherwise a
  schedutil-like rule: ``min + (max - min) * min(1, 1.25 * load)``.
- RAM: used = MemTotal - MemAvailable of this host (clamped to the board's RAM),
  lfb from /proc/buddyinfo; SWAP from /proc/meminfo, omitted when the host
  has none (as tegrastats does).
- GPU: this host has no Jetson GPU.  GR3D load is read from ``gpu_load_file``
  (a number 0..1 that a measuring run writes while it runs work on the GPU,
  see :class:`GpuLoadHint`), else 0; its clock is the board's maximum while loaded, else its minimum.
- Rails: ``idle + cpu_mW * cpu_load + gpu_mW * gpu_load`` per rail from the
  board table (``cpu_load`` = mean core load weighted by clock/max clock),
  times ``1 + N(0, 2%)`` noise; an input rail is ``(fixed + sum of rails) /
  efficiency``.  ``avg`` is the mean since the simulator started, as
  tegrastats prints it; a board whose table says ``rail_values`` 3 also gets the
  running max (JetPack 7 prints cur/avg/max on AGX Orin), but every board served
  today prints two values, Thor included.
- Temperatures: ``30 C + 1.5 C/W * total power`` per sensor, approached with a
  20 s time constant, rounded to the board's sensor step.

Every consumer labels what it records from here ``simulated``.
"""
import contextlib
import datetime
import math
import os
import random
import time

from ..fsutil import atomic_write
from .boards import BOARDS
from .detect import resolve_board
from .hostload import cpu_utilisation, largest_free_block, read_cpu_freqs, read_cpu_times, read_meminfo

__all__ = ["Simulator", "GpuLoadHint", "GPU_LOAD_FILE", "model_power"]

#: Name of the GPU-load file a run keeps in its output folder while it simulates.
GPU_LOAD_FILE = ".simulated_gpu_load"

_AMBIENT_C = 30.0
_C_PER_W = 1.5
_TAU_S = 20.0
_NOISE = 0.02


def model_power(sim, cpu_load, gpu_load, rng):
    """rail -> mW (int, as tegrastats prints) of a board's power model (``BOARDS[b]["sim"]``)
    at ``cpu_load`` and ``gpu_load`` (0..1): ``idle + cpu_mW * cpu_load + gpu_mW * gpu_load``
    per rail times ``1 + N(0, 2%)`` noise from ``rng`` (never below 0), then each input
    rail (``input``, and ``inputs``: those only the power monitors see, as Thor's VIN)
    as ``(fixed + sum of the modelled rails) / efficiency``."""
    values = {}
    for rail, (idle, cpu_mW, gpu_mW) in sim["power"].items():
        mean = idle + cpu_mW * cpu_load + gpu_mW * gpu_load
        values[rail] = max(0, int(round(mean * (1.0 + rng.gauss(0.0, _NOISE)))))
    modelled = sum(values.values())
    inputs = ([sim["input"]] if "input" in sim else []) + list(sim.get("inputs", ()))
    for rail, fixed, efficiency in inputs:
        values[rail] = int(round((fixed + modelled) / efficiency))
    return values


class Simulator(object):
    """Produces one tegrastats line per call of :meth:`line` for ``board``.

    ``root`` is the filesystem root for /proc and /sys (tests pass a fake
    tree); ``seed`` makes the noise repeatable; ``gpu_load_file`` holds the GPU
    load (0..1) to show, re-read for every line (missing or unreadable: 0).
    """

    def __init__(self, board, seed=None, root="/", gpu_load_file=None):
        self.board = resolve_board(board)
        self.entry = BOARDS[self.board]
        self.sim = self.entry["sim"]
        self.root = root
        self.rng = random.Random(seed)
        self._times = read_cpu_times(root)
        self._t_last = time.monotonic()
        self._sums = {}
        self._maxima = {}
        self._count = 0
        self._temp_C = None
        self.gpu_load_file = gpu_load_file

    # -- model -------------------------------------------------------------
    def _cores(self):
        """Per board core: (load 0..1, clock MHz)."""
        times = read_cpu_times(self.root)
        loads = cpu_utilisation(self._times, times) or [0.0]
        self._times = times
        host_freqs = read_cpu_freqs(self.root)
        low, high = self.entry["cpu_MHz"]
        cores = []
        for i in range(self.entry["cores"]):
            load = loads[i % len(loads)]
            if host_freqs:
                cur, top = host_freqs[i % len(host_freqs)]
                ratio = cur / top if top else 0.0
            else:
                ratio = min(1.0, 1.25 * load)
            cores.append((load, int(round(max(low, min(high, low + (high - low) * ratio))))))
        return cores

    def _gpu_load(self):
        if not self.gpu_load_file:
            return 0.0
        try:
            with open(self.gpu_load_file) as handle:
                return max(0.0, min(1.0, float(handle.read().strip() or 0)))
        except (IOError, OSError, ValueError):
            return 0.0

    def _power(self, cpu_load, gpu_load):
        """rail -> mW, in the order tegrastats prints them."""
        values = model_power(self.sim, cpu_load, gpu_load, self.rng)
        return [(rail, values[rail]) for rail in self.entry["rail_sets"][0] if rail in values]

    def loads(self):
        """``(cores, cpu_load, gpu_load)`` since the last call: per board core (load 0..1,
        clock MHz), the clock-weighted mean CPU load and the GPU load (0..1) that drive
        the power model (:func:`model_power`)."""
        cores = self._cores()
        high = self.entry["cpu_MHz"][1]
        cpu_load = sum(u * (0.3 + 0.7 * f / float(high)) for u, f in cores) / len(cores)
        return cores, cpu_load, self._gpu_load()

    def _temperature(self, total_mW):
        now = time.monotonic()
        target = _AMBIENT_C + _C_PER_W * total_mW / 1000.0
        if self._temp_C is None:
            self._temp_C = target
        else:
            alpha = 1.0 - math.exp(-(now - self._t_last) / _TAU_S)
            self._temp_C += (target - self._temp_C) * alpha
        self._t_last = now
        return self._temp_C

    # -- formatting --------------------------------------------------------
    def _fmt_temp(self, value):
        step = self.sim["temp_step_C"]
        value = math.floor(value / step) * step
        text = "{:.3f}".format(math.floor(value * 1000) / 1000.0).rstrip("0").rstrip(".")
        return text + "C"

    def _fmt_rail(self, rail, mW):
        sums = self._sums
        sums[rail] = sums.get(rail, 0) + mW
        self._maxima[rail] = max(self._maxima.get(rail, 0), mW)
        unit = self.sim["rail_unit"]
        values = [mW, int(round(sums[rail] / float(self._count)))]
        if self.sim["rail_values"] == 3:
            values.append(self._maxima[rail])
        return "{} {}".format(rail, "/".join("{}{}".format(v, unit) for v in values))

    def _segments(self, cores, rails, temp_C, gpu_load):
        entry, sim = self.entry, self.sim
        mem = read_meminfo(self.root)
        load = sum(c[0] for c in cores) / len(cores)
        gpu_pct = int(round(100 * gpu_load))
        gpu_clock = entry["gpu_MHz"][1] if gpu_load > 0 else entry["gpu_MHz"][0]
        for part in sim["layout"]:
            if part == "ram":
                used = (mem.get("MemTotal", 0) - mem.get("MemAvailable", mem.get("MemFree", 0))) // 1024
                count, size_kB = largest_free_block(self.root)
                size = "{}MB".format(size_kB // 1024) if size_kB >= 1024 else "{}kB".format(size_kB)
                yield "RAM {}/{}MB (lfb {}x{})".format(min(used, entry["ram_MB"]), entry["ram_MB"], count, size)
            elif part == "swap" and mem.get("SwapTotal"):
                total = mem["SwapTotal"] // 1024
                yield "SWAP {}/{}MB (cached {}MB)".format(
                    total - mem.get("SwapFree", 0) // 1024, total, mem.get("SwapCached", 0) // 1024)
            elif part == "iram":
                yield "IRAM 0/252kB(lfb 252kB)"
            elif part == "cpu":
                yield "CPU [{}]".format(",".join("{}%@{}".format(int(round(100 * u)), f) for u, f in cores))
            elif part == "emc":
                yield "EMC_FREQ {}%@{}".format(int(round(2 + 20 * load)), entry["emc_MHz"])
            elif part == "gpu":
                clock = sim["gpu_clock"]
                if clock == "plain":
                    yield "GR3D_FREQ {}%@{}".format(gpu_pct, gpu_clock)
                elif clock == "bracket":
                    yield "GR3D_FREQ {}%@[{}]".format(gpu_pct, ",".join([str(gpu_clock)] * sim["gpcs"]))
                else:
                    yield "GR3D_FREQ @[{}]".format(",".join([str(gpu_clock)] * sim["gpcs"]))
            elif part == "vic":
                yield "VIC_FREQ {}".format(sim["vic_MHz"])
            elif part == "engines":
                for name in sim.get("engines_at", []):
                    yield "{} @0".format(name)
                for name in sim["engines_off"]:
                    yield "{} off".format(name)
            elif part == "ape":
                yield "APE {}".format(sim["ape_MHz"])
            elif part == "mts":
                yield "MTS fg 0% bg 0%"
            elif part == "temps":
                for i, name in enumerate(entry["temps"]):
                    yield "{}@{}".format(name, self._fmt_temp(temp_C + 0.25 * (i % 4)))
            elif part == "rails":
                for rail, mW in rails:
                    yield self._fmt_rail(rail, mW)

    def line(self, now=None):
        """The next tegrastats line (no newline), measuring the host since the last call."""
        cores, cpu_load, gpu_load = self.loads()
        rails = self._power(cpu_load, gpu_load)
        self._count += 1
        total = sum(mW for _, mW in rails)
        if "input" in self.sim:
            total = dict(rails)[self.sim["input"][0]]
        temp_C = self._temperature(total)
        text = " ".join(self._segments(cores, rails, temp_C, gpu_load))
        if self.sim["timestamp"]:
            now = now or datetime.datetime.now()
            text = now.strftime("%m-%d-%Y %H:%M:%S ") + text
        return text


class GpuLoadHint(object):
    """The measuring side of ``gpu_load_file``: tells the simulator the GPU load while work runs.

    ``path`` None makes every call a no-op (real tegrastats and a replayed log see
    no hint).  A run keeps the file in its output folder as :data:`GPU_LOAD_FILE`
    (see :meth:`~layer_stats.tegrastats.sources.Source.following_gpu_load`) and
    removes it at its start (a killed run may have left a load in it) and end.
    A load already shown is not written again: a run that never loads the GPU
    never creates the file, which the simulator reads as 0.
    """

    def __init__(self, path=None):
        self.path = path
        self._shown = 0

    @contextlib.contextmanager
    def busy(self, load=1.0):
        """Show ``load`` (0..1) for the duration of the block, then 0."""
        self._write(load)
        try:
            yield
        finally:
            self._write(0)

    def _write(self, load):
        if self.path and load != self._shown:
            atomic_write(self.path, "{}\n".format(load))
            self._shown = load

    def remove(self):
        """Delete the file (at the start and end of a run): the simulator shows 0 again."""
        if self.path and os.path.exists(self.path):
            os.unlink(self.path)
        self._shown = 0
