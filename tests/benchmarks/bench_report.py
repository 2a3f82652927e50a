"""Benchmark: wall time of the report command on a dataset like README's quick start.

The dataset is built once (:func:`make_dataset`, also the fixture of tests/test_report.py), on
the simulator, in a temporary folder:

- layer-wise: README's quick start (resnet18, TX2 simulated, CPU, img1.jpg, latency and
  power, the default power sampler) with shorter windows (0.3 s measured, 0.1 s boundaries,
  10 timed runs), as Mode 0; its raw files copied as Mode 1 (without the run file), so the
  report also has two modes to compare;
- multi-DNN: a small run on the simulated Orin (mnasnet0_5 and squeezenet1_0, two networks per
  mapping plus each alone, 1 s windows, cpu and ``fakegpu``, a CPU stand-in), Mode 1.

Then ``python3 -m layer_stats.report --input_root ROOT --out ROOT/report`` runs ``--repeat``
times as a user runs it (a new interpreter); prints each wall time, their median and the
figures written.  Not a test: run it by hand, from the checkout's root (installed or not)::

    python3 -m tests.benchmarks.bench_report [--repeat 3] [--keep DIR]
"""
import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERWISE = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
MULTINET = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
FAKE_BIN = os.path.join(ROOT, "tests", "fixtures", "fake")
TX2_ROOT = os.path.join(ROOT, "tests", "fixtures", "jetson_root", "tx2")
#: README's quick start, shorter windows (the settle wait cut at 0.5 s: a busy host may never
#: come back near the idle baseline).
QUICK_START = ["--mode", "0", "--simulate", "tx2", "--models", "resnet18", "--imgs", "img1.jpg", "--eval_latency",
               "--eval_tgr", "--tgr_smpl_duration", "0.3", "--tgr_smpl_boundry", "0.1", "--idle_duration", "0.4",
               "--settle_timeout", "0.5", "--lt_smpl_count", "10", "--lt_warmup", "2", "--sys_root", TX2_ROOT,
               "--sim_seed", "11"]
#: A small multi-DNN run (as tests/test_multinet.py's): 2 mappings of two networks, each alone.
SMALL_MULTINET = ["--jetsonDevice", "Orin", "--mode", "1", "--num_samples", "2", "--eval_tgr", "--eval_thr",
                  "--numNetsRange", "2", "2", "--samples_per_set", "2", "--single_nets", "--max_split_nets", "1",
                  "--model_list", "mnasnet0_5,squeezenet1_0", "--smpl_duration", "1", "--tgr_smpl_boundry", "0.1",
                  "--funcLayerCount", "--seed", "3", "--simulate", "orin", "--device_list", "cpu,fakegpu",
                  "--sim_seed", "12"]


def _env(mode):
    """The fake nvpmodel reporting ``mode``, the ``fakegpu`` stand-in, torch on one thread."""
    return dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE=str(mode),
                DNN_STATS_TEST_DEVICES="fakegpu=cpu", OMP_NUM_THREADS="1")


def _run(argv, env, timeout=600):
    done = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError("{} failed ({}): {}".format(" ".join(argv[:2]), done.returncode, done.stderr[-3000:]))
    return done


def copy_mode(root, source, target):
    """Copy the layer-wise raw files of ``Mode{source}`` as ``Mode{target}`` (no run file, log or conf)."""
    base = os.path.join(root, "LayerStats")
    for path in glob.glob(os.path.join(base, "Mode{}".format(source), "*", "*", "*", "*.jsonl")):
        rel = os.path.relpath(path, os.path.join(base, "Mode{}".format(source)))
        out = os.path.join(base, "Mode{}".format(target), rel)
        if not os.path.isdir(os.path.dirname(out)):
            os.makedirs(os.path.dirname(out))
        shutil.copyfile(path, out)


def make_dataset(root):
    """The benchmark's dataset under ``root`` (module doc); returns ``root``."""
    _run([sys.executable, LAYERWISE, "--output_root", root] + QUICK_START, _env(0))
    copy_mode(root, 0, 1)
    _run([sys.executable, MULTINET, "--output_root", root] + SMALL_MULTINET, _env(1))
    return root


def report_command(root, out, *extra):
    """The report command as a user runs it (argv)."""
    return [sys.executable, "-m", "layer_stats.report", "--input_root", root, "--out", out] + list(extra)


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="report runs (3)")
    parser.add_argument("--keep", help="build the dataset in this new folder and keep it (default: a temporary one)")
    return parser


def main():
    args = _parser().parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="bench_report_")
    try:
        start = time.time()
        if not os.path.isdir(os.path.join(root, "LayerStats")):
            make_dataset(root)
        print("dataset: {} ({:.1f} s to build)".format(root, time.time() - start))
        times = []
        for _ in range(args.repeat):
            start = time.time()
            done = _run(report_command(root, os.path.join(root, "report")), dict(os.environ))
            times.append(time.time() - start)
            print("report: {:.2f} s  {}".format(times[-1], done.stdout.strip()))
        figures = glob.glob(os.path.join(root, "report", "figures", "*.png"))
        size = sum(os.path.getsize(p) for p in figures)
        print("median {:.2f} s over {} runs (goal: under 30 s); {} figures, {:.0f} KB in all".format(
            statistics.median(times), len(times), len(figures), size / 1024.0))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
