"""Where the project's own files are: the one place that knows the layout of a checkout.

``PACKAGE_PARENT``: the folder holding the ``layer_stats`` package (a checkout's root, or
site-packages when installed); a child ``python -m layer_stats...`` started there finds the
package without touching ``PYTHONPATH``.  ``IMAGE_DIR`` (``data/imagenet``) and
``AVAILABLE_FILE`` (``AvailableModel.txt``): the seed's input images and model list.
"""
import os

__all__ = ["PACKAGE_PARENT", "PROJECT_ROOT", "IMAGE_DIR", "AVAILABLE_FILE"]

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_ROOT = PACKAGE_PARENT
IMAGE_DIR = os.path.join(PROJECT_ROOT, "data", "imagenet")
AVAILABLE_FILE = os.path.join(PROJECT_ROOT, "AvailableModel.txt")
