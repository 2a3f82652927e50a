"""Input images: where they are, the shipped photos, name lists, missing images, preprocessing."""
import os

import pytest

from conftest import ROOT
from layer_stats import paths
from layer_stats.errors import DnnStatsError
from layer_stats.cli import split_list
from layer_stats.models.inputs import IMAGE_DIR, find_images, image_key


def test_a_checkout_uses_its_own_inputs():
    """Run from the checkout, the seed's inputs are the checkout's; an installed copy's
    (layer_stats/_inputs, tests/test_install.py) exist only in an installed package."""
    assert paths.PACKAGE_PARENT == ROOT and paths.PROJECT_ROOT == ROOT
    assert IMAGE_DIR == os.path.join(ROOT, "data", "imagenet") == paths.IMAGE_DIR
    assert paths.AVAILABLE_FILE == os.path.join(ROOT, "AvailableModel.txt")
    assert not os.path.exists(paths.INSTALLED_INPUTS)


def test_shipped_images_and_their_licence_note():
    for name in ("img1.jpg", "img2.jpg", "img3.jpg"):
        assert os.path.getsize(os.path.join(IMAGE_DIR, name)) > 10000
    with open(os.path.join(IMAGE_DIR, "LICENSE.md")) as handle:
        note = handle.read()
    assert "CC0" in note and "public domain" in note


def test_comma_and_space_separated_lists():
    assert split_list("img1.jpg,img2.jpg img3.jpg") == ["img1.jpg", "img2.jpg", "img3.jpg"]
    assert split_list(["img1.jpg,img2.jpg", "img3.jpg"]) == ["img1.jpg", "img2.jpg", "img3.jpg"]
    paths = find_images("img1.jpg, img3.jpg")
    assert [image_key(p) for p in paths] == ["img1", "img3"]


def test_missing_image_names_it_and_the_folder():
    with pytest.raises(DnnStatsError) as err:
        find_images("img1.jpg,cat.png")
    assert "'cat.png'" in str(err.value) and IMAGE_DIR in str(err.value)


def test_preprocessing_gives_a_normalised_batch():
    torch = pytest.importorskip("torch")
    from layer_stats.models.inputs import load_batch

    batch = load_batch(find_images("img2.jpg")[0], batch_size=3)
    assert tuple(batch.shape) == (3, 3, 224, 224) and batch.dtype == torch.float32
    assert torch.equal(batch[0], batch[2])
    assert -1.0 < float(batch.mean()) < 1.0 and float(batch.std()) > 0.3  # normalised, not raw 0..1 or 0..255
