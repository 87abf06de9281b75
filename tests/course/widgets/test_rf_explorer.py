"""The receptive-field explorer, driven without a browser: its readout and drawing follow the sliders."""

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from p2p_ref.paper.models import PatchDiscriminator
from p2p_ref.paper.receptive_field import measure_receptive_field, output_size, receptive_field
from p2p_ref.course.widgets.rf_explorer import (ReceptiveFieldExplorer, discriminator_geometry, measured_field, receptive_field_explorer)

# The paper's D (kernel 4, stride 2) for n_layers 0..5: field and output grid for a 256 x 256 pair.
FIELDS = {0: 1, 1: 16, 2: 34, 3: 70, 4: 142, 5: 286}
GRIDS = {0: 256, 1: 126, 2: 62, 3: 30, 4: 14, 5: 6}


@pytest.fixture(scope="module")
def explorer():
    return receptive_field_explorer()


def numbers(readout):
    field = re.search(r"Receptive field: (\d+) x (\d+)", readout)
    measured = re.search(r"measured (\d+) x (\d+)", readout)
    grid = re.search(r"output grid (\d+) x (\d+)", readout)
    stride = re.search(r"effective stride (\d+)", readout)
    return (int(field[1]), int(measured[1]) if measured else None, int(grid[1]) if grid else None,
            int(stride[1]))


def test_starts_at_the_papers_70x70_patchgan(explorer):
    assert isinstance(explorer, ReceptiveFieldExplorer)
    assert (explorer.n_layers.value, explorer.kernel_size.value, explorer.stride.value) == (3, 4, 2)
    assert explorer.readout.value == ("Receptive field: 70 x 70 (measured 70 x 70) · output grid 30 x 30 · "
                                      "effective stride 8")


@pytest.mark.parametrize("n_layers", range(6))
def test_readout_for_each_depth(explorer, n_layers):
    explorer.update(n_layers=n_layers, kernel_size=4, stride=2)
    field, measured, grid, stride = numbers(explorer.readout.value)
    assert (field, measured, grid) == (FIELDS[n_layers], FIELDS[n_layers], GRIDS[n_layers])
    assert stride == (2 ** n_layers if n_layers else 1)
    assert explorer.n_layers.value == n_layers  # update moves the slider too
    assert ("larger than the 256 x 256 image" in explorer.readout.value) == (n_layers == 5)


def test_geometry_matches_the_reference_discriminator():
    for n in range(6):
        ref = PatchDiscriminator(n_layers=n, ndf=8)
        assert receptive_field(discriminator_geometry(n)) == receptive_field(ref)
        assert output_size(discriminator_geometry(n), 256) == output_size(ref, 256)


def test_measured_field_is_a_real_gradient_measurement():
    # a stack with holes (kernel 2 < stride 3) and an odd kernel: measured span = analytic size
    for layers in ([(2, 3, 1)] * 2 + [(2, 1, 1)] * 2, discriminator_geometry(2, kernel_size=5, stride=3)):
        assert measured_field(layers) == receptive_field(layers).size
    # too big to measure on the largest test input: reported as None, not guessed
    assert measured_field(discriminator_geometry(5, kernel_size=7, stride=3)) is None


def test_kernel_and_stride_sliders_change_the_numbers(explorer):
    explorer.update(n_layers=3, kernel_size=4, stride=2)
    base = numbers(explorer.readout.value)
    explorer.update(kernel_size=6)  # r = 1 + 5 * (1 + 2 + 4 + 8 + 8)
    assert numbers(explorer.readout.value)[:2] == (116, 116)
    explorer.update(kernel_size=4, stride=1)  # no down-sampling: 1 + 3 * 5 = 16, grid 256 + 5 * (2 - 3)
    assert numbers(explorer.readout.value) == (16, 16, 251, 1)
    explorer.update(stride=2)
    assert numbers(explorer.readout.value) == base


def test_huge_field_and_vanishing_output_are_reported(explorer):
    explorer.update(n_layers=5, kernel_size=7, stride=3)
    text = explorer.readout.value
    assert "3643 x 3643" in text and "too large to measure" in text and "no output" in text
    assert "larger than the 256 x 256 image" in text
    explorer.update(n_layers=3, kernel_size=4, stride=2)


def test_figure_is_a_png_that_changes_with_n_layers(explorer):
    drawings = {}
    for n in (1, 2, 3):
        explorer.update(n_layers=n, kernel_size=4, stride=2)
        png = explorer.figure.value
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
        red = (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)
        drawings[n] = red.sum()
    # the red square around one logit's field grows with the field (16 -> 34 -> 70 pixels a side)
    assert drawings[1] < drawings[2] < drawings[3]


def test_sliders_drive_the_update_and_carry_the_browser_classes(explorer):
    explorer.update(n_layers=3, kernel_size=4, stride=2)
    explorer.n_layers.value = 2  # what the browser's slider does
    assert "34 x 34" in explorer.readout.value and "62 x 62" in explorer.readout.value
    assert "p2p-rf-nlayers" in explorer.n_layers._dom_classes
    assert "p2p-rf-readout" in explorer.readout._dom_classes
    assert "p2p-rf-figure" in explorer.figure._dom_classes
    with pytest.raises(ValueError, match="n_layers = 9"):
        explorer.update(n_layers=9)


def test_accepts_other_images_and_rejects_bad_ones():
    photo = ReceptiveFieldExplorer(image=torch.rand(3, 100, 80) * 2 - 1)
    assert photo.image.shape == (256, 256, 3) and photo.image.dtype == np.uint8
    with pytest.raises(ValueError, match="expected H x W x 3"):
        ReceptiveFieldExplorer(image=np.zeros((4, 4, 4, 4)))


def test_measurement_needs_eval_mode():
    """Why the explorer measures in eval mode: in train mode BatchNorm's batch statistics make
    every output depend on every input pixel."""
    D = PatchDiscriminator(ndf=4)
    x = torch.randn(1, 6, 96, 96, requires_grad=True)
    D.train()
    out = D(x)
    out[..., out.shape[-2] // 2, out.shape[-1] // 2].sum().backward()
    assert (x.grad.abs().sum(dim=(0, 1)) > 0).all()  # the whole image gets a gradient
    assert measure_receptive_field(D, input_size=96) == 70  # eval mode: exactly the patch
