"""Model information per stage: parameters, MACs and FLOPs with ptflops, and the count of
leaf operations.

ptflops' ``aten`` backend (ptflops >= 0.7.3, torch >= 2.0) counts convolutions and
matrix products only, as the seed's figures do (alexnet 61.1 M params / 714.19 M
MACs, resnet50 25.56 M / 4.09 G); older ptflops (the only one on Python 3.6)
has just the ``pytorch`` backend, which also counts pooling, normalisation and
activations.  The backend used is recorded with every figure.  FLOPs are
2 x MACs (one multiply-add = two operations), labelled as such.
"""
import inspect
import io
import logging

from ..errors import DnnStatsError

logger = logging.getLogger(__name__)

__all__ = ["human", "stage_info", "flops_backend"]


def human(value):
    """``61100840`` -> ``"61.1 M"``, ``4089185256`` -> ``"4.09 G"`` (2 decimals, as the seed prints)."""
    for scale, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return "{} {}".format(round(value / scale, 2), unit)
    return str(round(value, 2))


def _ptflops():
    try:
        import ptflops
    except ImportError:
        raise DnnStatsError("ptflops is not installed: pip3 install --no-deps ptflops (--no-deps keeps the "
                            "board's NVIDIA torch)")
    return ptflops


def flops_backend():
    """``aten`` where the installed ptflops and torch have it, else ``pytorch``."""
    params = inspect.signature(_ptflops().get_model_complexity_info).parameters
    import torch
    if "backend" in params and int(torch.__version__.split(".")[0]) >= 2:
        return "aten"
    return "pytorch"


def stage_info(module, example, backend=None, layers=()):
    """Figures for ``module`` (a stage) run on ``example`` (its input tensor, batch 1).

    Returns ``params``, ``macs``, ``flops`` (ints; flops = 2 x macs), ``backend``,
    ``functionalLayerCount`` (leaf operations of ``layers``, see
    :func:`layer_stats.models.split.leaf_operations`).
    """
    from ..models.split import leaf_operations

    ptflops = _ptflops()
    backend = backend or flops_backend()
    kwargs = {"as_strings": False, "print_per_layer_stat": False, "ost": io.StringIO(),
              "input_constructor": lambda res: {"input": example}}
    if backend == "aten":
        kwargs["backend"] = "aten"
    elif "backend" in inspect.signature(ptflops.get_model_complexity_info).parameters:
        kwargs["backend"] = "pytorch"
    macs, params = ptflops.get_model_complexity_info(module, tuple(example.shape[1:]), **kwargs)
    if macs is None or params is None:
        raise DnnStatsError("ptflops could not count {} (backend {}): try another ptflops version".format(
            type(module).__name__, backend))
    return {"params": int(params), "macs": int(macs), "flops": 2 * int(macs), "flops_are": "2 x MACs",
            "backend": backend, "functionalLayerCount": sum(leaf_operations(layer) for layer in layers)}
