"""The lesson-2 checks (p2p_ref.checks.ex2) pass a correct U-Net written here and fail realistic
mistakes with a message that names the mistake in plain words.

The correct copy is source text: each mistake is the same text with one line changed, executed as
its own module, so the student code under test never comes from p2p_ref.
"""

import re

import pytest

from p2p_ref.checks import ex2 as check
from p2p_ref.checks.common import CheckFailed

SOURCE = '''
import torch
from torch import nn


def norm_layer(norm, channels):
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {norm!r}")


class EncoderBlock(nn.Module):
    def __init__(self, in_channels, out_channels, norm="batch", outermost=False, innermost=False):
        super().__init__()
        layers = [] if outermost else [nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=norm != "batch"))
        if not outermost and not innermost:
            layers.append(norm_layer(norm, out_channels))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return self.block(x)


class DecoderBlock(nn.Module):
    def __init__(self, in_channels, out_channels, norm="batch", dropout=0.0, outermost=False):
        super().__init__()
        layers = [nn.ReLU(), nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1,
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
        if skip is None:
            return y
        return torch.cat([y, skip], dim=1)


class UNetGenerator(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, num_downs=8, ngf=64, norm="batch", dropout=0.5):
        super().__init__()
        self.num_downs = num_downs
        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
        self.encoders = nn.ModuleList()
        for i in range(num_downs):
            cin = in_channels if i == 0 else widths[i - 1]
            self.encoders.append(EncoderBlock(cin, widths[i], norm, outermost=i == 0,
                                              innermost=i == num_downs - 1))
        self.decoders = nn.ModuleList([DecoderBlock(widths[-1], widths[-2], norm, dropout=dropout)])
        for j in range(1, num_downs - 1):
            level = num_downs - 2 - j
            self.decoders.append(DecoderBlock(2 * widths[level + 1], widths[level], norm,
                                              dropout=dropout if j < 3 else 0.0))
        self.decoders.append(DecoderBlock(2 * widths[0], out_channels, norm, outermost=True))

    def forward(self, x):
        side = 2 ** self.num_downs
        if x.shape[-2] % side or x.shape[-1] % side:
            raise ValueError(f"each side must be a multiple of {side}, got {tuple(x.shape[-2:])}")
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
        x = skips.pop()
        for decoder in self.decoders[:-1]:
            x = decoder(x, skips.pop())
        return self.decoders[-1](x)


def encoder_shapes(size=256, num_downs=8, ngf=64):
    return [(ngf * min(2 ** i, 8), size // 2 ** (i + 1), size // 2 ** (i + 1)) for i in range(num_downs)]


def decoder_in_channels(num_downs=8, ngf=64):
    widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]
    return [widths[-1]] + [2 * widths[level] for level in range(num_downs - 2, -1, -1)]


def encoder_field(num_downs):
    return 3 * 2 ** num_downs - 2
'''


def student(*changes):
    """The correct copy with each (old, new) replacement applied once, as a namespace."""
    source = SOURCE
    for old, new in changes:
        assert source.count(old) == 1, f"{old!r} must occur exactly once in SOURCE"
        source = source.replace(old, new)
    namespace = {"__name__": "student_notebook"}
    exec(compile(source, "<notebook>", "exec"), namespace)
    return namespace


def fails(check_fn, obj, *pattern_parts, **kwargs):
    with pytest.raises(CheckFailed) as info:
        check_fn(obj, **kwargs)
    message = " ".join(str(info.value).split())
    for part in pattern_parts:
        assert re.search(part, message), f"{part!r} not in: {message}"
    return message


# --- correct code passes ------------------------------------------------------------------------

def test_correct_copy_passes_every_check(capsys):
    s = student()
    check.encoder_shapes(s["encoder_shapes"])
    check.decoder_in_channels(s["decoder_in_channels"])
    for norm in ("batch", "instance", "none"):
        check.encoder_block(s["EncoderBlock"], norm=norm)
        check.decoder_block(s["DecoderBlock"], norm=norm)
    check.unet_generator(s["UNetGenerator"])
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, norm="instance", size=64)
    check.unet_size_error(s["UNetGenerator"])
    check.encoder_field(s["encoder_field"])
    check.encoder_fields({n: 3 * 2 ** n - 2 for n in range(5, 9)})
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 13


def test_correct_copy_has_the_official_parameter_counts_and_outputs():
    UNet = student()["UNetGenerator"]
    check.unet_full_size(UNet)
    check.unet_parameters(UNet, num_downs=7)
    check.unet_parameters(UNet, norm="instance")


def test_the_fixed_counts_are_the_reference_counts():
    from p2p_ref.models import UNetGenerator, count_parameters
    for (num_downs, norm), count in check.PARAMETERS.items():
        assert count_parameters(UNetGenerator(num_downs=num_downs, norm=norm)) == count


# --- the reference itself, or code built on it, is refused ------------------------------------

def test_subclass_or_reuse_of_the_reference_fails():
    s = student(("class EncoderBlock(nn.Module):", "from p2p_ref.models import EncoderBlock as _Ref\n\n\n"
                 "class EncoderBlock(_Ref):"))
    fails(check.encoder_block, s["EncoderBlock"], "uses the reference implementation", "as a base class")
    from p2p_ref import models
    fails(check.unet_generator, models.UNetGenerator, "from the reference package")
    s = student(("self.decoders.append(DecoderBlock(2 * widths[0]", "self.decoders.append(_RefDecoder(2 * widths[0]"))
    s["_RefDecoder"] = models.DecoderBlock
    fails(check.unet_generator, s["UNetGenerator"], "uses the reference implementation", "DecoderBlock")


# --- encoder mistakes --------------------------------------------------------------------------

def test_relu_in_the_encoder_is_named():
    s = student(("layers = [] if outermost else [nn.LeakyReLU(0.2)]", "layers = [] if outermost else [nn.ReLU()]"))
    fails(check.encoder_block, s["EncoderBlock"], "middle block .* uses ReLU", "LeakyReLU with slope 0.2")
    fails(check.unet_generator, s["UNetGenerator"], r"encoders\[1\] \(e2\) uses ReLU")
    check.decoder_block(s["DecoderBlock"])


def test_wrong_leaky_slope_is_named():
    s = student(("[nn.LeakyReLU(0.2)]", "[nn.LeakyReLU()]"))
    fails(check.encoder_block, s["EncoderBlock"], r"LeakyReLU\(0.01\)", r"LeakyReLU\(0.2\)")


def test_missing_batchnorm_is_named():
    s = student(("        if not outermost and not innermost:\n            layers.append(norm_layer(norm, out_channels))\n", ""))
    fails(check.encoder_block, s["EncoderBlock"], "has no BatchNorm2d after its conv")


def test_norm_on_the_bottleneck_is_named():
    s = student(("if not outermost and not innermost:", "if not outermost:"))
    fails(check.encoder_block, s["EncoderBlock"], "bottleneck e8 .* has a norm layer", "1 x 1 bottleneck")


def test_instance_norm_for_batch_is_named():
    s = student(('        return nn.BatchNorm2d(channels)', '        return nn.InstanceNorm2d(channels)'))
    fails(check.encoder_block, s["EncoderBlock"], "InstanceNorm2d for norm='batch'", "BatchNorm")


def test_bias_on_convs_before_batchnorm_is_named():
    s = student(('bias=norm != "batch"))', 'bias=True))'))
    fails(check.encoder_block, s["EncoderBlock"], "Conv2d in EncoderBlock .* has a bias", "bias=False")
    fails(check.unet_parameters, s["UNetGenerator"], r"54,416,963 parameters \(\+3,008\)", "54,413,955",
          r"encoders\[0\]: it has 3,136 parameters, the reference 3,072")


def test_max_pooling_and_wrong_geometry_are_named():
    s = student(("nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1,",
                 "nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1,"))
    fails(check.encoder_block, s["EncoderBlock"], "kernel 3, stride 1", "kernel 4, stride 2, padding 1")
    s = student(("        self.block = nn.Sequential(*layers)\n\n    def forward(self, x):\n",
                 "        layers.append(nn.MaxPool2d(2))\n        self.block = nn.Sequential(*layers)\n\n"
                 "    def forward(self, x):\n"))
    fails(check.encoder_block, s["EncoderBlock"], "uses MaxPool2d", "stride-2 convs")


def test_layers_outside_block_are_refused():
    s = student(("        self.block = nn.Sequential(*layers)\n\n    def forward(self, x):\n        return self.block(x)",
                 "        self.layers = nn.Sequential(*layers)\n\n    def forward(self, x):\n        return self.layers(x)"))
    fails(check.encoder_block, s["EncoderBlock"], "no `self.block` nn.Sequential")


# --- decoder mistakes --------------------------------------------------------------------------

def test_missing_skip_is_named_in_the_block_and_the_model():
    s = student(("return torch.cat([y, skip], dim=1)", "return y"))
    fails(check.decoder_block, s["DecoderBlock"], "ignores the skip", "concatenated with the skip")
    fails(check.unet_generator, s["UNetGenerator"], r"decoders\[0\] \(joined with e7\) returns shape \[1, 64, 2, 2\]",
          "channel size differs", "skip was not concatenated", r"\[1, 128, 2, 2\]")
    check.encoder_block(s["EncoderBlock"])


def test_added_or_reversed_skip_is_named():
    s = student(("return torch.cat([y, skip], dim=1)", "return y + skip"))
    fails(check.decoder_block, s["DecoderBlock"], "adds the skip", "does not add")
    s = student(("return torch.cat([y, skip], dim=1)", "return torch.cat([skip, y], dim=1)"))
    fails(check.decoder_block, s["DecoderBlock"], "puts the skip first", r"torch.cat\(\[y, skip\], dim=1\)")


def test_leaky_relu_or_missing_tanh_in_the_decoder_is_named():
    s = student(("layers = [nn.ReLU(), nn.ConvTranspose2d", "layers = [nn.LeakyReLU(0.2), nn.ConvTranspose2d"))
    fails(check.decoder_block, s["DecoderBlock"], "uses LeakyReLU", "plain ReLU")
    s = student(("            layers.append(nn.Tanh())\n", "            pass\n"))
    fails(check.decoder_block, s["DecoderBlock"], "outermost .* does not end with Tanh", r"\[-1, 1\]")


def test_dropout_mistakes_are_named():
    s = student(("            if dropout > 0:\n                layers.append(nn.Dropout(dropout))\n", ""))
    fails(check.decoder_block, s["DecoderBlock"], "dropout=0.5 has no Dropout")
    s = student(("layers = [nn.ReLU(), nn.ConvTranspose2d", "layers = [nn.Dropout(dropout)] * (dropout > 0) + [nn.ReLU(), nn.ConvTranspose2d"),
                ("            if dropout > 0:\n                layers.append(nn.Dropout(dropout))\n", ""))
    fails(check.decoder_block, s["DecoderBlock"], "right layers in the wrong order")
    # the official PyTorch code's placement, one level higher than the paper's
    s = student(("self.decoders = nn.ModuleList([DecoderBlock(widths[-1], widths[-2], norm, dropout=dropout)])",
                 "self.decoders = nn.ModuleList([DecoderBlock(widths[-1], widths[-2], norm)])"),
                ("dropout=dropout if j < 3 else 0.0", "dropout=dropout if j < 4 else 0.0"))
    fails(check.unet_generator, s["UNetGenerator"], r"decoders\[0\] has no Dropout", r"only decoders\[0\], \[1\], \[2\]")
    check.decoder_block(s["DecoderBlock"])


# --- model wiring mistakes ---------------------------------------------------------------------

def test_wrong_first_decoder_width_names_the_weight_shape():
    s = student(("nn.ModuleList([DecoderBlock(widths[-1], widths[-2]", "nn.ModuleList([DecoderBlock(2 * widths[-1], widths[-2]"))
    fails(check.unet_generator, s["UNetGenerator"],
          r"decoders.0.block.1.weight has shape \[128, 64, 4, 4\] but the reference has \[64, 64, 4, 4\]",
          "in_channels is 128, expected 64", "input is the bottleneck e8, 64 channels")


def test_wrong_skip_pairing_or_no_skips_in_forward_is_named():
    s = student(("x = decoder(x, skips.pop())", "x = decoder(x, skips.pop(0))"))
    fails(check.unet_generator, s["UNetGenerator"], r"gives decoders\[0\] e1 as its skip", r"e7, shape \[1, 64, 2, 2\]")
    s = student(("x = decoder(x, skips.pop())", "x = decoder(x)"))
    fails(check.unet_generator, s["UNetGenerator"], r"calls decoders\[0\] without a skip")
    check.decoder_block(s["DecoderBlock"])


def test_missing_size_check_is_named():
    s = student(("        if x.shape[-2] % side or x.shape[-1] % side:\n", "        if False:\n"))
    fails(check.unet_size_error, s["UNetGenerator"], "100 x 96 input .* raised RuntimeError", "ValueError")
    check.unet_generator(s["UNetGenerator"])


# --- shapes, channels, receptive field ---------------------------------------------------------

def test_shape_and_channel_exercises_catch_the_usual_slips():
    s = student(("ngf * min(2 ** i, 8), size", "ngf * 2 ** i, size"))
    fails(check.encoder_shapes, s["encoder_shapes"], r"e5 is \(1024, 8, 8\)", r"e5 = \(512, 8, 8\)")
    s = student(("return [widths[-1]] + [2 * widths[level]", "return [widths[-1]] + [widths[level]"))
    fails(check.decoder_in_channels, s["decoder_in_channels"], r"decoder_in_channels\(8, 64\) = \[512, 512, 512",
          r"\[512, 1024, 1024, 1024, 1024, 512, 256, 128\]")


def test_receptive_field_exercises():
    s = student(("return 3 * 2 ** num_downs - 2", "return 4 * 2 ** (num_downs - 1)"))
    fails(check.encoder_field, s["encoder_field"], r"encoder_field\(2\) = 8", "1 \\+ 3")
    fails(check.encoder_fields, {5: 94, 6: 190, 7: 382, 8: 256}, "766")
