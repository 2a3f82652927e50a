"""``python3 -m layer_stats.tegrastats {record,simulate,replay,parse,params} ...``

- ``record``: run tegrastats (or ``--simulate BOARD`` / ``--replay LOG``) and write
  one JSON object per sample to ``--out FILE.jsonl`` until stopped (Ctrl-C,
  SIGTERM, SIGHUP) or ``--duration`` seconds.
- ``simulate``: print real-format tegrastats lines for a board, from this host's load.
- ``replay``: print a recorded log at its own pace.
- ``parse``: convert tegrastats logs to JSON lines or CSV.
- ``params``: list the ``--tgr_params`` names valid on a board.
"""
import contextlib
import csv
import io
import json
import logging
import os
import sys
import time

from ..cli import (MAX_INTERVAL_MS, MAX_SECONDS, ArgumentParser, add_logging_args, add_telemetry_args,
                   check_new_file, command_name, describe, number, positive, run,
                   setup_logging)
from ..clock import monotonic
from ..errors import DnnStatsError, Interrupted
from ..fsutil import AtomicFile, chown_to_invoker, ensure_dir
from ..lifecycle import stop_on_signals
from ..progress import Progress
from .boards import BOARDS, board_names
from .detect import board_from_sample, detect_board, resolve_board
from .logcheck import check_log
from .params import role_rail, valid_params
from .parse import LineParser, column_order, parse_file
from .recorder import Recorder
from .replay import paced_lines
from .simulate import Simulator
from .sources import require_log, source_from_args

logger = logging.getLogger("layer_stats.tegrastats")


def _sample_record(sample, parsed, source, board):
    record = {"t_mono": round(sample.t_mono, 6), "t_wall": round(sample.t_wall, 6),
              "telemetry": source.kind, "board": board}
    record.update(parsed)
    record["raw"] = sample.raw
    return record


def cmd_record(args):
    if args.replay and os.path.realpath(args.out) == os.path.realpath(args.replay):
        raise DnnStatsError("--out {} is the --replay log itself: name another file".format(args.out))
    check_new_file(args.out)
    setup_logging(args.log_level, args.log_file)
    source = source_from_args(args, args.interval)
    partial = args.out + ".partial"
    ensure_dir(os.path.dirname(os.path.abspath(args.out)))
    parser = LineParser()
    board = source.board or detect_board()
    written = 0
    progress = Progress("record " + os.path.basename(args.out), unit="sample")
    stopped_by = None
    try:
        with io.open(partial, "w", encoding="utf-8") as out:
            chown_to_invoker(partial)
            with stop_on_signals(), Recorder(source) as recorder:
                start = monotonic()
                while True:
                    time.sleep(0.2)
                    for sample in recorder.drain():
                        parsed = parser.parse(sample.raw)
                        board = board or board_from_sample(parsed)
                        out.write(json.dumps(_sample_record(sample, parsed, source, board)) + "\n")
                        written += 1
                        progress.update()
                    out.flush()
                    if args.duration and monotonic() - start >= args.duration:
                        break
                    if recorder.ended:
                        recorder.check()
                        break
    except Interrupted as exc:
        stopped_by = exc
    finally:
        progress.close()
        if written:
            os.rename(partial, args.out)  # keep what was recorded, whatever ended the run
        elif os.path.exists(partial):
            os.unlink(partial)
    logger.info("wrote %d samples (%s telemetry%s) to %s%s", written, source.kind,
                ", board " + board if board else "", args.out,
                " ({})".format(stopped_by) if stopped_by else "")
    return 0


def _print_until_stopped(lines):
    """Print each line as it comes, flushed, until the lines end or a stop signal."""
    with stop_on_signals():
        try:
            for line in lines:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        except Interrupted:
            pass
    return 0


def _simulated_lines(simulator, period_s, count):
    due = monotonic()
    produced = 0
    while count is None or produced < count:
        due += period_s
        delay = due - monotonic()
        if delay > 0:
            time.sleep(delay)
        yield simulator.line()
        produced += 1


def _board(name):
    """argparse type of ``--board``: the board key (an unknown name is a one-line error)."""
    return resolve_board(name, "--board")


def cmd_simulate(args):
    simulator = Simulator(args.board, seed=args.seed, gpu_load_file=args.gpu_load_file)
    return _print_until_stopped(_simulated_lines(simulator, args.interval / 1000.0, args.count))


def cmd_replay(args):
    check_log(args.log, "LOG")
    return _print_until_stopped(paced_lines(args.log, args.interval, args.speed, args.loop))


def _rows(paths):
    for path in paths:
        for line, parsed in enumerate(parse_file(require_log(path)), 1):
            row = {"file": path, "line": line}
            row.update(parsed)
            yield row


@contextlib.contextmanager
def _output(path):
    """Standard output, or ``path`` written atomically (absent if the block fails)."""
    if not path:
        yield sys.stdout
        return
    with AtomicFile(path) as handle:
        yield handle


def cmd_parse(args):
    if args.out and any(os.path.realpath(args.out) == os.path.realpath(log) for log in args.logs):
        raise DnnStatsError("--out {} is one of the logs to parse: name another file".format(args.out))
    if args.out:
        check_new_file(args.out)
    for log in args.logs:
        check_log(log, "LOG")
    with _output(args.out) as handle:
        if args.format == "jsonl":
            for row in _rows(args.logs):
                handle.write(json.dumps(row) + "\n")
            return 0
        rows = list(_rows(args.logs))
        columns = ["file", "line"] + [k for k in column_order(k for r in rows for k in r) if k not in ("file", "line")]
        writer = csv.DictWriter(handle, columns, restval="", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            row["unparsed"] = " ".join(row["unparsed"])
            writer.writerow(row)
    return 0


def cmd_params(args):
    board = resolve_board(args.board, "--board")
    entry = BOARDS[board]
    print("{} ({})".format(board, entry["name"]))
    for role in ("cpu", "gpu", "soc", "total"):
        rail = role_rail(board, role)
        if rail is None and role == "total" and entry.get("sum_rails"):
            rail = "sum of " + "+".join(entry["sum_rails"])
        print("  {:6s} power: {}".format(role, rail or "-"))
    print("  valid --tgr_params: " + ", ".join(valid_params(board)))
    return 0


def build_parser():
    parser = ArgumentParser(prog=command_name("layer_stats.tegrastats"), description=describe(__doc__))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    rec = sub.add_parser("record", help="record tegrastats samples to JSON lines")
    rec.add_argument("--interval", type=positive(int, MAX_INTERVAL_MS), default=100, help="sampling interval, ms (default 100)")
    rec.add_argument("--out", required=True, help="output FILE.jsonl (written as FILE.jsonl.partial until stopped)")
    rec.add_argument("--duration", type=positive(float, MAX_SECONDS), help="stop after this many seconds (default: until stopped)")
    add_telemetry_args(rec)
    add_logging_args(rec)
    rec.set_defaults(func=cmd_record)

    sim = sub.add_parser("simulate", help="print simulated tegrastats lines for a board")
    sim.add_argument("--board", required=True, type=_board, help="one of " + ", ".join(board_names()))
    sim.add_argument("--interval", type=positive(int, MAX_INTERVAL_MS), default=1000, help="ms between lines (default 1000)")
    sim.add_argument("--count", type=positive(int), help="stop after N lines (default: never)")
    sim.add_argument("--seed", type=number(int, low=0, high=2 ** 32 - 1), help="noise seed, for repeatable output")
    sim.add_argument("--gpu_load_file", "--gpu-load-file", metavar="FILE",
                     help="file holding the GPU load (0..1) to show, re-read every line (default: 0)")
    sim.set_defaults(func=cmd_simulate)

    rep = sub.add_parser("replay", help="print a recorded tegrastats log at its own pace")
    rep.add_argument("log")
    rep.add_argument("--interval", type=positive(int, MAX_INTERVAL_MS), default=1000,
                     help="ms between lines that carry no timestamp (default 1000)")
    rep.add_argument("--speed", type=positive(float, 1000), default=1.0, help="playback speed factor (default 1)")
    rep.add_argument("--loop", action="store_true", help="start again at the end")
    rep.set_defaults(func=cmd_replay)

    par = sub.add_parser("parse", help="convert tegrastats logs to JSON lines or CSV")
    par.add_argument("logs", nargs="+", metavar="LOG")
    par.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    par.add_argument("--out", help="output file (default: standard output)")
    par.set_defaults(func=cmd_parse)

    prm = sub.add_parser("params", help="list the --tgr_params names valid on a board")
    prm.add_argument("--board", required=True)
    prm.set_defaults(func=cmd_params)
    return parser


def main(argv):
    args = build_parser().parse_args(argv)
    return args.func(args)


def console():
    """Console-script entry point, ``dnn-stats-tegrastats`` (see pyproject.toml)."""
    run(main)


if __name__ == "__main__":
    console()
