"""``python3 -m layer_stats.power {rails,record,sample,simulate} ...``: the board's power monitors.

- ``rails``: every connected rail of the INA3221/INA238 monitors, one reading each
  (``--json``: a list of objects with ``rail``, ``driver``, ``device``, ``channel``,
  ``mW``, ``update_interval_ms``).
- ``record``: sample ``--rails`` at ``--rate`` Hz into ``--out FILE.jsonl`` (a header
  line, then one line per fresh reading) until ``--duration`` or a stop signal; the file
  is written as ``FILE.jsonl.partial`` and renamed when the recording stops.
- ``sample``: the same readings on standard output (the process a measuring run starts).
- ``simulate``: serve a board's monitors as files under ``--root`` until stopped.

``--sys_root DIR`` reads the monitors of a tree mounted elsewhere (default ``/``);
``--simulate BOARD`` reads a simulated tree (a ``simulate`` child), labelled
``simulated`` in every file.
"""
import argparse
import json
import logging
import os
import sys

from ..cli import (MAX_SECONDS, ArgumentParser, add_logging_args, check_new_file, command_name, describe,
                   name_list, number, positive, run, setup_logging)
from ..errors import DnnStatsError, Interrupted
from ..fsutil import chown_to_invoker, ensure_dir
from ..lifecycle import install_handlers, restore_handlers, stop_on_signals, stopping_handler
from ..tegrastats.boards import board_names
from ..tegrastats.detect import resolve_board

logger = logging.getLogger("layer_stats.power")

#: Highest ``--rate`` accepted (Hz): one file read is one I2C transaction (~0.5 ms).
MAX_RATE_HZ = 5000
#: A ``sample`` child flushes its readings at least this often (s).
FLUSH_S = 0.02


def _board(name):
    return resolve_board(name, "--board")


def _simulate_flag(name):
    return resolve_board(name, "--simulate")


def _rails_for(args, root, board):
    """The Rails to read: ``--rails`` (all connected rails when not given)."""
    from .discover import find_rails, select_rails

    if not os.path.isdir(root):
        raise DnnStatsError("--sys_root {} is not a folder: name the root the board's /sys is under (default /)".format(
            root))
    found = find_rails(root, board)
    if not found:
        raise DnnStatsError("no INA3221/INA238 power monitors under {} (not a Jetson?): pass --simulate BOARD ({}), "
                            "or --sys_root DIR for a tree mounted elsewhere".format(
                                os.path.join(root, "sys", "bus", "i2c", "devices"), ", ".join(board_names())))
    names = getattr(args, "rails", None)
    return select_rails(found, names, board) if names else found


def cmd_rails(args):
    from .read import describe as describe_rails
    from .start import serve_simulated, board_at

    with serve_simulated(args.simulate, args.sim_folder, args.seed) as root:
        root = root or args.sys_root
        board = args.simulate or args.board or board_at(root)
        rows = describe_rails(_rails_for(args, root, board))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print("{:<18} {:<9} {:<8} {:>3} {:>10} {:>9}".format("rail", "driver", "device", "ch", "mW", "update_ms"))
    for row in rows:
        mW = "{:.1f}".format(row["mW"]) if row["mW"] is not None else "-"
        interval = row["update_interval_ms"] if row["update_interval_ms"] is not None else "-"
        print("{:<18} {:<9} {:<8} {:>3} {:>10} {:>9}".format(row["rail"], row["driver"], row["device"],
                                                           row["channel"], mW, interval))
    for row in rows:
        if row.get("error"):
            print("{}: {}".format(row["rail"], row["error"]), file=sys.stderr)
    return 0


def _stream_readings(args, handle, flush_s, progress=None):
    """Header line, then readings of ``args.rails`` at ``args.rate`` into ``handle``; returns the loop's stats."""
    from .read import RailReader
    from .sampler import sample_loop
    from .start import header, serve_simulated, board_at, sampling_plan

    folder = os.path.dirname(os.path.abspath(args.out)) if getattr(args, "out", None) else None
    with serve_simulated(args.simulate, args.sim_folder or folder, args.seed, args.gpu_load_file) as sim_root:
        root = sim_root or args.sys_root
        board = args.simulate or args.board or board_at(root)
        rails = _rails_for(args, root, board)
        with RailReader(rails) as reader:
            plan = sampling_plan(rails, args.rate)
            handle.write(json.dumps(header(rails, plan, board, root, "simulated" if sim_root else "ina")) + "\n")
            handle.flush()
            stats = {}
            state = {"flushed": 0.0, "count": 0}
            fmt = plan.line_format

            def emit(t, values):
                handle.write(fmt % ((t,) + tuple(values)) + "\n")
                state["count"] += 1
                if t - state["flushed"] >= flush_s:
                    handle.flush()
                    state["flushed"] = t
                    if progress is not None:
                        progress.update(state["count"] - progress.count)

            try:
                sample_loop(reader, plan.rate_hz, emit, plan.period_s, getattr(args, "duration", None),
                            stats=stats)
            except Interrupted as exc:
                stats["stopped_by"] = exc.signame
            handle.flush()
            if progress is not None:
                progress.update(state["count"] - progress.count)
            stats["rate_hz"] = plan.rate_hz
            return stats


def _check_simulated_rails(args):
    """``--rails`` against a simulated board's table, before anything starts."""
    from .discover import check_rail_names

    if args.simulate and args.rails:
        check_rail_names(args.rails, args.simulate)


def cmd_record(args):
    from ..progress import Progress

    check_new_file(args.out)
    _check_simulated_rails(args)
    setup_logging(args.log_level, args.log_file)
    partial = args.out + ".partial"
    ensure_dir(os.path.dirname(os.path.abspath(args.out)))
    progress = Progress("record " + os.path.basename(args.out), unit="reading")
    stats = {}
    try:
        with open(partial, "w") as handle:
            chown_to_invoker(partial)
            with stop_on_signals():
                stats = _stream_readings(args, handle, 0.5, progress)
    finally:
        progress.close()
        if stats.get("fresh"):
            os.rename(partial, args.out)  # keep what was recorded, whatever ended the run
        elif os.path.exists(partial):
            os.unlink(partial)
    elapsed = stats.get("elapsed_s") or 0
    logger.info("wrote %d fresh readings of %d reads at %.0f Hz (%d repeats of a conversion dropped, %d "
                "deadlines overrun; sampling used %.1f%% of a core) to %s%s", stats.get("fresh", 0),
                stats.get("reads", 0), stats.get("rate_hz", 0), stats.get("repeats", 0), stats.get("overruns", 0),
                100.0 * stats.get("cpu_s", 0) / elapsed if elapsed else 0.0, args.out,
                " (stopped by {})".format(stats["stopped_by"]) if stats.get("stopped_by") else "")
    return 0


def cmd_sample(args):
    args.out = None
    _check_simulated_rails(args)
    with stop_on_signals():
        _stream_readings(args, sys.stdout, FLUSH_S)
    return 0


def cmd_simulate(args):
    import shutil
    import signal

    from .simulate import SysfsSimulator

    created = not os.path.exists(args.root)
    simulator = None
    previous = install_handlers(stopping_handler())  # from before the tree is laid out: a stop then still removes it
    try:
        try:
            simulator = SysfsSimulator(args.board, args.root, args.seed, args.gpu_load_file)
            sys.stdout.write("ready {}\n".format(args.root))
            sys.stdout.flush()
            simulator.run()
        except Interrupted:
            pass
    finally:
        # Stop signals stay ignored until the tree is gone: a parent killed outright sends its
        # parent-death SIGTERM again as each of its threads ends, and one of those must not cut
        # the removal short.
        install_handlers(signal.SIG_IGN)
        try:
            if simulator is not None:
                simulator.close(remove=created)
            elif created:
                shutil.rmtree(args.root, ignore_errors=True)
        finally:
            restore_handlers(previous)
    return 0


def _add_source_args(parser):
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--sys_root", "--sys-root", metavar="DIR", default="/",
                        help="filesystem root the monitors are read under (default /)")
    choice.add_argument("--simulate", metavar="BOARD", type=_simulate_flag,
                        help="read a simulated tree of BOARD's monitors ({})".format(", ".join(board_names())))
    parser.add_argument("--board", type=_board, help="the board under --sys_root, whose tables name unlabelled "
                        "monitors (default: from its device tree, else its rails)")
    parser.add_argument("--seed", type=number(int, low=0, high=2 ** 32 - 1), help="simulator noise seed")
    parser.add_argument("--gpu_load_file", "--gpu-load-file", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--sim_folder", "--sim-folder", metavar="DIR", help=argparse.SUPPRESS)


def _rails_arg(text):
    return name_list(text, "--rails", "rail", "name each rail once (python3 -m layer_stats.power rails lists them)",
                     spaces=False)


def build_parser():
    parser = ArgumentParser(prog=command_name("layer_stats.power"), description=describe(__doc__))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    rails = sub.add_parser("rails", help="list the connected power rails, one reading each")
    _add_source_args(rails)
    rails.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    rails.set_defaults(func=cmd_rails)

    for name, func, text in (("record", cmd_record, "record rail readings to JSON lines"),
                             ("sample", cmd_sample, "print rail readings as JSON lines (for a measuring run)")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--rails", type=_rails_arg, help="rails to read, comma-separated (default: every connected rail)")
        cmd.add_argument("--rate", type=positive(float, MAX_RATE_HZ), default=500.0,
                         help="readings per second (default 500; clamped to the chip's conversion rate)")
        if name == "record":
            cmd.add_argument("--out", required=True, help="output FILE.jsonl (written as FILE.jsonl.partial until stopped)")
            cmd.add_argument("--duration", type=positive(float, MAX_SECONDS),
                             help="stop after this many seconds (default: until stopped)")
            add_logging_args(cmd)
        _add_source_args(cmd)
        cmd.set_defaults(func=func)

    sim = sub.add_parser("simulate", help="serve a board's power monitors as files under --root until stopped")
    sim.add_argument("--board", required=True, type=_board, help="one of " + ", ".join(board_names()))
    sim.add_argument("--root", required=True, help="folder to lay the tree out in (created; removed at the end)")
    sim.add_argument("--seed", type=number(int, low=0, high=2 ** 32 - 1), help="noise seed")
    sim.add_argument("--gpu_load_file", "--gpu-load-file", metavar="FILE",
                     help="file holding the GPU load (0..1) to show (default: 0)")
    sim.set_defaults(func=cmd_simulate)
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    return args.func(args)


def console():
    """Console-script entry point, ``dnn-stats-power`` (see pyproject.toml)."""
    run(main)


if __name__ == "__main__":
    console()
