"""torchvision models: which ones a run uses, how to build them, and how to cut them into layers.

Public API::

    from layer_stats.models import resolve_models, build_model, split_model, check_models

Command line: ``python3 -m layer_stats.models --help``.  Cutting models
imports torch; without torch, this package still gives the model names
(``registry``), the layer-count table (``layer_table``) and the image lookup
(``inputs.find_images``), which is all a torch-free multi-DNN ``--dry_run``
needs.  The post-processing scripts never import it.
"""
from .registry import available_models, build_model, classification_models, resolve_models

try:
    import torch  # noqa: F401
except ImportError:  # a torch-free venv: the parts below need torch, the ones above do not
    torch = None
if torch is not None:
    from .check import check_model, check_models
    from .split import GRANULARITIES, LayerChain, block_units, chain_inputs, max_abs_diff, split_model

__all__ = ["available_models", "build_model", "classification_models", "resolve_models",
           "GRANULARITIES", "LayerChain", "block_units", "chain_inputs", "max_abs_diff", "split_model",
           "check_model", "check_models"]
