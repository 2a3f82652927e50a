"""Check that a model's layer chain computes the model: layer count and max |difference|.

Each result is a dict: ``model``, ``granularity``, ``layers`` (count, 0 when the
split failed), ``max_abs_diff`` (on a random 2x3x224x224 input, eval mode;
None when the split failed), ``ok`` (diff <= ``tolerance``) and ``error``
(None, or why the split failed).
"""
import logging

from ..errors import DnnStatsError
from .registry import build_model
from .split import max_abs_diff, split_model

logger = logging.getLogger(__name__)

__all__ = ["TOLERANCE", "check_model", "check_models"]

#: Largest accepted max |model(x) - chain(x)|.
TOLERANCE = 1e-4


def check_model(name, granularity="block", tolerance=TOLERANCE, seed=0):
    """Build ``name`` with random weights, split it and compare; one result dict."""
    import torch

    torch.manual_seed(seed)
    model = build_model(name)
    result = {"model": name, "granularity": granularity, "layers": 0, "max_abs_diff": None,
              "ok": False, "error": None}
    try:
        chain = split_model(model, granularity)
    except DnnStatsError as exc:
        result["error"] = str(exc)
        return result
    diff = max_abs_diff(model, chain.layers, torch.randn(2, 3, 224, 224))
    result.update(layers=len(chain.layers), max_abs_diff=diff, ok=diff <= tolerance)
    return result


def check_models(names, granularity="block", tolerance=TOLERANCE, seed=0):
    """:func:`check_model` for each name, as a generator (models are built one at a time)."""
    for name in names:
        yield check_model(name, granularity, tolerance, seed)
