"""Which torchvision classification models exist, which ones a run uses, and how to build them.

- :func:`available_models`: the default set, read from ``AvailableModel.txt``
  (one family per line, comma-separated names; ``#`` starts a comment).
- :func:`classification_models`: every torchvision classification model of the
  installed version (``list_models`` from torchvision 0.14; older versions are
  scanned for builders that take ``pretrained``).
- :func:`resolve_models`: ``None`` -> default set, ``"all"`` -> every model,
  ``"a,b"`` -> those, checked (against the shipped layer table where
  torchvision is absent); an unknown name raises, listing the valid ones, and
  so do a repeated name and a list that names nothing.
- :func:`build_model`: random weights by default (no network); ``weights``
  ``"DEFAULT"`` asks torchvision for its pretrained weights, a path loads a
  state dict (a file, or a folder holding ``NAME.pth`` / ``NAME-*.pth``).
  The model comes back in eval mode.
"""
import glob
import inspect
import logging
import os
import warnings

from ..cli import name_list
from ..errors import DnnStatsError
from ..paths import AVAILABLE_FILE

logger = logging.getLogger(__name__)

__all__ = ["AVAILABLE_FILE", "available_families", "available_models", "classification_models",
           "known_models", "resolve_models", "build_model", "builder_kwargs", "weights_file"]


#: Extra builder arguments per model.  googlenet / inception_v3: torchvision < 0.13
#: draws their random init with scipy (absent on many Jetsons) and >= 0.13 warns
#: about it; the framework's default init serves power and latency as well.
BUILD_KWARGS = {
    "googlenet": {"init_weights": False},
    "inception_v3": {"init_weights": False},
}


def available_families(path=AVAILABLE_FILE):
    """The families of ``AvailableModel.txt``: a list of lists of model names."""
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError) as exc:
        raise DnnStatsError("cannot read the model list {}: {}".format(path, exc))
    families = []
    for line in lines:
        names = [n.strip() for n in line.split("#", 1)[0].split(",") if n.strip()]
        if names:
            families.append(names)
    return families


def available_models(path=AVAILABLE_FILE):
    """The default model set, in the file's order."""
    return [name for family in available_families(path) for name in family]


def _torchvision_models():
    try:
        import torchvision.models as tvm
    except ImportError:
        raise DnnStatsError("torchvision is not installed: install torch and torchvision (on a Jetson, NVIDIA's "
                            "JetPack wheels; elsewhere: pip install torch torchvision)")
    return tvm


def classification_models():
    """Sorted names of every classification model in the installed torchvision."""
    tvm = _torchvision_models()
    if hasattr(tvm, "list_models"):
        return sorted(tvm.list_models(module=tvm))
    names = []
    for name in dir(tvm):
        obj = getattr(tvm, name)
        if name.startswith("_") or not inspect.isfunction(obj) or not obj.__module__.startswith(tvm.__name__):
            continue
        if obj.__module__.count(".") != 2:
            continue  # torchvision.models.detection.* and friends are not classifiers
        if "pretrained" in inspect.signature(obj).parameters:
            names.append(name)
    return sorted(names)


def known_models():
    """``(names, where)``: torchvision's classifiers, or the shipped layer table's models
    where torchvision is absent (a torch-free dry run)."""
    try:
        return classification_models(), "torchvision {}".format(_torchvision_version())
    except DnnStatsError:
        from .layer_table import load_table, table_models

        table = load_table()
        return table_models(table), "the layer table (torchvision {}; torchvision is not installed here)".format(
            table.get("torchvision"))


def _names(spec, option):
    """A list of names from ``spec`` (text or list); raises for an empty list or a repeat."""
    return name_list(spec, option, "model", "give comma-separated names or 'all', or leave {} out for "
                     "AvailableModel.txt".format(option))


def resolve_models(spec=None, path=AVAILABLE_FILE, option="--models"):
    """Model names for ``spec``: None -> AvailableModel.txt, ``"all"`` -> every
    classification model, else a comma/space-separated list (order kept).

    Names are checked against torchvision, or against the shipped layer table
    where torchvision is absent.  Raises DnnStatsError naming ``option`` for an
    unknown name, a repeated name, or a list that names nothing (``""``, ``","``).
    """
    if spec is None:
        names = available_models(path)
    elif isinstance(spec, str) and spec.strip().lower() == "all":
        return known_models()[0]
    else:
        names = _names(spec, option)
    valid, where = known_models()
    unknown = [name for name in names if name not in valid]
    if unknown:
        raise DnnStatsError("unknown model {} for {}{}: use names from {} or 'all' (every one: python3 -m "
                            "layer_stats.models list)".format(", ".join(repr(n) for n in unknown), where,
                                                              _nearest(unknown, valid), os.path.basename(path)))
    return names


def _nearest(unknown, valid):
    """`` (did you mean resnet18?)`` for the known names closest to ``unknown``, or ``""``."""
    import difflib

    close = [m for name in unknown for m in difflib.get_close_matches(name, valid, n=1, cutoff=0.8)]
    return " (did you mean {}?)".format(", ".join(close)) if close else ""


def _torchvision_version():
    import torchvision
    return torchvision.__version__


def builder_kwargs(name, pretrained=False):
    """Keyword arguments for ``torchvision.models.NAME``: ``weights=`` on torchvision
    >= 0.13, ``pretrained=`` before, plus :data:`BUILD_KWARGS`."""
    builder = getattr(_torchvision_models(), name)
    params = inspect.signature(builder).parameters
    kwargs = {}
    if "weights" in params:
        kwargs["weights"] = "DEFAULT" if pretrained else None
    elif "pretrained" in params:
        kwargs["pretrained"] = bool(pretrained)
    for key, value in BUILD_KWARGS.get(name, {}).items():
        if key in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
            kwargs[key] = value
    return kwargs


def weights_file(name, path):
    """The state-dict file for model ``name`` under ``path`` (a .pth file, or a folder holding
    ``NAME.pth`` / ``NAME-*.pth``); raises DnnStatsError naming what is missing."""
    if os.path.isfile(path):
        return path
    if os.path.isdir(path):
        found = sorted(glob.glob(os.path.join(path, name + ".pth")) + glob.glob(os.path.join(path, name + "-*.pth")))
        if found:
            return found[0]
        raise DnnStatsError("no weights for {} in {}: expected {}.pth or {}-*.pth there".format(
            name, path, name, name))
    raise DnnStatsError("weights path {!r} does not exist: give a .pth file, a folder of them, or DEFAULT".format(path))


def build_model(name, weights=None):
    """``torchvision.models.NAME`` in eval mode.

    ``weights``: None (random, no network), ``"DEFAULT"`` (torchvision's pretrained
    weights; downloads unless cached) or a state-dict path (see module doc).
    """
    import torch

    tvm = _torchvision_models()
    if not hasattr(tvm, name):
        resolve_models([name])
    pretrained = weights is not None and str(weights).upper() == "DEFAULT"
    kwargs = builder_kwargs(name, pretrained)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            model = getattr(tvm, name)(**kwargs)
        except (IOError, OSError, RuntimeError, ValueError) as exc:
            if not pretrained:
                raise
            raise DnnStatsError("cannot fetch pretrained weights for {} ({}): without internet, pass "
                                "--weights FOLDER holding {}-*.pth, or drop --weights".format(
                                    name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__, name))
    if weights is not None and not pretrained:
        path = weights_file(name, str(weights))
        try:
            state = torch.load(path, map_location="cpu")
            model.load_state_dict(state)
        except (IOError, OSError, RuntimeError, KeyError, TypeError) as exc:
            raise DnnStatsError("cannot load weights {} into {}: {} (is it this model's state dict?)".format(
                path, name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        logger.info("%s: weights from %s", name, path)
    return model.eval()
