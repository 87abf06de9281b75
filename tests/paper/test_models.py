"""p2p_ref.paper.models against the architecture in the paper's appendix 6.1 (numbers from the facts sheet)."""

import pytest
import torch
from torch import nn

from p2p_ref.paper.models import (DecoderBlock, EncoderBlock, PatchDiscriminator, UNetGenerator, count_parameters, init_weights)


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return UNetGenerator()


@pytest.mark.parametrize("kwargs, expected", [
    ({}, 54_413_955),
    ({"norm": "instance"}, 54_409_603),
    ({"num_downs": 7}, 41_828_995),
])
def test_generator_parameter_counts(kwargs, expected):
    assert count_parameters(UNetGenerator(**kwargs)) == expected


@pytest.mark.parametrize("kwargs, expected", [({}, 2_768_705), ({"norm": "instance"}, 2_767_809)])
def test_discriminator_parameter_counts(kwargs, expected):
    assert count_parameters(PatchDiscriminator(**kwargs)) == expected


def test_generator_maps_256_to_256_in_tanh_range(unet):
    y = unet(torch.randn(2, 3, 256, 256))
    assert y.shape == (2, 3, 256, 256)
    assert y.abs().max() <= 1.0


def test_generator_layer_table(unet):
    """Encoder: LeakyReLU(0.2) before every conv but e1; no norm on e1 and e8. Decoder: ReLU."""
    enc = [list(e.block) for e in unet.encoders]
    assert len(enc) == 8 and len(unet.decoders) == 8
    assert isinstance(enc[0][0], nn.Conv2d) and len(enc[0]) == 1
    for layers in enc[1:]:
        assert isinstance(layers[0], nn.LeakyReLU) and layers[0].negative_slope == 0.2
    assert [type(layers[-1]) for layers in enc[1:7]] == [nn.BatchNorm2d] * 6
    assert isinstance(enc[7][-1], nn.Conv2d)  # the 1 x 1 bottleneck has no norm
    convs = [m for e in unet.encoders for m in e.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.padding == (1, 1) for c in convs)
    assert all(c.bias is None for c in convs)
    for dec in unet.decoders:
        assert isinstance(dec.block[0], nn.ReLU)
    last = unet.decoders[-1].block
    assert isinstance(last[1], nn.ConvTranspose2d) and last[1].bias is not None
    assert isinstance(last[-1], nn.Tanh)
    # the paper's U-Net decoder CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128 counts exactly these:
    # the channels each decoder layer reads, after the skip concatenation
    assert [m.in_channels for m in unet.modules() if isinstance(m, nn.ConvTranspose2d)] == \
        [512, 1024, 1024, 1024, 1024, 512, 256, 128]


def test_dropout_on_first_three_decoder_blocks_only(unet):
    """Appendix 6.1.1, U-Net decoder CD512-CD1024-CD1024-C1024-...: dropout on the first three
    decoder layers, whose outputs are 2 x 2, 4 x 4, 8 x 8."""
    has_dropout = [any(isinstance(m, nn.Dropout) for m in d.modules()) for d in unet.decoders]
    assert has_dropout == [True, True, True, False, False, False, False, False]
    assert all(m.p == 0.5 for m in unet.modules() if isinstance(m, nn.Dropout))
    sizes, x = [], torch.randn(1, 3, 256, 256)
    hooks = [d.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1])) for d in unet.decoders[:3]]
    unet.eval()
    with torch.no_grad():
        unet(x)
    for h in hooks:
        h.remove()
    assert sizes == [2, 4, 8]


def test_dropout_is_the_noise_source():
    torch.manual_seed(1)
    G = UNetGenerator(num_downs=5, ngf=8)
    x = torch.randn(1, 3, 32, 32)
    G.train()
    assert not torch.equal(G(x), G(x))  # train mode: fresh dropout masks
    G.eval()
    assert torch.equal(G(x), G(x))


def test_skip_connections_concatenate_mirrored_encoder_output():
    block = DecoderBlock(16, 8)
    x, skip = torch.randn(1, 16, 4, 4), torch.randn(1, 5, 8, 8)
    out = block(x, skip)
    assert out.shape == (1, 13, 8, 8)
    assert torch.equal(out[:, 8:], skip)
    assert block(x).shape == (1, 8, 8, 8)


def test_encoder_block_variants():
    assert [type(m) for m in EncoderBlock(3, 8, outermost=True).block] == [nn.Conv2d]
    assert [type(m) for m in EncoderBlock(8, 8, innermost=True).block] == [nn.LeakyReLU, nn.Conv2d]
    inst = EncoderBlock(8, 16, norm="instance").block
    assert isinstance(inst[2], nn.InstanceNorm2d) and inst[1].bias is not None
    assert EncoderBlock(3, 8)(torch.randn(1, 3, 16, 16)).shape == (1, 8, 8, 8)


@pytest.mark.parametrize("size, nearest", [(250, "256"), (300, "256 and 512"), (512 + 7, "512 and 768")])
def test_generator_rejects_sizes_that_are_not_multiples(unet, size, nearest):
    with pytest.raises(ValueError, match=rf"height {size} .*multiple of 2\*\*8 = 256.*{nearest}"):
        unet(torch.randn(1, 3, size, 256))


def test_generator_rejects_bad_width_small_model():
    G = UNetGenerator(num_downs=5, ngf=4)
    assert G(torch.randn(1, 3, 32, 64)).shape == (1, 3, 32, 64)
    with pytest.raises(ValueError, match=r"width 40 .*2\*\*5 = 32.*32 and 64"):
        G(torch.randn(1, 3, 32, 40))


def test_bad_norm_is_named():
    with pytest.raises(ValueError, match="norm='group'"):
        UNetGenerator(norm="group")
    with pytest.raises(ValueError, match="norm='layer'"):
        PatchDiscriminator(norm="layer")


@pytest.mark.parametrize("n_layers, size, expected", [(3, 256, 30), (3, 512, 62), (1, 256, 126),
                                                      (2, 256, 62), (5, 256, 6), (0, 256, 256)])
def test_discriminator_patch_map(n_layers, size, expected):
    D = PatchDiscriminator(ndf=8, n_layers=n_layers)
    x = torch.randn(1, 3, size, size)
    assert D(x, x).shape == (1, 1, expected, expected)


def test_discriminator_layers_and_no_sigmoid():
    D = PatchDiscriminator()
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert convs[0].in_channels == 6
    assert isinstance(D.model[1], nn.LeakyReLU)  # no norm after the first conv
    assert not any(isinstance(m, nn.Sigmoid) for m in D.modules())
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(D.eval()(x, x), D(torch.cat([x, x], 1)))


def test_pixelgan_uses_1x1_convs():
    D = PatchDiscriminator(n_layers=0)
    assert all(m.kernel_size == (1, 1) for m in D.modules() if isinstance(m, nn.Conv2d))


def test_init_weights_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(64, 256, 4), nn.BatchNorm2d(4096))
    init_weights(model, std=0.02)
    w, bn = model[0].weight, model[1]
    assert abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    assert abs(bn.weight.mean().item() - 1.0) < 2e-3 and abs(bn.weight.std().item() - 0.02) < 2e-3
    assert torch.count_nonzero(model[0].bias) == 0 and torch.count_nonzero(bn.bias) == 0
