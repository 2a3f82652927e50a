"""Multi-DNN workload raw data: ``sudo python3 multi_network_stats/MappingDBGenerator.py
--jetsonDevice Orin --mode 1 --num_samples 2000 --eval_tgr --eval_thr ...``

Plans mappings of 1..k networks onto the devices (see multi_network_stats/plan.py),
runs each as concurrent staged networks and writes one file per mapping to
``<output_root>/Multinet/Mode{m}/``.  ``--mode`` does not change the board's mode:
set it first with ``sudo nvpmodel -m N``.  Rerun the same command to resume;
``--dry_run`` prints the plan and its device time without running anything (it
needs no torch: layer counts come from the shipped table,
layer_stats/models/layer_counts.json).
"""
import argparse
import json
import logging
import os
import sys

if __name__ == "__main__" and not __package__:  # run by path, as the seed does: use this checkout
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from layer_stats.cli import (MAX_MODE, MAX_SECONDS, ArgumentParser, add_logging_args,  # noqa: E402
                             add_output_root_arg, add_telemetry_args, add_tgr_args, check_log_file, describe, name_list, number, positive,
                             number_list, run, setup_logging, split_list)
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.fsutil import check_writable  # noqa: E402
from layer_stats.tegrastats.boards import DEVICE_ALIASES  # noqa: E402
from layer_stats.tegrastats.detect import board_from_model, read_model, resolve_board  # noqa: E402
from layer_stats.tegrastats.sources import source_from_args  # noqa: E402

logger = logging.getLogger("layer_stats.mapping")

#: board key -> the seed's ``Device`` name.
SEED_NAMES = {board: name for name, board in DEVICE_ALIASES.items()}


def _parser():
    p = ArgumentParser(description=describe(__doc__))
    p.add_argument("--jetsonDevice", choices=sorted(DEVICE_ALIASES) + ["auto"], default="auto",
                   help="the board (default auto: from the device tree, --simulate or --replay)")
    p.add_argument("--mode", type=number(int, low=0, high=MAX_MODE), required=True,
                   help="the board's nvpmodel mode (checked; required)")
    p.add_argument("--num_samples", type=number(int, low=0, high=10 ** 6), default=20,
                   help="mappings to generate for the mode (20)")
    p.add_argument("--device_list", default="cpu,cuda", help="comma-separated devices (cpu,cuda)")
    p.add_argument("--device_priorities", type=number_list(low=0, high=10 ** 6),
                   help="comma-separated weights >= 0, one per device (default: equal)")
    p.add_argument("--model_list", help="comma-separated models (default: AvailableModel.txt)")
    p.add_argument("--single_nets", action="store_true", help="class A: every model alone on every device")
    p.add_argument("--gpu_only_maps", action="store_true", help="class B: one all-GPU mapping per set")
    p.add_argument("--numNetsRange", type=number(int, low=1, high=1000), nargs=2, default=[2, 6], metavar=("LOW", "HIGH"),
                   help="networks per workload, inclusive (2 6)")
    p.add_argument("--samples_per_set", type=number(int, low=1, high=10 ** 6), default=20,
                   help="mappings per set of networks (20)")
    p.add_argument("--imgs", nargs="+", default=["img1.jpg,img2.jpg,img3.jpg"],
                   help="images in data/imagenet, comma- or space-separated")
    p.add_argument("--smpl_duration", type=positive(high=MAX_SECONDS), default=30.0,
                   help="measured seconds per mapping, > 0 and <= 86400 (30)")
    p.add_argument("--thr_ci", type=number(low=0, high=1, low_open=True, high_open=True), metavar="REL",
                   help="end a mapping's window once every network's throughput is known within +-REL (95%%; "
                        "a fraction in (0, 1), e.g. 0.02), --smpl_duration then being the longest window "
                        "(default: fixed windows)")
    p.add_argument("--funcLayerCount", action="store_true", help="count leaf operations per stage")
    tgr = add_tgr_args(p, interval_ms=50, boundary_s=2.0)
    tgr.description = "--tgr_smpl_boundry is also the settle time before each mapping's window"
    p.add_argument("--eval_thr", action="store_true", help="measure throughput and stage times")
    p.add_argument("--max_split_nets", type=number(int, low=1, special=(-1,)), default=-1,
                   help="most split networks per mapping, >= 1 (-1: any)")
    p.add_argument("--seed", type=number(int, low=0, high=2 ** 32 - 1), default=0, help="plan seed; 0 means the mode number (0)")
    p.add_argument("--batch_size", type=number(int, low=1, high=256), default=1,
                   help="images per inference, 1-256 (1)")
    p.add_argument("--cache_mb", type=number(low=0, high=10 ** 7),
                   help="MiB of network weights kept between mappings (default: 1/8 of this machine's memory; "
                        "least recently used networks are dropped past it)")
    p.add_argument("--remove_weights", action="store_true",
                   help="keep no network between mappings (as --cache_mb 0): every mapping builds its "
                        "networks again; weights are random, so nothing is ever stored on disk")
    p.add_argument("--warmup", action="store_true", help="run the first mapping once, unrecorded, before the rest")
    p.add_argument("--start_idx", type=number(int, low=0, high=10 ** 9), default=0,
                   help="skip the plan's mappings before this index (0)")
    p.add_argument("--force_mode", action="store_true", help="record even if nvpmodel reports another mode")
    p.add_argument("--dry_run", action="store_true", help="print the plan and its device time; run nothing")
    add_output_root_arg(p)
    add_telemetry_args(p)
    add_logging_args(p)
    p.add_argument("--sys_root", default="/", help=argparse.SUPPRESS)
    return p


def _board(args, source):
    """(board key or None, seed Device name); raises if ``--jetsonDevice`` names another board
    than the telemetry source (simulator, replay log) or the device tree."""
    named = DEVICE_ALIASES.get(args.jetsonDevice)
    if source is not None and source.board:
        found, where, fix = source.board, "the {} telemetry".format(source.kind), "--" + (
            "replay" if source.kind == "replay" else "simulate")
    elif args.simulate:
        found, where, fix = resolve_board(args.simulate, "--simulate"), "the simulated telemetry", "--simulate"
    else:
        found, where, fix = board_from_model(read_model(args.sys_root)), "the device tree", "--simulate/--replay"
    if named and found and SEED_NAMES.get(found, found) != args.jetsonDevice:
        raise DnnStatsError("--jetsonDevice {} but this is {} ({}): fix --jetsonDevice or {}".format(
            args.jetsonDevice, found, where, fix))
    board = found or named
    return board, SEED_NAMES.get(board, board or "unknown")


def _source(args):
    """The telemetry Source: for --eval_tgr, and for --simulate/--replay even in a dry run
    (their board is checked against --jetsonDevice); else None."""
    if not (args.simulate or args.replay or (args.eval_tgr and not args.dry_run)):
        return None
    return source_from_args(args, args.tgr_interval)


def _devices(args):
    from layer_stats.devices import check_devices

    devices = name_list(args.device_list, "--device_list", "device", "give cpu, cuda or both")
    check_devices(devices, "--device_list", args.dry_run)
    return devices


def _check_window(args):
    """Refuse a boundary the multi-DNN run cannot use (``auto``: its settle period is a plain
    wait) and a telemetry rate that leaves too few samples in the shortest window."""
    from layer_stats.power.start import check_power_rate
    from layer_stats.tegrastats.start import check_interval
    from multi_network_stats.adaptive import min_window_s

    if not isinstance(args.tgr_smpl_boundary, (int, float)):
        raise DnnStatsError("--tgr_smpl_boundry {} is for the layer-wise generator: a mapping's settle period is a "
                            "plain wait; give seconds (default 2)".format(args.tgr_smpl_boundary))
    windows = [("--smpl_duration", args.smpl_duration)]
    if args.thr_ci is not None:
        windows.append(("shortest --thr_ci", min_window_s(args.smpl_duration, args.tgr_interval)))
    if args.eval_tgr:
        check_interval(args.tgr_interval, windows)
        check_power_rate(args.power_rate, windows, args.power_sampler)


def _check_power(args):
    """Refuse, before anything is built, a ``--power_sampler ina`` the telemetry cannot have
    (a replayed log; a board whose monitors are missing or unreadable: not probed in a dry run)."""
    from layer_stats.power.start import check_power_choice

    kind = "replay" if args.replay else "simulated" if args.simulate else None if args.dry_run else "tegrastats"
    if args.eval_tgr:
        check_power_choice(args.power_sampler, kind, args.sys_root)


def _check_params(args, board):
    if args.eval_tgr and args.tgr_params and board:
        from layer_stats.tegrastats.params import resolve_params
        resolve_params(board, split_list(args.tgr_params))


def plan_from_args(args):
    """Check the options and make the plan.  Layer counts come from the shipped table
    (no torch needed); a run checks them when it builds each network."""
    from layer_stats.models.layer_table import planned_layer_counts
    from layer_stats.models.registry import resolve_models
    from multi_network_stats.plan import PlanOptions, make_plan

    devices = _devices(args)
    models = resolve_models(args.model_list, option="--model_list")
    opts = PlanOptions(models=models, layer_counts=planned_layer_counts(models), devices=devices,
                       priorities=args.device_priorities, num_samples=args.num_samples,
                       nets_range=tuple(args.numNetsRange), samples_per_set=args.samples_per_set,
                       single_nets=args.single_nets, gpu_only_maps=args.gpu_only_maps,
                       max_split_nets=args.max_split_nets, seed=args.seed or args.mode)
    return make_plan(opts)


def _power_plan(args):
    """Where a run would take its power rails from, as asked (nothing is probed or started)."""
    if args.power_sampler == "tegrastats" or args.replay:
        return "tegrastats lines (--power_sampler {}{})".format(
            args.power_sampler, "; a replayed log has no power monitors" if args.replay else "")
    where = "the simulated " if args.simulate else "the board's "
    text = "{}INA3221/INA238 monitors at up to {:g} readings/s (--power_sampler {})".format(
        where, args.power_rate, args.power_sampler)
    return text + (", else tegrastats lines where they cannot be read" if args.power_sampler == "auto" else "")


def _print_plan(plan, args, opts):
    """The plan, a JSON line per mapping, then ``#`` lines: the files already there (a file of
    another mapping or other settings stops the dry run as it would the run) and the device time."""
    from multi_network_stats.generate import BUILD_S_PER_NET, MAPPING_OVERHEAD_S, estimate_seconds, file_state
    from multi_network_stats.layout import mode_dir

    folder = mode_dir(args.output_root, args.mode)
    states = [file_state(os.path.join(folder, e.file), e, opts)[0] for e in plan if e.index >= args.start_idx]
    for entry in plan:
        sys.stdout.write(json.dumps({"file": entry.file, "class": entry.cls, "set": entry.set,
                                     "mapping": entry.mapping}) + "\n")
    if args.eval_tgr:
        sys.stdout.write("# power: {}\n".format(_power_plan(args)))
    if states.count("done") or states.count("redo"):
        sys.stdout.write("# files already in {}: {} done (a run skips them), {} unreadable (a run measures them "
                         "again)\n".format(folder, states.count("done"), states.count("redo")))
    todo = [e for e, state in zip((e for e in plan if e.index >= args.start_idx), states) if state != "done"]
    seconds = estimate_seconds(todo, args.smpl_duration, args.tgr_smpl_boundary)
    classes = {c: sum(1 for e in todo if e.cls == c) for c in "ABCD"}
    sys.stdout.write("# estimated device time: {:.1f} h ({:.0f} s) for {} mappings ({}) from index {}: per "
                     "mapping {:g} s settle + {:g} s window + {:g} s, plus {:g} s per network to build once\n".format(
                         seconds / 3600.0, seconds, len(todo),
                         ", ".join("{} {}".format(c, n) for c, n in classes.items() if n), args.start_idx,
                         args.tgr_smpl_boundary, args.smpl_duration, MAPPING_OVERHEAD_S, BUILD_S_PER_NET))
    if args.thr_ci is not None:
        sys.stdout.write(_adaptive_line(todo, args) + "\n")


def _adaptive_line(todo, args):
    """The ``--thr_ci`` dry-run line: the device time by the model of the rule
    (:func:`~multi_network_stats.adaptive.adaptive_window_s`, stated in README), and its floor
    (every window the minimum); the fixed estimate above is its ceiling."""
    from multi_network_stats import adaptive
    from multi_network_stats.generate import estimate_seconds

    interval = args.tgr_interval if args.eval_tgr else None
    shortest = adaptive.min_window_s(args.smpl_duration, interval)
    window = adaptive.adaptive_window_s(args.thr_ci, args.smpl_duration, interval)
    model = estimate_seconds(todo, window, args.tgr_smpl_boundary)
    low = estimate_seconds(todo, shortest, args.tgr_smpl_boundary)
    return ("# adaptive (--thr_ci {:g}): about {:.1f} h ({:.0f} s), a {:.3g} s window per mapping: its slowest "
            "network at {:g} passes/s needs {} passes for +-{:g} (inter-completion times of CV {:g}); at least "
            "{:.1f} h ({:g} s windows), at most the fixed estimate above".format(
                args.thr_ci, model / 3600.0, model, window, adaptive.ASSUMED_SLOWEST_PER_S,
                adaptive.passes_needed(args.thr_ci), args.thr_ci, adaptive.ASSUMED_CV, low / 3600.0, shortest))


def _options(args, plan, images, device_name):
    from multi_network_stats.generate import MultinetOptions

    cache_bytes = 0 if args.remove_weights else (None if args.cache_mb is None else int(args.cache_mb * 2 ** 20))
    return MultinetOptions(
        plan=plan, mode=args.mode, images=images, batch_size=args.batch_size, smpl_duration_s=args.smpl_duration,
        boundary_s=args.tgr_smpl_boundary, eval_tgr=args.eval_tgr, tgr_params=split_list(args.tgr_params),
        tgr_interval_ms=args.tgr_interval, func_layer_count=args.funcLayerCount, warmup=args.warmup,
        start_idx=args.start_idx, output_root=args.output_root, device_name=device_name,
        force_mode=args.force_mode, sys_root=args.sys_root, args=vars(args), cache_bytes=cache_bytes,
        power_sampler=args.power_sampler, power_rate_hz=args.power_rate, thr_ci=args.thr_ci)


def main(argv):
    from layer_stats.models.inputs import find_images
    from layer_stats.models.registry import AVAILABLE_FILE
    from multi_network_stats.generate import check_start_idx, measure_mappings
    from multi_network_stats.layout import mode_dir as multinet_mode_dir

    args = _parser().parse_args(argv)
    log_file = None
    if not args.dry_run:
        check_writable(args.output_root)
        log_file = args.log_file or os.path.join(multinet_mode_dir(args.output_root, args.mode), "mapping.log")
        check_log_file(log_file, find_images(args.imgs) + [AVAILABLE_FILE, args.replay, args.tegrastats])
    setup_logging(args.log_level, log_file)
    if not (args.dry_run or args.eval_thr or args.eval_tgr):
        raise DnnStatsError("nothing to measure: pass --eval_thr and/or --eval_tgr (or --dry_run)")
    _check_window(args)
    _check_power(args)
    source = _source(args)
    board, device_name = _board(args, source)
    _check_params(args, board)
    images = find_images(args.imgs)
    plan = plan_from_args(args)
    check_start_idx(plan, args.start_idx)
    opts = _options(args, plan, images, device_name)
    if args.dry_run:
        _print_plan(plan, args, opts)
        return 0
    logger.info("board %s (%s), %d mappings planned", board or "unknown", device_name, len(plan))
    measure_mappings(opts, source if args.eval_tgr else None)
    return 0


def console():
    """Console-script entry point (see pyproject.toml)."""
    run(main)


if __name__ == "__main__":
    console()
