"""This host's real load, read from /proc and /sys: what drives the simulator.

All readers take ``root`` (default ``/``) so tests can point them at a fake
tree.  Missing files give empty results, never errors: containers often lack
cpufreq and swap.
"""
import io
import os

__all__ = ["read_cpu_times", "cpu_utilisation", "read_cpu_freqs", "read_meminfo", "largest_free_block"]


def _read(root, *parts):
    try:
        with io.open(os.path.join(root, *parts), "r", encoding="ascii", errors="replace") as handle:
            return handle.read()
    except (IOError, OSError):
        return ""


def read_cpu_times(root="/"):
    """Per-core ``(busy, total)`` jiffies from /proc/stat, in core order."""
    times = []
    for line in _read(root, "proc", "stat").splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
            total = sum(values[:8])  # guest time is already counted in user
            times.append((total - idle, total))
    return times


def cpu_utilisation(before, after):
    """Per-core load in [0, 1] between two :func:`read_cpu_times` readings."""
    loads = []
    for (busy0, total0), (busy1, total1) in zip(before, after):
        span = total1 - total0
        loads.append(min(1.0, max(0.0, (busy1 - busy0) / float(span))) if span > 0 else 0.0)
    return loads


def read_cpu_freqs(root="/"):
    """Per-core ``(current, max)`` clock in MHz from cpufreq; empty where cpufreq is absent."""
    freqs = []
    core = 0
    while True:
        base = ("sys", "devices", "system", "cpu", "cpu{}".format(core), "cpufreq")
        cur, top = _read(root, *(base + ("scaling_cur_freq",))), _read(root, *(base + ("cpuinfo_max_freq",)))
        if not cur.strip() or not top.strip():
            return freqs
        freqs.append((int(cur) / 1000.0, int(top) / 1000.0))
        core += 1


def read_meminfo(root="/"):
    """/proc/meminfo as {name: kB}."""
    info = {}
    for line in _read(root, "proc", "meminfo").splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            info[name] = int(fields[0])
    return info


def largest_free_block(root="/", page_kB=4):
    """``(count, size_kB)`` of the largest free block size in /proc/buddyinfo, as
    tegrastats' ``lfb`` reports it; ``(0, 4096)`` if buddyinfo is unreadable."""
    counts = {}
    for line in _read(root, "proc", "buddyinfo").splitlines():
        values = line.split()[4:]
        for order, count in enumerate(values):
            if count.isdigit():
                counts[order] = counts.get(order, 0) + int(count)
    for order in sorted(counts, reverse=True):
        if counts[order]:
            return counts[order], page_kB * (2 ** order)
    return 0, 4096
