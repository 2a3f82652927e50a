"""Benchmark: the power-monitor sampler on the simulator, as a user and as a run use it.

1. ``record``, as a user types it: ``python3 -m layer_stats.power record --simulate
   BOARD --rails RAIL --rate HZ --duration S --out FILE``; prints the fresh readings
   kept, whether their timestamps increase, the achieved rate and the share of a core
   the sampling loop used (the command's own figure: CPU time / wall time of the loop).
2. ``sample``, the child a measuring run starts: its whole process's CPU time from
   /proc while it samples for S seconds (after its start-up), over the same simulated
   monitors.

Goal (issue 10): one rail at 500 Hz for 4 s keeps >= 1,600 fresh readings with
increasing timestamps, and sampling uses < 10% of one core.  Not a test: run it by
hand from the checkout's root::

    python3 -m tests.benchmarks.bench_power_sampler [--board orin] [--rails VDD_IN]
        [--rate 500] [--duration 4] [--repeat 3]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from layer_stats.paths import PACKAGE_PARENT
from layer_stats.power.start import serve_simulated

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _cpu_s(pid):
    """utime + stime of process ``pid`` (s), from /proc."""
    with open("/proc/{}/stat".format(pid)) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def _readings(path):
    with open(path) as handle:
        lines = handle.read().splitlines()
    return [json.loads(line)["t_mono"] for line in lines[1:]]


def bench_record(args, folder):
    out = os.path.join(folder, "record.jsonl")
    proc = subprocess.run([sys.executable, "-m", "layer_stats.power", "record", "--simulate", args.board, "--rails",
                           args.rails, "--rate", str(args.rate), "--duration", str(args.duration), "--out", out],
                          cwd=PACKAGE_PARENT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if proc.returncode:
        sys.exit("record failed:\n" + proc.stdout)
    stamps = _readings(out)
    share = re.search(r"sampling used ([\d.]+)% of a core", proc.stdout)
    os.unlink(out)
    return {"fresh": len(stamps), "increasing": all(b > a for a, b in zip(stamps, stamps[1:])),
            "rate_hz": (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0,
            "loop_core_pct": float(share.group(1)) if share else float("nan")}


def bench_sample_child(args, folder):
    with serve_simulated(args.board, folder) as root:
        proc = subprocess.Popen([sys.executable, "-m", "layer_stats.power", "sample", "--rails", args.rails, "--rate",
                                 str(args.rate), "--sys_root", root, "--board", args.board], cwd=PACKAGE_PARENT,
                                stdout=subprocess.PIPE, universal_newlines=True)
        try:
            proc.stdout.readline()  # the header
            proc.stdout.readline()  # the first reading: start-up is over
            cpu0, t0 = _cpu_s(proc.pid), time.monotonic()
            count = 0
            while time.monotonic() - t0 < args.duration:
                if not proc.stdout.readline():
                    break
                count += 1
            cpu1, t1 = _cpu_s(proc.pid), time.monotonic()
        finally:
            proc.terminate()
            proc.wait()
    return {"fresh": count, "core_pct": 100.0 * (cpu1 - cpu0) / (t1 - t0)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", default="orin")
    parser.add_argument("--rails", default="VDD_IN")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-power-")
    try:
        print("board {}, rails {}, {:g} Hz for {:g} s, {} repeats".format(args.board, args.rails, args.rate,
                                                                          args.duration, args.repeat))
        for i in range(args.repeat):
            rec = bench_record(args, folder)
            child = bench_sample_child(args, folder)
            print("run {}: record kept {} fresh readings (timestamps increasing: {}), {:.1f} Hz, loop used {:.1f}% "
                  "of a core | sample child: {} readings, process used {:.1f}% of a core".format(
                      i + 1, rec["fresh"], rec["increasing"], rec["rate_hz"], rec["loop_core_pct"], child["fresh"],
                      child["core_pct"]))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
