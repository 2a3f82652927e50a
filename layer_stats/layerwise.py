"""The layer-wise dataset run: every (network, image) on one device, latency and/or power
per layer, written as raw files under ``<output_root>/LayerStats/Mode{m}/``.

:func:`run_layerwise` takes a :class:`LayerwiseOptions` and a telemetry
:class:`~layer_stats.tegrastats.sources.Source`.  Order of work:

1. check the options, the models, the images and the mode (``nvpmodel -q``);
2. write ``run-<UTC start>.json`` (status ``running``) and ``Mode{m}.conf``;
3. start one recorder for the whole run (``eval_tgr`` only);
4. per network: build, split, move to the device; per image: preprocess
   once, compute every layer's input once, then latency and power files;
5. rewrite the run file with the end time, status and the clocks seen.

A raw file that exists is finished (files appear atomically) and is skipped,
so rerunning the same command resumes; an unfinished file is redone.
"""
import collections
import logging
import os

from .dataset import layout
from .dataset.raw import FORMAT_VERSION, write_lines
from .devices import check_devices
from .errors import DnnStatsError
from .nvpmodel import check_mode, query_mode
from .progress import Progress
from .runfile import RunFile, tracked_run
from .runmeta import UNAVAILABLE
from .tegrastats.simulate import GpuLoadHint

logger = logging.getLogger(__name__)

__all__ = ["LayerwiseOptions", "run_layerwise", "planned_files"]

#: Options of a run (units in the names).  ``models``: list of names;
#: ``images``: list of paths; ``tgr_params``: list of names or None (board default);
#: ``gpu_load_file``: where to tell the simulator that CUDA work runs (None: don't).
LayerwiseOptions = collections.namedtuple("LayerwiseOptions", [
    "mode", "device", "models", "images", "granularity", "batch_size", "weights",
    "eval_latency", "lt_smpl_count", "lt_warmup",
    "eval_tgr", "tgr_params", "tgr_interval_ms", "tgr_smpl_duration_s", "tgr_smpl_boundary_s",
    "idle_s", "settle_timeout_s", "output_root", "force_mode", "sys_root", "args", "gpu_load_file"])
LayerwiseOptions.__new__.__defaults__ = (None,)


def _kinds(opts):
    return [kind for kind, on in (("latency", opts.eval_latency), ("power", opts.eval_tgr)) if on]


def planned_files(opts):
    """Every raw file path the run would write, in order, and whether it exists."""
    from .models.inputs import image_key

    out = []
    for network in opts.models:
        for image in opts.images:
            for kind in _kinds(opts):
                path = layout.raw_file(opts.output_root, opts.mode, opts.device, kind, network, image_key(image))
                out.append((path, os.path.exists(path)))
    return out


class _Run(object):
    """State of one run: metadata, recorder, counts."""

    def __init__(self, opts, source):
        self.opts, self.source = opts, source
        self.recorder, self.board, self.params = None, source.board if source else None, []
        self.written, self.skipped = [], []
        self.meta = {}
        self.runfile = None
        self.gpu_hint = GpuLoadHint(opts.gpu_load_file)

    # -- metadata -------------------------------------------------------------
    def begin(self, mode_status, queried):
        opts = self.opts
        self.runfile = RunFile(layout.mode_dir(opts.output_root, opts.mode), "layerwise", opts.mode, self.source,
                               self.board, queried, mode_status, opts.sys_root)
        self.meta = self.runfile.begin(
            device=opts.device, models=list(opts.models), images=[os.path.basename(p) for p in opts.images],
            granularity=opts.granularity, args=opts.args or {})

    def finish(self, status, clocks):
        self.runfile.finish(status, board=self.board or UNAVAILABLE, tgr_params=[p.name for p in self.params],
                            files_written=len(self.written), files_skipped=len(self.skipped),
                            clocks_seen_MHz={k: list(v) for k, v in sorted(clocks.items())})

    # -- labels every raw line carries -------------------------------------------
    def label(self, network, image, layer, name):
        return {"format_version": FORMAT_VERSION, "network": network, "image": image,
                "device": self.opts.device, "layer": layer, "name": name, "batch_size": self.opts.batch_size,
                "granularity": self.opts.granularity, "telemetry": self.meta.get("telemetry"),
                "board": self.board or UNAVAILABLE}


def _latency_lines(run, network, image, chain, inputs, model, model_input):
    from .measure.latency import time_runs

    opts = run.opts
    lines = []
    for index, (layer, arg) in enumerate(zip(chain.layers, inputs)):
        line = run.label(network, image, index, chain.names[index])
        line.update(input_shape=list(arg.shape), warmup=opts.lt_warmup,
                    samples_s=time_runs(layer, arg, opts.lt_smpl_count, opts.lt_warmup, opts.device))
        lines.append(line)
    line = run.label(network, image, "model", "whole model")
    line.update(input_shape=list(model_input.shape), warmup=opts.lt_warmup,
                samples_s=time_runs(model, model_input, opts.lt_smpl_count, opts.lt_warmup, opts.device))
    lines.append(line)
    return lines


def _power_lines(run, network, image, chain, inputs, reader):
    from .measure.power import idle_baseline, run_for, wait_until_idle

    opts = run.opts
    boundary, duration = opts.tgr_smpl_boundary_s, opts.tgr_smpl_duration_s
    idle = idle_baseline(run.recorder, reader, opts.idle_s)
    lines = []
    for index, (layer, arg) in enumerate(zip(chain.layers, inputs)):
        with run.gpu_hint.busy():
            t_start, t_end, iterations = run_for(layer, arg, boundary + duration + boundary, opts.device)
        run.recorder.wait_past(t_end)
        samples = reader.read(run.recorder.window(t_start, t_end, include_next=True), t_start, t_end, boundary)
        settled, settle_s = wait_until_idle(run.recorder, reader, idle["values"], opts.settle_timeout_s)
        if not settled:
            logger.warning("%s layer %d: power not back near idle after %.1f s (going on)", network, index, settle_s)
        line = run.label(network, image, index, chain.names[index])
        line.update(params=reader.keys, t_start=round(t_start, 6), t_end=round(t_end, 6), boundary_s=boundary,
                    duration_s=duration, iterations=iterations, samples=samples, idle=idle,
                    settle_s=settle_s, settled=settled)
        lines.append(line)
        logger.debug("%s %s layer %d: %d iterations, %d samples", network, image, index, iterations, len(samples))
    return lines


def _prepare(opts, network):
    import torch

    from .models.registry import build_model
    from .models.split import split_model

    model = build_model(network, opts.weights)
    chain = split_model(model, opts.granularity)
    model.to(opts.device)
    for layer in chain.layers:
        layer.to(opts.device)
        layer.eval()
    torch.set_grad_enabled(False)
    return model, chain


def _measure_network(run, network, reader, progress):
    from .models.inputs import image_key, load_batch
    from .models.split import chain_inputs

    opts = run.opts
    todo = []
    for image in opts.images:
        for kind in _kinds(opts):
            path = layout.raw_file(opts.output_root, opts.mode, opts.device, kind, network, image_key(image))
            if os.path.exists(path):
                logger.info("%s exists: skipping (finished by an earlier run)", path)
                run.skipped.append(path)
                progress.update()
            else:
                todo.append((image, kind, path))
    if not todo:
        return
    model, chain = _prepare(opts, network)
    logger.info("%s: %d layers (%s)", network, len(chain.layers), opts.granularity)
    for image in opts.images:
        kinds = [(kind, path) for img, kind, path in todo if img == image]
        if not kinds:
            continue
        batch = load_batch(image, opts.batch_size).to(opts.device)
        inputs, _ = chain_inputs(chain.layers, batch)
        key = image_key(image)
        for kind, path in kinds:
            logger.info("%s %s %s: measuring %s", network, key, opts.device, kind)
            if kind == "latency":
                lines = _latency_lines(run, network, key, chain, inputs, model, batch)
            else:
                lines = _power_lines(run, network, key, chain, inputs, reader)
            write_lines(path, lines)
            run.written.append(path)
            progress.update()


def run_layerwise(opts, source):
    """Run the layer-wise measurements; returns the run metadata dict.

    Raises DnnStatsError for bad options or a mode mismatch, TelemetryError if
    the telemetry child fails, Interrupted on SIGINT/SIGTERM/SIGHUP (after the
    run file is marked ``interrupted`` and the recorder stopped).
    """
    from .measure.power import SampleReader
    from .tegrastats.session import start_telemetry

    if not (opts.eval_latency or opts.eval_tgr):
        raise DnnStatsError("nothing to measure: pass --eval_latency and/or --eval_tgr")
    check_devices([opts.device], "--device")
    queried = query_mode()
    mode_status = check_mode(opts.mode, queried, opts.force_mode)
    run = _Run(opts, source)
    state = {"reader": None}

    def cleanup(status):
        if run.recorder is not None:
            run.recorder.stop()
        run.gpu_hint.remove()
        if run.runfile is not None:
            run.finish(status, state["reader"].clocks if state["reader"] is not None else {})

    with tracked_run(cleanup):
        if opts.eval_tgr:
            role = "gpu" if str(opts.device).startswith("cuda") else "cpu"
            run.recorder, run.board, run.params = start_telemetry(source, [role], opts.tgr_params, opts.sys_root)
            state["reader"] = SampleReader(run.params)
        run.begin(mode_status, queried)
        progress = Progress("layer-wise Mode{} {}".format(opts.mode, opts.device),
                            total=len(opts.models) * len(opts.images) * len(_kinds(opts)), unit="file")
        for network in opts.models:
            _measure_network(run, network, state["reader"], progress)
        progress.close()
    logger.info("done: %d files written, %d skipped (already there)", len(run.written), len(run.skipped))
    return run.meta
