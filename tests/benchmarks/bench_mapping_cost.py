"""Benchmark: what a multi-DNN mapping costs beyond its settle period and window.

Runs ``multi_network_stats/MappingDBGenerator.py`` on the simulator with a small
plan (by default densenet121, efficientnet_b2 and resnet50, two networks per
mapping, ``--smpl_duration 1 --tgr_smpl_boundry 0.5``) into a temporary folder,
then reads the raw files' modification times: between two consecutive files
lies one whole mapping (its settle period, window, the threads' last passes,
any build, ModelInfo count and the file write).  Prints, for every mapping after
the first, that wall time minus settle + window, and their median and maximum.

The second device is ``fakegpu``, a CPU stand-in (``DNN_STATS_TEST_DEVICES``),
so class D mappings with split networks run as they do on a Jetson.  Not a
test: run it by hand, from the checkout's root (installed or not)::

    python3 -m tests.benchmarks.bench_mapping_cost [--mappings 8] [--models a,b,c] [--device_list cpu,fakegpu]
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = os.path.join(ROOT, "multi_network_stats", "MappingDBGenerator.py")
FAKE_BIN = os.path.join(ROOT, "tests", "fixtures", "fake")


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="densenet121,efficientnet_b2,resnet50")
    parser.add_argument("--mappings", type=int, default=8, help="mappings of two networks (8)")
    parser.add_argument("--device_list", default="cpu,fakegpu")
    parser.add_argument("--smpl_duration", type=float, default=1.0)
    parser.add_argument("--boundary", type=float, default=0.5)
    parser.add_argument("--extra", default="", help="more generator options, space-separated")
    return parser


def _index(path):
    return int(os.path.basename(path).split("_Map")[1].split("_")[0])


def run(args):
    """Run the generator; returns (raw file paths by index, total wall s)."""
    root = tempfile.mkdtemp(prefix="bench_mapping_")
    env = dict(os.environ, PATH=FAKE_BIN + os.pathsep + os.environ.get("PATH", ""), FAKE_NVPMODEL_MODE="1",
               DNN_STATS_TEST_DEVICES="fakegpu=cpu")
    argv = [sys.executable, GENERATOR, "--output_root", root, "--jetsonDevice", "Orin", "--mode", "1",
            "--simulate", "orin", "--eval_tgr", "--eval_thr", "--model_list", args.models,
            "--device_list", args.device_list, "--numNetsRange", "2", "2", "--num_samples", str(args.mappings),
            "--samples_per_set", "2", "--smpl_duration", str(args.smpl_duration), "--tgr_smpl_boundry",
            str(args.boundary), "--funcLayerCount", "--seed", "7"] + args.extra.split()
    start = time.time()
    try:
        done = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True)
        total = time.time() - start
        if done.returncode != 0:
            sys.exit("generator failed:\n" + done.stderr[-3000:])
        files = sorted(glob.glob(os.path.join(root, "Multinet", "Mode1", "*_class*.json")), key=_index)
        costs = []
        for earlier, later in zip(files, files[1:]):
            with open(later) as handle:
                record = json.load(handle)
            wall = os.stat(later).st_mtime - os.stat(earlier).st_mtime
            splits = sum(1 for stages in record["mapping"].values() if len(stages) > 1)
            costs.append((os.path.basename(later), wall, splits))
        return costs, total
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    args = _parser().parse_args()
    costs, total = run(args)
    budget = args.smpl_duration + args.boundary
    print("{:<40} {:>7} {:>9} {:>7}".format("mapping", "wall s", "beyond s", "splits"))
    for name, wall, splits in costs:
        print("{:<40} {:>7.2f} {:>9.2f} {:>7}".format(name, wall, wall - budget, splits))
    beyond = [wall - budget for _, wall, _ in costs]
    print("# {} mappings after the first; settle + window = {:g} s; beyond it: median {:.2f} s, max {:.2f} s; "
          "whole run {:.1f} s".format(len(costs), budget, statistics.median(beyond), max(beyond), total))


if __name__ == "__main__":
    main()
