"""Benchmark: wall time of both post-processing scripts, before (hand-written grouping,
commit 051210a) and now (one pandas DataFrame per product).

Each script runs as a user runs it (a new interpreter, by path, torch not needed), on:

- the compat fixture (``tests/fixtures/compat/raw``: 8 layer-wise files, 10 multi-DNN
  samples, made by the generators on the simulator);
- a larger dataset of the same real files copied under many names: layer-wise, each
  network's files under ``{network}_{i}`` (8 files a copy); multi-DNN, each sample as
  ``Map{n + 10 i}`` (10 files a copy); ``--files`` of each (default 200).

The before tree is taken from git without touching the checkout (``git archive REV``,
unpacked into a temporary folder).  Prints the median of ``--repeat`` runs.  Not a test:
run it by hand, from the checkout's root (installed or not)::

    python3 -m tests.benchmarks.bench_postprocess [--files 200] [--repeat 3] [--before 051210a]
"""
import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPAT = os.path.join(ROOT, "tests", "fixtures", "compat", "raw")
LAYER_SCRIPT = os.path.join("layer_stats", "processedDataGeneration", "processData.py")
MULTI_SCRIPT = os.path.join("multi_network_stats", "postProcessMultinetDB.py")


def unpack(rev, target):
    """The tree of commit ``rev`` in ``target`` (``git archive``: the checkout is not touched)."""
    done = subprocess.run(["git", "archive", rev], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if done.returncode:
        raise SystemExit("ERROR: git archive {} failed: {}".format(rev, done.stderr.decode().strip()))
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(target)


def layerwise_copies(target, copies):
    """The compat layer-wise files under ``copies`` names per network; returns the input root."""
    mode = os.path.join(COMPAT, "LayerStats", "Mode0")
    for folder, _, names in os.walk(mode):
        rel = os.path.relpath(folder, mode).split(os.sep)
        for name in names:
            if len(rel) != 3:  # run file: not a raw file
                continue
            device, kind, network = rel
            for i in range(copies):
                out = os.path.join(target, "LayerStats", "Mode0", device, kind, "{}_{}".format(network, i))
                if not os.path.isdir(out):
                    os.makedirs(out)
                shutil.copyfile(os.path.join(folder, name), os.path.join(out, name))
    return target


def multinet_copies(target, copies):
    """The compat multi-DNN samples under ``copies`` map indices each; returns the input root."""
    mode = os.path.join(COMPAT, "Multinet", "Mode0")
    out = os.path.join(target, "Mode0")
    os.makedirs(out)
    names = sorted(n for n in os.listdir(mode) if "_Map" in n)
    for i in range(copies):
        for name in names:
            head, tail = name.split("_Map")
            index, rest = tail.split("_", 1)
            copy = "{}_Map{}_{}".format(head, int(index) + len(names) * i, rest)
            shutil.copyfile(os.path.join(mode, name), os.path.join(out, copy))
    return target


def wall_s(tree, script, args, scratch, repeat):
    """Median wall time (s) of ``repeat`` runs of ``script`` of ``tree`` with ``args``."""
    times = []
    for _ in range(repeat):
        out = tempfile.mkdtemp(dir=scratch)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, os.path.join(tree, script)] + args + [out], cwd=scratch,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        times.append(time.perf_counter() - start)
        if done.returncode:
            raise SystemExit("ERROR: {} failed: {}".format(script, done.stderr.strip()[-2000:]))
        shutil.rmtree(out)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200, help="raw files of each product in the larger dataset")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (the median is shown)")
    parser.add_argument("--before", default="051210a", help="the commit to compare with (default 051210a)")
    args = parser.parse_args(argv)
    scratch = tempfile.mkdtemp(prefix="bench_postprocess_")
    try:
        before = os.path.join(scratch, "before")
        unpack(args.before, before)
        layer_copies, multi_copies = max(1, args.files // 8), max(1, args.files // 10)
        cases = [
            ("layer-wise, compat (8 files)", LAYER_SCRIPT, ["--input_root", COMPAT]),
            ("layer-wise, {} files".format(8 * layer_copies), LAYER_SCRIPT,
             ["--input_root", layerwise_copies(os.path.join(scratch, "layer"), layer_copies)]),
            ("multi-DNN, compat (10 files)", MULTI_SCRIPT, ["--input_file_root", os.path.join(COMPAT, "Multinet")]),
            ("multi-DNN, {} files".format(10 * multi_copies), MULTI_SCRIPT,
             ["--input_file_root", multinet_copies(os.path.join(scratch, "multi"), multi_copies)]),
        ]
        print("Python {}; median of {} runs, wall s (interpreter start and imports included)".format(
            sys.version.split()[0], args.repeat))
        print("{:<34} {:>14} {:>10} {:>8}".format("dataset", "before " + args.before, "now", "now/before"))
        for label, script, inputs in cases:
            output = ["--output_root" if script == LAYER_SCRIPT else "--output_file_root"]
            old = wall_s(before, script, inputs + output, scratch, args.repeat)
            new = wall_s(ROOT, script, inputs + output, scratch, args.repeat)
            print("{:<34} {:>14.2f} {:>10.2f} {:>8.2f}".format(label, old, new, new / old))
    finally:
        shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
