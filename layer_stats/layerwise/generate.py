"""The layer-wise dataset run: every (network, image) on one device, latency and/or power
per layer, written as raw files under ``<output_root>/LayerStats/Mode{m}/``.

:func:`run_layerwise` takes a :class:`LayerwiseOptions` and a telemetry
:class:`~layer_stats.tegrastats.sources.Source`.  Order of work:

1. check the options, the models, the images (decoded once), the weights, the
   files already there and the mode (``nvpmodel -q``), and that the output
   root is writable and no other run holds it (:class:`~.fsutil.OutputLock`);
2. write ``run-<UTC start>.json`` (status ``running``) and ``Mode{m}.conf``;
3. start one recorder for the whole run (``eval_tgr`` only);
4. per network: build, split, move to the device; per image: preprocess
   once, compute every layer's input once, then latency and power files;
5. rewrite the run file with the end time, status and the clocks seen.

Files appear atomically, so rerunning the same command resumes: a raw file
that exists and reads as a finished file is skipped; one that does not
(truncated or corrupt by hand or by a full disk) is set aside as
``NAME.jsonl.corrupt`` and measured again; one measured with other settings
(device, granularity, batch size, board) stops the run before it measures anything,
since its lines would mix with this run's.
"""
import collections
import logging
import os

from . import layout
from .raw import FORMAT_VERSION, RUN_SETTINGS, check_file, write_lines
from ..devices import check_devices
from ..errors import DnnStatsError
from ..fsutil import OutputLock, check_writable, set_aside
from ..nvpmodel import check_mode, query_mode
from ..progress import Progress
from ..runfile import RunFile, tracked_run
from ..runmeta import UNAVAILABLE
from ..tegrastats.simulate import GpuLoadHint

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


def planned_files(opts, board=None):
    """``[(path, kind, network, image, state)]`` for every raw file the run would write, in
    order; ``state`` is ``todo``, ``done`` (a finished file is there) or ``redo`` (the file
    there is corrupt).  Raises DnnStatsError naming a file measured with other settings
    (``board``: the telemetry's board where known before it starts)."""
    from ..models.inputs import image_key

    out = []
    for network in opts.models:
        for image in opts.images:
            for kind in _kinds(opts):
                path = layout.raw_file(opts.output_root, opts.mode, opts.device, kind, network, image_key(image))
                out.append((path, kind, network, image, _state(path, kind, opts, board)))
    return out


def _state(path, kind, opts, board):
    if not os.path.exists(path):
        return "todo"
    expect = dict(zip(RUN_SETTINGS, (opts.device, opts.granularity, opts.batch_size, board)))
    if board is None:
        del expect["board"]
    state, why = check_file(path, kind, expect)
    if state == "mismatch":
        raise DnnStatsError("{}: it was measured with other settings; pass another --output_root, or move that "
                            "file away to measure it again".format(why))
    if state == "corrupt":
        logger.warning("%s (will be set aside and measured again)", why)
        return "redo"
    return "done"


def check_options(opts, dry_run=False):
    """Raise DnnStatsError for options that cannot give a complete dataset, before any
    measuring: nothing to measure, an unusable device (not checked for a ``dry_run``),
    a telemetry interval that leaves fewer than two samples in a window, an unreadable
    image, missing weights."""
    from ..models.inputs import check_images

    if not (opts.eval_latency or opts.eval_tgr):
        raise DnnStatsError("nothing to measure: pass --eval_latency and/or --eval_tgr")
    if not opts.models:
        raise DnnStatsError("no models to measure: pass --models a,b, 'all', or leave it out for AvailableModel.txt")
    check_devices([opts.device], "--device", dry_run)
    if opts.eval_tgr:
        from ..tegrastats.start import check_interval
        check_interval(opts.tgr_interval_ms, (("--tgr_smpl_duration", opts.tgr_smpl_duration_s),
                                              ("--idle_duration", opts.idle_s)))
    check_images(opts.images)
    if opts.weights is not None and str(opts.weights).upper() != "DEFAULT":
        from ..models.registry import weights_file
        for network in opts.models:
            weights_file(network, str(opts.weights))


class _Run(object):
    """State of one run: metadata, recorder, counts."""

    def __init__(self, opts, source):
        self.opts, self.source = opts, source
        self.recorder, self.reader, self.board, self.params = None, None, source.board if source else None, []
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
    from ..measure.latency import time_runs

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
    from ..measure.power import idle_baseline, run_for, wait_until_idle

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

    from ..models.registry import build_model
    from ..models.split import split_model

    model = build_model(network, opts.weights)
    chain = split_model(model, opts.granularity)
    model.to(opts.device)
    for layer in chain.layers:
        layer.to(opts.device)
        layer.eval()
    torch.set_grad_enabled(False)
    return model, chain


def _measure_network(run, network, planned, progress):
    """Measure the ``planned`` files (``planned_files`` entries) of ``network``."""
    from ..models.inputs import image_key, load_batch
    from ..models.split import chain_inputs

    opts = run.opts
    todo = []
    for path, kind, _, image, state in planned:
        if state == "done":
            logger.info("%s exists: skipping (finished by an earlier run)", path)
            run.skipped.append(path)
            progress.update()
        else:
            todo.append((image, kind, path, state))
    if not todo:
        return
    model, chain = _prepare(opts, network)
    logger.info("%s: %d layers (%s)", network, len(chain.layers), opts.granularity)
    for image in opts.images:
        kinds = [(kind, path, state) for img, kind, path, state in todo if img == image]
        if not kinds:
            continue
        batch = load_batch(image, opts.batch_size).to(opts.device)
        inputs, _ = chain_inputs(chain.layers, batch)
        key = image_key(image)
        for kind, path, state in kinds:
            logger.info("%s %s %s: measuring %s", network, key, opts.device, kind)
            if kind == "latency":
                lines = _latency_lines(run, network, key, chain, inputs, model, batch)
            else:
                lines = _power_lines(run, network, key, chain, inputs, run.reader)
            if state == "redo" and os.path.exists(path):
                logger.warning("%s set aside as %s", path, os.path.basename(set_aside(path)))
            write_lines(path, lines)
            run.written.append(path)
            progress.update()


def run_layerwise(opts, source):
    """Run the layer-wise measurements; returns the run metadata dict.

    Raises DnnStatsError for bad options (see :func:`check_options`), files of
    other settings already there, an output root that is not writable or held by
    another run, or a mode mismatch; TelemetryError if the telemetry child fails;
    Interrupted on SIGINT/SIGTERM/SIGHUP (after the run file is marked
    ``interrupted`` and the recorder stopped).
    """
    from ..measure.power import SampleReader
    from ..tegrastats.start import start_telemetry

    check_options(opts)
    check_writable(opts.output_root)
    with OutputLock(opts.output_root):
        plan = planned_files(opts, source.board if source is not None else None)
        queried = query_mode()
        mode_status = check_mode(opts.mode, queried, opts.force_mode)
        run = _Run(opts, source)

        def cleanup(status):
            if run.recorder is not None:
                run.recorder.stop()
            run.gpu_hint.remove()
            if run.runfile is not None:
                run.finish(status, run.reader.clocks if run.reader is not None else {})

        with tracked_run(cleanup):
            if opts.eval_tgr:
                role = "gpu" if str(opts.device).startswith("cuda") else "cpu"
                run.recorder, run.board, run.params = start_telemetry(source, [role], opts.tgr_params,
                                                                      opts.sys_root)
                run.reader = SampleReader(run.params)
            run.begin(mode_status, queried)
            progress = Progress("layer-wise Mode{} {}".format(opts.mode, opts.device), total=len(plan), unit="file")
            for network in opts.models:
                _measure_network(run, network, [entry for entry in plan if entry[2] == network], progress)
            progress.close()
    logger.info("done: %d files written, %d skipped (already there)", len(run.written), len(run.skipped))
    return run.meta
