"""Per-layer features of a layer chain: what each layer is, the shapes it takes and gives, and
its size (parameters, MACs, FLOPs, leaf operations).  One function serves both products: the
layer-wise features files (:mod:`layer_stats.layerwise.features`) and the multi-DNN ModelInfo
(:mod:`multi_network_stats.modelinfo`), so both agree on every layer.

:func:`layer_features` gives, per layer of a :class:`~.split.LayerChain`, a plain dict with
the keys of :data:`FEATURE_KEYS`:

- ``layer``: the index (int, from 0); ``name``: ``chain.names[i]`` (the units it holds);
- ``types``: the class names of the ``torch.nn`` modules the layer calls, in call order, joined
  with ``+`` (``Conv2d+BatchNorm2d+ReLU+MaxPool2d``), from a torch.fx trace with the default
  leaves (the trace that counts ``leaf_ops``: :func:`~.split.leaf_calls`).  A layer that calls
  no module (a ``fine`` layer holding only ``flatten``) gives its functions' and methods'
  names instead (``flatten``), lower case as torch spells them;
- ``input_shape``, ``output_shape``: lists of ints, batch first;
- ``params``: parameters that require grad; ``macs``, ``flops``: for one pass of the whole
  input (every image of the batch), by :func:`~.complexity.count_complexity` (the method
  :data:`~.complexity.METHOD`, the same integers on torch 1.10 and 2.x);
- ``leaf_ops``: the number of leaf operations (:func:`~.split.leaf_operations`).

With ``leaf_ops=False`` the layers are not traced again (tracing is most of the cost):
``types`` and ``leaf_ops`` are None.

:func:`feature_totals` sums them into the whole network's figures: every counted call
happens in exactly one layer, so the sums are the whole model's params, MACs and FLOPs
(resnet50 25.56 M / 4.09 G / 8.21 G at batch 1).  A parameter two layers use would count in
both; the layers of a ``block`` chain share none.

Counting runs where the chain's layers and ``example`` are: the CPU, before the layers move
to a device (the figures depend on shapes alone, so zeros serve as the example).  Only
:func:`layer_features` needs torch; :func:`feature_totals` is plain Python.
"""
import collections
import logging

logger = logging.getLogger(__name__)

__all__ = ["FEATURE_KEYS", "TOTAL_KEYS", "SUMMED", "layer_features", "feature_totals"]

#: The keys of a layer's dict, in order.
FEATURE_KEYS = ("layer", "name", "types", "input_shape", "output_shape", "params", "macs", "flops", "leaf_ops")
#: The figures that add up over layers into the network's.
SUMMED = ("params", "macs", "flops", "leaf_ops")
#: The keys of :func:`feature_totals`, in order.
TOTAL_KEYS = ("input_shape", "output_shape") + SUMMED


def layer_features(chain, example, leaf_ops=True):
    """Per layer of ``chain`` (a :class:`~.split.LayerChain`), its features dict (module doc),
    for ``example`` (a tensor of the model's input shape, batch first, where the layers are).

    Runs the chain twice without grad (once for the shapes, once counting) in eval mode (the
    modules' training flags are restored).  Raises DnnStatsError where a layer cannot run on its
    input or cannot be traced.
    """
    from .complexity import count_complexity
    from .split import chain_inputs, leaf_calls

    flags = [(module, module.training) for layer in chain.layers for module in layer.modules()]
    try:
        for layer in chain.layers:
            layer.eval()
        inputs, output = chain_inputs(chain.layers, example)
    finally:
        for module, flag in flags:
            module.training = flag
    outputs = inputs[1:] + [output]
    out = []
    for index, (layer, x, y) in enumerate(zip(chain.layers, inputs, outputs)):
        counted = count_complexity(layer, x)
        calls = leaf_calls(layer) if leaf_ops else None
        out.append(collections.OrderedDict([
            ("layer", index), ("name", chain.names[index]), ("types", _types(calls)),
            ("input_shape", _shape(x)), ("output_shape", _shape(y)), ("params", int(counted.params)),
            ("macs", int(counted.macs)), ("flops", int(counted.flops)),
            ("leaf_ops", None if calls is None else len(calls))]))
    return out


def _shape(tensor):
    return [int(size) for size in tensor.shape]


def _types(calls):
    """``Conv2d+BatchNorm2d+ReLU`` from :func:`~.split.leaf_calls`; function names where no
    module is called; None where not traced."""
    if calls is None:
        return None
    modules = [name for op, name in calls if op == "call_module"]
    return "+".join(modules or [name for _, name in calls])


def feature_totals(layers):
    """The whole network's figures from its layers' dicts (:func:`layer_features`, in order):
    ``input_shape`` (the first layer's), ``output_shape`` (the last layer's) and the sums of
    :data:`SUMMED` (None where any layer has None).  ``layers`` must not be empty."""
    out = collections.OrderedDict([("input_shape", list(layers[0]["input_shape"])),
                                   ("output_shape", list(layers[-1]["output_shape"]))])
    for key in SUMMED:
        values = [layer[key] for layer in layers]
        out[key] = None if any(v is None for v in values) else sum(values)
    return out
