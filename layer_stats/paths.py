"""Where the project's own files are: the one place that knows the layout of a checkout
and of an installed copy.

``PACKAGE_PARENT``: the folder holding the ``layer_stats`` package (a checkout's root, or
site-packages when installed); a child ``python -m layer_stats...`` started there finds the
package without touching ``PYTHONPATH``.

``PROJECT_ROOT``: where the seed's inputs are, ``IMAGE_DIR`` (``data/imagenet``) and
``AVAILABLE_FILE`` (``AvailableModel.txt``), in the same layout either way:

- run from a checkout (scripts by path, ``python3 -m``, ``pip install -e .``): the checkout's
  root, so an edited ``AvailableModel.txt`` or a new image there is what a run uses;
- installed with ``pip install .``: ``layer_stats/_inputs`` inside the installed package,
  where the wheel carries copies of both (pyproject.toml maps that package onto the
  checkout's root), so the console scripts find them from any folder.

The checkout is recognised by ``AvailableModel.txt`` and ``data/imagenet`` beside the
package; a site-packages holds neither.
"""
import os

__all__ = ["PACKAGE_PARENT", "PROJECT_ROOT", "IMAGE_DIR", "AVAILABLE_FILE", "INSTALLED_INPUTS"]

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
PACKAGE_PARENT = os.path.dirname(PACKAGE_DIR)
#: The seed's inputs as an installed (non-editable) package carries them.
INSTALLED_INPUTS = os.path.join(PACKAGE_DIR, "_inputs")


def _is_inputs_root(folder):
    return os.path.isfile(os.path.join(folder, "AvailableModel.txt")) and \
        os.path.isdir(os.path.join(folder, "data", "imagenet"))


PROJECT_ROOT = PACKAGE_PARENT if _is_inputs_root(PACKAGE_PARENT) else INSTALLED_INPUTS
IMAGE_DIR = os.path.join(PROJECT_ROOT, "data", "imagenet")
AVAILABLE_FILE = os.path.join(PROJECT_ROOT, "AvailableModel.txt")
