"""Power straight from the board's power monitors (INA3221, INA238) in sysfs, beside tegrastats.

Public API::

    from layer_stats.power import (DRIVERS, SKIP_LABELS, Rail, find_monitors, find_rails,
        select_rails, check_rail_names, board_rail_names, RailReader, update_interval_ms, describe,
        build_tree, TreeWriter, sample_loop, FreshFilter, SysfsSimulator, PowerSampler, start_power)

- ``drivers``: what each driver (ina3221x, ina3221, ina238) puts in sysfs, as a table;
- ``discover``: the monitors and rails under a sys root, rails chosen by name;
- ``read``: rails read in mW from files opened once, whatever the driver;
- ``tree``: fake sysfs trees laid out as the real boards, for tests and the simulator;
- ``sampler``: the sampling loop, a fixed rate and fresh conversions only;
- ``simulate``: a board's monitors as files whose values follow the simulated load;
- ``start``: a measuring run's power source (auto/tegrastats/ina) and its child processes;
- ``__main__``: ``python3 -m layer_stats.power rails|record|sample|simulate``.

Board layouts (which chip carries which rail, per JetPack) are data in
``BOARDS[board]["monitors"]`` (:mod:`layer_stats.tegrastats.boards`).
"""
from .discover import Rail, board_rail_names, check_rail_names, find_monitors, find_rails, select_rails
from .drivers import DRIVERS, SKIP_LABELS
from .read import RailReader, describe, update_interval_ms
from .sampler import FreshFilter, sample_loop
from .simulate import SysfsSimulator
from .start import PowerSampler, start_power
from .tree import TreeWriter, build_tree

__all__ = [
    "DRIVERS", "SKIP_LABELS",
    "Rail", "board_rail_names", "check_rail_names", "find_monitors", "find_rails", "select_rails",
    "RailReader", "describe", "update_interval_ms",
    "FreshFilter", "sample_loop", "SysfsSimulator", "PowerSampler", "start_power",
    "TreeWriter", "build_tree",
]
