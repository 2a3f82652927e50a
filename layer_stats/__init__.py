"""DNN stats for NVIDIA Jetson: layer-wise and multi-DNN power/latency datasets.

The package is a library first; the scripts the README names are thin argparse
shells over it.  Subpackages:

- ``layer_stats.tegrastats``: parse, record, simulate and replay tegrastats output.
"""

__version__ = "0.1.0"
