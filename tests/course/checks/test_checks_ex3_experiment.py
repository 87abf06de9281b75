"""Lesson 3's PatchGAN-depth experiment: the prediction check and the colourfulness check."""

import numpy as np
import pytest
import torch

from p2p_ref.course.checks import CheckFailed
from p2p_ref.course.checks import ex3 as check
from p2p_ref.paper.patch_metrics import colourfulness as reference, grid_energy


def colourfulness(images):
    rgb = (images + 1) * 127.5
    r, g, b = rgb[:, 0].flatten(1), rgb[:, 1].flatten(1), rgb[:, 2].flatten(1)
    rg, yb = r - g, (r + g) / 2 - b
    return (rg.std(dim=1) ** 2 + yb.std(dim=1) ** 2).sqrt() + 0.3 * (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()


def per_image(fn):
    return lambda images: torch.stack([fn(im) for im in images])


def test_the_reference_follows_hasler_and_suesstrunk():
    grey = torch.zeros(1, 3, 8, 8)
    assert reference(grey).item() == 0
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    # rg = 255, yb = 127.5, no spread: M = 0.3 * sqrt(255^2 + 127.5^2)
    assert reference(red).item() == pytest.approx(0.3 * (255 ** 2 + 127.5 ** 2) ** 0.5)
    images = torch.rand(3, 3, 16, 16) * 2 - 1
    assert reference(images).shape == (3,)
    assert reference(images * 0.2).mean() < reference(images).mean()  # washed-out colours score lower


def test_correct_colourfulness_passes_in_several_styles(capsys):
    check.colourfulness(colourfulness)
    check.colourfulness_more(colourfulness)

    def one_image(im):  # the population std, a Python loop over the images, numpy
        rgb = ((im.numpy() + 1) * 127.5).astype(np.float64)
        rg, yb = rgb[0] - rgb[1], 0.5 * (rgb[0] + rgb[1]) - rgb[2]
        return torch.tensor(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))

    check.colourfulness(per_image(one_image))
    check.colourfulness_more(lambda images: [float(v) for v in per_image(one_image)(images)])  # a list counts
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 4


@pytest.mark.parametrize("wrong, hint", [
    (lambda im: colourfulness(im) / 127.5, "[-1, 1] scale"),
    (lambda im: colourfulness((im + 1) / 2 * 2 / 255 - 1) * 0 + colourfulness(im) / 255, "[0, 1] scale"),
    (lambda im: ((im + 1) * 127.5)[:, 0].flatten(1).std(1), None),
    (lambda im: colourfulness(im).mean(), "reduce over the pixels of each image"),
])
def test_wrong_colourfulness_fails_with_a_hint(wrong, hint):
    with pytest.raises(CheckFailed) as e:
        check.colourfulness(wrong)
    if hint:
        assert hint in str(e.value)


def test_the_usual_slips_are_named():
    def no_weight(images):
        rgb = (images + 1) * 127.5
        r, g, b = rgb[:, 0].flatten(1), rgb[:, 1].flatten(1), rgb[:, 2].flatten(1)
        rg, yb = r - g, (r + g) / 2 - b
        return (rg.var(1, unbiased=False) + yb.var(1, unbiased=False)).sqrt()
    with pytest.raises(CheckFailed, match="0.3"):
        check.colourfulness(no_weight)


def test_the_reference_cannot_be_handed_in():
    with pytest.raises(CheckFailed, match="reference"):
        check.colourfulness(reference)


def test_any_well_formed_prediction_passes_and_malformed_ones_fail(capsys):
    for n in (0, 1, 2, 4):
        check.prediction({"sharpest": n, "most_colourful": 0, "tiles": np.int64(4)})
    for bad in ("1", None, [1, 0, 1], {"sharpest": 1, "most_colourful": 0},
                {"sharpest": 3, "most_colourful": 0, "tiles": 1}, {"sharpest": "16x16", "most_colourful": 0, "tiles": 1},
                {"sharpest": True, "most_colourful": 0, "tiles": 1}, {"sharpest": 1.5, "most_colourful": 0, "tiles": 1}):
        with pytest.raises(CheckFailed):
            check.prediction(bad)


def test_grid_energy_sees_tiling():
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(4, 3, 64, 64, generator=g) * 2 - 1
    tile = (torch.rand(1, 3, 8, 8, generator=g) * 2 - 1).repeat(1, 1, 8, 8)  # an 8 x 8 tile, repeated
    assert grid_energy(noise).mean() < 0.05  # about 1 / 64 of the energy for white noise
    assert grid_energy(tile).item() == pytest.approx(1.0)
    assert grid_energy(0.5 * noise[:1] + 0.5 * tile).item() > grid_energy(noise[:1]).item()
    with pytest.raises(ValueError, match="multiples of period"):
        grid_energy(torch.zeros(1, 3, 60, 60))
