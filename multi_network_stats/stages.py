"""A network of a mapping as stages: runs of consecutive block layers, each on one device
(device names as in :mod:`layer_stats.devices`)."""
import collections

from layer_stats.devices import torch_device
from .plan import stage_bounds

__all__ = ["Stage", "build_stages"]

#: ``key``: the mapping's stage key; ``device``: its device name; ``first``/``last``:
#: layer indices (inclusive); ``module``: the layers in order, on the device.
Stage = collections.namedtuple("Stage", "key device first last module")


def build_stages(chain, stages):
    """:class:`Stage` list for a network's ``{stage_key: device}`` over its block ``chain``.

    Each layer is moved to its stage's device *in place* (``Module.to``; a no-op
    for a layer already there), so the chain's layers end up where this mapping
    wants them.  The network cache relies on this: one copy per network, moved
    as each mapping needs (see :mod:`.netcache`); never build stages of one chain
    for two mappings that run at the same time.
    """
    import torch

    out = []
    for (first, last, device), key in zip(stage_bounds(stages, len(chain.layers)), stages):
        module = torch.nn.Sequential(*chain.layers[first:last + 1]).to(torch_device(device)).eval()
        out.append(Stage(key, device, first, last, module))
    return out
