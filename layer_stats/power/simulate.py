"""A board's power monitors as files, whose values follow the simulated load.

:class:`SysfsSimulator` lays out the board's monitors under a folder as the kernel
does (:func:`~layer_stats.power.tree.build_tree`: driver, folder names, labels, NC
channels, units; the board table's newest layout) and rewrites their value files in
place every conversion period (the layout's ``update_interval_ms``, else
:data:`DEFAULT_PERIOD_MS`), so the sampler reads them with the same code as on a
board.  Values come from the tegrastats simulator's power model
(:func:`~layer_stats.tegrastats.simulate.model_power`): the host's CPU load (from
/proc/stat, measured every :data:`LOAD_PERIOD_S`) and the GPU load a run writes to
its ``gpu_load_file``, with fresh noise at every conversion.  Rails the model does
not hold read 0 mW.

It runs as its own process (``python3 -m layer_stats.power simulate``), so its
writes cost the measured run no GIL time; the folder is removed when it stops.
"""
import os
import shutil

from ..clock import monotonic
from ..errors import DnnStatsError
from ..tegrastats.boards import BOARDS
from ..tegrastats.detect import resolve_board
from ..tegrastats.simulate import Simulator, model_power
from .tree import TreeWriter, build_tree

__all__ = ["SysfsSimulator", "DEFAULT_PERIOD_MS", "LOAD_PERIOD_S", "SIM_FOLDER"]

#: Conversion period (ms) of a simulated monitor whose driver publishes none (ina3221x, ina238).
DEFAULT_PERIOD_MS = 1
#: How often the simulated load is measured again (s): /proc/stat every conversion would cost more than it tells.
LOAD_PERIOD_S = 0.02
#: Name of the folder a run keeps the simulated sysfs in, inside its output folder.
SIM_FOLDER = ".simulated_sysfs"


class SysfsSimulator(object):
    """The power monitors of ``board`` under ``root`` (created; it must not hold anything yet).

    ``seed``: noise seed; ``gpu_load_file``: as the tegrastats simulator's;
    ``host_root``: where /proc is read (tests pass a fake one).
    """

    def __init__(self, board, root, seed=None, gpu_load_file=None, host_root="/"):
        self.board = resolve_board(board, "--board")
        monitors = BOARDS[self.board].get("monitors") or []
        if not monitors:
            raise DnnStatsError("board {} has no power monitors to simulate: use --power_sampler tegrastats".format(
                self.board))
        self.layout = monitors[0]
        self.period_s = (self.layout.get("update_interval_ms") or DEFAULT_PERIOD_MS) / 1000.0
        if os.path.isdir(root) and os.listdir(root):
            raise DnnStatsError("{} is not empty: the simulated sysfs needs a folder of its own".format(root))
        self.root = root
        self.model = Simulator(self.board, seed=seed, root=host_root, gpu_load_file=gpu_load_file)
        self._cpu_load = self._gpu_load = 0.0
        self._loads_at = None
        self.files = build_tree(root, self.board, self.layout.get("jetpack"), mW=self._values())
        self.writer = TreeWriter(self.files)
        self.conversions = 0

    def _values(self):
        """rail -> mW of one conversion (the load re-measured when it is older than :data:`LOAD_PERIOD_S`)."""
        now = monotonic()
        if self._loads_at is None or now - self._loads_at >= LOAD_PERIOD_S:
            _, self._cpu_load, self._gpu_load = self.model.loads()
            self._loads_at = now
        return model_power(self.model.sim, self._cpu_load, self._gpu_load, self.model.rng)

    def convert(self):
        """Write one conversion into every rail's files."""
        values = self._values()
        self.writer.write({rail: values.get(rail, 0) for rail in self.files})
        self.conversions += 1

    def run(self, stop=None, sleep=None):
        """Convert every period until ``stop()`` is True or a stop signal raises."""
        import time

        sleep = sleep or time.sleep
        due = monotonic()
        while stop is None or not stop():
            self.convert()
            due += self.period_s
            now = monotonic()
            if now > due:  # late: skip the conversions missed, as the chip would not have queued them
                due += (int((now - due) / self.period_s) + 1) * self.period_s
            sleep(max(0.0, due - monotonic()))

    def close(self, remove=True):
        """Close the files and (``remove``) delete the folder."""
        self.writer.close()
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)
