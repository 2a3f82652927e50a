"""Benchmark: full tegrastats parsing vs a naive one-regex-per-field loop.

Prints lines/s for ``parse_file`` (every field of every line, converted to
numbers) next to a naive parser that runs one ``re.search`` per field for a
fixed subset of 20 fields, on the same log, in the same process: once keeping
the matched text, once converting it to numbers as a parser must.  Not a
test: run it by hand, from the checkout's root (installed or not)::

    python3 -m tests.benchmarks.bench_parse [LOG] [--repeat N]

Default LOG is the 4,111-line AGX Orin log of the test corpus.
"""
import argparse
import os
import re
import time

from layer_stats.tegrastats.parse import iter_lines, parse_file

HERE = os.path.dirname(os.path.abspath(__file__))

DEFAULT_LOG = os.path.join(
    HERE, os.pardir, "fixtures", "tegrastats", "agxorin64_jp6_abdel-e-tegrastats-parser.log")

# The naive baseline: one regex per field, 20 fields, as a hand-written parser would.
NAIVE_FIELDS = [
    ("RAM_used_MB", r"RAM (\d+)/"),
    ("RAM_total_MB", r"RAM \d+/(\d+)MB"),
    ("SWAP_used_MB", r"SWAP (\d+)/"),
    ("SWAP_total_MB", r"SWAP \d+/(\d+)MB"),
    ("CPU", r"CPU \[([^\]]*)\]"),
    ("EMC_FREQ_util_pct", r"EMC_FREQ (\d+)%"),
    ("EMC_FREQ_freq_MHz", r"EMC_FREQ \d+%@(\d+)"),
    ("GR3D_FREQ_util_pct", r"GR3D_FREQ (\d+)%"),
    ("GR3D_FREQ_freq_MHz", r"GR3D_FREQ \d+%@\[?(\d+)"),
    ("APE_freq_MHz", r"APE (\d+)"),
    ("temp_cpu_C", r"cpu@([\d.]+)C"),
    ("temp_gpu_C", r"gpu@([\d.]+)C"),
    ("temp_tj_C", r"tj@([\d.]+)C"),
    ("temp_soc0_C", r"soc0@([\d.]+)C"),
    ("VDD_GPU_SOC_mW", r"VDD_GPU_SOC (\d+)mW"),
    ("VDD_GPU_SOC_avg_mW", r"VDD_GPU_SOC \d+mW/(\d+)mW"),
    ("VDD_CPU_CV_mW", r"VDD_CPU_CV (\d+)mW"),
    ("VDD_CPU_CV_avg_mW", r"VDD_CPU_CV \d+mW/(\d+)mW"),
    ("VIN_SYS_5V0_mW", r"VIN_SYS_5V0 (\d+)mW"),
    ("VIN_SYS_5V0_avg_mW", r"VIN_SYS_5V0 \d+mW/(\d+)mW"),
]
NAIVE = [(name, re.compile(pattern)) for name, pattern in NAIVE_FIELDS]


def naive_loop(convert):
    """The naive parser; ``convert`` turns each value's text into a number (None: keep the text)."""
    def parse(path):
        for line in iter_lines(path):
            out = {}
            for name, pattern in NAIVE:
                m = pattern.search(line)
                if m is not None:
                    out[name] = m.group(1) if convert is None or name == "CPU" else convert(m.group(1))
            yield out
    return parse


def lines_per_s(func, path, repeat):
    """Best of ``repeat`` passes over the file, in lines per second."""
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        count = sum(1 for _ in func(path))
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return count, count / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?", default=DEFAULT_LOG)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    count, full = lines_per_s(parse_file, args.log, args.repeat)
    _, naive = lines_per_s(naive_loop(None), args.log, args.repeat)
    _, numbers = lines_per_s(naive_loop(float), args.log, args.repeat)
    print("log: {} ({} lines), best of {}".format(os.path.basename(args.log), count, args.repeat))
    print("parse_file (all fields, numbers):     {:10.0f} lines/s".format(full))
    print("naive loop, 20 fields, text only:     {:10.0f} lines/s  (full/naive {:.2f})".format(naive, full / naive))
    print("naive loop, 20 fields, numbers:       {:10.0f} lines/s  (full/naive {:.2f})".format(
        numbers, full / numbers))


if __name__ == "__main__":
    main()
