"""tegrastats telemetry: parse, record, simulate and replay, for every Jetson board.

Public API::

    from layer_stats.tegrastats import (parse_line, parse_file, Recorder, Sample,
        tegrastats_source, simulated_source, replay_source, Simulator,
        detect_board, replay_board, check_log, resolve_params, BOARDS)

Command line: ``python3 -m layer_stats.tegrastats --help``.
"""
from .boards import BOARDS, board_names
from .detect import board_from_model, board_from_sample, detect_board, replay_board, resolve_board
from .logcheck import check_log
from .params import Param, param_keys, resolve_params, role_rail, valid_params
from .parse import LineParser, column_order, parse_file, parse_line
from .recorder import Recorder, Sample
from .simulate import Simulator
from .sources import Source, replay_source, simulated_source, source_from_args, tegrastats_source

__all__ = [
    "BOARDS", "board_names", "board_from_model", "board_from_sample", "detect_board", "replay_board", "resolve_board",
    "check_log",
    "Param", "param_keys", "resolve_params", "role_rail", "valid_params",
    "LineParser", "column_order", "parse_file", "parse_line",
    "Recorder", "Sample", "Simulator",
    "Source", "replay_source", "simulated_source", "source_from_args", "tegrastats_source",
]
