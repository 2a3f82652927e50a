"""Device names as the seed uses them (``cpu``, ``cuda``) and the torch devices behind them.

Tests add stand-in names with the environment variable ``DNN_STATS_TEST_DEVICES``
(``name=torchdevice,...``, e.g. ``fakegpu=cpu``) so code paths that move work
between two devices run in CI without a GPU.
"""
import collections
import os

from .errors import DnnStatsError

__all__ = ["DEVICES", "device_table", "torch_device", "check_devices"]

#: The seed's device names -> torch device strings.
DEVICES = collections.OrderedDict([("cpu", "cpu"), ("cuda", "cuda")])
_TEST_VAR = "DNN_STATS_TEST_DEVICES"


def device_table(environ=None):
    """:data:`DEVICES` plus the test stand-ins named in ``DNN_STATS_TEST_DEVICES``."""
    table = collections.OrderedDict(DEVICES)
    text = (os.environ if environ is None else environ).get(_TEST_VAR, "")
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, target = item.partition("=")
        table[name.strip()] = target.strip() or "cpu"
    return table


def torch_device(name):
    """The torch device string for a device name; raises for an unknown name."""
    table = device_table()
    if name not in table:
        raise DnnStatsError("unknown device {!r}: use {}".format(name, ", ".join(table)))
    return table[name]


def check_devices(names, option="--device_list", dry_run=False):
    """Raise DnnStatsError for unknown names, or for cuda without CUDA (unless ``dry_run``);
    ``option`` is the flag the message names."""
    for name in names:
        torch_device(name)
    if dry_run:
        return
    if any(torch_device(n).startswith("cuda") for n in names):
        import torch
        if not torch.cuda.is_available():
            raise DnnStatsError("{} asks for cuda, but this torch ({}) sees no CUDA GPU: use {} cpu{}, or install "
                                "the board's CUDA-enabled torch wheel".format(
                                    option, torch.__version__, option,
                                    ", --dry_run to see the plan" if option == "--device_list" else ""))
