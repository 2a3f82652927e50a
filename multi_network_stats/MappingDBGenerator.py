"""Multi-DNN workload raw data: ``sudo python3 multi_network_stats/MappingDBGenerator.py
--jetsonDevice Orin --mode 1 --num_samples 2000 --eval_tgr --eval_thr ...``

Plans mappings of 1..k networks onto the devices (see layer_stats/multinet/plan.py),
runs each as concurrent staged networks and writes one file per mapping to
``<output_root>/Multinet/Mode{m}/``.  ``--mode`` does not change the board's mode:
set it first with ``sudo nvpmodel -m N``.  Rerun the same command to resume;
``--dry_run`` prints the plan and its device time without running anything.
"""
import argparse
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from layer_stats.cli import (add_logging_args, add_output_root_arg, add_tgr_args, run,  # noqa: E402
                             setup_logging, split_list)
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.tegrastats.boards import DEVICE_ALIASES  # noqa: E402
from layer_stats.tegrastats.detect import board_from_model, read_model, resolve_board  # noqa: E402
from layer_stats.tegrastats.simulate import GPU_LOAD_FILE  # noqa: E402
from layer_stats.tegrastats.sources import add_telemetry_args, source_from_args  # noqa: E402

logger = logging.getLogger("layer_stats.mapping")

#: board key -> the seed's ``Device`` name.
SEED_NAMES = {board: name for name, board in DEVICE_ALIASES.items()}


def _parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip())
    p.add_argument("--jetsonDevice", choices=sorted(DEVICE_ALIASES) + ["auto"], default="auto",
                   help="the board (default auto: from the device tree, or --simulate)")
    p.add_argument("--mode", type=int, required=True, help="the board's nvpmodel mode (checked; required)")
    p.add_argument("--num_samples", type=int, default=20, help="mappings to generate for the mode (20)")
    p.add_argument("--device_list", default="cpu,cuda", help="comma-separated devices (cpu,cuda)")
    p.add_argument("--device_priorities", help="comma-separated weights, one per device (default: equal)")
    p.add_argument("--model_list", help="comma-separated models (default: AvailableModel.txt)")
    p.add_argument("--single_nets", action="store_true", help="class A: every model alone on every device")
    p.add_argument("--gpu_only_maps", action="store_true", help="class B: one all-GPU mapping per set")
    p.add_argument("--numNetsRange", type=int, nargs=2, default=[2, 6], metavar=("LOW", "HIGH"),
                   help="networks per workload, inclusive (2 6)")
    p.add_argument("--samples_per_set", type=int, default=20, help="mappings per set of networks (20)")
    p.add_argument("--imgs", nargs="+", default=["img1.jpg,img2.jpg,img3.jpg"],
                   help="images in data/imagenet, comma- or space-separated")
    p.add_argument("--smpl_duration", type=float, default=30.0, help="measured seconds per mapping (30)")
    p.add_argument("--funcLayerCount", action="store_true", help="count leaf operations per stage")
    tgr = add_tgr_args(p, interval_ms=50, boundary_s=2.0)
    tgr.description = "--tgr_smpl_boundry is also the settle time before each mapping's window"
    p.add_argument("--eval_thr", action="store_true", help="measure throughput and stage times")
    p.add_argument("--max_split_nets", type=int, default=-1, help="most split networks per mapping (-1: any)")
    p.add_argument("--seed", type=int, default=0, help="plan seed; 0 means the mode number (0)")
    p.add_argument("--batch_size", type=int, default=1, help="images per inference (1)")
    p.add_argument("--remove_weights", action="store_true",
                   help="accepted for the seed's command; models are built with random weights for every "
                        "mapping, so nothing stays on disk or in memory")
    p.add_argument("--warmup", action="store_true", help="run the first mapping once, unrecorded, before the rest")
    p.add_argument("--start_idx", type=int, default=0, help="skip the plan's mappings before this index (0)")
    p.add_argument("--force_mode", action="store_true", help="record even if nvpmodel reports another mode")
    p.add_argument("--dry_run", action="store_true", help="print the plan and its device time; run nothing")
    add_output_root_arg(p)
    add_telemetry_args(p)
    add_logging_args(p)
    p.add_argument("--sys_root", default="/", help=argparse.SUPPRESS)
    return p


def _board(args):
    """(board key or None, seed Device name)."""
    named = DEVICE_ALIASES.get(args.jetsonDevice)
    found = resolve_board(args.simulate) if args.simulate else board_from_model(read_model(args.sys_root))
    if named and found and SEED_NAMES.get(found, found) != args.jetsonDevice:
        raise DnnStatsError("--jetsonDevice {} but this is {} ({}): fix --jetsonDevice or --simulate".format(
            args.jetsonDevice, found, "simulated" if args.simulate else "device tree"))
    board = found or named
    return board, SEED_NAMES.get(board, board or "unknown")


def _floats(text, name):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise DnnStatsError("{} must be comma-separated numbers, got {!r}".format(name, text))


def plan_from_args(args):
    """Check the options and make the plan (imports torch for the layer counts)."""
    from layer_stats.models.registry import build_model, resolve_models
    from layer_stats.models.split import split_model
    from layer_stats.multinet.plan import PlanOptions, make_plan
    from layer_stats.devices import check_devices

    devices = [d.strip() for d in args.device_list.split(",") if d.strip()]
    if len(set(devices)) != len(devices) or not devices:
        raise DnnStatsError("--device_list {!r}: name each device once".format(args.device_list))
    check_devices(devices, "--device_list", args.dry_run)
    priorities = _floats(args.device_priorities, "--device_priorities") if args.device_priorities else None
    for name in ("samples_per_set", "batch_size"):
        if getattr(args, name) < 1:
            raise DnnStatsError("--{} must be >= 1".format(name))
    if args.smpl_duration <= 0 or args.tgr_smpl_boundary < 0 or args.start_idx < 0:
        raise DnnStatsError("--smpl_duration must be > 0, --tgr_smpl_boundry and --start_idx >= 0")
    models = resolve_models(args.model_list)
    counts = {}
    for model in models:
        counts[model] = len(split_model(build_model(model)).layers)
    opts = PlanOptions(models=models, layer_counts=counts, devices=devices, priorities=priorities,
                       num_samples=args.num_samples, nets_range=tuple(args.numNetsRange),
                       samples_per_set=args.samples_per_set, single_nets=args.single_nets,
                       gpu_only_maps=args.gpu_only_maps, max_split_nets=args.max_split_nets,
                       seed=args.seed or args.mode)
    return make_plan(opts)


def _print_plan(plan, args):
    from layer_stats.multinet.runner import estimate_seconds

    for entry in plan:
        sys.stdout.write(json.dumps({"file": entry.file, "class": entry.cls, "set": entry.set,
                                     "mapping": entry.mapping}) + "\n")
    todo = [e for e in plan if e.index >= args.start_idx]
    seconds = estimate_seconds(todo, args.smpl_duration, args.tgr_smpl_boundary)
    classes = {c: sum(1 for e in todo if e.cls == c) for c in "ABCD"}
    sys.stdout.write("# estimated device time: {:.1f} h ({:.0f} s) for {} mappings ({}) from index {}: per "
                     "mapping {:g} s settle + {:g} s window + {:g} s after, plus 1 s per network to build\n".format(
                         seconds / 3600.0, seconds, len(todo),
                         ", ".join("{} {}".format(c, n) for c, n in classes.items() if n), args.start_idx,
                         args.tgr_smpl_boundary, args.smpl_duration, args.tgr_smpl_boundary))


def main(argv):
    from layer_stats.multinet.runner import MultinetOptions, multinet_mode_dir, run_mappings
    from layer_stats.models.inputs import find_images

    args = _parser().parse_args(argv)
    log_file = None if args.dry_run else (args.log_file or os.path.join(
        multinet_mode_dir(args.output_root, args.mode), "mapping.log"))
    setup_logging(args.log_level, log_file)
    if not (args.dry_run or args.eval_thr or args.eval_tgr):
        raise DnnStatsError("nothing to measure: pass --eval_thr and/or --eval_tgr (or --dry_run)")
    board, device_name = _board(args)
    images = find_images(args.imgs)
    plan = plan_from_args(args)
    if args.dry_run:
        _print_plan(plan, args)
        return 0
    hint = os.path.join(multinet_mode_dir(args.output_root, args.mode), GPU_LOAD_FILE) if args.simulate else None
    source = source_from_args(args, args.tgr_interval, hint) if args.eval_tgr else None
    opts = MultinetOptions(
        plan=plan, mode=args.mode, images=images, batch_size=args.batch_size, smpl_duration_s=args.smpl_duration,
        boundary_s=args.tgr_smpl_boundary, eval_tgr=args.eval_tgr, tgr_params=split_list(args.tgr_params),
        tgr_interval_ms=args.tgr_interval, func_layer_count=args.funcLayerCount, warmup=args.warmup,
        start_idx=args.start_idx, output_root=args.output_root, device_name=device_name,
        force_mode=args.force_mode, sys_root=args.sys_root, args=vars(args), gpu_load_file=hint)
    logger.info("board %s (%s), %d mappings planned", board or "unknown", device_name, len(plan))
    run_mappings(opts, source)
    return 0


if __name__ == "__main__":
    run(main)
