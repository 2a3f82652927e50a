"""Benchmark: one layer-wise run per power source, on the same simulated board, model and windows.

1. Runs the layer-wise generator twice as a user types it (``--power_sampler tegrastats``,
   then ``--power_sampler ina``; ``--simulate BOARD``, power only, one image),
   post-processes both with ``processData.py``, and prints per layer the two means of the
   board's default rail for ``--device cpu`` (mW), their difference (ina - tegrastats, % of
   tegrastats), and the values each source kept per window (tegrastats lines;
   power-monitor readings), then the median and the largest |difference|.
2. Both sources over the same windows (one simulated tegrastats and one sampler, as a run
   starts them; the tegrastats reader keeps the rail too): idle and busy-loop windows of
   ``--duration`` s, the two means of each and their difference.  The same load by
   construction: what is left is the sources' own difference.

The simulated rails follow this host's CPU load (the simulator's power model), so the two
runs agree only as well as the load repeats: other jobs on a shared host, and the sampler's
own two processes in the ina run (the sampler and the simulated monitors' writer), move
the means.  ``--busy`` keeps every host core the board shows busy during both runs (the
layer loop plus spinning processes), the same load for both: the difference left is the
sources' own.  Not a test: run it by hand from the checkout's root::

    python3 -m tests.benchmarks.bench_power_sources [--board orin] [--model squeezenet1_0]
        [--duration 1] [--boundary 0.2] [--rate 500] [--busy]
"""
import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from layer_stats.clock import monotonic
from layer_stats.measure.power import SampleReader, cut_window
from layer_stats.measure.window import in_core
from layer_stats.paths import PACKAGE_PARENT
from layer_stats.power.start import start_power
from layer_stats.stats import mean
from layer_stats.tegrastats.params import role_rail
from layer_stats.tegrastats.sources import simulated_source
from layer_stats.tegrastats.start import start_telemetry

GENERATOR = os.path.join(PACKAGE_PARENT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
PROCESS = os.path.join(PACKAGE_PARENT, "layer_stats", "processedDataGeneration", "processData.py")
FAKE_BIN = os.path.join(PACKAGE_PARENT, "tests", "fixtures", "fake")
SOURCES = ("tegrastats", "ina")


def _env():
    """The fake nvpmodel (mode 0) first on PATH, and torch on one thread, as the tests run."""
    return dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE="0",
                OMP_NUM_THREADS="1")


def _run(argv):
    done = subprocess.run([sys.executable] + argv, cwd=PACKAGE_PARENT, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True)
    if done.returncode:
        sys.exit("{} failed:\n{}".format(os.path.basename(argv[0]), done.stderr[-3000:]))


def measure(args, source, root):
    """One generator run into ``root`` with power from ``source``, then post-processing."""
    _run([GENERATOR, "--mode", "0", "--simulate", args.board, "--models", args.model, "--imgs", "img1.jpg",
          "--eval_tgr", "--power_sampler", source, "--power_rate", str(args.rate), "--tgr_smpl_duration",
          str(args.duration), "--tgr_smpl_boundry", str(args.boundary), "--idle_duration", "1",
          "--settle_timeout", "2", "--output_root", root])
    _run([PROCESS, "--input_root", root])


def results(root, model, rail):
    """``(means, counts)``: per layer, the processed mean of ``rail`` (mW) and the values the
    source kept in the layer's window (tegrastats lines, or readings)."""
    with open(os.path.join(root, "Processed", "Mode0.json")) as handle:
        power = json.load(handle)[model]["cpu"]["power"]
    means = {layer: entry[rail] for layer, entry in power.items()}
    counts = {}
    with open(os.path.join(root, "LayerStats", "Mode0", "cpu", "power", model, "img1.jsonl")) as handle:
        for text in handle:
            line = json.loads(text)
            counts[str(line["layer"])] = len(line.get("power_samples", line["samples"]))
    return means, counts


@contextlib.contextmanager
def busy_host(on):
    """Spinning processes that, with the layer loop, keep the host cores the board shows busy."""
    procs = []
    if on:
        for _ in range(max(1, min(os.cpu_count() or 1, 6) - 1)):
            procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2.0


def report(args, rail, found):
    """The table and the summary, as lines."""
    (tgr_means, tgr_counts), (ina_means, ina_counts) = found["tegrastats"], found["ina"]
    lines = ["board {}, model {}, rail {}, {:g} s measured + 2 x {:g} s boundary per layer, ina at {:g} Hz{}".format(
        args.board, args.model, rail, args.duration, args.boundary, args.rate, ", host kept busy" if args.busy else ""),
        "{:>5} {:>14} {:>14} {:>8} {:>16} {:>14}".format("layer", "tegrastats mW", "ina mW", "diff %",
                                                         "tegrastats/win", "readings/win")]
    diffs = []
    for layer in sorted(tgr_means, key=int):
        diff = 100.0 * (ina_means[layer] - tgr_means[layer]) / tgr_means[layer]
        diffs.append(diff)
        lines.append("{:>5} {:>14.1f} {:>14.1f} {:>+8.2f} {:>16d} {:>14d}".format(
            layer, tgr_means[layer], ina_means[layer], diff, tgr_counts[layer], ina_counts[layer]))
    absolute = [abs(d) for d in diffs]
    lines.append("summary: {} layers, |diff| median {:.2f} %, max {:.2f} %, mean diff {:+.2f} %; values per "
                 "window: tegrastats {:.0f}, ina {:.0f}".format(
                     len(diffs), _median(absolute), max(absolute), mean(diffs), mean(list(tgr_counts.values())),
                     mean(list(ina_counts.values()))))
    return lines


def _window(busy, seconds):
    """A window of ``seconds``: a busy loop (one core) or asleep; ``(t_start, t_end)``, monotonic s."""
    t_start = monotonic()
    while monotonic() - t_start < seconds:
        if not busy:
            time.sleep(0.01)
    return t_start, monotonic()


def same_windows(board, rate_hz, folder, key, duration_s, boundary_s, windows):
    """One simulated tegrastats and one power sampler at ``rate_hz``, as a run starts them (the
    tegrastats reader keeps the rail ``key`` as well: both sources, one load), cut over the same
    ``windows`` windows of ``duration_s + 2 x boundary_s``, idle and busy in turn (idle first);
    ``[(busy, tegrastats core mean, ina core mean, tegrastats lines, readings)]`` (mW)."""
    source = simulated_source(board, 20).following_gpu_load(folder)
    recorder, board, params = start_telemetry(source, ["cpu"])
    sampler = None
    found = []
    try:
        sampler = start_power("ina", rate_hz, source, board, params, "/", folder, 120.0)
        reader = SampleReader(params)
        for index in range(windows):
            time.sleep(0.3)
            busy = index % 2 == 1
            t_start, t_end = _window(busy, duration_s + 2 * boundary_s)
            core = [[s["values"][key] for s in samples if in_core(s["t"], t_start, t_end, boundary_s)]
                    for samples in cut_window(recorder, reader, t_start, t_end, boundary_s, sampler)]
            found.append((busy, mean(core[0]), mean(core[1]), len(core[0]), len(core[1])))
    finally:
        try:
            if sampler is not None:
                sampler.stop()
        finally:
            recorder.stop()
    return found


def paired(args, rail, folder, windows=6):
    """Part 2: lines, one per window, comparing the two sources over the same windows."""
    lines = ["same windows ({:g} s, core after {:g} s boundaries), tegrastats lines and readings of {}:".format(
        args.duration, args.boundary, rail)]
    diffs = []
    for busy, tgr, ina, n_tgr, n_ina in same_windows(args.board, args.rate, folder, rail + "_mW", args.duration,
                                                     args.boundary, windows):
        diffs.append(100.0 * (ina - tgr) / tgr)
        lines.append("  {:<4} tegrastats {:7.1f} mW ({:3d} lines)  ina {:7.1f} mW ({:4d} readings)  "
                     "diff {:+.2f} %".format("busy" if busy else "idle", tgr, n_tgr, ina, n_ina, diffs[-1]))
    lines.append("  summary: |diff| median {:.2f} %, max {:.2f} %".format(_median([abs(d) for d in diffs]),
                                                                       max(abs(d) for d in diffs)))
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", default="orin")
    parser.add_argument("--model", default="squeezenet1_0")
    parser.add_argument("--duration", type=float, default=1.0, help="measured seconds per layer (default 1)")
    parser.add_argument("--boundary", type=float, default=0.2, help="settling seconds at each end (default 0.2)")
    parser.add_argument("--rate", type=float, default=500.0, help="power-monitor readings/s (default 500)")
    parser.add_argument("--busy", action="store_true", help="keep the host's cores busy during both runs")
    args = parser.parse_args()
    rail = role_rail(args.board, "cpu")
    folder = tempfile.mkdtemp(prefix="bench-power-sources-")
    try:
        found = {}
        load = [os.getloadavg()[0]]
        with busy_host(args.busy):
            for source in SOURCES:
                root = os.path.join(folder, source)
                measure(args, source, root)
                found[source] = results(root, args.model, rail)
                load.append(os.getloadavg()[0])
        for line in report(args, rail, found):
            print(line)
        print("host load average (1 min) before, after tegrastats, after ina: {}".format(
            ", ".join("{:.2f}".format(x) for x in load)))
        for line in paired(args, rail, folder):
            print(line)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
