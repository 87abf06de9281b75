"""Pix2Pix networks: the U-Net generator and the PatchGAN discriminator.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks" (CVPR 2017),
section 3.2 and appendix 6.1. Layer by layer this matches the authors' PyTorch code
("unet_256" and "basic" discriminator) except where a docstring says otherwise.
"""

import torch
from torch import nn

NORMS = ("batch", "instance", "none")


def norm_layer(norm, num_channels):
    """The normalization layer the paper calls "BatchNorm" (sec. 3.3), or an option."""
    if norm == "batch":
        return nn.BatchNorm2d(num_channels)
    if norm == "instance":
        return nn.InstanceNorm2d(num_channels, affine=False, track_running_stats=False)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm={norm!r} is not supported: expected one of {NORMS}")


def init_weights(module, std=0.02):
    """Appendix 6.2: weights from N(0, 0.02); BatchNorm scale from N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


class EncoderBlock(nn.Module):
    """One U-Net encoder step, "Ck" in appendix 6.1.1: LeakyReLU(0.2) -> Conv 4x4 stride 2 -> norm.

    The outermost block (e1) has no activation before it and no norm; the innermost block
    (the 1 x 1 bottleneck) has no norm. Convs have no bias when BatchNorm follows them,
    since BatchNorm's shift does that job (the official code drops e1's bias too).
    Halves the height and width.
    """

    def __init__(self, in_channels, out_channels, norm="batch", outermost=False, innermost=False):
        super().__init__()
        layers = [] if outermost else [nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1,
                                bias=norm != "batch"))
        if not (outermost or innermost):
            layers.append(norm_layer(norm, out_channels))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


class DecoderBlock(nn.Module):
    """One U-Net decoder step: ReLU -> ConvTranspose 4x4 stride 2 -> norm [-> Dropout(0.5)],
    then the skip: the output is concatenated with the mirrored encoder output (sec. 3.2.1).

    The outermost block (d1) maps to the output channels with a biased ConvTranspose and Tanh,
    and takes no skip. Doubles the height and width.
    """

    def __init__(self, in_channels, out_channels, norm="batch", dropout=0.0, outermost=False):
        super().__init__()
        layers = [nn.ReLU(),
                  nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1,
                                     bias=outermost or norm != "batch")]
        if outermost:
            layers.append(nn.Tanh())
        else:
            layers.append(norm_layer(norm, out_channels))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.block = nn.Sequential(*layers)

    def forward(self, x, skip=None):
        y = self.block(x)
        return y if skip is None else torch.cat([y, skip], dim=1)


class UNetGenerator(nn.Module):
    """The pix2pix generator G(x): an encoder-decoder with skips, "U-Net" (sec. 3.2.1, appendix 6.1.1).

    encoder: C64-C128-C256-C512-C512-C512-C512-C512 (num_downs = 8: 256 -> 1; k = filters)
    decoder: CD512-CD1024-CD1024-C1024-C1024-C512-C256-C128, the paper's U-Net line, where k counts
    the channels each decoder layer reads after the skip concatenation; the filters are
    512-512-512-512-256-128-64, then out_channels with Tanh (CD = with Dropout(0.5)).
    54,413,955 parameters at the defaults.

    There is no noise input z: the paper found G learned to ignore it, so noise comes only from
    dropout, which the paper keeps on at test time (sec. 3.1). Dropout sits on the first three
    decoder blocks (outputs 2 x 2, 4 x 4, 8 x 8), as in the paper's appendix and the original Torch
    code; the official PyTorch code puts it one level higher (4 x 4, 8 x 8, 16 x 16). It also joins
    each skip as [skip, upsampled] (here: [upsampled, skip]) and names its parameters after its
    nested blocks, so its weights do not load here as they are.
    """

    def __init__(self, in_channels=3, out_channels=3, num_downs=8, ngf=64, norm="batch", dropout=0.5):
        super().__init__()
        if num_downs < 2:
            raise ValueError(f"num_downs={num_downs}: a U-Net needs at least 2 down-sampling steps")
        norm_layer(norm, 1)  # validates `norm` with a clear message
        self.num_downs = num_downs
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]  # e1..e_n output channels
        self.encoders = nn.ModuleList()
        for i, width in enumerate(widths):
            self.encoders.append(EncoderBlock(in_channels if i == 0 else widths[i - 1], width, norm,
                                              outermost=i == 0, innermost=i == num_downs - 1))
        # decoders[0] is the innermost (bottleneck -> 2 x 2); decoders[-1] is the outermost.
        self.decoders = nn.ModuleList()
        for j in range(num_downs - 1):
            level = num_downs - 2 - j  # the encoder output this decoder's result is joined with
            in_ch = widths[-1] if j == 0 else 2 * widths[level + 1]
            self.decoders.append(DecoderBlock(in_ch, widths[level], norm,
                                              dropout=dropout if j < 3 else 0.0))
        self.decoders.append(DecoderBlock(2 * widths[0], out_channels, norm, outermost=True))
        init_weights(self)

    def check_size(self, height, width):
        """Raise ValueError unless both sides are multiples of 2**num_downs."""
        m = 2 ** self.num_downs
        for name, n in (("height", height), ("width", width)):
            if n % m or n == 0:
                nearest = sorted({max(m, n // m * m), (n // m + 1) * m})
                raise ValueError(
                    f"input {name} {n} does not work with num_downs={self.num_downs}: each side must be "
                    f"a multiple of 2**{self.num_downs} = {m}; the nearest sizes that work: "
                    f"{' and '.join(map(str, nearest))} (resize or crop the input, or change num_downs)")

    def forward(self, x):
        self.check_size(x.shape[-2], x.shape[-1])
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
        skips.pop()  # the bottleneck itself is x; it has no mirror to join
        for decoder in self.decoders:
            x = decoder(x, skips.pop() if skips else None)
        return x


class PatchDiscriminator(nn.Module):
    """The conditional PatchGAN D(x, y) (sec. 3.2.2, appendix 6.1.2): C64-C128-C256-C512, then a
    conv to one logit per patch. With n_layers = 3 each logit sees a 70 x 70 patch and a
    256 x 256 pair gives 30 x 30 logits; 2,768,705 parameters.

    The first conv has no norm; the last two convs have stride 1. There is no sigmoid: the loss
    takes logits. n_layers = 0 is the 1 x 1 "PixelGAN" of sec. 4.4 (1 x 1 convs).
    """

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        norm_layer(norm, 1)
        bias = norm != "batch"
        if n_layers == 0:
            layers = [nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), norm_layer(norm, 2 * ndf), nn.LeakyReLU(0.2),
                      nn.Conv2d(2 * ndf, 1, 1, bias=bias)]
        else:
            layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            width = ndf
            for n in range(1, n_layers + 1):
                stride = 2 if n < n_layers else 1
                new_width = ndf * min(2 ** n, 8)
                layers += [nn.Conv2d(width, new_width, 4, stride=stride, padding=1, bias=bias),
                           norm_layer(norm, new_width), nn.LeakyReLU(0.2)]
                width = new_width
            layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x, y=None):
        """D(x, y): the source x and the (real or generated) target y, joined on channels.
        With y omitted, x must already be the joined pair."""
        if y is not None:
            x = torch.cat([x, y], dim=1)
        return self.model(x)


def count_parameters(model):
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
