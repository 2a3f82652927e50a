"""DNN stats for NVIDIA Jetson: the base both products stand on, and the layer-wise product.

The package is a library first; the seed's scripts (and the console scripts
pyproject.toml installs for them) are thin argparse shells over it.

- ``layer_stats.tegrastats``: parse, record, simulate and replay tegrastats output;
- ``layer_stats.power``: power straight from the INA3221/INA238 monitors in sysfs (discover,
  read, sample at hundreds of Hz, simulate);
- ``layer_stats.models``: torchvision models, their layer chains (torch.fx), input images;
- ``layer_stats.measure``: latency runs and power windows;
- ``layer_stats.session``, ``runfile``, ``runmeta``, ``nvpmodel``, ``lifecycle``: one
  measurement run, its metadata and its clean stop;
- ``layer_stats.cli``: the argument vocabulary every script uses; ``paths``: where the
  project's own files are; ``fsutil``, ``errors``, ``clock``, ``devices``, ``progress``,
  ``stats``, ``tables``: shared helpers;
- ``layer_stats.layerwise``: the layer-wise product (``generate``, ``raw``, ``postprocess``,
  ``layout``).

The multi-DNN product is the package :mod:`multi_network_stats`, the same shape, on this base.
README.md, "Layout", lists every module.  ``__version__`` is the project's version
(pyproject.toml reads it from here).
"""

__version__ = "0.1.0"
