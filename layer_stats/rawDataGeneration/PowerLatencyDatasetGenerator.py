"""Layer-wise power and latency raw data: ``sudo python3 layer_stats/rawDataGeneration/
PowerLatencyDatasetGenerator.py --mode 1 --device cpu``.

Writes ``<output_root>/LayerStats/Mode{m}/{cpu|gpu}/{power|latency}/{network}/{image}.jsonl``
(see layer_stats/layerwise/raw.py).  ``--mode`` does not change the board's mode:
set it first with ``sudo nvpmodel -m N``.  Rerun the same command to resume.
Without ``--eval_latency`` or ``--eval_tgr`` both are measured.  Power rails come from the
board's INA3221/INA238 monitors where readable (``--power_sampler auto``), else from tegrastats.
"""
import argparse
import logging
import os
import sys

if __name__ == "__main__" and not __package__:  # run by path, as the seed does: use this checkout
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from layer_stats.cli import (MAX_MODE, MAX_SECONDS, ArgumentParser, add_logging_args,  # noqa: E402
                             add_output_root_arg, add_telemetry_args, add_tgr_args, check_log_file, describe, number, positive, run,
                             setup_logging, split_list)
from layer_stats.layerwise import layout  # noqa: E402
from layer_stats.errors import DnnStatsError  # noqa: E402
from layer_stats.fsutil import check_folder, check_writable  # noqa: E402
from layer_stats.tegrastats.sources import source_from_args  # noqa: E402

logger = logging.getLogger("layer_stats.generator")


def _parser():
    parser = ArgumentParser(description=describe(__doc__))
    parser.add_argument("--mode", type=number(int, low=0, high=MAX_MODE), required=True,
                        help="the board's nvpmodel mode (checked against nvpmodel -q; required)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where layers run (default cpu)")
    parser.add_argument("--imgs", nargs="+", default=["img1.jpg,img2.jpg,img3.jpg"],
                        help="images in data/imagenet (or paths), comma- or space-separated")
    parser.add_argument("--models", help="comma-separated models (default: AvailableModel.txt; 'all': every "
                                         "torchvision classifier)")
    parser.add_argument("--weights", help="DEFAULT (torchvision's pretrained) or a .pth file / folder; "
                                          "default: random weights, no network needed")
    parser.add_argument("--granularity", choices=["block", "fine"], default="block",
                        help="block: the seed's layers (default); fine: every single-tensor cut")
    parser.add_argument("--batch_size", type=number(int, low=1, high=256), default=1,
                        help="images per inference, 1-256 (default 1)")
    parser.add_argument("--force_mode", action="store_true", help="record even if nvpmodel reports another mode")
    parser.add_argument("--dry_run", action="store_true", help="list the raw files the run would write, and stop")
    lat = parser.add_argument_group("latency options")
    lat.add_argument("--eval_latency", action="store_true", help="time every layer")
    lat.add_argument("--lt_smpl_count", type=number(int, low=1, high=10 ** 6), default=100, help="timed runs per layer (default 100)")
    lat.add_argument("--lt_ci", type=number(low=0, high=1, low_open=True, high_open=True), metavar="REL",
                     help="end a layer's timed runs once the 95%% interval of the mean latency is within +-REL "
                          "(e.g. 0.02; at least 10 runs, --lt_smpl_count at most; default: fixed count)")
    lat.add_argument("--lt_warmup", type=number(int, low=0, high=10 ** 6), default=10, help="untimed warm-up runs per layer (default 10)")
    tgr = add_tgr_args(parser, interval_ms=20, boundary_s=1.0)
    tgr.add_argument("--tgr_smpl_duration", type=positive(high=MAX_SECONDS), default=5.0,
                     help="measured seconds per layer, between the boundaries (default 5)")
    tgr.add_argument("--tgr_ci", type=number(low=0, high=1, low_open=True, high_open=True), metavar="REL",
                     help="end a layer's power window once the 95%% interval of each rail's mean is within +-REL "
                          "(e.g. 0.02; after the front --tgr_smpl_boundary, at least 0.2 s of core, "
                          "--tgr_smpl_duration at most; no trailing boundary; default: fixed window)")
    tgr.add_argument("--idle_duration", type=positive(high=MAX_SECONDS), default=2.0,
                     help="idle baseline before each network, s, after up to 1 s unmeasured (default 2)")
    tgr.add_argument("--settle_timeout", type=number(low=0, high=MAX_SECONDS), default=10.0,
                     help="longest wait for power to return near idle after a layer, s (default 10)")
    add_output_root_arg(parser)
    add_telemetry_args(parser)
    add_logging_args(parser)
    parser.add_argument("--sys_root", default="/", help=argparse.SUPPRESS)
    return parser


def _check_params(args, source):
    """``--tgr_params`` against the source's board, where it is known before telemetry starts."""
    if args.tgr_params and source.board:
        from layer_stats.tegrastats.params import resolve_params
        resolve_params(source.board, split_list(args.tgr_params))


def _inputs(args, images):
    """Every file the run reads (a --log_file must be none of them)."""
    from layer_stats.models.registry import AVAILABLE_FILE
    return list(images) + [AVAILABLE_FILE, args.replay, args.weights, args.tegrastats]


def options_from_args(args):
    """Check ``args`` and turn them into :class:`LayerwiseOptions` (imports torch)."""
    from layer_stats.layerwise.generate import LayerwiseOptions
    from layer_stats.models.inputs import find_images
    from layer_stats.models.registry import resolve_models

    if args.models is not None and not args.models.replace(",", " ").strip():
        raise DnnStatsError("--models is empty: name models (--models resnet18,alexnet), 'all', or leave the flag "
                            "out for AvailableModel.txt")
    both = not (args.eval_latency or args.eval_tgr)
    return LayerwiseOptions(
        mode=args.mode, device=args.device, models=resolve_models(args.models), images=find_images(args.imgs),
        granularity=args.granularity, batch_size=args.batch_size, weights=args.weights,
        eval_latency=args.eval_latency or both, lt_smpl_count=args.lt_smpl_count, lt_warmup=args.lt_warmup,
        eval_tgr=args.eval_tgr or both, tgr_params=split_list(args.tgr_params), tgr_interval_ms=args.tgr_interval,
        tgr_smpl_duration_s=args.tgr_smpl_duration,
        tgr_smpl_boundary_s=None if args.tgr_smpl_boundary == "auto" else args.tgr_smpl_boundary,
        idle_s=args.idle_duration, settle_timeout_s=args.settle_timeout, power_sampler=args.power_sampler,
        power_rate_hz=args.power_rate, tgr_ci=args.tgr_ci, lt_ci=args.lt_ci, output_root=args.output_root,
        force_mode=args.force_mode, sys_root=args.sys_root, args=vars(args))


def _device_time(opts, planned, args):
    """The dry run's estimate of the device time of the files still to measure (power windows
    and timed runs counted; idle baselines, settle waits and building left out), fixed and,
    with ``--tgr_ci`` / ``--lt_ci``, adaptive (the model of layer_stats/measure/adaptive.py)."""
    from layer_stats.measure.adaptive import expected_runs, expected_window_s
    from layer_stats.models.layer_table import table_count
    from layer_stats.progress import duration_text

    todo = [(kind, network) for _, kind, network, _, state in planned if state != "done"]
    counts = {network: table_count(network, opts.granularity) for _, network in todo}
    unknown = sorted(n for n, c in counts.items() if c is None)
    power_layers = sum(counts[n] or 0 for kind, n in todo if kind == "power")
    latency_layers = sum((counts[n] or 0) + 1 for kind, n in todo if kind == "latency")  # + the whole model
    from layer_stats.measure.adaptive import AUTO_LEAD_S

    boundary = AUTO_LEAD_S if opts.tgr_smpl_boundary_s is None else opts.tgr_smpl_boundary_s
    fixed_s = opts.tgr_smpl_duration_s + 2 * boundary
    lines = ["{} power layers, {} timed layers still to measure{}".format(
        power_layers, latency_layers, " (no layer count for {}: left out)".format(", ".join(unknown)) if unknown else "")]
    if power_layers:
        line = "power windows: fixed {} ({:g} s a layer)".format(duration_text(power_layers * fixed_s), fixed_s)
        if opts.tgr_ci:
            interval_s = (1.0 / opts.power_rate_hz if opts.power_sampler != "tegrastats" and (args.simulate or
                          opts.power_sampler == "ina") else opts.tgr_interval_ms / 1000.0)
            window = expected_window_s(opts.tgr_ci, interval_s, boundary, opts.tgr_smpl_duration_s)
            line += ", adaptive --tgr_ci {:g} ~{} ({:.2f} s a layer at one sample per {:g} ms)".format(
                opts.tgr_ci, duration_text(power_layers * window), window, interval_s * 1000.0)
        lines.append(line)
    if latency_layers:
        line = "timed runs a layer: fixed {}".format(opts.lt_smpl_count)
        if opts.lt_ci:
            line += ", adaptive --lt_ci {:g} ~{}".format(opts.lt_ci, expected_runs(opts.lt_ci, opts.lt_smpl_count))
        lines.append(line)
    return lines


def main(argv):
    args = _parser().parse_args(argv)
    setup_logging(args.log_level)
    eval_tgr = args.eval_tgr or not args.eval_latency
    # the telemetry source first: a missing tegrastats or a bad --replay log fails before torch loads;
    # a dry run checks a simulator or replay source (it needs no tegrastats)
    source = None
    if eval_tgr:
        from layer_stats.power.start import check_power_choice
        kind = "replay" if args.replay else "simulated" if args.simulate else None if args.dry_run else "tegrastats"
        check_power_choice(args.power_sampler, kind, args.sys_root)
    if eval_tgr and (not args.dry_run or args.simulate or args.replay):
        source = source_from_args(args, args.tgr_interval)
        _check_params(args, source)
    opts = options_from_args(args)
    from layer_stats.layerwise.generate import check_options, measure_layers, planned_files

    if args.dry_run:
        check_options(opts, dry_run=True)
        check_folder(args.output_root)
        if args.log_file:
            check_log_file(args.log_file, _inputs(args, opts.images))
        # an explicit --power_sampler is what the power files will be measured with; auto is known once it starts
        sampler = args.power_sampler if args.power_sampler != "auto" and eval_tgr else None
        planned = planned_files(opts, source.board if source else None, sampler)
        for path, _, _, _, state in planned:
            sys.stdout.write("{}\t{}\n".format(state, path))
        for line in _device_time(opts, planned, args):
            sys.stdout.write("# {}\n".format(line))
        return 0
    log_file = args.log_file or os.path.join(layout.mode_dir(args.output_root, args.mode), "layerwise.log")
    check_log_file(log_file, _inputs(args, opts.images))
    check_options(opts)
    check_writable(args.output_root)
    setup_logging(args.log_level, log_file)
    if not (args.eval_latency or args.eval_tgr):
        logger.info("neither --eval_latency nor --eval_tgr given: measuring both")
    measure_layers(opts, source)
    return 0


def console():
    """Console-script entry point (see pyproject.toml)."""
    run(main)


if __name__ == "__main__":
    console()
