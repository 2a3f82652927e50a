"""A network of a mapping as stages: runs of consecutive block layers, each on one device.

Device names are the seed's (``cpu``, ``cuda``).  Tests add stand-in names with
the environment variable ``DNN_STATS_TEST_DEVICES`` (``name=torchdevice,...``,
e.g. ``fakegpu=cpu``) so the split-stage path runs in CI without a GPU; run
metadata records any stand-in in use.
"""
import collections
import os

from ..errors import DnnStatsError
from .plan import stage_bounds

__all__ = ["DEVICES", "device_table", "torch_device", "Stage", "build_stages", "check_devices"]

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


def check_devices(names, dry_run=False):
    """Raise DnnStatsError for unknown names, or for cuda without CUDA (unless ``dry_run``)."""
    for name in names:
        torch_device(name)
    if dry_run:
        return
    if any(torch_device(n).startswith("cuda") for n in names):
        import torch
        if not torch.cuda.is_available():
            raise DnnStatsError("--device_list asks for cuda, but this torch ({}) sees no CUDA GPU: use "
                                "--device_list cpu, or --dry_run to see the plan".format(torch.__version__))


#: ``key``: the mapping's stage key; ``device``: its device name; ``first``/``last``:
#: layer indices (inclusive); ``module``: the layers in order, on the device.
Stage = collections.namedtuple("Stage", "key device first last module")


def build_stages(chain, stages):
    """:class:`Stage` list for a network's ``{stage_key: device}`` over its block ``chain``."""
    import torch

    out = []
    for (first, last, device), key in zip(stage_bounds(stages, len(chain.layers)), stages):
        module = torch.nn.Sequential(*chain.layers[first:last + 1]).to(torch_device(device)).eval()
        out.append(Stage(key, device, first, last, module))
    return out
