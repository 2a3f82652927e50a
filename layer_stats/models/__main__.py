"""``python3 -m layer_stats.models check [--models a,b | --all] [--granularity block|fine] [--json]``
``python3 -m layer_stats.models table [--out FILE] [--models a,b] [--verify]``
``python3 -m layer_stats.models list``

``check`` prints each model's layer count and max |model(x) - chain(x)|; exits 1
if any model fails (difference above the tolerance, or it cannot be split).
``table`` builds and splits every torchvision classifier in both granularities
and writes the layer-count table the multi-DNN planner reads without torch
(default: the shipped ``layer_stats/models/layer_counts.json``); ``--verify``
writes nothing and exits 1 if the shipped table disagrees with this torchvision.
``list`` prints the names ``--models`` takes, one per line (torchvision's classifiers, or the
layer table's where torchvision is absent).
"""
import json
import sys

from ..cli import ArgumentParser, add_logging_args, command_name, describe, number, run, setup_logging
from ..fsutil import atomic_write
from .check import TOLERANCE, check_models
from .layer_table import TABLE_FILE, load_table, make_table, table_text
from .registry import known_models, resolve_models
from .split import GRANULARITIES


def _parser():
    parser = ArgumentParser(prog=command_name("layer_stats.models"), description=describe(__doc__))
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    check = sub.add_parser("check", help="split models into layer chains and compare with the whole model")
    which = check.add_mutually_exclusive_group()
    which.add_argument("--models", help="comma-separated model names (default: AvailableModel.txt)")
    which.add_argument("--all", action="store_true", help="every torchvision classification model")
    check.add_argument("--granularity", choices=GRANULARITIES, default="block")
    check.add_argument("--tolerance", type=number(low=0, high=1e6), default=TOLERANCE, help="max accepted |difference|")
    check.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    add_logging_args(check)
    table = sub.add_parser("table", help="write the layer-count table of every torchvision classifier")
    table.add_argument("--out", default=TABLE_FILE, help="where to write it (default: the shipped table)")
    table.add_argument("--models", default="all", help="comma-separated model names (default: all)")
    table.add_argument("--verify", action="store_true",
                       help="write nothing; exit 1 if the shipped table disagrees with this torchvision")
    add_logging_args(table)
    add_logging_args(sub.add_parser("list", help="print the model names --models takes, one per line"))
    return parser


def _check(args):
    names = resolve_models("all" if args.all else args.models)
    results = []
    for result in check_models(names, args.granularity, args.tolerance):
        results.append(result)
        if not args.json:
            diff = "-" if result["max_abs_diff"] is None else "{:.3g}".format(result["max_abs_diff"])
            sys.stdout.write("{:<22} {:<6} {:>4} layers  max|diff| {:<9} {}\n".format(
                result["model"], result["granularity"], result["layers"], diff,
                "ok" if result["ok"] else "FAIL " + (result["error"] or "difference above tolerance")))
            sys.stdout.flush()
    if args.json:
        keys = ("model", "granularity", "layers", "max_abs_diff", "ok")
        json.dump([{k: r[k] for k in keys} for r in results], sys.stdout, indent=1)
        sys.stdout.write("\n")
    failed = [r["model"] for r in results if not r["ok"]]
    if failed:
        sys.stderr.write("{} of {} models failed: {}\n".format(len(failed), len(results), ", ".join(failed)))
        return 1
    return 0


def _differences(new, shipped):
    """Lines naming every count in which two tables differ."""
    lines = []
    for granularity, counts in sorted(new["counts"].items()):
        old = shipped["counts"].get(granularity, {})
        for name, count in sorted(counts.items()):
            if old.get(name) != count:
                lines.append("{} {}: {} here, {} in the table".format(name, granularity, count, old.get(name)))
    return lines


def _table(args):
    names = resolve_models(args.models, option="--models")

    def show(name, granularity, count):
        sys.stdout.write("{:<22} {:<6} {}\n".format(name, granularity, "-" if count is None else count))
        sys.stdout.flush()

    table = make_table(names, GRANULARITIES, show)
    if args.verify:
        shipped = load_table(args.out)
        lines = _differences(table, shipped)
        for line in lines:
            sys.stderr.write(line + "\n")
        sys.stderr.write("{} difference(s) from {} (made with torchvision {})\n".format(
            len(lines), args.out, shipped.get("torchvision")))
        return 1 if lines else 0
    atomic_write(args.out, table_text(table))
    sys.stderr.write("wrote {} ({} models, torchvision {})\n".format(args.out, len(names), table["torchvision"]))
    return 0


def main(argv):
    args = _parser().parse_args(argv)
    setup_logging(args.log_level, args.log_file)
    if args.command == "list":
        sys.stdout.write("".join(name + "\n" for name in known_models()[0]))
        return 0
    return _table(args) if args.command == "table" else _check(args)


def console():
    """Console-script entry point, ``dnn-stats-models`` (see pyproject.toml)."""
    run(main)


if __name__ == "__main__":
    console()
