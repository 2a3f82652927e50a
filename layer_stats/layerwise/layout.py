"""Where the layer-wise dataset's files live (the seed's Mode-Device-Parameter-Network layout).

::

    <output_root>/LayerStats/Mode{m}/
        run-<UTC start>.json                 run metadata, one per run
        layerwise.log                        the runs' log, appended (default --log_file)
        Mode{m}.conf                         the mode's block of /etc/nvpmodel.conf
        {cpu|gpu}/{power|latency}/{network}/{image}.jsonl   raw files, one layer per line
    <output_root>/LayerStats/features/{granularity}/batch{N}/{network}.json
                                             each layer's features (layerwise/features.py), one file
                                             per network, granularity and batch size, shared by
                                             every mode and device (they do not change them)

``--device cuda`` is stored under ``gpu`` as in the seed's data.
"""
import collections
import glob
import os

from ..fsutil import mode_folders

__all__ = ["LAYER_DIR", "FEATURES_DIR", "DEVICE_KEYS", "KINDS", "device_key", "layer_root", "mode_dir", "raw_file",
           "features_file", "iter_raw_files", "RawFileRef", "modes_found", "modes_with_data", "empty_mode_error"]

LAYER_DIR = "LayerStats"
#: The features files' folder under ``LayerStats`` (no ``Mode`` prefix: never read as a mode).
FEATURES_DIR = "features"
#: ``--device`` -> folder / JSON key.
DEVICE_KEYS = {"cpu": "cpu", "cuda": "gpu"}
KINDS = ("power", "latency")

#: One raw file: ``path``, ``mode`` (int), ``device`` (cpu/gpu), ``kind``
#: (power/latency), ``network``, ``image`` (file name without extension).
RawFileRef = collections.namedtuple("RawFileRef", "path mode device kind network image")


def device_key(device):
    """``cpu`` -> ``cpu``, ``cuda``/``cuda:0`` -> ``gpu``."""
    return DEVICE_KEYS[str(device).split(":")[0]]


def layer_root(output_root):
    return os.path.join(output_root, LAYER_DIR)


def mode_dir(output_root, mode):
    return os.path.join(layer_root(output_root), "Mode{}".format(mode))


def raw_file(output_root, mode, device, kind, network, image):
    """Path of the raw file for one (network, image) on ``device`` (cpu/cuda), ``kind`` power/latency."""
    return os.path.join(mode_dir(output_root, mode), device_key(device), kind, network, image + ".jsonl")


def features_file(output_root, granularity, batch_size, network):
    """Path of ``network``'s features file for ``granularity`` (block/fine) and ``batch_size`` (int)."""
    return os.path.join(layer_root(output_root), FEATURES_DIR, str(granularity), "batch{}".format(int(batch_size)),
                        network + ".json")


def modes_found(input_root):
    """Sorted mode numbers with a ``Mode{m}`` folder under ``<input_root>/LayerStats``."""
    return sorted(mode_folders(layer_root(input_root)))


def modes_with_data(input_root):
    """Sorted mode numbers whose ``Mode{m}`` folder holds at least one raw file (an interrupted
    first run leaves a folder with only its run file and log)."""
    return [mode for mode in modes_found(input_root) if next(iter_raw_files(input_root, [mode]), None) is not None]


def empty_mode_error(mode, input_root, tool):
    """The one-line error for ``Mode{mode}`` under ``input_root`` holding no raw file (``tool``: the
    option to leave it out of, e.g. ``--modes``; None: nothing else to go on with)."""
    from ..errors import DnnStatsError

    return DnnStatsError("{} holds no finished layer-wise raw file (a run stopped before its first file leaves "
                         "only its run file and log): rerun the generator's command to finish it{}".format(
                             mode_dir(input_root, mode), ", or leave mode {} out of {}".format(mode, tool) if tool else ""))


def iter_raw_files(input_root, modes=None):
    """:class:`RawFileRef` for every raw file under ``input_root`` (sorted), optionally only ``modes``."""
    for mode in modes_found(input_root) if modes is None else modes:
        base = mode_dir(input_root, mode)
        for path in sorted(glob.glob(os.path.join(base, "*", "*", "*", "*.jsonl"))):
            rel = os.path.relpath(path, base).split(os.sep)
            device, kind, network, name = rel
            if device in DEVICE_KEYS.values() and kind in KINDS:
                yield RawFileRef(path, mode, device, kind, network, os.path.splitext(name)[0])
