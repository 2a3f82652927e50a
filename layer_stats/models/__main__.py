"""``python3 -m layer_stats.models check [--models a,b | --all] [--granularity block|fine] [--json]``

Prints each model's layer count and max |model(x) - chain(x)|; exits 1 if any
model fails (difference above the tolerance, or it cannot be split).
"""
import argparse
import json
import sys

from ..cli import add_logging_args, run, setup_logging
from .check import TOLERANCE, check_models
from .registry import resolve_models
from .split import GRANULARITIES


def _parser():
    parser = argparse.ArgumentParser(prog="python3 -m layer_stats.models", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    check = sub.add_parser("check", help="split models into layer chains and compare with the whole model")
    which = check.add_mutually_exclusive_group()
    which.add_argument("--models", help="comma-separated model names (default: AvailableModel.txt)")
    which.add_argument("--all", action="store_true", help="every torchvision classification model")
    check.add_argument("--granularity", choices=GRANULARITIES, default="block")
    check.add_argument("--tolerance", type=float, default=TOLERANCE, help="max accepted |difference|")
    check.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    add_logging_args(check)
    return parser


def main(argv):
    args = _parser().parse_args(argv)
    setup_logging(args.log_level, args.log_file)
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


if __name__ == "__main__":
    run(main)
