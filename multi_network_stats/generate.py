"""The multi-DNN dataset run: the plan's mappings, one raw file each, under
``<output_root>/Multinet/Mode{m}/`` (the seed's file names, see :mod:`.plan`).

The raw file format is :mod:`.raw`.

Order of work (:func:`measure_mappings`): check the plan and ``--start_idx``;
open a :class:`~layer_stats.session.RunSession` (the mode; an output root that
is writable and whose lock no other run holds, layer-wise runs included; stop
signals); decode every image once; read the files already there; build every
network the remaining mappings use, checking its layer count against the plan;
only then start telemetry, write the run file and measure.

Networks are built once per run and kept in a :class:`.netcache.NetworkCache`:
one copy per network, its layers moved to each mapping's stage devices in place,
least-recently-used networks dropped past a budget of parameter and buffer bytes
(default 1/8 of the machine's memory, ``--cache_mb``; 0 rebuilds every network
for every mapping).  See :mod:`.netcache` for the whole policy.

With the simulator, every device but ``cpu`` counts as the GPU: while a
mapping with such a stage runs, the simulator is told the GPU is fully loaded
(:meth:`~layer_stats.session.RunSession.gpu_busy`).

Windows: fixed (``--smpl_duration`` s after ``--tgr_smpl_boundry`` s of settling), or with
``--thr_ci REL`` ended early once every network's throughput is known within +-REL
(:mod:`.adaptive`); each record says how its window stopped.

Power: with ``--eval_tgr``, the session also starts the power sampler the run
asked for (``--power_sampler``, ``--power_rate``; see
:func:`layer_stats.power.start.start_power`); where it runs, each file's ``power``
block holds every reading stamped in the mapping's window, else power comes from
the tegrastats lines (``power`` None).  tegrastats runs either way.

Resume: a mapping whose file exists and holds that mapping, measured with the
same window, batch size and board, is skipped; an unreadable one is set aside as
``NAME.corrupt`` and measured again; one that holds another mapping or other
settings stops the run before anything is measured (the plan changed: its data
would mix with this run's).  Files of format versions 2, 3 and 4 count the same
(version 2 is version 3 with power from tegrastats; version 1 counted ModelInfo
another way; version 4 adds how each window stopped).  With ``--thr_ci`` the
settings are ``--thr_ci`` and the longest window (``window.max_s``); without it, the
fixed window.  The power sampler is a setting only where it was named: with
``--power_sampler ina`` or ``tegrastats`` (and ``--eval_tgr``) a file whose power
came from the other one stops the run like any other setting; with ``auto``,
which takes the monitors where it can and tegrastats where it cannot, files of
either kind are kept (the provenance lists every sampler a dataset used).
CUDA out-of-memory skips a mapping with a logged reason and empties the network
cache.
"""
import collections
import io
import json
import logging
import os

from layer_stats.errors import DnnStatsError, TelemetryError
from layer_stats.fsutil import set_aside
from layer_stats.progress import Progress
from layer_stats.runmeta import UNAVAILABLE
from layer_stats.session import RunSession
from .layout import mode_dir
from .raw import FORMAT_VERSION, MODELINFO_SINCE, write_record
from .netcache import NetworkCache, default_budget_bytes
from .plan import stage_bounds

logger = logging.getLogger(__name__)

__all__ = ["MultinetOptions", "measure_mappings",
           "estimate_seconds", "check_start_idx", "planned_counts", "first_use_order", "file_state", "is_done"]

#: Seconds per mapping beyond settle + window (the threads' last passes, the file).
MAPPING_OVERHEAD_S = 0.5
#: Seconds per distinct network to build, split and count it (once per run).
BUILD_S_PER_NET = 5.0

#: ``plan``: list of PlannedMapping; ``images``: paths; ``device_name``: the
#: seed's board name (Orin, Tx2, Xavier); ``cache_bytes``: the network cache's
#: budget (None, default: :func:`~.netcache.default_budget_bytes`); ``power_sampler``:
#: ``--power_sampler`` (auto, ina, tegrastats); ``power_rate_hz``: ``--power_rate`` (readings/s);
#: ``thr_ci``: ``--thr_ci`` (None: fixed windows of ``smpl_duration_s``; else the maximum, see :mod:`.adaptive`).
MultinetOptions = collections.namedtuple("MultinetOptions", [
    "plan", "mode", "images", "batch_size", "smpl_duration_s", "boundary_s", "eval_tgr", "tgr_params",
    "tgr_interval_ms", "func_layer_count", "warmup", "start_idx", "output_root", "device_name",
    "force_mode", "sys_root", "args", "cache_bytes", "power_sampler", "power_rate_hz", "thr_ci"])
MultinetOptions.__new__.__defaults__ = (None, "auto", 500.0, None)


def first_use_order(plan):
    """The networks of ``plan`` in the order mappings first use them."""
    order = collections.OrderedDict()
    for entry in plan:
        for network in entry.mapping:
            order.setdefault(network, None)
    return list(order)


def estimate_seconds(plan, smpl_duration_s, boundary_s):
    """Device time ``plan`` needs (s): per mapping the settle period, the window and
    :data:`MAPPING_OVERHEAD_S`; per distinct network :data:`BUILD_S_PER_NET` once."""
    per_mapping = boundary_s + smpl_duration_s + MAPPING_OVERHEAD_S
    return len(plan) * per_mapping + BUILD_S_PER_NET * len(first_use_order(plan))


def check_start_idx(plan, start_idx):
    """Raise DnnStatsError for an empty plan or a ``--start_idx`` past its end."""
    if not plan:
        raise DnnStatsError("the plan is empty: raise --num_samples or pass --single_nets")
    if start_idx >= len(plan):
        raise DnnStatsError("--start_idx {} is past the plan's end: it has {} mappings (indices 0-{}); pass a "
                            "smaller --start_idx".format(start_idx, len(plan), len(plan) - 1))


def planned_counts(plan):
    """{network: block layer count} as the plan used them (each network's last stage key)."""
    return {network: int(list(stages)[-1]) for entry in plan for network, stages in entry.mapping.items()}


def _set_aside(path, why):
    logger.warning("%s %s: set aside as %s, measuring it again", path, why, os.path.basename(set_aside(path)))


def _settings_differ(record, entry, opts):
    """What ``record`` (an existing raw file) was measured with differently from this run."""
    differ = []
    if record.get("mapping") != entry.mapping:
        differ.append("mapping {} (this plan: {})".format(json.dumps(record.get("mapping")),
                                                          json.dumps(entry.mapping)))
    target = record.get("ci_target")
    longest = record.get("samplingDuration") if target is None else _max_window(record)
    if target != opts.thr_ci:
        differ.append("--thr_ci {} (now {})".format(_or_none(target), _or_none(opts.thr_ci)))
    elif longest != opts.smpl_duration_s:
        differ.append("--smpl_duration {} (now {:g})".format(longest, opts.smpl_duration_s))
    if not isinstance(record.get("format_version"), int) or record["format_version"] < MODELINFO_SINCE:
        differ.append("format_version {} (now {}: its ModelInfo is counted another way)".format(
            record.get("format_version"), FORMAT_VERSION))
    sampler = _named_sampler_differs(record, opts)
    if sampler:
        differ.append(sampler)
    if record.get("Device") != opts.device_name:
        differ.append("board {} (now {})".format(record.get("Device"), opts.device_name))
    networks = record.get("networks") if isinstance(record.get("networks"), dict) else {}
    sizes = sorted({r.get("batch_size") for r in networks.values() if isinstance(r, dict)}, key=str)
    if sizes and sizes != [opts.batch_size]:
        differ.append("--batch_size {} (now {})".format(sizes[0], opts.batch_size))
    return differ


def _or_none(value):
    return "none" if value is None else "{:g}".format(value) if isinstance(value, float) else repr(value)


def _max_window(record):
    """The ``--smpl_duration`` an adaptive record was measured with (its ``window.max_s``)."""
    window = record.get("window")
    return window.get("max_s") if isinstance(window, dict) else None


def _named_sampler_differs(record, opts):
    """What to say when ``record``'s power came from another sampler than the one this run
    named (module doc: only a named ``ina``/``tegrastats`` with ``--eval_tgr`` counts;
    ``auto`` keeps either, and a file without telemetry says nothing); else None."""
    if not opts.eval_tgr or opts.power_sampler not in ("ina", "tegrastats"):
        return None
    power = record.get("power")
    if isinstance(power, dict):
        found = power.get("sampler")
    else:
        found = "tegrastats" if record.get("tegrastats") is not None else None
    if found is None or found == opts.power_sampler:
        return None
    return "power from {} (now --power_sampler {}; --power_sampler auto keeps files of either)".format(
        found, opts.power_sampler)


def file_state(path, entry, opts):
    """``(state, why)`` of the raw file ``path`` for ``entry``, reading only: ``todo`` (no
    file), ``done`` (it holds ``entry`` measured with this run's settings) or ``redo``
    (unreadable or unfinished; ``why`` says how).  Raises DnnStatsError if it holds another
    mapping or other settings."""
    if not os.path.exists(path):
        return "todo", None
    try:
        with io.open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError, RecursionError) as exc:
        return "redo", "is not readable JSON ({})".format(str(exc).splitlines()[0] if str(exc) else exc)
    version = record.get("format_version") if isinstance(record, dict) else None
    if not isinstance(version, int) or version > FORMAT_VERSION or not isinstance(record.get("networks"), dict):
        return "redo", "is not a finished raw mapping file"
    differ = _settings_differ(record, entry, opts)
    if differ:
        raise DnnStatsError("{} was measured with {}: its data would mix with this run's; pass a new "
                            "--output_root, or rerun with the options that wrote it".format(path, "; ".join(differ)))
    return "done", None


def is_done(path, entry, opts):
    """True if ``path`` holds ``entry`` measured with this run's settings; False if it is
    missing, or unreadable (then set aside).  Raises as :func:`file_state`."""
    state, why = file_state(path, entry, opts)
    if state == "redo":
        _set_aside(path, why)
    return state == "done"


class _MappingMeasurer(object):
    """What one multi-DNN run measures with: the options, its session (telemetry, run
    file), the network cache, the decoded images, and the files written."""

    def __init__(self, opts, session, example, skipped):
        self.opts, self.session, self.skipped = opts, session, skipped
        budget = default_budget_bytes() if opts.cache_bytes is None else opts.cache_bytes
        self.cache = NetworkCache(planned_counts(opts.plan), example, opts.func_layer_count, budget)
        self.batches = {}
        self.written, self.oom = [], []

    def prebuild(self, todo):
        """Build (and check) every network of ``todo`` now, so a layer count that differs from
        the plan stops the run before it measures anything.  Built in reverse order of first
        use, so the ones kept within the budget are the ones needed first."""
        order = first_use_order(todo)
        if not order:
            return
        logger.info("building %d networks once for %d mappings (network cache budget %.0f MiB)",
                    len(order), len(todo), self.cache.budget / 2 ** 20)
        for network in reversed(order):
            self.cache.get(network)
        self.cache.trim()

    def batch(self, image):
        if image not in self.batches:
            from layer_stats.models.inputs import load_batch
            self.batches[image] = load_batch(image, self.opts.batch_size)
        return self.batches[image]

    def load(self, network, stages, image, keep):
        """``(NetworkLoad, result)`` for one network of a mapping; ``result`` holds the
        image and a record per stage (key, device, layers, model information)."""
        from .execute import NetworkLoad
        from .stages import build_stages

        net = self.cache.get(network, keep)
        bounds = stage_bounds(stages, len(net.chain.layers))
        records = [{"key": key, "device": device, "first_layer": first, "last_layer": last,
                    "modelinfo": self.cache.stage_info(net, first, last)}
                   for key, (first, last, device) in zip(stages, bounds)]
        load = NetworkLoad(network, build_stages(net.chain, stages), self.batch(image))
        return load, {"image": image, "stages": records}

    def measure(self, entry, warm_only=False):
        """Run one mapping; returns its raw record (None for a warm-up)."""
        from .adaptive import WindowRule, min_window_s
        from .execute import run_workload

        opts = self.opts
        rule = None if opts.thr_ci is None else WindowRule(
            opts.thr_ci, min_window_s(opts.smpl_duration_s, opts.tgr_interval_ms if opts.eval_tgr else None))
        pairs = [self.load(network, stages, opts.images[position % len(opts.images)], entry.mapping)
                 for position, (network, stages) in enumerate(entry.mapping.items())]
        loads = [load for load, _ in pairs]
        on_gpu = any(stage.device != "cpu" for load in loads for stage in load.stages)
        with self.session.gpu_busy(1.0 if on_gpu else 0.0):
            t_start, t_end, stop = run_workload(loads, opts.boundary_s, opts.smpl_duration_s, rule)
        if warm_only:
            return None
        return self.record(entry, pairs, t_start, t_end, stop)

    def record(self, entry, pairs, t_start, t_end, stop="fixed"):
        """The raw record (:mod:`.raw`); ``samplingDuration`` is the window the throughputs are
        over: ``--smpl_duration`` unless the window ended on precision (``stop`` ``ci``)."""
        opts, session = self.opts, self.session
        duration = round(t_end - t_start, 6) if stop == "ci" else opts.smpl_duration_s
        samples = None
        if session.recorder is not None:
            session.recorder.wait_past(t_end)
            samples = [{"t": round(s.t_mono, 6), "raw": s.raw}
                       for s in session.recorder.window(t_start, t_end, include_next=True)]
        networks = collections.OrderedDict((load.name, _network_results(load, result, duration, opts.batch_size))
                                           for load, result in pairs)
        return collections.OrderedDict([
            ("format_version", FORMAT_VERSION), ("index", entry.index), ("class", entry.cls), ("k", entry.k),
            ("set", entry.set), ("file", entry.file), ("mapping", entry.mapping),
            ("samplingDuration", duration), ("stop", stop), ("ci_target", opts.thr_ci),
            ("Mode", opts.mode), ("Device", opts.device_name),
            ("board", session.board or UNAVAILABLE),
            ("telemetry", session.source.kind if session.source else "none"), ("run", session.run_name),
            ("window", {"t_start": round(t_start, 6), "t_end": round(t_end, 6), "settle_s": opts.boundary_s,
                        "max_s": opts.smpl_duration_s}),
            ("networks", networks),
            ("tegrastats", {"interval_ms": opts.tgr_interval_ms, "params": [p.name for p in session.params],
                            "samples": samples} if samples is not None else None),
            ("power", self.power_block(entry, t_start, t_end))])

    def power_block(self, entry, t_start, t_end):
        """The record's ``power`` block (:mod:`.raw`): every reading of the power sampler stamped
        in ``[t_start, t_end]`` (monotonic s); None where power comes from tegrastats.  Raises
        TelemetryError when the sampler, alive, gave no reading in the window (it stalled: a
        file without readings would say its rails came from tegrastats, and mix sources)."""
        power = self.session.power
        if power is None:
            return None
        power.wait_past(t_end)
        readings = power.readings(t_start, t_end)
        if not readings:
            raise TelemetryError("{}: the power sampler gave no reading in the {:g} s window: it stalled; check that "
                                 "it runs on its own (python3 -m layer_stats.power rails), or pass --power_sampler "
                                 "tegrastats".format(entry.file, t_end - t_start))
        return collections.OrderedDict([
            ("sampler", "ina"), ("telemetry", power.telemetry), ("rate_hz", round(power.plan.rate_hz, 3)),
            ("rails", [rail.rail for rail in power.rails]), ("samples", readings)])

    def measure_or_skip(self, entry, warm_only=False):
        """:meth:`measure`, but CUDA out of memory empties the network cache, is logged and
        gives None; afterwards the cache is trimmed to its budget."""
        try:
            return self.measure(entry, warm_only)
        except RuntimeError as exc:
            from .execute import is_out_of_memory
            if not is_out_of_memory(exc):
                raise
            self.cache.clear()
            logger.warning("%s %s: CUDA out of memory (%s)", entry.file, "warm-up skipped" if warm_only else "skipped",
                           str(exc).splitlines()[0])
            if not warm_only:
                self.oom.append(entry.file)
            return None
        finally:
            self.cache.trim()

    def one(self, entry, folder):
        path = os.path.join(folder, entry.file)
        record = self.measure_or_skip(entry)
        if record is None:
            return
        write_record(path, record)
        self.written.append(path)
        logger.info("%s: %s (%g s window, stop %s)", entry.file, ", ".join(
            "{} {:.1f}/s +-{}".format(n, r["throughput_per_s"], "?" if r["ci_rel"] is None else
                                      "{:.1%}".format(r["ci_rel"])) for n, r in record["networks"].items()),
            record["samplingDuration"], record["stop"])

    def closing_keys(self):
        """The run file's keys at the end: counts and what the network cache did."""
        cache = self.cache
        return dict(files_written=len(self.written), files_skipped=self.skipped, out_of_memory=self.oom,
                    flops_backend=cache.backend or UNAVAILABLE, network_builds=cache.builds,
                    network_cache_hits=cache.hits, networks_evicted=cache.evictions,
                    network_cache_budget_mb=round(cache.budget / 2.0 ** 20, 1))


def _network_results(load, result, duration_s, batch_size):
    from .adaptive import throughput_ci_rel

    for i, record in enumerate(result["stages"]):
        record.update(infCount=load.passes, inf_times_s=load.inf[i], transfer_times_s=load.transfer[i])
    rel = throughput_ci_rel(load.ends)
    return {"image": os.path.basename(result["image"]), "batch_size": batch_size, "passes": load.passes,
            "throughput_per_s": load.passes / float(duration_s),
            "images_per_s": load.passes * batch_size / float(duration_s),
            "ci_rel": rel, "stages": result["stages"]}


def measure_mappings(opts, source):
    """Measure every planned mapping not done yet; returns the run file's metadata.

    ``source``: the telemetry Source (None without ``--eval_tgr``).  Raises
    DnnStatsError for an empty plan, ``--start_idx`` past its end, a mode mismatch,
    an output root that is not writable or that another run holds, a bad image,
    files of another plan or other settings already there, or a network whose layer
    count differs from the plan's; Interrupted on SIGINT/SIGTERM/SIGHUP.
    """
    from layer_stats.models.inputs import check_images, load_batch

    check_start_idx(opts.plan, opts.start_idx)
    folder = mode_dir(opts.output_root, opts.mode)
    with RunSession("multinet", opts.output_root, folder, opts.mode, source, opts.force_mode, opts.sys_root,
                    opts.power_sampler, opts.power_rate_hz) as session:
        check_images(opts.images)
        wanted = [e for e in opts.plan if e.index >= opts.start_idx]
        todo = [e for e in wanted if not is_done(os.path.join(folder, e.file), e, opts)]
        skipped = len(wanted) - len(todo)
        if skipped:
            logger.info("%d mappings already have files: skipping them", skipped)
        measurer = _MappingMeasurer(opts, session, load_batch(opts.images[0], 1), skipped)
        measurer.prebuild(todo)
        if opts.eval_tgr:
            session.start_telemetry((), opts.tgr_params, window_s=opts.boundary_s + opts.smpl_duration_s)
        session.begin(closing=measurer.closing_keys, Device=opts.device_name, planned=len(opts.plan),
                      todo=len(todo), start_idx=opts.start_idx, args=opts.args or {})
        if opts.warmup and todo:
            logger.info("warm-up: running %s once, not recorded", todo[0].file)
            measurer.measure_or_skip(todo[0], warm_only=True)
        progress = Progress("multi-DNN Mode{}".format(opts.mode), total=len(todo), unit="mapping")
        for entry in todo:
            measurer.one(entry, folder)
            progress.update()
        progress.close()
    logger.info("done: %d mappings written, %d skipped (already there), %d out of memory; %d network builds, "
                "%d reuses", len(measurer.written), skipped, len(measurer.oom), measurer.cache.builds,
                measurer.cache.hits)
    return session.meta
