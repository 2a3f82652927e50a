"""The layer-wise dataset run: every (network, image) on one device, latency and/or power
per layer, written as raw files under ``<output_root>/LayerStats/Mode{m}/``.

:func:`measure_layers` takes a :class:`LayerwiseOptions` and a telemetry
:class:`~layer_stats.tegrastats.sources.Source`.  Order of work:

1. check the options, the models, the images (decoded once) and the weights;
2. open a :class:`~layer_stats.session.RunSession`: the mode (``nvpmodel -q``),
   an output root that is writable and no other run holds, stop signals;
3. start the telemetry for the whole run (``eval_tgr`` only): one tegrastats
   recorder, and the power sampler ``--power_sampler`` asks for (``auto``: the
   board's power monitors where readable, else tegrastats lines);
4. check the files already there (the power sampler is known only now), then write
   ``run-<UTC start>.json`` (status ``running``) and ``Mode{m}.conf``;
5. per network: build, split, write its layers' features (``features.py``: on the
   CPU, once per network, granularity and batch size; a rerun that finds every raw
   file done but not the features file builds the network for that alone), move to
   the device; per image: preprocess once, compute every layer's input once, then
   latency and power files;
6. the session rewrites the run file with the end time, status and the clocks seen.

Files appear atomically, so rerunning the same command resumes: a raw file
that exists and reads as a finished file is skipped; one that does not
(truncated or corrupt by hand or by a full disk) is set aside as
``NAME.jsonl.corrupt`` and measured again; one measured with other settings
(device, granularity, batch size, board, power sampler) stops the run before it
measures anything, since its lines would mix with this run's.
"""
import collections
import logging
import os

from . import layout
from .features import ensure_features
from .raw import FORMAT_VERSION, RUN_SETTINGS, check_file, write_lines
from ..devices import check_devices
from ..errors import DnnStatsError
from ..fsutil import set_aside
from ..progress import Progress
from ..runmeta import UNAVAILABLE
from ..session import RunSession

logger = logging.getLogger(__name__)

__all__ = ["LayerwiseOptions", "measure_layers", "planned_files", "check_options"]

#: Options of a run (units in the names).  ``models``: list of names;
#: ``images``: list of paths; ``tgr_params``: list of names or None (board default);
#: ``power_sampler``: ``auto``, ``tegrastats`` or ``ina`` (where the rails come from);
#: ``power_rate_hz``: readings per second asked of the power sampler; ``tgr_ci``/``lt_ci``: the
#: relative half-width (0-1) that ends a power window / the timed runs early, or None (fixed);
#: ``tgr_smpl_boundary_s``: s, or None for ``auto`` (the MSER-5 point, with ``tgr_ci`` only).
LayerwiseOptions = collections.namedtuple("LayerwiseOptions", [
    "mode", "device", "models", "images", "granularity", "batch_size", "weights",
    "eval_latency", "lt_smpl_count", "lt_warmup",
    "eval_tgr", "tgr_params", "tgr_interval_ms", "tgr_smpl_duration_s", "tgr_smpl_boundary_s",
    "idle_s", "settle_timeout_s", "power_sampler", "power_rate_hz", "tgr_ci", "lt_ci", "output_root", "force_mode", "sys_root",
    "args"])


def window_seconds(opts):
    """The longest loop of a layer's power window, s: ``boundary + duration + boundary`` fixed;
    with ``--tgr_ci`` no trailing boundary (``auto``: :data:`~layer_stats.measure.adaptive.AUTO_LEAD_S`
    leads)."""
    from ..measure.adaptive import AUTO_LEAD_S

    if opts.tgr_ci is None:
        return 2.0 * opts.tgr_smpl_boundary_s + opts.tgr_smpl_duration_s
    lead = AUTO_LEAD_S if opts.tgr_smpl_boundary_s is None else opts.tgr_smpl_boundary_s
    return lead + opts.tgr_smpl_duration_s


def _kinds(opts):
    return [kind for kind, on in (("latency", opts.eval_latency), ("power", opts.eval_tgr)) if on]


def planned_files(opts, board=None, power_sampler=None):
    """``[(path, kind, network, image, state)]`` for every raw file the run would write, in
    order; ``state`` is ``todo``, ``done`` (a finished file is there) or ``redo`` (the file
    there is corrupt).  Raises DnnStatsError naming a file measured with other settings
    (``board``: the telemetry's board; ``power_sampler``: ``tegrastats`` or ``ina``, what
    power files are measured with; each None where not known yet, and then not compared)."""
    from ..models.inputs import image_key

    out = []
    for network in opts.models:
        for image in opts.images:
            for kind in _kinds(opts):
                path = layout.raw_file(opts.output_root, opts.mode, opts.device, kind, network, image_key(image))
                out.append((path, kind, network, image, _state(path, kind, opts, board, power_sampler)))
    return out


def _state(path, kind, opts, board, power_sampler):
    if not os.path.exists(path):
        return "todo"
    expect = dict(zip(RUN_SETTINGS, (opts.device, opts.granularity, opts.batch_size, board,
                                     power_sampler if kind == "power" else None)))
    for key in ("board", "power_sampler"):
        if expect[key] is None:
            del expect[key]
    expect["ci_target"] = opts.tgr_ci if kind == "power" else opts.lt_ci  # fixed and adaptive lines never pool
    state, why = check_file(path, kind, expect)
    if state == "mismatch":
        hint = ""
        if "power_sampler" in why:
            hint = (" (--power_sampler auto takes the power monitors only where they are readable, which on a board "
                    "needs sudo; name the sampler the files have with --power_sampler to go on with them)")
        raise DnnStatsError("{}: it was measured with other settings{}; run with the same ones, pass another "
                            "--output_root, or move that file away to measure it again".format(why, hint))
    if state == "corrupt":
        logger.warning("%s (will be set aside and measured again)", why)
        return "redo"
    return "done"


def check_options(opts, dry_run=False):
    """Raise DnnStatsError for options that cannot give a complete dataset, before any
    measuring: nothing to measure, an unusable device (not checked for a ``dry_run``),
    a telemetry interval or power rate that leaves fewer than two samples in a window, an
    unreadable image, missing weights."""
    from ..models.inputs import check_images

    if not (opts.eval_latency or opts.eval_tgr):
        raise DnnStatsError("nothing to measure: pass --eval_latency and/or --eval_tgr")
    if not opts.models:
        raise DnnStatsError("no models to measure: pass --models a,b, 'all', or leave it out for AvailableModel.txt")
    check_devices([opts.device], "--device", dry_run)
    if opts.tgr_smpl_boundary_s is None and opts.tgr_ci is None:
        raise DnnStatsError("--tgr_smpl_boundary auto needs --tgr_ci: pass --tgr_ci REL, or a boundary in s")
    if opts.eval_tgr:
        from ..power.start import check_power_rate
        from ..tegrastats.start import check_interval
        windows = (("--tgr_smpl_duration", opts.tgr_smpl_duration_s), ("--idle_duration", opts.idle_s))
        check_interval(opts.tgr_interval_ms, windows)
        check_power_rate(opts.power_rate_hz, windows, opts.power_sampler)
    check_images(opts.images)
    if opts.weights is not None and str(opts.weights).upper() != "DEFAULT":
        from ..models.registry import weights_file
        for network in opts.models:
            weights_file(network, str(opts.weights))


class _LayerMeasurer(object):
    """What one layer-wise run measures with: the options, its session (telemetry, run
    file), the tegrastats sample reader (the parameters the power sampler does not
    serve), and the files written and skipped."""

    def __init__(self, opts, session):
        self.opts, self.session = opts, session
        self.reader = None
        self.written, self.skipped = [], []

    def start_telemetry(self):
        """Start the telemetry (``eval_tgr`` only); the power sampler keeps the readings of
        the longest window the run cuts (a layer's, or the idle baseline)."""
        from ..measure.power import SampleReader, tegrastats_params

        opts = self.opts
        if opts.eval_tgr:
            window_s = max(window_seconds(opts), opts.idle_s)
            self.session.start_telemetry(["gpu" if self.on_gpu else "cpu"], opts.tgr_params, window_s)
            self.reader = SampleReader(tegrastats_params(self.session.params, self.session.power))

    @property
    def power_sampler(self):
        """``ina`` or ``tegrastats``: where this run's rails come from (None without telemetry)."""
        if self.reader is None:
            return None
        return "ina" if self.session.power is not None else "tegrastats"

    def begin(self):
        """Write the run file."""
        opts = self.opts
        self.session.begin(closing=self.closing_keys, device=opts.device, models=list(opts.models),
                           images=[os.path.basename(p) for p in opts.images], granularity=opts.granularity,
                           args=opts.args or {})

    @property
    def on_gpu(self):
        return str(self.opts.device).startswith("cuda")

    def closing_keys(self):
        """The run file's keys at the end: counts and the clocks seen (MHz)."""
        clocks = self.reader.clocks if self.reader is not None else {}
        return dict(files_written=len(self.written), files_skipped=len(self.skipped),
                    clocks_seen_MHz={k: list(v) for k, v in sorted(clocks.items())})

    # -- labels every raw line carries -------------------------------------------
    def label(self, network, image, layer, name):
        return {"format_version": FORMAT_VERSION, "network": network, "image": image,
                "device": self.opts.device, "layer": layer, "name": name, "batch_size": self.opts.batch_size,
                "granularity": self.opts.granularity, "telemetry": self.session.meta.get("telemetry"),
                "board": self.session.board or UNAVAILABLE}


def _timed(opts, fn, arg):
    """``{samples_s, stop, ci_rel, ci_target}`` of ``fn(arg)``'s timed runs (fixed, or up to
    ``lt_smpl_count`` with ``--lt_ci``)."""
    from ..measure.latency import time_runs

    if opts.lt_ci is None:
        samples = time_runs(fn, arg, opts.lt_smpl_count, opts.lt_warmup, opts.device)
        return dict(samples_s=samples, stop="fixed", ci_rel=None, ci_target=None)
    from ..measure.adaptive import LatencyStop

    watch = LatencyStop(opts.lt_ci)
    samples = time_runs(fn, arg, opts.lt_smpl_count, opts.lt_warmup, opts.device, stop=watch)
    return dict(samples_s=samples, stop=watch.stop, ci_rel=watch.final_rel(samples), ci_target=opts.lt_ci)


def _latency_lines(measurer, network, image, chain, inputs, model, model_input):
    opts = measurer.opts
    lines = []
    for index, (layer, arg) in enumerate(zip(chain.layers, inputs)):
        line = measurer.label(network, image, index, chain.names[index])
        line.update(input_shape=list(arg.shape), warmup=opts.lt_warmup)
        line.update(_timed(opts, layer, arg))
        lines.append(line)
    line = measurer.label(network, image, "model", "whole model")
    line.update(input_shape=list(model_input.shape), warmup=opts.lt_warmup)
    line.update(_timed(opts, model, model_input))
    lines.append(line)
    return lines


def _line_params(measurer):
    """``{parameter: [keys]}`` in ``--tgr_params`` order, whichever feed serves each."""
    from ..measure.power import served_params

    served = served_params(measurer.session.params, measurer.session.power)
    learnt = measurer.reader.keys or {}
    return {p.name: served.get(p.name) or learnt.get(p.name, []) for p in measurer.session.params}


def _power_lines(measurer, network, image, chain, inputs):
    from ..measure.power import cut_window, idle_baseline, run_for, wait_until_idle

    opts, session, reader = measurer.opts, measurer.session, measurer.reader
    recorder, sampler = session.recorder, session.power
    boundary, duration = opts.tgr_smpl_boundary_s, opts.tgr_smpl_duration_s
    idle = idle_baseline(recorder, reader, opts.idle_s, sampler=sampler)
    params = _line_params(measurer)
    source = {"power_sampler": measurer.power_sampler}
    if sampler is not None:
        source["power_rate_hz"] = round(sampler.plan.rate_hz, 3)
    lines = []
    for index, (layer, arg) in enumerate(zip(chain.layers, inputs)):
        watch = _watch(measurer)
        with session.gpu_busy(1.0 if measurer.on_gpu else 0.0):
            t_start, t_end, iterations = run_for(layer, arg, window_seconds(opts), opts.device, stop=watch)
        samples, readings = cut_window(recorder, reader, t_start, t_end, boundary or 0.0, sampler)
        settled, settle_s = wait_until_idle(recorder, reader, idle["values"], opts.settle_timeout_s, sampler)
        if not settled:
            logger.warning("%s layer %d: power not back near idle after %.1f s (going on)", network, index, settle_s)
        line = measurer.label(network, image, index, chain.names[index])
        line.update(params=params, t_start=round(t_start, 6), t_end=round(t_end, 6), boundary_s=boundary,
                    duration_s=duration, iterations=iterations, samples=samples)
        line.update(source)
        if readings is not None:
            line["power_samples"] = readings
        line.update(_stop_fields(watch, line))
        line.update(idle=idle, settle_s=settle_s, settled=settled)
        lines.append(line)
        logger.debug("%s %s layer %d: %d iterations, %d samples, %d readings", network, image, index, iterations,
                     len(samples), len(readings or ()))
    return lines


def _watch(measurer):
    """The :class:`~layer_stats.measure.adaptive.PowerWatch` of a window (None: fixed)."""
    from ..measure.adaptive import PowerWatch
    from ..measure.power import feeds

    opts, session = measurer.opts, measurer.session
    if opts.tgr_ci is None:
        return None
    return PowerWatch(feeds(session.recorder, measurer.reader, session.power), opts.tgr_ci,
                      opts.tgr_smpl_boundary_s, opts.tgr_smpl_duration_s)


def _stop_fields(watch, line):
    """A power line's ``stop``, ``ci_rel``, ``ci_target`` and (adaptive) ``core_start`` and ``core_end``
    (the span the watch judged when it stopped on ``ci``, else up to ``t_end``); an adaptive line's
    sample ``boundary`` flags are set from its core ``(core_start, core_end]``."""
    from ..layerwise.raw import rail_keys

    if watch is None:
        return dict(stop="fixed", ci_rel=None, ci_target=None)
    core_start = round(watch.core_start, 6)
    core_end = round(watch.core_end, 6) if watch.stop == "ci" else line["t_end"]
    values = {}
    for key in rail_keys(line):
        source = line["power_samples"] if line.get("power_sampler") == "ina" else line["samples"]
        values[key] = [s["values"].get(key) for s in source if core_start < s["t"] <= core_end]
    for sample in line["samples"]:
        sample["boundary"] = not core_start < sample["t"] <= core_end
    return dict(boundary_s=watch.lead_s, stop=watch.stop, ci_rel=watch.final_rel(values), ci_target=watch.target_rel,
                core_start=core_start, core_end=core_end)


def _prepare(opts, network):
    import torch

    from ..models.registry import build_model
    from ..models.split import split_model

    model = build_model(network, opts.weights)
    chain = split_model(model, opts.granularity)
    ensure_features(opts.output_root, network, opts.granularity, opts.batch_size, opts.weights, chain)  # on the CPU
    model.to(opts.device)
    for layer in chain.layers:
        layer.to(opts.device)
        layer.eval()
    torch.set_grad_enabled(False)
    return model, chain


def _measure_network(measurer, network, planned, progress):
    """Measure the ``planned`` files (``planned_files`` entries) of ``network``."""
    from ..models.inputs import image_key, load_batch
    from ..models.split import chain_inputs

    opts = measurer.opts
    todo = []
    for path, kind, _, image, state in planned:
        if state == "done":
            logger.info("%s exists: skipping (finished by an earlier run)", path)
            measurer.skipped.append(path)
            progress.update()
        else:
            todo.append((image, kind, path, state))
    if not todo:  # every file done: write the features only where they are missing (data made before them)
        ensure_features(opts.output_root, network, opts.granularity, opts.batch_size, opts.weights)
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
                lines = _latency_lines(measurer, network, key, chain, inputs, model, batch)
            else:
                lines = _power_lines(measurer, network, key, chain, inputs)
            if state == "redo" and os.path.exists(path):
                logger.warning("%s set aside as %s", path, os.path.basename(set_aside(path)))
            write_lines(path, lines)
            measurer.written.append(path)
            progress.update()


def measure_layers(opts, source):
    """Measure every planned layer-wise raw file not there yet; returns the run file's metadata.

    ``source``: the telemetry Source (None for latency only).  Raises DnnStatsError for
    bad options (see :func:`check_options`), files of other settings already there,
    an output root that is not writable or held by another run, a mode mismatch, or a
    ``--power_sampler ina`` that cannot read the monitors (a replay, an unknown rail);
    TelemetryError if the telemetry child fails; Interrupted on SIGINT/SIGTERM/SIGHUP
    (after the run file is marked ``interrupted`` and the recorder stopped).
    """
    check_options(opts)
    folder = layout.mode_dir(opts.output_root, opts.mode)
    with RunSession("layerwise", opts.output_root, folder, opts.mode, source, opts.force_mode,
                    opts.sys_root, opts.power_sampler, opts.power_rate_hz) as session:
        measurer = _LayerMeasurer(opts, session)
        measurer.start_telemetry()
        plan = planned_files(opts, session.board, measurer.power_sampler)
        measurer.begin()
        progress = Progress("layer-wise Mode{} {}".format(opts.mode, opts.device), total=len(plan), unit="file")
        for network in opts.models:
            _measure_network(measurer, network, [entry for entry in plan if entry[2] == network], progress)
        progress.close()
    logger.info("done: %d files written, %d skipped (already there)", len(measurer.written), len(measurer.skipped))
    return session.meta
