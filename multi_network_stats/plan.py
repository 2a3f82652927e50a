"""The multi-DNN mapping plan: which networks run together, and where each stage runs.

Pure Python (no torch), deterministic for a seed.  A *mapping* is the seed's
``{network: {stage_key: device}}``: a network's stages in order, an earlier
stage keyed by the index of its last layer, the last stage by the network's
block layer count (resnet50 whole on the GPU: ``{"resnet50": {"22": "cuda"}}``).

Classes:

- ``A``: one network alone on one device (``single_nets``: every model x every
  device, first in the plan; these do not count towards ``num_samples``);
- ``B``: every network whole on the GPU (``gpu_only_maps``: one per set);
- ``C``: every network whole, each on a device drawn by the priorities;
- ``D``: like C, but 1..``max_split_nets`` networks split into contiguous
  stages on distinct devices.

``num_samples`` is split evenly over the k values of ``nets_range`` (the
remainder goes to the last).  For each k, sets of k networks are drawn so that
every model is used about equally (least used first, ties broken at random);
each set gets ``samples_per_set`` mappings: B first, then C and D in turn.
No mapping repeats within a set.
"""
import collections
import json
import math
import random

from layer_stats.errors import DnnStatsError

__all__ = ["PlannedMapping", "PlanOptions", "make_plan", "stage_bounds", "mapping_file", "GPU"]

GPU = "cuda"

#: One entry of the plan: ``index`` (position in the whole plan, what
#: ``--start_idx`` counts), ``cls`` (A-D), ``k`` (networks), ``set`` (set
#: number within k), ``mapping`` (OrderedDict), ``file`` (raw file name).
PlannedMapping = collections.namedtuple("PlannedMapping", "index cls k set mapping file")

#: ``layer_counts``: {model: block layer count}; ``devices``: list;
#: ``priorities``: list of weights (same length) or None for equal;
#: ``nets_range``: (low, high) inclusive; ``max_split_nets``: >= 1, or -1 for no limit.
PlanOptions = collections.namedtuple("PlanOptions", [
    "models", "layer_counts", "devices", "priorities", "num_samples", "nets_range", "samples_per_set",
    "single_nets", "gpu_only_maps", "max_split_nets", "seed"])

_MAX_TRIES = 50


def mapping_file(index, cls, k, set_number):
    """The seed's raw file name for a mapping."""
    kind = "SingleNet" if cls == "A" else "MultiNet"
    return "{}_Map{}_nm_{}_set_{}_class{}.json".format(kind, index, k, set_number, cls)


def stage_bounds(stages, layer_count):
    """``{stage_key: device}`` -> ``[(first_layer, last_layer, device), ...]`` (inclusive, 0-based).

    Raises DnnStatsError for keys out of order or out of range.
    """
    bounds, first = [], 0
    keys = list(stages)
    for position, key in enumerate(keys):
        last = int(key) if position < len(keys) - 1 else layer_count - 1
        if position == len(keys) - 1 and int(key) != layer_count:
            raise DnnStatsError("last stage key {} is not the layer count {}".format(key, layer_count))
        if last < first or last >= layer_count:
            raise DnnStatsError("stage keys {} do not cut {} layers into contiguous stages".format(keys, layer_count))
        bounds.append((first, last, stages[key]))
        first = last + 1
    return bounds


def _repeated(names):
    return sorted({name for name in names if list(names).count(name) > 1})


def check_options(opts):
    """Raise DnnStatsError, naming the flag, for options that cannot make a plan."""
    low, high = opts.nets_range
    if low < 1 or high < low:
        raise DnnStatsError("--numNetsRange {} {}: give LOW HIGH with 1 <= LOW <= HIGH".format(low, high))
    if high > len(opts.models):
        raise DnnStatsError("--numNetsRange up to {} needs at least {} models, the model list has {}".format(
            high, high, len(opts.models)))
    for flag, names in (("--model_list", opts.models), ("--device_list", opts.devices)):
        if _repeated(names):
            raise DnnStatsError("{} names {} more than once: name each once".format(flag, ", ".join(_repeated(names))))
    if not opts.devices:
        raise DnnStatsError("--device_list names no device: give cpu, cuda or both")
    if opts.priorities is not None:
        if len(opts.priorities) != len(opts.devices):
            raise DnnStatsError("--device_priorities has {} values for {} devices ({}): give one per device".format(
                len(opts.priorities), len(opts.devices), ",".join(opts.devices)))
        if not all(math.isfinite(p) and p >= 0 for p in opts.priorities) or sum(opts.priorities) <= 0:
            raise DnnStatsError("--device_priorities must be finite numbers >= 0 and not all 0")
    if opts.num_samples < 0 or opts.samples_per_set < 1:
        raise DnnStatsError("--num_samples must be >= 0 and --samples_per_set >= 1")
    if opts.max_split_nets != -1 and opts.max_split_nets < 1:
        raise DnnStatsError("--max_split_nets {}: give a number >= 1, or -1 for no limit".format(opts.max_split_nets))
    missing = [m for m in opts.models if m not in opts.layer_counts]
    if missing:
        raise DnnStatsError("no layer count for {}".format(", ".join(missing)))


def _counts_per_k(num_samples, low, high):
    ks = list(range(low, high + 1))
    share = num_samples // len(ks)
    counts = [share] * len(ks)
    counts[-1] += num_samples - share * len(ks)
    return list(zip(ks, counts))


class _Planner(object):
    def __init__(self, opts):
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.weights = list(opts.priorities) if opts.priorities is not None else [1.0] * len(opts.devices)
        self.usage = collections.Counter({m: 0 for m in opts.models})

    def device(self):
        return self.rng.choices(self.opts.devices, weights=self.weights)[0]

    def draw_set(self, k):
        order = sorted(self.opts.models, key=lambda m: (self.usage[m], self.rng.random()))
        chosen = order[:k]
        for model in chosen:
            self.usage[model] += 1
        return chosen

    def whole(self, nets, device=None):
        return collections.OrderedDict(
            (n, collections.OrderedDict([(str(self.opts.layer_counts[n]), device or self.device())])) for n in nets)

    def split(self, net):
        count = self.opts.layer_counts[net]
        stages = self.rng.randint(2, min(len(self.opts.devices), count))
        devices = self.rng.sample(self.opts.devices, stages)
        cuts = sorted(self.rng.sample(range(count - 1), stages - 1))
        keys = [str(c) for c in cuts] + [str(count)]
        return collections.OrderedDict(zip(keys, devices))

    def with_splits(self, nets):
        mapping = self.whole(nets)
        limit = self.opts.max_split_nets if self.opts.max_split_nets > 0 else len(nets)
        splittable = [n for n in nets if self.opts.layer_counts[n] >= 2]
        if len(self.opts.devices) < 2 or not splittable:
            return None
        how_many = self.rng.randint(1, min(limit, len(splittable)))
        for net in self.rng.sample(splittable, how_many):
            mapping[net] = self.split(net)
        return mapping


def _key(mapping):
    return json.dumps(mapping, sort_keys=True)


def _fill_set(planner, nets, wanted, gpu_only):
    """Up to ``wanted`` distinct mappings for one set: B first, then C and D in turn."""
    made, seen = [], set()
    if gpu_only and wanted:
        mapping = planner.whole(nets, GPU)
        made.append(("B", mapping))
        seen.add(_key(mapping))
    turn = 0
    while len(made) < wanted:
        for _ in range(_MAX_TRIES):
            cls = "C" if turn % 2 == 0 else "D"
            mapping = planner.whole(nets) if cls == "C" else planner.with_splits(nets)
            if mapping is None:
                cls, mapping = "C", planner.whole(nets)
            if _key(mapping) not in seen:
                break
            turn += 1
        else:
            return made  # this set has no new mappings left
        seen.add(_key(mapping))
        made.append((cls, mapping))
        turn += 1
    return made


def make_plan(opts):
    """The whole plan: a list of :class:`PlannedMapping`, class A first."""
    check_options(opts)
    planner = _Planner(opts)
    plan = []

    def add(cls, k, set_number, mapping):
        index = len(plan)
        plan.append(PlannedMapping(index, cls, k, set_number, mapping, mapping_file(index, cls, k, set_number)))

    if opts.single_nets:
        set_number = 0
        for model in opts.models:
            for device in opts.devices:
                add("A", 1, set_number, planner.whole([model], device))
                set_number += 1
    gpu_only = opts.gpu_only_maps and GPU in opts.devices
    for k, total in _counts_per_k(opts.num_samples, *opts.nets_range):
        done, set_number, empty_sets = 0, 0, 0
        while done < total and empty_sets < _MAX_TRIES:
            nets = planner.draw_set(k)
            made = _fill_set(planner, nets, min(opts.samples_per_set, total - done), gpu_only)
            empty_sets = empty_sets + 1 if not made else 0
            for cls, mapping in made:
                add(cls, k, set_number, mapping)
            done += len(made)
            set_number += 1 if made else 0
    return plan
