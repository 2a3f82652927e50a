"""Networks of a multi-DNN run, built once and kept while a memory budget allows.

Building, splitting and counting a network costs seconds (densenet121: about 5 s
on a 2-core x86 host), far more than a mapping's overhead should.  A
:class:`NetworkCache` builds each network once (random weights), cuts it into its
block chain, checks the layer count against the one the plan used, and counts
ModelInfo once per layer (a stage's figures are the sums over its layers: every
count is per operation, so the sum over a stage's layers is the stage's count);
then every mapping that runs the network reuses that chain.

Devices: one copy of each network.  A mapping's stages are built from the cached
layers by :func:`.stages.build_stages`, which moves each layer to its stage's
device in place (``Module.to``, a no-op for a layer already there).  A network
appears at most once in a mapping and mappings run one after another, so no
layer is ever wanted on two devices at once; a network whose stages change device
between mappings pays one copy of those layers' weights.  (A copy per device
would double what the cache holds, and on a Jetson CPU and GPU share one memory.)
The layers of a block chain share no parameter or buffer (checked for the
default models and the transformer families), so moving one stage never moves
another's weights.

Memory: the cache counts each network's parameter and buffer bytes
(:attr:`CachedNetwork.nbytes`).  Before building a network and after every
mapping it drops least-recently-used networks until the total is within the
budget, never one the running mapping uses; so at most ``budget`` + the running
mapping's networks + the one being built are held.  A budget of 0 rebuilds every
network for every mapping, as the seed did.  Default: 1/8 of the machine's
memory (:func:`default_budget_bytes`: 512 MiB on a 4 GB TX2, 2 GiB on a 16 GB
Orin NX).  The runner empties the cache (:meth:`NetworkCache.clear`) after a CUDA
out-of-memory error.
"""
import collections
import gc
import logging

logger = logging.getLogger(__name__)

__all__ = ["CachedNetwork", "NetworkCache", "default_budget_bytes", "budget_from_mb", "sum_info"]

#: Fraction of the machine's memory the cache may hold by default.
DEFAULT_SHARE = 1.0 / 8
#: Budget when the machine's memory cannot be read (bytes).
FALLBACK_BUDGET = 512 * 2 ** 20

#: ``name``; ``chain``: :class:`~layer_stats.models.split.LayerChain` (block);
#: ``layer_info``: per layer, the ModelInfo dict of :func:`.modelinfo.layer_infos`;
#: ``nbytes``: parameter and buffer bytes (each tensor once).
CachedNetwork = collections.namedtuple("CachedNetwork", "name chain layer_info nbytes")


def default_budget_bytes(meminfo="/proc/meminfo"):
    """:data:`DEFAULT_SHARE` of ``MemTotal`` (bytes), or :data:`FALLBACK_BUDGET` where it cannot be read."""
    try:
        with open(meminfo) as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(int(line.split()[1]) * 1024 * DEFAULT_SHARE)
    except (IOError, OSError, ValueError, IndexError):
        pass
    return FALLBACK_BUDGET


def _tensor_bytes(layers):
    seen, total = set(), 0
    for layer in layers:
        for tensor in list(layer.parameters()) + list(layer.buffers()):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total


def sum_info(infos):
    """One ModelInfo dict for consecutive layers: integer figures summed (params, MACs,
    FLOPs, leaf operations), other entries (backend, labels) taken from the first."""
    out = collections.OrderedDict()
    for info in infos:
        for key, value in info.items():
            if isinstance(value, int) and not isinstance(value, bool):
                out[key] = out.get(key, 0) + value
            else:
                out.setdefault(key, value)
    return out


class NetworkCache(object):
    """``get(name)`` -> :class:`CachedNetwork`, built on first use (see module doc).

    ``layer_counts``: {name: block layer count the plan used} (a network built
    with another count raises DnnStatsError); ``example``: a 1 x 3 x 224 x 224 CPU
    tensor for counting; ``func_layer_count``: also count leaf operations;
    ``budget_bytes``: see module doc.
    """

    def __init__(self, layer_counts, example, func_layer_count, budget_bytes):
        self.layer_counts, self.example = layer_counts, example
        self.func_layer_count, self.budget = func_layer_count, max(0, int(budget_bytes))
        self.nets = collections.OrderedDict()  # least recently used first
        self.backend = None
        self.builds, self.hits, self.evictions = 0, 0, 0

    @property
    def total_bytes(self):
        return sum(net.nbytes for net in self.nets.values())

    def get(self, name, keep=()):
        """The cached network ``name``, building it (after :meth:`trim` with ``keep``) if needed."""
        if name in self.nets:
            self.nets.move_to_end(name)
            self.hits += 1
            return self.nets[name]
        self.trim(keep)
        net = self._build(name)
        self.nets[name] = net
        return net

    def stage_info(self, net, first, last):
        """ModelInfo of layers ``first..last`` (inclusive) of ``net``."""
        return sum_info(net.layer_info[first:last + 1])

    def trim(self, keep=()):
        """Drop least-recently-used networks not in ``keep`` until the total fits the budget."""
        dropped = []
        for name in list(self.nets):
            if self.total_bytes <= self.budget:
                break
            if name not in keep:
                dropped.append(name)
                del self.nets[name]
        if dropped:
            self._released(dropped)

    def clear(self):
        """Drop every network (after CUDA ran out of memory)."""
        dropped = list(self.nets)
        self.nets.clear()
        if dropped:
            self._released(dropped)

    def _released(self, names):
        self.evictions += len(names)
        gc.collect()  # fx GraphModules hold reference cycles: free their weights now, not later
        _empty_cuda_cache()
        logger.debug("dropped %s from the network cache (%.0f MiB held)", ", ".join(names), self.total_bytes / 2 ** 20)

    def _build(self, name):
        from layer_stats.models.layer_table import check_count
        from layer_stats.models.registry import build_model
        from layer_stats.models.split import split_model

        chain = split_model(build_model(name))
        check_count(name, len(chain.layers), self.layer_counts[name])
        net = CachedNetwork(name, chain, self._layer_info(chain), _tensor_bytes(chain.layers))
        self.builds += 1
        logger.info("built %s: %d layers, %.1f MiB of weights (network cache: %d held, budget %.0f MiB)",
                    name, len(chain.layers), net.nbytes / 2 ** 20, len(self.nets) + 1, self.budget / 2 ** 20)
        return net

    def _layer_info(self, chain):
        """ModelInfo per layer (:func:`.modelinfo.layer_infos`: the layer-wise features' figures),
        counted on the CPU, before any layer moves to another device."""
        from .modelinfo import flops_backend, layer_infos

        self.backend = self.backend or flops_backend()
        return layer_infos(chain, self.example, self.func_layer_count)


def _empty_cuda_cache():
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def budget_from_mb(cache_mb):
    """``--cache_mb`` (None: the default) -> bytes."""
    return default_budget_bytes() if cache_mb is None else int(float(cache_mb) * 2 ** 20)

