"""Analytic receptive fields (Araujo et al., Distill 2019) agree with gradient measurements."""

import pytest
import torch
from torch import nn

from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.paper.receptive_field import (ReceptiveField, conv_geometry, measure_receptive_field, output_size, receptive_field)

FIELDS = {0: 1, 1: 16, 2: 34, 3: 70, 4: 142, 5: 286}


@pytest.mark.parametrize("n_layers", sorted(FIELDS))
def test_analytic_equals_measured(n_layers):
    torch.manual_seed(n_layers)
    D = PatchDiscriminator(ndf=4, n_layers=n_layers)
    analytic = receptive_field(D)
    assert analytic.size == FIELDS[n_layers]
    input_size = 128 if analytic.size < 100 else 640
    assert measure_receptive_field(D, input_size) == analytic.size


def test_70x70_patchgan_geometry():
    rf = receptive_field(PatchDiscriminator())
    assert rf == ReceptiveField(size=70, stride=8, padding=23)


def test_field_grows_layer_by_layer_4_10_22_46_70():
    layers = conv_geometry(PatchDiscriminator())
    assert [receptive_field(layers[:i]).size for i in range(1, 6)] == [4, 10, 22, 46, 70]


def test_tuples_modules_and_lists_agree():
    D = PatchDiscriminator(ndf=4)
    as_tuples = [(4, 2, 1)] * 3 + [(4, 1, 1)] * 2
    as_modules = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert receptive_field(as_tuples) == receptive_field(as_modules) == receptive_field(D)


@pytest.mark.parametrize("size, expected", [(256, 30), (512, 62), (286, 33)])
def test_output_size_matches_forward(size, expected):
    D = PatchDiscriminator(ndf=4)
    assert output_size(D, size) == expected
    assert D(torch.randn(1, 6, size, size)).shape[-1] == expected


def test_pooling_and_dilation_count():
    layers = [nn.Conv2d(1, 1, 3, dilation=2), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3)]
    # dilated 3x3 = 5x5: 1 + 4 = 5; pool: + 1 * 1 = 6; conv 3x3 after stride 2: + 2 * 2 = 10
    assert receptive_field(layers) == ReceptiveField(10, 2, 0)
    assert measure_receptive_field(nn.Sequential(*layers), 64) == 10
    assert receptive_field([nn.MaxPool2d(2)]) == receptive_field([nn.AvgPool2d(2)])


def test_measurement_needs_eval_mode_and_restores_train_mode():
    torch.manual_seed(0)
    D = PatchDiscriminator(ndf=4).train()
    assert measure_receptive_field(D, 128) == 70
    assert D.training
    x = torch.randn(2, 6, 128, 128, requires_grad=True)  # batch statistics spread the gradient
    out = D(x)
    out[0, 0, 7, 7].backward()
    assert (x.grad[0].abs().sum(0) > 0).all()


def test_clipped_field_is_reported():
    with pytest.raises(ValueError, match="border of the 128 x 128 input"):
        measure_receptive_field(PatchDiscriminator(ndf=4, n_layers=5), 128)


def test_unet_encoder_field_covers_the_image():
    G = UNetGenerator()
    assert receptive_field(G.encoders).size > 256
    assert receptive_field(G.encoders[:5]).size == 94


def test_bad_layers_are_named():
    with pytest.raises(TypeError, match="'conv'"):
        receptive_field(["conv"])
    with pytest.raises(ValueError, match="input size 8 is too small"):
        output_size(PatchDiscriminator(), 8)
