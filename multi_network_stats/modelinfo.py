"""Model information per stage: parameters, MACs and FLOPs, and the count of leaf operations.

Per layer (:func:`layer_infos`, what the network cache sums into every stage) the figures are
the layer-wise features' (:func:`layer_stats.models.features.layer_features`): one function
counts both products, so a layer's ModelInfo here and its row of ``LayerStats.csv`` agree.

The figures come from :mod:`layer_stats.models.complexity`, which counts the torch
functions a forward pass calls with fixed rules, so a TX2 (torch 1.10) and an Orin
(torch 2.x) record the same figures for the same stage; they reproduce the seed's
(alexnet 61.1 M params / 714.19 M MACs / 1.43 G FLOPs, mobilenet_v2 3.5 M / 300.77 M /
614.97 M, resnet50 25.56 M / 4.09 G / 8.21 G).  The method is recorded with every
figure (``backend``).  Earlier raw files used ptflops: ``backend`` ``aten`` (torch 2;
MACs included bias additions, FLOPs were 2 x MACs) or ``pytorch`` (Python 3.6; it also
counted pooling, normalisation and activations as MACs).
"""
import logging

from layer_stats.errors import DnnStatsError

logger = logging.getLogger(__name__)

__all__ = ["human", "stage_info", "layer_infos", "flops_backend"]

#: What ``flops_are`` says in every record.
FLOPS_ARE = "2 x MACs + bias, normalisation, activation, pooling and softmax (DeepSpeed profiler rules)"


def human(value):
    """``61100840`` -> ``"61.1 M"``, ``4089185256`` -> ``"4.09 G"`` (2 decimals, as the seed prints)."""
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return "{} {}".format(round(value / scale, 2), unit)
    return str(round(value, 2))


def flops_backend():
    """The counting method recorded with every figure (the same on every torch)."""
    from layer_stats.models.complexity import METHOD
    return METHOD


def _record(params, macs, flops, leaf_ops=None):
    """A ModelInfo dict (its keys in order); ``functionalLayerCount`` only where ``leaf_ops`` is counted."""
    from layer_stats.models.complexity import METHOD

    info = {"params": params, "macs": macs, "flops": flops, "flops_are": FLOPS_ARE, "backend": METHOD}
    if leaf_ops is not None:
        info["functionalLayerCount"] = leaf_ops
    return info


def layer_infos(chain, example, func_layer_count):
    """ModelInfo per layer of ``chain`` (a block :class:`~layer_stats.models.split.LayerChain`, on
    the CPU) for ``example`` (the model's input, 1 x 3 x 224 x 224): ``params``, ``macs``,
    ``flops``, ``flops_are``, ``backend`` and, with ``func_layer_count``, ``functionalLayerCount``
    (the layer's leaf operations), from :func:`layer_stats.models.features.layer_features`."""
    from layer_stats.models.features import layer_features

    features = layer_features(chain, example, leaf_ops=func_layer_count)
    return [_record(f["params"], f["macs"], f["flops"], f["leaf_ops"]) for f in features]


def stage_info(module, example, backend=None, layers=()):
    """Figures for ``module`` (a stage) run on ``example`` (its input tensor, batch 1).

    Returns ``params``, ``macs``, ``flops`` (ints), ``flops_are``, ``backend`` (the
    counting method), ``functionalLayerCount`` (leaf operations of ``layers``, see
    :func:`layer_stats.models.split.leaf_operations`).  ``backend``: None or the method
    :func:`flops_backend` names; any other raises DnnStatsError.
    """
    from layer_stats.models.complexity import METHOD, count_complexity
    from layer_stats.models.split import leaf_operations

    if backend not in (None, METHOD):
        raise DnnStatsError("cannot count with {!r}: this version counts with {!r} only (pass backend=None)".format(
            backend, METHOD))
    counted = count_complexity(module, example)
    return _record(counted.params, counted.macs, counted.flops, sum(leaf_operations(layer) for layer in layers))
