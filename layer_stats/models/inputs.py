"""Input images: find them, and turn them into a normalised batch once, before any timing.

Names in ``--imgs`` are looked up in ``data/imagenet`` unless they are paths
that exist.  Preprocessing is the ImageNet one (resize 256, centre crop 224,
normalise with the ImageNet mean/std); it is never part of a measured layer.
"""
import os

from ..errors import DnnStatsError

__all__ = ["IMAGE_DIR", "split_names", "find_images", "load_batch", "image_key"]

IMAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                         "data", "imagenet")
DEFAULT_IMAGES = "img1.jpg,img2.jpg,img3.jpg"
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def split_names(text):
    """``"a.jpg,b.jpg"``, ``"a.jpg b.jpg"`` or a list of either -> list of names."""
    if isinstance(text, (list, tuple)):
        text = " ".join(text)
    return [name for name in str(text).replace(",", " ").split() if name]


def find_images(names, image_dir=IMAGE_DIR):
    """Absolute paths for ``names``; raises naming every missing image and where it looked."""
    paths, missing = [], []
    for name in split_names(names):
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
    return paths


def image_key(path):
    """The name a raw file uses for an image: its file name without extension."""
    return os.path.splitext(os.path.basename(path))[0]


def load_batch(path, batch_size=1):
    """A ``batch_size`` x 3 x 224 x 224 float tensor of the image (the same image repeated)."""
    import torch
    from PIL import Image
    from torchvision import transforms

    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
    except (IOError, OSError) as exc:
        raise DnnStatsError("cannot read image {}: {} (is it a JPEG/PNG photo?)".format(path, exc))
    prep = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                               transforms.Normalize(_MEAN, _STD)])
    one = prep(rgb).unsqueeze(0)
    return torch.cat([one] * int(batch_size), 0) if batch_size > 1 else one
