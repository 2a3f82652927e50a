"""Run metadata: small ``collect_*`` functions, each returning a flat dict, merged
into one dict written with every run (``run-<UTC start>.json``).

A fact this host cannot give (not a Jetson, no CUDA) is recorded as
``"unavailable"``, never guessed.  ``root`` is the file-system root to read
board files from ("/" normally; a fake tree in tests).
"""
import glob
import os
import platform
import re
import shutil
import sys

from . import __version__
from .clock import utc_now_iso
from .tegrastats.detect import read_model

__all__ = ["UNAVAILABLE", "collect_board", "collect_l4t", "collect_jetson_clocks", "collect_software",
           "collect_host", "collect_telemetry", "collect_args", "collect_all"]

UNAVAILABLE = "unavailable"
_L4T = re.compile(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)")


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def collect_board(root="/"):
    """``board_model`` (device-tree model string)."""
    return {"board_model": read_model(root) or UNAVAILABLE}


def collect_l4t(root="/"):
    """``l4t_release`` (e.g. ``32.7.1``) from /etc/nv_tegra_release."""
    text = _read(os.path.join(root, "etc/nv_tegra_release")) or ""
    match = _L4T.search(text)
    return {"l4t_release": "{}.{}".format(match.group(1), match.group(2)) if match else UNAVAILABLE}


def collect_jetson_clocks(root="/"):
    """``jetson_clocks``: ``on`` when every online CPU's minimum clock is pinned to its
    maximum (what jetson_clocks does), ``off`` otherwise; ``cpu_max_MHz`` per core."""
    cores = sorted(glob.glob(os.path.join(root, "sys/devices/system/cpu/cpu[0-9]*/cpufreq")))
    pinned, max_mhz = [], []
    for folder in cores:
        low = _read(os.path.join(folder, "scaling_min_freq"))
        high = _read(os.path.join(folder, "cpuinfo_max_freq"))
        if low is None or high is None:
            continue
        pinned.append(int(low) == int(high))
        max_mhz.append(int(high) // 1000)
    if not pinned or not os.path.exists(os.path.join(root, "etc/nv_tegra_release")):
        return {"jetson_clocks": UNAVAILABLE, "cpu_max_MHz": max_mhz or UNAVAILABLE}
    return {"jetson_clocks": "on" if all(pinned) else "off", "cpu_max_MHz": max_mhz}


def collect_software():
    """``python``, ``torch``, ``torchvision``, ``cuda`` (torch's CUDA build), ``cuda_available``,
    ``cudnn``, ``tool_version``; torch facts only if torch is already imported."""
    info = {"python": platform.python_version(), "tool_version": __version__,
            "torch": UNAVAILABLE, "torchvision": UNAVAILABLE, "cuda": UNAVAILABLE,
            "cuda_available": False, "cudnn": UNAVAILABLE, "gpu_name": UNAVAILABLE}
    torch = sys.modules.get("torch")
    if torch is None:
        return info
    info["torch"] = torch.__version__
    tv = sys.modules.get("torchvision")
    info["torchvision"] = tv.__version__ if tv is not None else UNAVAILABLE
    info["cuda"] = torch.version.cuda or UNAVAILABLE
    info["cuda_available"] = bool(torch.cuda.is_available())
    if info["cuda_available"]:
        info["gpu_name"] = torch.cuda.get_device_name(0)
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def collect_host():
    """``hostname``, ``kernel``, ``machine``, ``cpu_count``, ``invoked_by`` (SUDO_USER or USER)."""
    return {"hostname": platform.node(), "kernel": platform.release(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "invoked_by": os.environ.get("SUDO_USER") or os.environ.get("USER", "")}


def collect_telemetry(source, board):
    """``telemetry`` (tegrastats/simulated/replay), ``telemetry_detail``, ``board``, ``simulated``."""
    return {"telemetry": source.kind, "telemetry_detail": source.detail, "board": board,
            "simulated": source.kind == "simulated"}


def collect_args(args, argv=None):
    """``args`` (the parsed options as a dict) and ``command`` (the command line)."""
    return {"args": {k: v for k, v in sorted(vars(args).items())},
            "command": " ".join([os.path.basename(sys.argv[0])] + list(sys.argv[1:] if argv is None else argv))}


def collect_all(root="/"):
    """Every host fact that needs no run context, plus ``collected_at``."""
    meta = {"collected_at": utc_now_iso()}
    for collect in (collect_board, collect_l4t, collect_jetson_clocks):
        meta.update(collect(root))
    meta.update(collect_software())
    meta.update(collect_host())
    meta["tegrastats_binary"] = shutil.which("tegrastats") or UNAVAILABLE
    stand_ins = os.environ.get("DNN_STATS_TEST_DEVICES")
    if stand_ins:
        meta["test_device_stand_ins"] = stand_ins  # data from a test run, not from real devices
    return meta
