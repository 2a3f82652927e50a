"""DNN stats for NVIDIA Jetson: layer-wise and multi-DNN power/latency datasets.

The package is a library first; the scripts the README names are thin argparse
shells over it.  Subpackages:

- ``layer_stats.tegrastats``: parse, record, simulate and replay tegrastats output;
- ``layer_stats.models``: torchvision models, layer chains (torch.fx), input images;
- ``layer_stats.measure``: latency runs and power windows;
- ``layer_stats.layerwise``: layer-wise raw files, their layout and post-processing (no torch);
- ``multi_network_stats``: multi-DNN planning, staged execution, post-processing;
- ``layer_stats.layerwise``: the layer-wise run; ``runfile``/``runmeta``/``nvpmodel``: run metadata.
"""

__version__ = "0.1.0"
