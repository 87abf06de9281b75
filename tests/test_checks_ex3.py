"""The Exercise 3 checks pass a correct student solution and fail realistic mistakes with a message
that names the mistake."""

import pytest
import torch
from torch import nn

from p2p_ref.checks import CheckFailed
from p2p_ref.checks import ex3 as check
from p2p_ref.models import PatchDiscriminator as RefPatchDiscriminator
from p2p_ref.receptive_field import output_size as ref_output_size
from p2p_ref.receptive_field import receptive_field as ref_receptive_field


# ---- a correct student solution, written the way the notebook asks ----------------------------

def receptive_field(layers):
    size, jump, padding = 1, 1, 0
    for k, s, p in layers:
        size += (k - 1) * jump
        padding += p * jump
        jump *= s
    return size, jump, padding


def output_size(layers, input_size):
    n = input_size
    for k, s, p in layers:
        n = (n + 2 * p - k) // s + 1
    return n


def patch_targets(logits, target_is_real):
    return torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)


def make_norm(norm, channels):
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels)
    return nn.Identity()


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        bias = norm != "batch"
        if n_layers == 0:
            layers = [nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), make_norm(norm, 2 * ndf), nn.LeakyReLU(0.2),
                      nn.Conv2d(2 * ndf, 1, 1, bias=bias)]
        else:
            layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
            width = ndf
            for n in range(1, n_layers + 1):
                out = ndf * min(2 ** n, 8)
                layers += [nn.Conv2d(width, out, 4, 2 if n < n_layers else 1, 1, bias=bias),
                           make_norm(norm, out), nn.LeakyReLU(0.2)]
                width = out
            layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x, y=None):
        if y is not None:
            x = torch.cat([x, y], dim=1)
        return self.model(x)


def variant(edit_layers=None, forward=None):
    """A subclass-free copy of the correct D with its layer list edited or its forward replaced."""
    class Student(nn.Module):
        def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
            super().__init__()
            layers = list(PatchDiscriminator(in_channels, ndf, n_layers, norm).model)
            if edit_layers is not None:
                layers = edit_layers(layers, in_channels, ndf, n_layers)
            self.model = nn.Sequential(*layers)

        def forward(self, x, y=None):
            if forward is not None:
                return forward(self, x, y)
            if y is not None:
                x = torch.cat([x, y], dim=1)
            return self.model(x)
    return Student


def expect_failure(check_fn, student, *words):
    with pytest.raises(CheckFailed) as info:
        check_fn(student)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in the message:\n{message}"
    return message


# ---- correct solutions pass ----------------------------------------------------------------

def test_correct_receptive_field_and_output_size_pass(capsys):
    check.receptive_field(receptive_field)
    check.receptive_field_more(receptive_field)
    check.receptive_field_measured(receptive_field)
    check.output_size(output_size)
    out = capsys.readouterr().out
    assert "4 -> 10 -> 22 -> 46 -> 70" in out
    assert "256 -> 128 -> 64 -> 32 -> 31 -> 30" in out


def test_namedtuple_result_passes():
    from collections import namedtuple
    Field = namedtuple("Field", "size stride padding")
    check.receptive_field(lambda layers: Field(*receptive_field(layers)))


def test_correct_patch_targets_pass():
    check.patch_targets(patch_targets)


def test_correct_discriminator_passes_every_check():
    for fn in (check.patch_discriminator_layers, check.patch_discriminator_layers_more,
               check.patch_discriminator_shapes, check.patch_discriminator_shapes_more,
               check.patch_discriminator_matches_reference, check.patch_discriminator_variants):
        fn(PatchDiscriminator)


def test_the_facts_the_checks_use_are_the_reference_s():
    assert [ref_receptive_field(check.PATCHGAN_70[:n]).size for n in range(1, 6)] == check.GROWTH_70
    assert [ref_output_size(check.PATCHGAN_70[:n], 256) for n in range(1, 6)] == check.SIDES_70
    for n, field in check.FIELD_BY_N_LAYERS.items():
        assert ref_receptive_field(RefPatchDiscriminator(n_layers=n)).size == field
        assert ref_output_size(RefPatchDiscriminator(n_layers=n), 256) == check.OUTPUT_BY_N_LAYERS[n]


# ---- receptive_field mistakes ------------------------------------------------------------------

def test_missing_stride_product_is_named():
    def no_product(layers):
        size, jump, padding = 1, 1, 0
        for k, s, p in layers:
            size += k - 1
            padding += p * jump
            jump *= s
        return size, jump, padding
    message = expect_failure(check.receptive_field, no_product, "stride product is missing", "size 7")
    assert "size 10" in message  # the expected value at the first differing stack (two layers)
    expect_failure(check.receptive_field_measured, no_product, "16 x 16", "70 x 70")


def test_off_by_one_r_plus_k_is_named():
    def plus_k(layers):
        size, jump, padding = 1, 1, 0
        for k, s, p in layers:
            size += k * jump
            padding += p * jump
            jump *= s
        return size, jump, padding
    expect_failure(check.receptive_field, plus_k, "off by one", "gives size 5", "size 4")


def test_product_including_own_stride_is_named():
    def own_stride(layers):
        size, jump, padding = 1, 1, 0
        for k, s, p in layers:
            jump *= s
            size += (k - 1) * jump
            padding += p * jump
        return size, jump, padding
    expect_failure(check.receptive_field, own_stride, "BEFORE the layer itself", "gives size 7")


def test_strides_added_and_single_number_are_named():
    def added(layers):
        size, jump, padding = receptive_field(layers)
        return size, sum(s for _, s, _ in layers), padding
    expect_failure(check.receptive_field, added, "multiplied, not added")
    expect_failure(check.receptive_field, lambda layers: receptive_field(layers)[0], "single number")


def test_empty_stack_is_checked_by_the_hidden_check():
    def no_empty(layers):
        if not layers:
            return 0, 1, 0
        return receptive_field(layers)
    check.receptive_field(no_empty)
    expect_failure(check.receptive_field_more, no_empty, "receptive_field([])", "(1, 1, 0)")


def test_reference_function_is_refused():
    expect_failure(check.receptive_field, ref_receptive_field, "reference package")
    expect_failure(check.output_size, ref_output_size, "reference package")

    def wraps(layers):
        return ref_receptive_field(layers)
    expect_failure(check.receptive_field, wraps, "uses the reference implementation")


# ---- output_size mistakes ----------------------------------------------------------------------

def test_output_size_mistakes_are_named():
    expect_failure(check.output_size, lambda layers, n: _steps(layers, n, lambda m, k, s, p: (m + 2 * p - k) // s),
                   "+ 1 is missing", "127")
    expect_failure(check.output_size, lambda layers, n: _steps(layers, n, lambda m, k, s, p: (m - k) // s + 1),
                   "padding is missing")
    expect_failure(check.output_size, lambda layers, n: _steps(layers, n, lambda m, k, s, p: (m + 2 * p - k) / s + 1),
                   "floor division")


def _steps(layers, n, step):
    for k, s, p in layers:
        n = step(n, k, s, p)
    return n


# ---- patch_targets mistakes --------------------------------------------------------------------

def test_patch_target_mistakes_are_named():
    expect_failure(check.patch_targets, lambda logits, real: torch.ones(1, 1, 30, 30) * float(real),
                   "do not hard-code")
    expect_failure(check.patch_targets, lambda logits, real: torch.tensor(float(real)), "same shape")
    expect_failure(check.patch_targets, lambda logits, real: patch_targets(logits, not real), "swapped")
    expect_failure(check.patch_targets, lambda logits, real: logits * 0 + float(real), "require a gradient")
    expect_failure(check.patch_targets, lambda logits, real: torch.ones_like(logits, dtype=torch.long) * int(real),
                   "dtype")


# ---- PatchDiscriminator mistakes ---------------------------------------------------------------

def test_sigmoid_at_the_end_is_named():
    with_sigmoid = variant(lambda layers, *_: layers + [nn.Sigmoid()])
    expect_failure(check.patch_discriminator_layers, with_sigmoid, "Sigmoid", "(0, 1)", "logits")
    expect_failure(check.patch_discriminator_matches_reference, with_sigmoid, "sigmoid")
    check.patch_discriminator_shapes(with_sigmoid)  # shapes and parameters are still right

    def sigmoid_forward(self, x, y):
        return torch.sigmoid(self.model(torch.cat([x, y], 1) if y is not None else x))
    functional = variant(forward=sigmoid_forward)
    check.patch_discriminator_layers(functional)  # the layers are right; the forward is not
    expect_failure(check.patch_discriminator_matches_reference, functional, "sigmoid(logits)", "(0, 1)")


def test_stride_two_on_the_fourth_conv_is_named_with_its_output_size():
    def fourth_stride_2(layers, in_channels, ndf, n_layers):
        layers[8] = nn.Conv2d(4 * ndf, 8 * ndf, 4, 2, 1, bias=False)
        return layers
    student = variant(fourth_stride_2)
    expect_failure(check.patch_discriminator_layers, student, "model[8]", "stride 2", "15 x 15", "stride 1")
    expect_failure(check.patch_discriminator_shapes, student, "(2, 1, 15, 15)")


def test_norm_on_the_first_layer_is_named():
    def first_norm(layers, in_channels, ndf, n_layers):
        return [layers[0], nn.BatchNorm2d(ndf)] + layers[1:]
    expect_failure(check.patch_discriminator_layers, variant(first_norm), "first conv is followed by",
                   "no norm on the first layer")
    expect_failure(check.patch_discriminator_matches_reference, variant(first_norm), "do not load")


def test_missing_leaky_relu_and_plain_relu_are_named():
    def no_lrelu(layers, *_):
        return layers[:4] + layers[5:]  # drops the LeakyReLU after the 128-channel BatchNorm
    expect_failure(check.patch_discriminator_layers, variant(no_lrelu), "LeakyReLU after model[3] is missing")

    def relu(layers, *_):
        return [nn.ReLU() if isinstance(m, nn.LeakyReLU) else m for m in layers]
    expect_failure(check.patch_discriminator_layers, variant(relu), "model[1] is ReLU")
    # ReLU has no parameters, so the weights load; the logits then differ.
    expect_failure(check.patch_discriminator_matches_reference, variant(relu), "differ from the reference")


def test_bias_before_batchnorm_and_wrong_width_are_named():
    def biased(layers, in_channels, ndf, n_layers):
        layers[2] = nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=True)
        return layers
    expect_failure(check.patch_discriminator_layers, variant(biased), "bias=True", "BatchNorm's shift")
    expect_failure(check.patch_discriminator_shapes, variant(biased), "2,768,833")

    def narrow(layers, in_channels, ndf, n_layers):
        layers[-1] = nn.Conv2d(4 * ndf, 1, 4, 1, 1)
        return layers
    expect_failure(check.patch_discriminator_layers, variant(narrow), "input channels 256", "512")


def test_swapped_pair_and_missing_layers_are_named():
    def swapped(self, x, y):
        return self.model(torch.cat([y, x], 1) if y is not None else x)
    expect_failure(check.patch_discriminator_matches_reference, variant(forward=swapped), "(y, x)")
    expect_failure(check.patch_discriminator_layers, variant(lambda layers, *_: layers[:-1]), "stops after 11 layers", "Conv2d(512 -> 1")


def test_missing_pixelgan_branch_and_fixed_depth_are_named():
    class NoPixelGAN(nn.Module):
        def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
            super().__init__()
            layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
            width = ndf
            for n in range(1, n_layers + 1):
                out = ndf * min(2 ** n, 8)
                layers += [nn.Conv2d(width, out, 4, 2 if n < n_layers else 1, 1, bias=False),
                           nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
                width = out
            layers.append(nn.Conv2d(width, 1, 4, 1, 1))
            self.model = nn.Sequential(*layers)

        def forward(self, x, y=None):
            return self.model(torch.cat([x, y], 1) if y is not None else x)
    check.patch_discriminator_layers(NoPixelGAN)
    expect_failure(check.patch_discriminator_variants, NoPixelGAN, "n_layers=0", "PixelGAN")


def test_reference_discriminator_is_refused():
    expect_failure(check.patch_discriminator_layers, RefPatchDiscriminator, "reference package")

    class Wrapper(RefPatchDiscriminator):
        pass
    expect_failure(check.patch_discriminator_shapes, Wrapper, "as a base class")


def test_missing_model_attribute_and_nested_blocks_are_named():
    class NoModel(nn.Module):
        def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
            super().__init__()
            self.net = PatchDiscriminator(in_channels, ndf, n_layers, norm).model

        def forward(self, x, y=None):
            return self.net(torch.cat([x, y], 1) if y is not None else x)
    expect_failure(check.patch_discriminator_layers, NoModel, "no `model` attribute")

    def nested(layers, *_):
        return [nn.Sequential(*layers[:2])] + layers[2:]
    expect_failure(check.patch_discriminator_layers, variant(nested), "nested Sequential")
