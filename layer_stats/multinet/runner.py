"""The multi-DNN dataset run: the plan's mappings, one raw file each, under
``<output_root>/Multinet/Mode{m}/`` (the seed's file names, see :mod:`.plan`).

Raw file (JSON, ``format_version`` :data:`FORMAT_VERSION`; 1: first version):
``index``, ``class``, ``k``, ``set``, ``file``, ``mapping``, ``samplingDuration``
(s), ``Mode``, ``Device`` (the seed's board name), ``board``, ``telemetry``,
``run`` (the run file's name), ``window`` ({``t_start``, ``t_end``, ``settle_s``}),
``networks`` ({network: {``image``, ``batch_size``, ``passes``, ``throughput_per_s``
(passes/s), ``images_per_s``,
``stages``: [{``key``, ``device``, ``first_layer``, ``last_layer``,
``infCount``, ``inf_times_s``, ``transfer_times_s``, ``modelinfo``}]}}) and
``tegrastats`` ({``interval_ms``, ``params`` (``--tgr_params``; empty: all),
``samples``: [{``t``, ``raw``}]}: every line of the window and the first after
it) or None without ``--eval_tgr``.

With the simulator, every device but ``cpu`` counts as the GPU: while a
mapping with such a stage runs, the simulator is told the GPU is fully loaded
(:class:`~layer_stats.tegrastats.simulate.GpuLoadHint`).

A mapping whose file exists is skipped, so rerunning the same command (same
seed) goes on where it stopped; CUDA out-of-memory skips a mapping with a
logged reason.
"""
import collections
import json
import logging
import os

from ..errors import DnnStatsError
from ..fsutil import atomic_write
from ..progress import Progress
from ..runfile import RunFile, tracked_run
from ..runmeta import UNAVAILABLE
from ..tegrastats.simulate import GpuLoadHint
from .plan import stage_bounds

logger = logging.getLogger(__name__)

__all__ = ["FORMAT_VERSION", "MULTINET_DIR", "multinet_mode_dir", "MultinetOptions", "run_mappings",
           "estimate_seconds"]

FORMAT_VERSION = 1
MULTINET_DIR = "Multinet"
#: Seconds per network assumed for building, splitting and counting a model.
BUILD_S_PER_NET = 1.0

#: ``plan``: list of PlannedMapping; ``layer_counts``: {model: block layers};
#: ``images``: paths; ``device_name``: the seed's board name (Orin, Tx2, Xavier);
#: ``gpu_load_file``: where to tell the simulator that GPU stages run (None: don't).
MultinetOptions = collections.namedtuple("MultinetOptions", [
    "plan", "mode", "images", "batch_size", "smpl_duration_s", "boundary_s", "eval_tgr", "tgr_params",
    "tgr_interval_ms", "func_layer_count", "warmup", "start_idx", "output_root", "device_name",
    "force_mode", "sys_root", "args", "gpu_load_file"])
MultinetOptions.__new__.__defaults__ = (None,)


def multinet_mode_dir(output_root, mode):
    return os.path.join(output_root, MULTINET_DIR, "Mode{}".format(mode))


def estimate_seconds(plan, smpl_duration_s, boundary_s):
    """Device time a plan needs: per mapping the settle period, the window, the wait
    after it (one boundary) and :data:`BUILD_S_PER_NET` per network."""
    return sum(2 * boundary_s + smpl_duration_s + BUILD_S_PER_NET * len(entry.mapping) for entry in plan)


class _Models(object):
    """Builds networks and keeps their (CPU) model information per stage."""

    def __init__(self, opts):
        self.opts = opts
        self.info = {}
        self.backend = None

    def build(self, network, stages, image):
        """``(NetworkLoad, result)`` for one network of a mapping; ``result`` holds the
        image and a record per stage (key, device, layers, model information)."""
        import torch

        from ..models.inputs import load_batch
        from ..models.registry import build_model
        from ..models.split import chain_inputs, split_model
        from .execute import NetworkLoad
        from .modelinfo import flops_backend, stage_info
        from .stages import build_stages

        chain = split_model(build_model(network))
        batch = load_batch(image, self.opts.batch_size)
        bounds = stage_bounds(stages, len(chain.layers))
        missing = [(first, last) for first, last, _ in bounds if (network, first, last) not in self.info]
        if missing:  # model information is counted on the CPU, once per (network, stage)
            self.backend = self.backend or flops_backend()
            inputs, _ = chain_inputs(chain.layers, batch[:1])
            for first, last in missing:
                layers = chain.layers[first:last + 1]
                info = stage_info(torch.nn.Sequential(*layers), inputs[first], self.backend,
                                  layers if self.opts.func_layer_count else ())
                if not self.opts.func_layer_count:
                    info.pop("functionalLayerCount")
                self.info[(network, first, last)] = info
        records = [{"key": key, "device": device, "first_layer": first, "last_layer": last,
                    "modelinfo": dict(self.info[(network, first, last)])}
                   for key, (first, last, device) in zip(stages, bounds)]
        return NetworkLoad(network, build_stages(chain, stages), batch), {"image": image, "stages": records}


def _network_results(load, result, duration_s, batch_size):
    for i, record in enumerate(result["stages"]):
        record.update(infCount=load.passes, inf_times_s=load.inf[i], transfer_times_s=load.transfer[i])
    return {"image": os.path.basename(result["image"]), "batch_size": batch_size, "passes": load.passes,
            "throughput_per_s": load.passes / float(duration_s),
            "images_per_s": load.passes * batch_size / float(duration_s), "stages": result["stages"]}


def _free_cuda():
    import sys
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


class _Runner(object):
    def __init__(self, opts, source):
        self.opts, self.source = opts, source
        self.recorder, self.board, self.params = None, source.board if source else None, []
        self.models = _Models(opts)
        self.written, self.oom = [], []
        self.runfile = None
        self.gpu_hint = GpuLoadHint(opts.gpu_load_file)

    def measure(self, entry, warm_only=False):
        """Run one mapping; returns its raw record (None for a warm-up)."""
        from .execute import run_workload

        opts = self.opts
        loads, results = [], []
        for position, (network, stages) in enumerate(entry.mapping.items()):
            load, result = self.models.build(network, stages, opts.images[position % len(opts.images)])
            loads.append(load)
            results.append(result)
        duration = opts.smpl_duration_s
        on_gpu = any(stage.device != "cpu" for load in loads for stage in load.stages)
        with self.gpu_hint.busy(1.0 if on_gpu else 0.0):
            t_start, t_end = run_workload(loads, opts.boundary_s, duration)
        if warm_only:
            return None
        samples = None
        if self.recorder is not None:
            self.recorder.wait_past(t_end)
            samples = [{"t": round(s.t_mono, 6), "raw": s.raw}
                       for s in self.recorder.window(t_start, t_end, include_next=True)]
        networks = collections.OrderedDict((load.name, _network_results(load, result, duration, opts.batch_size))
                                           for load, result in zip(loads, results))
        return collections.OrderedDict([
            ("format_version", FORMAT_VERSION), ("index", entry.index), ("class", entry.cls), ("k", entry.k),
            ("set", entry.set), ("file", entry.file), ("mapping", entry.mapping),
            ("samplingDuration", duration), ("Mode", opts.mode), ("Device", opts.device_name),
            ("board", self.board or UNAVAILABLE), ("telemetry", self.source.kind if self.source else "none"),
            ("run", self.runfile.name if self.runfile else None),
            ("window", {"t_start": round(t_start, 6), "t_end": round(t_end, 6), "settle_s": opts.boundary_s}),
            ("networks", networks),
            ("tegrastats", {"interval_ms": opts.tgr_interval_ms, "params": [p.name for p in self.params],
                            "samples": samples} if samples is not None else None)])

    def one(self, entry, folder):
        path = os.path.join(folder, entry.file)
        try:
            record = self.measure(entry)
        except RuntimeError as exc:
            from .execute import is_out_of_memory
            if not is_out_of_memory(exc):
                raise
            _free_cuda()
            logger.warning("%s skipped: CUDA out of memory (%s)", entry.file, str(exc).splitlines()[0])
            self.oom.append(entry.file)
            return
        atomic_write(path, json.dumps(record, separators=(",", ":")) + "\n")
        self.written.append(path)
        logger.info("%s: %s", entry.file, ", ".join("{} {:.1f}/s".format(n, r["throughput_per_s"])
                                                     for n, r in record["networks"].items()))


def run_mappings(opts, source):
    """Run every planned mapping not done yet; returns the run metadata dict."""
    from ..nvpmodel import check_mode, query_mode
    from ..tegrastats.session import start_telemetry

    if not opts.plan:
        raise DnnStatsError("the plan is empty: raise --num_samples or pass --single_nets")
    queried = query_mode()
    mode_status = check_mode(opts.mode, queried, opts.force_mode)
    folder = multinet_mode_dir(opts.output_root, opts.mode)
    todo = [e for e in opts.plan if e.index >= opts.start_idx and not os.path.exists(os.path.join(folder, e.file))]
    runner = _Runner(opts, source)
    skipped = len([e for e in opts.plan if e.index >= opts.start_idx]) - len(todo)
    if skipped:
        logger.info("%d mappings already have files: skipping them", skipped)
    def cleanup(status):
        if runner.recorder is not None:
            runner.recorder.stop()
        runner.gpu_hint.remove()
        if runner.runfile is not None and runner.runfile.path:
            runner.runfile.finish(status, board=runner.board or UNAVAILABLE, tgr_params=[p.name for p in runner.params],
                                  files_written=len(runner.written), files_skipped=skipped,
                                  out_of_memory=runner.oom, flops_backend=runner.models.backend or UNAVAILABLE)

    with tracked_run(cleanup):
        if opts.eval_tgr:
            runner.recorder, runner.board, runner.params = start_telemetry(source, (), opts.tgr_params, opts.sys_root)
        runner.runfile = RunFile(folder, "multinet", opts.mode, source, runner.board, queried, mode_status,
                                 opts.sys_root)
        meta = runner.runfile.begin(Device=opts.device_name, planned=len(opts.plan), todo=len(todo),
                                    start_idx=opts.start_idx, args=opts.args or {})
        if opts.warmup and todo:
            logger.info("warm-up: running %s once, not recorded", todo[0].file)
            runner.measure(todo[0], warm_only=True)
        progress = Progress("multi-DNN Mode{}".format(opts.mode), total=len(todo), unit="mapping")
        for entry in todo:
            runner.one(entry, folder)
            progress.update()
        progress.close()
    logger.info("done: %d mappings written, %d skipped (already there), %d out of memory",
                len(runner.written), skipped, len(runner.oom))
    return meta
