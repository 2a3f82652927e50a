"""Input images: find them, and turn them into a normalised batch once, before any timing.

Names in ``--imgs`` are looked up in ``data/imagenet`` (:data:`~layer_stats.paths.IMAGE_DIR`:
the checkout's, or the installed package's copy) unless they are paths that
exist.  Preprocessing is the ImageNet one (resize 256, centre crop 224,
normalise with the ImageNet mean/std); it is never part of a measured layer.
:func:`find_images` needs no torch or PIL (the dry runs use it);
:func:`check_images` decodes every image once, before anything is measured.
"""
import logging
import os
import warnings

from ..cli import split_list
from ..errors import DnnStatsError
from ..paths import IMAGE_DIR

logger = logging.getLogger(__name__)

__all__ = ["IMAGE_DIR", "find_images", "check_images", "load_batch", "image_key"]

DEFAULT_IMAGES = "img1.jpg,img2.jpg,img3.jpg"
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def find_images(names, image_dir=IMAGE_DIR):
    """Absolute paths for ``names``; raises naming every missing image and where it looked."""
    paths, missing = [], []
    for name in split_list(names):
        candidates = [name] if os.path.isabs(name) else [os.path.join(image_dir, name), name]
        found = next((p for p in candidates if os.path.isfile(p)), None)
        if found is None:
            missing.append(name)
        else:
            paths.append(os.path.abspath(found))
    if missing:
        raise DnnStatsError("image {} not found in {}: put the file there or give its path in --imgs".format(
            ", ".join(repr(m) for m in missing), image_dir))
    if not paths:
        raise DnnStatsError("no images given: pass --imgs img1.jpg,img2.jpg")
    return _distinct_keys(paths)


def _distinct_keys(paths):
    """``paths`` without repeats; raises when two files would share a raw file name."""
    seen = {}
    for path in paths:
        other = seen.setdefault(image_key(path), path)
        if other != path:
            raise DnnStatsError("images {} and {} would both be filed as {!r}: rename one (raw files are named "
                                "after the image without its extension)".format(other, path, image_key(path)))
    return list(seen.values())


def check_images(paths):
    """Decode every image once; raises naming the first that is not a readable photo.

    Images over twice PIL's decompression-bomb limit are refused; between the limit
    and twice it they are read with one log line instead of PIL's warning.
    """
    from PIL import Image

    for path in paths:
        _open_rgb(path, Image)


def _open_rgb(path, Image):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        if any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
            logger.warning("image %s is very large (%d x %d): decoding it takes a while", path, *rgb.size)
        return rgb
    except Image.DecompressionBombError as exc:
        raise DnnStatsError("image {} is too large to decode safely ({}): scale it down below {} pixels".format(
            path, str(exc).split(" could be")[0].rstrip(", "), 2 * Image.MAX_IMAGE_PIXELS))
    except (IOError, OSError, ValueError, SyntaxError) as exc:
        raise DnnStatsError("cannot read image {}: {} (is it a JPEG/PNG photo?)".format(path, exc))


def image_key(path):
    """The name a raw file uses for an image: its file name without extension."""
    return os.path.splitext(os.path.basename(path))[0]


def load_batch(path, batch_size=1):
    """A ``batch_size`` x 3 x 224 x 224 float tensor of the image (the same image repeated)."""
    import torch
    from PIL import Image
    from torchvision import transforms

    rgb = _open_rgb(path, Image)
    prep = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                               transforms.Normalize(_MEAN, _STD)])
    one = prep(rgb).unsqueeze(0)
    return torch.cat([one] * int(batch_size), 0) if batch_size > 1 else one
