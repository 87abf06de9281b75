"""The lesson-2 checks (p2p_ref.course.checks.ex2) pass a correct U-Net written here and fail realistic
mistakes with a message that names the mistake in plain words.

The correct copy is source text: each mistake is the same text with one line changed, executed as
its own module, so the student code under test never comes from p2p_ref.
"""

import re

import pytest

from p2p_ref.course.checks import ex2 as check
from p2p_ref.course.checks.common import CheckFailed

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
    raise ValueError(f"unknown norm {norm!r}: use 'batch', 'instance' or 'none'")


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
        for n in x.shape[-2:]:
            if n % side:
                raise ValueError(f"side {n} is no multiple of {side}: use {n // side * side} or "
                                 f"{(n // side + 1) * side}")
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
    check.norm_layer(s["norm_layer"])
    for norm in ("batch", "instance", "none"):
        check.encoder_block(s["EncoderBlock"], norm=norm)
        check.decoder_block(s["DecoderBlock"], norm=norm)
    check.unet_generator(s["UNetGenerator"])
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, norm="instance", size=64)
    check.unet_size_error(s["UNetGenerator"])
    check.encoder_field(s["encoder_field"])
    check.encoder_fields({n: 3 * 2 ** n - 2 for n in range(5, 9)})
    out = capsys.readouterr().out
    assert out.count("\N{CHECK MARK}") == 14
    assert "put together right" not in out  # nothing was rescued by the reference's parts


def test_correct_copy_has_the_official_parameter_counts_and_outputs():
    UNet = student()["UNetGenerator"]
    check.unet_full_size(UNet)
    check.unet_parameters(UNet, num_downs=7)
    check.unet_parameters(UNet, norm="instance")
    check.unet(UNet)  # lesson 5's strict check


def test_the_fixed_counts_are_the_reference_counts():
    from p2p_ref.paper.models import UNetGenerator, count_parameters
    for (num_downs, norm), count in check.PARAMETERS.items():
        assert count_parameters(UNetGenerator(num_downs=num_downs, norm=norm)) == count


# --- the reference itself, or code built on it, is refused ------------------------------------

def test_subclass_or_reuse_of_the_reference_fails():
    s = student(("class EncoderBlock(nn.Module):", "from p2p_ref.paper.models import EncoderBlock as _Ref\n\n\n"
                 "class EncoderBlock(_Ref):"))
    fails(check.encoder_block, s["EncoderBlock"], "uses the reference implementation", "as a base class")
    from p2p_ref.paper import models
    fails(check.unet_generator, models.UNetGenerator, "from the reference package")
    s = student(("self.decoders.append(DecoderBlock(2 * widths[0]", "self.decoders.append(_RefDecoder(2 * widths[0]"))
    s["_RefDecoder"] = models.DecoderBlock
    fails(check.unet_generator, s["UNetGenerator"], "uses the reference implementation", "DecoderBlock")


# --- encoder mistakes --------------------------------------------------------------------------

def test_relu_in_the_encoder_is_named_and_charged_to_the_block_only(capsys):
    s = student(("layers = [] if outermost else [nn.LeakyReLU(0.2)]", "layers = [] if outermost else [nn.ReLU()]"))
    fails(check.encoder_block, s["EncoderBlock"], r"middle block .* is preceded by ReLU", "leaky, with slope 0.2")
    check.decoder_block(s["DecoderBlock"])
    # the generator is put together right: it keeps its points, and the message names the block
    capsys.readouterr()
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, size=32)
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("put together right") == 1
    assert "your EncoderBlock (exercise 3) fails its own check: EncoderBlock for a middle block" in out
    assert "DecoderBlock (exercise 4)" not in out
    # lesson 5 trains the student's own blocks: its check is strict
    fails(check.unet, s["UNetGenerator"], r"e2 is preceded by ReLU")
    assert s["EncoderBlock"].__module__ == "student_notebook"  # the student's own again


def test_wrong_leaky_slope_is_named():
    s = student(("[nn.LeakyReLU(0.2)]", "[nn.LeakyReLU()]"))
    fails(check.encoder_block, s["EncoderBlock"], r"LeakyReLU\(0.01\)", r"LeakyReLU\(0.2\)")


def test_missing_batchnorm_is_named():
    s = student(("        if not outermost and not innermost:\n            layers.append(norm_layer(norm, out_channels))\n", ""))
    fails(check.encoder_block, s["EncoderBlock"], "has no norm after its convolution", r"BatchNorm2d\(32\)")


def test_norm_on_the_bottleneck_is_named():
    s = student(("if not outermost and not innermost:", "if not outermost:"))
    fails(check.encoder_block, s["EncoderBlock"], r"bottleneck e8 .* has BatchNorm2d", r"the 1 x 1 bottleneck\) must have no normalisation")


def test_instance_norm_for_batch_is_named():
    s = student(('        return nn.BatchNorm2d(channels)', '        return nn.InstanceNorm2d(channels)'))
    fails(check.encoder_block, s["EncoderBlock"], r"has InstanceNorm2d\(32\)", "the paper normalises with BatchNorm")


def test_bias_on_convs_before_batchnorm_is_named():
    s = student(('bias=norm != "batch"))', 'bias=True))'))
    fails(check.encoder_block, s["EncoderBlock"], r"middle block .* is Conv2d\(16 -> 32, .*bias=True\)", "bias=False: BatchNorm follows")
    # the strict count (lesson 5's check) names the first block whose count is off
    fails(check.unet, s["UNetGenerator"], r"e1 is Conv2d\(3 -> 8, .*bias=True\)")
    with pytest.raises(CheckFailed, match=r"(?s)54,416,963 parameters \(\+3,008\).*54,413,955.*"
                       r"e1: its convolution has 3,136 parameters, the reference's 3,072"):
        check._unet_parameters(s["UNetGenerator"], 8, "batch")


def test_max_pooling_and_wrong_geometry_are_named():
    s = student(("nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1,",
                 "nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1,"))
    fails(check.encoder_block, s["EncoderBlock"], "kernel 3, stride 1", "kernel 4 and stride 2")
    s = student(("        self.block = nn.Sequential(*layers)\n\n    def forward(self, x):\n",
                 "        layers.append(nn.MaxPool2d(2))\n        self.block = nn.Sequential(*layers)\n\n"
                 "    def forward(self, x):\n"))
    fails(check.encoder_block, s["EncoderBlock"], "runs MaxPool2d", "no pooling")


def test_other_attribute_names_and_layouts_pass():
    """The layers may live anywhere: other attribute names, an nn.ModuleDict, no nn.Sequential."""
    s = student(("        self.block = nn.Sequential(*layers)\n\n    def forward(self, x):\n        return self.block(x)",
                 "        self.layers = nn.ModuleDict({str(i): m for i, m in enumerate(layers)})\n\n"
                 "    def forward(self, x):\n        for m in self.layers.values():\n            x = m(x)\n        return x"))
    check.encoder_block(s["EncoderBlock"])
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, size=32)


# --- decoder mistakes --------------------------------------------------------------------------

def test_missing_skip_is_named_in_the_block_and_the_model(capsys):
    s = student(("return torch.cat([y, skip], dim=1)", "return y"))
    fails(check.decoder_block, s["DecoderBlock"], "ignores the skip", "concatenated along the channels")
    fails(check.unet, s["UNetGenerator"], r"decoder layer 2 cannot run: it is given \[2, 64, 2, 2\]",
          "an input of 128 channels: it reads decoder layer 1's output and the skip e7")
    check.encoder_block(s["EncoderBlock"])
    capsys.readouterr()
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, size=32)
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("put together right") == 1
    assert "your DecoderBlock (exercise 4) fails its own check: DecoderBlock for a decoder block with " \
           "dropout=0.5 ignores the skip" in out


def test_added_or_reversed_skip_is_named():
    s = student(("return torch.cat([y, skip], dim=1)", "return y + skip"))
    fails(check.decoder_block, s["DecoderBlock"], "adds the skip", "simply concatenates")
    s = student(("return torch.cat([y, skip], dim=1)", "return torch.cat([skip, y], dim=1)"))
    fails(check.decoder_block, s["DecoderBlock"], "puts the skip first", r"\[upsampled, skip\]")


def test_leaky_relu_or_missing_tanh_in_the_decoder_is_named():
    s = student(("layers = [nn.ReLU(), nn.ConvTranspose2d", "layers = [nn.LeakyReLU(0.2), nn.ConvTranspose2d"))
    fails(check.decoder_block, s["DecoderBlock"], r"is preceded by LeakyReLU\(0.2\)", "not leaky")
    s = student(("            layers.append(nn.Tanh())\n", "            pass\n"))
    fails(check.decoder_block, s["DecoderBlock"], "outermost .* does not end with Tanh", r"\[-1, 1\]")


def test_dropout_mistakes_are_named():
    s = student(("            if dropout > 0:\n                layers.append(nn.Dropout(dropout))\n", ""))
    fails(check.decoder_block, s["DecoderBlock"], "dropout=0.5 does not drop out")
    s = student(("layers = [nn.ReLU(), nn.ConvTranspose2d", "layers = [nn.Dropout(dropout)] * (dropout > 0) + [nn.ReLU(), nn.ConvTranspose2d"),
                ("            if dropout > 0:\n                layers.append(nn.Dropout(dropout))\n", ""))
    fails(check.decoder_block, s["DecoderBlock"], "does not drop out|after the convolution come")
    # the official PyTorch code's placement, one level higher than the paper's
    s = student(("self.decoders = nn.ModuleList([DecoderBlock(widths[-1], widths[-2], norm, dropout=dropout)])",
                 "self.decoders = nn.ModuleList([DecoderBlock(widths[-1], widths[-2], norm)])"),
                ("dropout=dropout if j < 3 else 0.0", "dropout=dropout if j < 4 else 0.0"))
    fails(check.unet_generator, s["UNetGenerator"], r"decoder layer 1 does not drop out", "the decoder's first three layers drop out")
    check.decoder_block(s["DecoderBlock"])


# --- model wiring mistakes ---------------------------------------------------------------------

def test_wrong_first_decoder_width_names_the_weight_shape():
    s = student(("nn.ModuleList([DecoderBlock(widths[-1], widths[-2]", "nn.ModuleList([DecoderBlock(2 * widths[-1], widths[-2]"))
    fails(check.unet_generator, s["UNetGenerator"],
          r"decoder layer 1 is ConvTranspose2d\(128 -> 64, .*reads 128 channels", r"64 -> 64: it reads the bottleneck e8 alone \(64 channels\)")


def test_wrong_skip_pairing_or_no_skips_in_forward_is_named():
    s = student(("x = decoder(x, skips.pop())", "x = decoder(x, skips.pop(0))"))
    fails(check.unet_generator, s["UNetGenerator"], r"stops after decoder layer 1 with RuntimeError", "next decoder layer 2")
    s = student(("x = decoder(x, skips.pop())", "x = decoder(x)"))
    fails(check.unet_generator, s["UNetGenerator"], r"decoder layer 2 cannot run: it is given \[2, 64, 2, 2\]", "decoder layer 1's output and the skip e7")
    check.decoder_block(s["DecoderBlock"])


def test_size_check_mistakes_are_named():
    s = student(("            if n % side:\n", "            if False:\n"))
    fails(check.unet_size_error, s["UNetGenerator"], "100 x 64 input .* raised RuntimeError", "ValueError",
          "names 96 or 128")
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, size=32)
    s = student(('f"side {n} is no multiple of {side}: use {n // side * side} or "\n'
                 '                                 f"{(n // side + 1) * side}"',
                 'f"side {n} is no multiple of {side}"'))
    fails(check.unet_size_error, s["UNetGenerator"], "without the nearest sizes", "96 or 128")
    s = student(('f"side {n} is no multiple', 'f"a side is no multiple'))
    fails(check.unet_size_error, s["UNetGenerator"], "without the size 100")
    # only the width checked: the height 100 runs into the network
    s = student(("        for n in x.shape[-2:]:", "        for n in x.shape[-1:]:"))
    fails(check.unet_size_error, s["UNetGenerator"], "100 x 64 input with num_downs=5 raised RuntimeError")
    # a check that refuses every non-square input
    s = student(("        for n in x.shape[-2:]:\n",
                 "        if x.shape[-1] != x.shape[-2]:\n            raise ValueError('square inputs only')\n"
                 "        for n in x.shape[-2:]:\n"))
    fails(check.unet_size_error, s["UNetGenerator"], "100 x 64 input says 'square inputs only'")
    s = student(("        for n in x.shape[-2:]:\n",
                 "        if x.shape[-1] != x.shape[-2] and x.shape[-1] % side == 0 == x.shape[-2] % side:\n"
                 "            raise ValueError('square inputs only')\n        for n in x.shape[-2:]:\n"))
    fails(check.unet_size_error, s["UNetGenerator"], "refuses a 64 x 96 input", "square or not")
    # a forward that crops to a square: square inputs work, others come out wrong
    s = student(("        skips = []\n", "        x = x[..., :x.shape[-2]]\n        skips = []\n"))
    fails(check.unet_size_error, s["UNetGenerator"], "works on 64 x 64 but on a 64 x 96 input returns \\[1, 3, 64, 64\\]")


def test_size_check_is_graded_on_its_own(capsys):
    # the forward's wiring is wrong (graded by the generator's cells), the size check is right
    s = student(("x = decoder(x, skips.pop())", "x = decoder(x, skips.pop(0))"))
    check.unet_size_error(s["UNetGenerator"])
    assert "the forward itself does not work yet" in capsys.readouterr().out


# --- shapes, channels, receptive field ---------------------------------------------------------

def test_shape_and_channel_exercises_catch_the_usual_slips():
    s = student(("ngf * min(2 ** i, 8), size", "ngf * 2 ** i, size"))
    fails(check.encoder_shapes, s["encoder_shapes"], r"e5 is \(1024, 8, 8\)", r"e5 = \(512, 8, 8\)")
    s = student(("return [widths[-1]] + [2 * widths[level]", "return [widths[-1]] + [widths[level]"))
    fails(check.decoder_in_channels, s["decoder_in_channels"], r"decoder_in_channels\(8, 64\) = \[512, 512, 512",
          r"\[512, 1024, 1024, 1024, 1024, 512, 256, 128\]")


def test_receptive_field_exercises():
    s = student(("return 3 * 2 ** num_downs - 2", "return 4 * 2 ** (num_downs - 1)"))
    message = fails(check.encoder_field, s["encoder_field"], r"encoder_field\(2\) = 8", "10, the side",
                    "write out r for n = 1, 2, 3")
    # the message guides without giving the closed form away
    assert not re.search(r"3 ?\* ?2|2\^n|2 ?\*\* ?n|1 \+ 2 \+", message.split("Expected")[1])
    fails(check.encoder_fields, {5: 94, 6: 190, 7: 382, 8: 256}, r"fields\[8\] = 256", "766")
    fails(check.encoder_fields, {4: 46, 5: 94, 6: 190, 7: 382}, "keys 5, 6, 7, 8")


def test_receptive_field_may_be_a_loop_or_a_recursion():
    s = student(("    return 3 * 2 ** num_downs - 2",
                 "    r, jump = 1, 1\n    for _ in range(num_downs):\n        r, jump = r + 3 * jump, 2 * jump\n"
                 "    return r"))
    check.encoder_field(s["encoder_field"])
    s = student(("    return 3 * 2 ** num_downs - 2",
                 "    return 4 if num_downs == 1 else 2 * encoder_field(num_downs - 1) + 2"))
    check.encoder_field(s["encoder_field"])
    s = student(("from torch import nn\n", "from torch import nn\nfrom p2p_ref.paper.receptive_field import receptive_field\n"),
                ("    return 3 * 2 ** num_downs - 2", "    return receptive_field([(4, 2, 1)] * num_downs).size"))
    fails(check.encoder_field, s["encoder_field"], "uses the reference implementation")


# --- norm_layer (exercise 3) -------------------------------------------------------------------

def test_norm_layer_mistakes_are_named():
    s = student(("        return nn.InstanceNorm2d(channels)\n", "        return nn.InstanceNorm2d(channels, affine=True)\n"))
    fails(check.norm_layer, s["norm_layer"], r"norm_layer\('instance', 16\) has affine=True", "affine=False")
    s = student(('    raise ValueError(f"unknown norm {norm!r}: use \'batch\', \'instance\' or \'none\'")\n',
                 "    return nn.BatchNorm2d(channels)\n"))
    fails(check.norm_layer, s["norm_layer"], r"norm_layer\('group', 16\) raised no error", "ValueError")
    s = student(('    raise ValueError(f"unknown norm {norm!r}: use \'batch\', \'instance\' or \'none\'")\n',
                 '    raise ValueError("unknown norm")\n'))
    fails(check.norm_layer, s["norm_layer"], "without 'group', 'batch', 'instance', 'none'")
    s = student(('    raise ValueError(f"unknown norm {norm!r}: use \'batch\', \'instance\' or \'none\'")\n',
                 "    return {}[norm]\n"))
    fails(check.norm_layer, s["norm_layer"], r"raised KeyError", "a ValueError")
    s = student(("        return nn.Identity()\n", "        return None\n"))
    fails(check.norm_layer, s["norm_layer"], r"norm_layer\('none', 16\) returns NoneType", r"nn.Identity\(\)")


def test_a_norm_layer_mistake_costs_exercise_3_only(capsys):
    """The issue's example: nn.InstanceNorm2d(c, affine=True) used to fail every block, generator
    and hidden check; now only exercise 3's, and the other messages name norm_layer and the block."""
    s = student(("        return nn.InstanceNorm2d(channels)\n", "        return nn.InstanceNorm2d(channels, affine=True)\n"))
    fails(check.encoder_block, s["EncoderBlock"], r"has InstanceNorm2d\(32, affine=True", norm="instance")
    capsys.readouterr()
    check.decoder_block(s["DecoderBlock"], norm="instance")
    out = " ".join(capsys.readouterr().out.split())
    assert "DecoderBlock (norm='instance') is put together right: with the reference's pieces in place of " \
           "your norm_layer it passes" in out
    assert "your norm_layer (exercise 3) fails its own check: norm_layer('instance', 16) has affine=True" in out
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, norm="instance", size=32)
    check.unet_parameters(s["UNetGenerator"], norm="instance")
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("put together right: with the reference's pieces in place of your") == 2
    assert "your EncoderBlock (exercise 3) fails its own check" in out
    assert "your DecoderBlock" not in out  # the decoder block itself is right
    # the student's names are back in place after each substitution
    assert s["norm_layer"].__module__ == s["EncoderBlock"].__module__ == "student_notebook"


def test_reference_parts_are_put_back_even_when_the_check_fails():
    s = student(("layers = [] if outermost else [nn.LeakyReLU(0.2)]", "layers = [] if outermost else [nn.ReLU()]"),
                ("dropout=dropout if j < 3 else 0.0", "dropout=0.0"))
    own = (s["EncoderBlock"], s["DecoderBlock"], s["norm_layer"])
    fails(check.unet_generator, s["UNetGenerator"], r"e2 is preceded by ReLU", num_downs=5, ngf=4, size=32)
    assert (s["EncoderBlock"], s["DecoderBlock"], s["norm_layer"]) == own


# --- what the checks accept: the official code's idioms, harmless extras -----------------------

def test_in_place_activations_of_the_official_code_pass():
    s = student(("[nn.LeakyReLU(0.2)]", "[nn.LeakyReLU(0.2, True)]"),
                ("layers = [nn.ReLU(), nn.ConvTranspose2d", "layers = [nn.ReLU(True), nn.ConvTranspose2d"))
    check.encoder_block(s["EncoderBlock"])
    check.decoder_block(s["DecoderBlock"])
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, size=32)
    check.unet_size_error(s["UNetGenerator"])
    # the in-place LeakyReLU overwrites the kept skips with LeakyReLU(e); the diagnosis of a real
    # wiring mistake still names the right encoder output
    s = student(("[nn.LeakyReLU(0.2)]", "[nn.LeakyReLU(0.2, True)]"),
                ("x = decoder(x, skips.pop())", "x = decoder(x, skips.pop(0))"))
    fails(check.unet_generator, s["UNetGenerator"], r"stops after decoder layer 1 with RuntimeError", num_downs=5, ngf=4, size=32)


def test_harmless_extra_layers_pass():
    # nn.Identity where a block has no norm, Dropout(0.0) in every decoder block
    s = student(("        if not outermost and not innermost:\n            layers.append(norm_layer(norm, out_channels))\n",
                 "        layers.append(nn.Identity() if outermost or innermost else norm_layer(norm, out_channels))\n"),
                ("            if dropout > 0:\n                layers.append(nn.Dropout(dropout))\n",
                 "            layers.append(nn.Dropout(dropout))\n"))
    check.encoder_block(s["EncoderBlock"])
    check.decoder_block(s["DecoderBlock"])
    check.unet_generator(s["UNetGenerator"], num_downs=5, ngf=4, size=32)
    # an Identity in front of e1's conv shifts its parameter names: the weights still pair up in forward order
    s = student(("layers = [] if outermost else [nn.LeakyReLU(0.2)]", "layers = [nn.Identity() if outermost else nn.LeakyReLU(0.2)]"))
    check.encoder_block(s["EncoderBlock"])


# --- arguments that must reach the layers ------------------------------------------------------

def test_arguments_the_spec_passes_on_are_checked():
    s = student(("                layers.append(nn.Dropout(dropout))", "                layers.append(nn.Dropout(0.5))"))
    fails(check.decoder_block, s["DecoderBlock"], r"dropout=0.2 has Dropout\(0.5\)", r"Dropout\(0.2\), the `dropout` argument")
    s = student(("dropout=dropout if j < 3 else 0.0", "dropout=0.5 if j < 3 else 0.0"),
                ("norm, dropout=dropout)])", "norm, dropout=0.5)])"))
    fails(check.unet_generator, s["UNetGenerator"], r"decoder layer 1 has Dropout\(0.5\)", r"Dropout\(0.25\)",
          num_downs=5, ngf=4, size=32, dropout=0.25)
    s = student(("cin = in_channels if i == 0", "cin = 3 if i == 0"),
                ("DecoderBlock(2 * widths[0], out_channels", "DecoderBlock(2 * widths[0], 3"))
    fails(check.unet_generator, s["UNetGenerator"], r"e1 is Conv2d\(3 -> 4, .*reads 3 channels",
          r"1 -> 4", num_downs=5, ngf=4, size=32, in_channels=1, out_channels=2)
    s = student(("EncoderBlock(cin, widths[i], norm,", "EncoderBlock(cin, widths[i],"),
                ("DecoderBlock(widths[-1], widths[-2], norm,", "DecoderBlock(widths[-1], widths[-2],"),
                ("DecoderBlock(2 * widths[level + 1], widths[level], norm,", "DecoderBlock(2 * widths[level + 1], widths[level],"),
                ("DecoderBlock(2 * widths[0], out_channels, norm,", "DecoderBlock(2 * widths[0], out_channels,"))
    fails(check.unet_generator, s["UNetGenerator"], r"e1 is Conv2d\(3 -> 4, .*bias=False\)", "bias=True: no BatchNorm follows",
          num_downs=5, ngf=4, norm="instance", size=32)
    fails(check.unet_parameters, s["UNetGenerator"], r"54,413,955 parameters \(\+4,352\)", norm="instance")


def test_a_generator_fixed_to_eight_levels_fails_at_other_depths():
    s = student(("        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]\n",
                 "        num_downs = 8\n        widths = [ngf * min(2 ** i, 8) for i in range(num_downs)]\n"))
    check.unet_generator(s["UNetGenerator"], num_downs=8, ngf=4)
    fails(check.unet_generator, s["UNetGenerator"], r"e7 \(the bottleneck\) has BatchNorm2d", "must have no normalisation",
          num_downs=7, ngf=4, size=128)


# --- layouts the checks read by what they compute ----------------------------------------------

RECURSIVE = '''
class Level(nn.Module):
    """The official code's UnetSkipConnectionBlock, joined [upsampled, skip] as this course does."""

    def __init__(self, outer, inner, cin=None, sub=None, outermost=False, innermost=False, norm="batch", p=0.0):
        super().__init__()
        self.outermost = outermost
        down = nn.Conv2d(cin or outer, inner, 4, 2, 1, bias=norm != "batch")
        if outermost:
            layers = [down, sub, nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1), nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                      nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=norm != "batch"), norm_layer(norm, outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down, norm_layer(norm, inner), sub, nn.ReLU(True),
                      nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=norm != "batch"), norm_layer(norm, outer)]
        if p and not outermost:
            layers.append(nn.Dropout(p))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([self.model(x), x], 1)


class RecursiveUNet(nn.Module):
    def __init__(self, in_channels=3, out_channels=3, num_downs=8, ngf=64, norm="batch", dropout=0.5):
        super().__init__()
        levels = [(8 * ngf, 8 * ngf)] * (num_downs - 4) + [(4 * ngf, 8 * ngf), (2 * ngf, 4 * ngf), (ngf, 2 * ngf)]
        sub = None
        for depth, (outer, inner) in enumerate(levels):
            sub = Level(outer, inner, sub=sub, innermost=sub is None, norm=norm, p=dropout if DROPPED(depth) else 0.0)
        self.model = Level(out_channels, ngf, cin=in_channels, sub=sub, outermost=True, norm=norm)

    def forward(self, x):
        return self.model(x)
'''


def test_an_official_style_recursive_unet_passes_and_its_dropout_is_checked():
    s = student(("def encoder_shapes(", RECURSIVE.replace("DROPPED(depth)", "depth < 3") + "\n\ndef encoder_shapes("))
    check.unet_generator(s["RecursiveUNet"], num_downs=5, ngf=4, size=32)
    check.unet_generator(s["RecursiveUNet"], num_downs=6, ngf=4, norm="instance", size=64, in_channels=1, out_channels=2)
    check.unet_parameters(s["RecursiveUNet"])
    # the official code's placement: one level higher than the paper's
    s = student(("def encoder_shapes(", RECURSIVE.replace("DROPPED(depth)", "1 <= depth < 4") + "\n\ndef encoder_shapes("))
    fails(check.unet_generator, s["RecursiveUNet"], "decoder layer 1 does not drop out",
          "the decoder's first three layers drop out", num_downs=5, ngf=4, size=32)


def test_a_dropout_that_ignores_train_mode_is_caught():
    # F.dropout with training=True: eval outputs match, train-mode draws do not
    s = student(("            if dropout > 0:\n                layers.append(nn.Dropout(dropout))\n", ""),
                ("        y = self.block(x)\n", "        y = self.block(x)\n        if self.dropout_p:\n"
                 "            y = torch.nn.functional.dropout(y, self.dropout_p, training=True)\n"),
                ("        self.block = nn.Sequential(*layers)\n\n    def forward(self, x, skip=None):",
                 "        self.block = nn.Sequential(*layers)\n        self.dropout_p = 0.0 if outermost else dropout\n\n"
                 "    def forward(self, x, skip=None):"))
    fails(check.decoder_block, s["DecoderBlock"], "different outputs on two runs in eval mode", "training=self.training")


# --- the experiment: PREDICTION and validation_l1 ----------------------------------------------

def test_any_well_formed_prediction_passes_and_others_are_named(capsys):
    check.prediction({"lower_l1": "encoder-decoder", "sharper_edges": "unet"})
    assert "Whether it is right earns no points" in capsys.readouterr().out
    fails(check.prediction, "unet", "PREDICTION is str")
    fails(check.prediction, {"lower_l1": "unet"}, "keys", "sharper_edges")
    fails(check.prediction, {"lower_l1": "U-Net", "sharper_edges": "unet"}, r"PREDICTION\['lower_l1'\] = 'U-Net'")


VALIDATION = '''
def validation_l1(G, pairs):
    G.train()
    with torch.no_grad():
        losses = [(y[None] - G(x[None])).abs().mean() for x, y in pairs]
    return torch.stack(losses).mean()
'''


def test_validation_l1_passes_and_the_usual_slips_are_named():
    def make(*changes):
        source = "import torch\n" + VALIDATION
        for old, new in changes:
            assert source.count(old) == 1
            source = source.replace(old, new)
        namespace = {"__name__": "student_notebook"}
        exec(source, namespace)
        return namespace["validation_l1"]

    check.validation_l1(make())
    check.validation_l1_more(make())
    fails(check.validation_l1, make(("G.train()", "G.eval()")), "runs G in eval mode", "in exactly the same manner")
    fails(check.validation_l1, make(("    with torch.no_grad():\n        losses", "    if True:\n        losses")),
          "autograd on|carries a graph", "no_grad")
    fails(check.validation_l1, make(("losses = [(y[None] - G(x[None])).abs().mean() for x, y in pairs]",
                                     "losses = [(torch.stack([y for _, y in pairs]) - G(torch.stack([x for x, _ in pairs]))).abs().mean()]")),
          r"batches of \[3\] pairs", "one pair at a time")
    fails(check.validation_l1, make(("abs().mean() for", "abs().sum() for")), "summed", "their mean")
    fails(check.validation_l1, make(("(y[None] - G(x[None])).abs()", "((y[None] - G(x[None])) / 2).abs()")),
          "rescaled to \\[0, 1\\]")
