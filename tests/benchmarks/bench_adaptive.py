"""Adaptive vs fixed layer-wise measurement on the simulator (issue 11's "done when").

``python3 -m tests.benchmarks.bench_adaptive [--board orin] [--models resnet18 | all-available] [--quick]
[--samplers tegrastats,ina,ina-auto] [--baseline DIR]``

The simulated power follows this host's real CPU load: run it with nothing else busy.

Runs the layer-wise generator on ``--simulate BOARD``, CPU, one image: the fixed run (the
seed's defaults: 1 s + 5 s + 1 s windows, 100 timed runs; ``--quick``/``all-available``: a short
fixed window, 0.1 + 1 + 0.1 s and 30 runs) and the adaptive runs ``--tgr_ci 0.02 --lt_ci 0.02``
with ``--power_sampler tegrastats``, ``ina`` (500 Hz) and ``ina`` with ``--tgr_smpl_boundary auto``.  Device time of a run: the sum over its
lines of the power window (``t_end - t_start``), the settle wait after it and the timed runs
(s; the idle baselines and the model building are the same for both and left out); the wall time
of the generator is printed too.  Prints the ratio to the fixed run, per layer the relative
difference of the adaptive mean power from the fixed one, how each line stopped, and the
quantiles of the achieved ``ci_rel`` (power lines, then latency lines).
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = os.path.join(ROOT, "layer_stats", "rawDataGeneration", "PowerLatencyDatasetGenerator.py")
KEYS_MW = "_mW"


def _run(root, board, models, extra):
    args = [sys.executable, GENERATOR, "--output_root", root, "--mode", "0", "--simulate", board, "--sim_seed", "7",
            "--models", ",".join(models), "--imgs", "img1.jpg", "--idle_duration", "1"] + extra
    env = dict(os.environ, FAKE_NVPMODEL_MODE="0",
               PATH=os.path.join(ROOT, "tests", "fixtures", "fake") + os.pathsep + os.environ.get("PATH", ""))
    start = time.monotonic()
    done = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if done.returncode:
        raise SystemExit("ERROR: generator failed: {}".format(done.stderr.strip().splitlines()[-1:]))
    return time.monotonic() - start


def _lines(root, kind):
    base = os.path.join(root, "LayerStats", "Mode0", "cpu", kind)
    out = []
    for network in sorted(os.listdir(base)):
        with open(os.path.join(base, network, "img1.jsonl")) as handle:
            out.extend(json.loads(line) for line in handle)
    return out


def _core_mean(line):
    feed = line["power_samples"] if line.get("power_sampler") == "ina" else line["samples"]
    if "core_start" in line:
        lo, hi = line["core_start"], line.get("core_end", line["t_end"])
    else:
        lo, hi = line["t_start"] + line["boundary_s"], line["t_end"] - line["boundary_s"]
    values = [v for s in feed if lo < s["t"] <= hi for k, v in s["values"].items() if k.endswith(KEYS_MW)]
    return sum(values) / len(values) if values else float("nan")


def _summary(root):
    power, latency = _lines(root, "power"), _lines(root, "latency")
    device_s = sum(l["t_end"] - l["t_start"] + l["settle_s"] for l in power) + sum(sum(l["samples_s"]) for l in latency)
    stops = collections.Counter("power:" + l["stop"] for l in power)
    stops.update("latency:" + l["stop"] for l in latency)
    rels = sorted(l["ci_rel"] for l in power if l["ci_rel"] is not None)
    lat_rels = sorted(l["ci_rel"] for l in latency if l.get("ci_rel") is not None)
    means = {(l["network"], l["layer"]): _core_mean(l) for l in power}
    return device_s, stops, (rels, lat_rels), means


def _quantiles(values):
    if not values:
        return "none"
    pick = [values[min(len(values) - 1, int(q * len(values)))] for q in (0.1, 0.5, 0.9)]
    return "p10 {:.4f}  p50 {:.4f}  p90 {:.4f}  max {:.4f}".format(pick[0], pick[1], pick[2], values[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="orin")
    parser.add_argument("--models", default="resnet18", help="comma-separated models, or all-available")
    parser.add_argument("--quick", action="store_true", help="a short fixed window (0.1 + 1 + 0.1 s, 30 runs)")
    parser.add_argument("--samplers", default="tegrastats,ina,ina-auto",
                        help="adaptive runs: a power sampler each, -auto for --tgr_smpl_boundary auto")
    parser.add_argument("--baseline", metavar="DIR",
                        help="the fixed run's --output_root from an earlier run of this benchmark with the same "
                             "models and --quick (its raw data are read, not measured again)")
    args = parser.parse_args(argv)
    if args.models == "all-available":
        with open(os.path.join(ROOT, "AvailableModel.txt")) as handle:
            models = [m.strip() for line in handle if not line.startswith("#") for m in line.split(",") if m.strip()]
        args.quick = True
    else:
        models = args.models.split(",")
    short = ["--tgr_smpl_boundry", "0.1", "--tgr_smpl_duration", "1", "--lt_smpl_count", "30"] if args.quick else []
    work = tempfile.mkdtemp(prefix="bench_adaptive-")
    runs = [] if args.baseline else [("fixed tegrastats", ["--power_sampler", "tegrastats"] + short)]
    for sampler in args.samplers.split(","):
        name, auto = sampler.split("-")[0], sampler.endswith("-auto")
        runs.append(("ci 0.02 " + sampler, ["--power_sampler", name, "--tgr_ci", "0.02", "--lt_ci", "0.02"] + short +
                     (["--tgr_smpl_boundary", "auto"] if auto else [])))
    results = [("fixed tegrastats", float("nan")) + _summary(args.baseline)] if args.baseline else []
    for name, extra in runs:
        root = os.path.join(work, name.replace(" ", "_"))
        wall = _run(root, args.board, models, extra)
        results.append((name, wall) + _summary(root))
    base_s, base_means = results[0][2], results[0][5]
    print("{} on --simulate {} (cpu, img1.jpg); device time = sum of windows + settle + timed runs".format(
        ",".join(models) if len(models) < 4 else "{} models".format(len(models)), args.board))
    for name, wall, device_s, stops, rels, means in results:
        agree = [abs(means[k] / base_means[k] - 1.0) for k in base_means if k in means]
        within = sum(1 for d in agree if d <= 0.05)
        print("{:18s} device {:7.1f} s (x{:.3f})  wall {:7.1f} s  power within 5% of fixed: {}/{}  stops {}".format(
            name, device_s, device_s / base_s, wall, within, len(agree), dict(sorted(stops.items()))))
        print("{:18s} power ci_rel {}".format("", _quantiles(rels[0])))
        print("{:18s} latency ci_rel {}".format("", _quantiles(rels[1])))
        if len(agree) <= 30 and name != results[0][0]:
            print("{:18s} per layer |diff|: {}".format("", " ".join("{:.3f}".format(d) for d in agree)))
    print("raw data kept under {}".format(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
