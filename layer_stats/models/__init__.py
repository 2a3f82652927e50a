"""torchvision models: which ones a run uses, how to build them, and how to cut them into layers.

Public API::

    from layer_stats.models import resolve_models, build_model, split_model, check_models

Command line: ``python3 -m layer_stats.models check --help``.  This package
imports torch; the post-processing scripts never import it.
"""
from .check import check_model, check_models
from .registry import available_models, build_model, classification_models, resolve_models
from .split import GRANULARITIES, LayerChain, block_units, chain_inputs, max_abs_diff, split_model

__all__ = ["available_models", "build_model", "classification_models", "resolve_models",
           "GRANULARITIES", "LayerChain", "block_units", "chain_inputs", "max_abs_diff", "split_model",
           "check_model", "check_models"]
