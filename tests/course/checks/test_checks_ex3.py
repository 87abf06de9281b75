"""The Exercise 3 checks pass correct student solutions, however they are written, and fail
realistic mistakes with a message that names the mistake.

Student code that the "one mistake, one exercise" rule is about (norm_layer used by a
PatchDiscriminator) is source text executed in its own namespace, as in a notebook, so that the
checks can put the reference norm_layer in place of the student's there.
"""

from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from p2p_ref.course.checks import CheckFailed
from p2p_ref.course.checks import ex3 as check
from p2p_ref.paper.models import PatchDiscriminator as RefPatchDiscriminator
from p2p_ref.paper.models import init_weights
from p2p_ref.paper.receptive_field import output_size as ref_output_size
from p2p_ref.paper.receptive_field import receptive_field as ref_receptive_field

pytestmark = pytest.mark.usefixtures("one_thread")


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


NORM_LAYER = '''
import torch
from torch import nn

from p2p_ref.paper.models import init_weights  # the notebook's setup cell imports it


def norm_layer(norm, num_channels):
    if norm == "batch":
        return nn.BatchNorm2d(num_channels)
    if norm == "instance":
        return nn.InstanceNorm2d(num_channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm={norm!r}")
'''

DISCRIMINATOR = '''
class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        bias = norm != "batch"
        if n_layers == 0:
            layers = [nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(ndf, 2 * ndf, 1, bias=bias), norm_layer(norm, 2 * ndf), nn.LeakyReLU(0.2),
                      nn.Conv2d(2 * ndf, 1, 1, bias=bias)]
        else:
            layers = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
            width = ndf
            for n in range(1, n_layers + 1):
                out = ndf * min(2 ** n, 8)
                layers += [nn.Conv2d(width, out, 4, 2 if n < n_layers else 1, 1, bias=bias),
                           norm_layer(norm, out), nn.LeakyReLU(0.2)]
                width = out
            layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x, y=None):
        if y is not None:
            x = torch.cat([x, y], dim=1)
        return self.model(x)
'''


def notebook(*sources, edits=()):
    """Run source text as one notebook would (one namespace); `edits` are (old, new) replacements."""
    text = "\n".join(sources)
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    namespace = {"__name__": "__main__"}
    exec(compile(text, "<student notebook>", "exec"), namespace)
    return namespace


SOLUTION = notebook(NORM_LAYER, DISCRIMINATOR)
norm_layer, PatchDiscriminator = SOLUTION["norm_layer"], SOLUTION["PatchDiscriminator"]


def variant(edit_layers=None, forward=None):
    """A copy of the correct D with its layer list edited or its forward replaced."""
    class Student(nn.Module):
        def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
            super().__init__()
            layers = list(PatchDiscriminator(in_channels, ndf, n_layers, norm).model)
            if edit_layers is not None:
                layers = edit_layers(layers, ndf)
            self.model = nn.Sequential(*layers)
            init_weights(self)

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


ALL_D_CHECKS = (check.patch_discriminator_layers, check.patch_discriminator_layers_more,
                check.patch_discriminator_shapes, check.patch_discriminator_shapes_more,
                check.patch_discriminator_matches_reference, check.patch_discriminator_variants)


# ---- correct solutions pass ----------------------------------------------------------------

def test_correct_receptive_field_and_output_size_pass(capsys):
    check.receptive_field(receptive_field)
    check.receptive_field_more(receptive_field)
    check.receptive_field_measured(receptive_field)
    check.output_size(output_size)
    out = capsys.readouterr().out
    assert "agree with the reference on 9 stacks" in out and "output_size agrees with the reference" in out
    # the lesson asks for the 70 x 70 D's strides after these checks: their messages must not give them
    assert "4 -> 10 -> 22 -> 46 -> 70" not in out and "32 -> 31 -> 30" not in out


def test_a_wrong_formula_fails_before_a_message_shows_the_patchgan_layers():
    for wrong in (lambda layers: (1 + sum(k - 1 for k, _, _ in layers), 1, 0),
                  lambda layers: (sum(k for k, _, _ in layers), 1, 0)):
        with pytest.raises(CheckFailed) as e:
            check.receptive_field(wrong)
        assert "(4, 1, 1)" not in str(e.value)
    with pytest.raises(CheckFailed) as e:
        check.output_size(lambda layers, n: n // 2 ** len(layers))
    assert "(4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 1, 1)" not in str(e.value)


def test_other_correct_receptive_fields_pass():
    Field = namedtuple("Field", "size stride padding")
    check.receptive_field(lambda layers: Field(*receptive_field(layers)))

    def with_numpy(layers):  # np.prod gives numpy integers: still whole numbers of pixels
        strides = [s for _, s, _ in layers]
        jumps = [np.prod(strides[:l], dtype=np.int64) for l in range(len(layers))]
        return (1 + sum((k - 1) * j for (k, _, _), j in zip(layers, jumps)), np.prod(strides, dtype=np.int64),
                sum(p * j for (_, _, p), j in zip(layers, jumps)))
    check.receptive_field(with_numpy)
    check.receptive_field_more(with_numpy)

    def from_the_top(layers):  # backwards, from the output unit down to the input
        size, jump, padding = 1, 1, 0
        for k, s, p in reversed(layers):
            size = s * (size - 1) + k
            padding = s * padding + p
            jump *= s
        return [size, jump, padding]
    check.receptive_field_more(from_the_top)


def test_correct_patch_targets_pass():
    check.patch_targets(patch_targets)
    check.patch_targets(lambda logits, real: torch.full_like(logits, float(real)))
    # the official GANLoss idiom: a constant expanded to the logits' shape
    check.patch_targets(lambda logits, real: torch.tensor(1.0 if real else 0.0).expand_as(logits))


def test_correct_norm_layers_pass(capsys):
    check.norm_layer(norm_layer)

    import functools
    official = {"batch": functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True),
                "instance": functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False),
                "none": lambda c: nn.Identity()}

    def official_idiom(norm, num_channels):  # the official code raises NotImplementedError naming it
        if norm not in official:
            raise NotImplementedError(f"normalization layer [{norm}] is not found")
        return official[norm](num_channels)
    check.norm_layer(official_idiom)

    def group_norm(norm, c):  # instance norm as a GroupNorm with one group per channel
        return {"batch": nn.BatchNorm2d, "instance": lambda c: nn.GroupNorm(c, c, affine=False),
                "none": lambda c: nn.Sequential()}[norm](c)  # a KeyError names the value
    check.norm_layer(group_norm)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 3


def test_correct_discriminator_passes_every_check(capsys):
    for fn in ALL_D_CHECKS + (check.patch_discriminator,):
        fn(PatchDiscriminator)
    out = capsys.readouterr().out
    assert "reference's names (model.0.weight" in out  # one flat self.model: the official names


EXPLICIT = '''
import torch.nn.functional as F


class PatchDiscriminator(nn.Module):
    """Named attributes, ModuleLists, functional in-place LeakyReLU, torch.hstack."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        bias = norm != "batch"
        pixel = n_layers == 0
        k, p = (1, 0) if pixel else (4, 1)
        widths = [ndf] + ([2 * ndf] if pixel else [ndf * min(2 ** n, 8) for n in range(1, n_layers + 1)])
        strides = [1] if pixel else [2] * (n_layers - 1) + [1]
        self.first = nn.Conv2d(in_channels, ndf, k, 1 if pixel else 2, p)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, k, s, p, bias=bias)
                                   for a, b, s in zip(widths, widths[1:], strides))
        self.norms = nn.ModuleList(norm_layer(norm, b) for b in widths[1:])
        self.last = nn.Conv2d(widths[-1], 1, k, 1, p, bias=bias if pixel else True)
        init_weights(self)

    def forward(self, x, y=None):
        if y is not None:
            x = torch.hstack((x, y))
        x = F.leaky_relu(self.first(x), 0.2, inplace=True)
        for conv, norm in zip(self.convs, self.norms):
            x = F.leaky_relu(norm(conv(x)), negative_slope=0.2)
        return self.last(x)
'''

BLOCKS = '''
def block(in_c, out_c, stride, norm, with_norm=True, bias=True):
    """conv -> [norm] -> LeakyReLU(0.2, in place), as one nn.Sequential (a nested block)."""
    layers = [nn.Conv2d(in_c, out_c, 4, stride, 1, bias=bias)]
    if with_norm:
        layers.append(norm_layer(norm, out_c))
    return nn.Sequential(*layers, nn.LeakyReLU(0.2, True), nn.Identity())


class PatchDiscriminator(nn.Module):
    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        if n_layers == 0:
            self.model = nn.Sequential(nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2, True),
                                       nn.Conv2d(ndf, 2 * ndf, 1, bias=norm != "batch"), norm_layer(norm, 2 * ndf),
                                       nn.LeakyReLU(0.2, True), nn.Conv2d(2 * ndf, 1, 1, bias=norm != "batch"))
        else:
            nf_mult, blocks = 1, [block(in_channels, ndf, 2, norm, with_norm=False)]
            for n in range(1, n_layers + 1):
                nf_mult_prev, nf_mult = nf_mult, min(2 ** n, 8)
                blocks.append(block(ndf * nf_mult_prev, ndf * nf_mult, 2 if n < n_layers else 1, norm,
                                    bias=norm != "batch"))
            self.model = nn.Sequential(*blocks, nn.Conv2d(ndf * nf_mult, 1, 4, 1, 1))
        init_weights(self)

    def forward(self, x, y=None):
        return self.model(x if y is None else torch.concat((x, y), dim=-3))
'''


@pytest.mark.parametrize("source", [EXPLICIT, BLOCKS], ids=["attributes-functional", "nested-blocks"])
def test_discriminators_in_other_layouts_pass(source, capsys):
    D = notebook(NORM_LAYER, source)["PatchDiscriminator"]
    for fn in ALL_D_CHECKS:
        fn(D)
    out = capsys.readouterr().out
    assert "(not graded) its parameters are named differently" in out
    assert "in place of yours" not in out


def test_harmless_extras_pass():
    """An nn.Identity after the last conv and in-place LeakyReLUs change nothing."""
    inplace = variant(lambda layers, ndf: [nn.LeakyReLU(0.2, inplace=True) if isinstance(m, nn.LeakyReLU) else m
                                           for m in layers] + [nn.Identity()])
    check.patch_discriminator_layers(inplace)
    check.patch_discriminator_matches_reference(inplace)


def test_the_facts_the_checks_use_are_the_reference_s():
    assert [ref_receptive_field(check.PATCHGAN_70[:n]).size for n in range(1, 6)] == check.GROWTH_70
    assert [ref_output_size(check.PATCHGAN_70[:n], 256) for n in range(1, 6)] == check.SIDES_70
    for n, field in check.FIELD_BY_N_LAYERS.items():
        assert ref_receptive_field(RefPatchDiscriminator(n_layers=n)).size == field
        assert ref_output_size(RefPatchDiscriminator(n_layers=n), 256) == check.OUTPUT_BY_N_LAYERS[n]
    assert sum(p.numel() for p in RefPatchDiscriminator().parameters()) == check.PARAMS_70
    assert sum(p.numel() for p in RefPatchDiscriminator(norm="instance").parameters()) == check.PARAMS_70_INSTANCE


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


def test_strides_added_unscaled_padding_and_single_number_are_named():
    def added(layers):
        size, jump, padding = receptive_field(layers)
        return size, sum(s for _, s, _ in layers), padding
    expect_failure(check.receptive_field, added, "multiplied, not added")

    def unscaled(layers):
        size, jump, _ = receptive_field(layers)
        return size, jump, sum(p for _, _, p in layers)
    expect_failure(check.receptive_field, unscaled, "padding", "scaled by the strides before it")
    expect_failure(check.receptive_field, lambda layers: receptive_field(layers)[0], "single number")


def test_generic_hint_does_not_give_the_formula_away():
    message = expect_failure(check.receptive_field, lambda layers: (len(layers) + 3, 1, 0), "size")
    assert "prod" not in message and "sum_l" not in message


def test_empty_stack_is_checked_by_the_hidden_check():
    def no_empty(layers):  # a recursion whose base case is one layer
        k, s, p = layers[-1]
        if len(layers) == 1:
            return k, s, p
        size, jump, padding = no_empty(layers[:-1])
        return size + (k - 1) * jump, jump * s, padding + p * jump
    check.receptive_field(no_empty)
    expect_failure(check.receptive_field_more, no_empty, "receptive_field([]) raised IndexError")


def test_reference_function_is_refused():
    expect_failure(check.receptive_field, ref_receptive_field, "reference package")
    expect_failure(check.output_size, ref_output_size, "reference package")

    def wraps(layers):
        return ref_receptive_field(layers)
    expect_failure(check.receptive_field, wraps, "uses the reference implementation")


# ---- output_size mistakes ----------------------------------------------------------------------

def test_output_size_mistakes_are_named():
    expect_failure(check.output_size, lambda layers, n: _steps(layers, n, lambda m, k, s, p: (m + 2 * p - k) // s),
                   "+ 1 is missing", "([(4, 2, 1)], 8) gives 3")
    expect_failure(check.output_size, lambda layers, n: _steps(layers, n, lambda m, k, s, p: (m - k) // s + 1),
                   "padding is missing")
    expect_failure(check.output_size, lambda layers, n: _steps(layers, n, lambda m, k, s, p: (m + p - k) // s + 1),
                   "padding is counted once")
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
    expect_failure(check.patch_targets, lambda logits, real: torch.tensor(real).expand_as(logits), "dtype")

    def in_place(logits, real):
        return logits.detach().fill_(float(real))  # detach() shares the logits' memory
    expect_failure(check.patch_targets, in_place, "changed the logits in place")


# ---- norm_layer mistakes -----------------------------------------------------------------------

def _norm(batch=nn.BatchNorm2d, instance=nn.InstanceNorm2d, none=nn.Identity, other=None):
    def student(norm, c):
        if norm == "batch":
            return batch(c)
        if norm == "instance":
            return instance(c)
        if norm == "none":
            return none()
        if other is not None:
            return other(norm, c)
        raise ValueError(f"unknown norm {norm!r}")
    return student


def test_norm_layer_mistakes_are_named():
    expect_failure(check.norm_layer, _norm(instance=lambda c: nn.InstanceNorm2d(c, affine=True)),
                   "norm_layer('instance', 8)", "learnable parameters: weight (8,), bias (8,)", "affine=False")
    expect_failure(check.norm_layer, _norm(instance=lambda c: nn.InstanceNorm2d(c, track_running_stats=True)),
                   "buffers", "running_mean")
    expect_failure(check.norm_layer, _norm(batch=lambda c: nn.BatchNorm2d(c, momentum=0.9)),
                   "computes something else", "eval mode")
    expect_failure(check.norm_layer, _norm(instance=nn.BatchNorm2d), "norm_layer('instance', 8)", "BatchNorm2d(8)")
    expect_failure(check.norm_layer, _norm(none=lambda: None), "returned None", "nn.Identity()")
    expect_failure(check.norm_layer, _norm(none=lambda: nn.Dropout(0.5)), "computes something else")
    expect_failure(check.norm_layer, _norm(other=lambda norm, c: nn.Identity()), "'batchnorm'", "without complaint")

    def no_name(norm, c):
        if norm not in ("batch", "instance", "none"):
            raise ValueError("unknown norm")
        return norm_layer(norm, c)
    expect_failure(check.norm_layer, no_name, "does not say which value")


# ---- PatchDiscriminator mistakes ---------------------------------------------------------------

def test_sigmoid_at_the_end_is_named():
    with_sigmoid = variant(lambda layers, ndf: layers + [nn.Sigmoid()])
    expect_failure(check.patch_discriminator_layers, with_sigmoid, "Sigmoid", "(0, 1)", "logits")
    expect_failure(check.patch_discriminator_matches_reference, with_sigmoid, "Sigmoid")

    def sigmoid_forward(self, x, y):
        return torch.sigmoid(self.model(torch.cat([x, y], 1) if y is not None else x))
    functional = variant(forward=sigmoid_forward)
    check.patch_discriminator_layers(functional)  # the layers are right; the forward is not
    expect_failure(check.patch_discriminator_matches_reference, functional, "sigmoid(logits)", "(0, 1)")


def test_stride_two_on_the_fourth_conv_is_named_with_its_output_size():
    def fourth_stride_2(layers, ndf):
        layers[8] = nn.Conv2d(4 * ndf, 8 * ndf, 4, 2, 1, bias=False)
        return layers
    student = variant(fourth_stride_2)
    expect_failure(check.patch_discriminator_layers, student, "conv 4 has stride 2", "15 x 15", "stride 1",
                   "`model.8`")
    expect_failure(check.patch_discriminator_shapes, student, "(2, 1, 15, 15)")


def test_norm_on_the_first_layer_is_named():
    def first_norm(layers, ndf):
        return [layers[0], nn.BatchNorm2d(ndf)] + layers[1:]
    for fn in (check.patch_discriminator_layers, check.patch_discriminator_matches_reference):
        expect_failure(fn, variant(first_norm), "first conv is followed by BatchNorm2d(64)", "no norm on the first")


def test_activation_mistakes_are_named_as_modules_and_as_functions():
    def no_lrelu(layers, ndf):
        return layers[:4] + layers[5:]  # drops the LeakyReLU after the 128-channel BatchNorm
    expect_failure(check.patch_discriminator_matches_reference, variant(no_lrelu),
                   "between conv 2 and conv 3", "the LeakyReLU is missing", "BatchNorm2d(128) then LeakyReLU(0.2)")

    relu = variant(lambda layers, ndf: [nn.ReLU() if isinstance(m, nn.LeakyReLU) else m for m in layers])
    expect_failure(check.patch_discriminator_layers, relu, "a ReLU runs between conv 1 and conv 2")
    default_slope = variant(lambda layers, ndf: [nn.LeakyReLU() if isinstance(m, nn.LeakyReLU) else m
                                                 for m in layers])
    expect_failure(check.patch_discriminator_layers, default_slope, "negative slope 0.01 (PyTorch's default)")

    def functional(act):
        def forward(self, x, y):
            x = torch.cat([x, y], 1)
            for m in self.model:
                x = act(x) if isinstance(m, nn.LeakyReLU) else m(x)
            return x
        return variant(forward=forward)
    for act, words in ((F.relu, "ReLU instead of LeakyReLU(0.2)"), (F.leaky_relu, "default slope 0.01")):
        check.patch_discriminator_layers(functional(act))  # no module to see: the computation tells
        expect_failure(check.patch_discriminator_matches_reference, functional(act), "between conv 1 and conv 2",
                       words)


def _biased(layers, ndf):
    """The mistake: conv 2 keeps its bias although BatchNorm follows it."""
    layers[2] = nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=True)
    return layers


def test_norm_after_the_activation_and_dropout_are_named():
    def swapped(layers, ndf):
        layers[3], layers[4] = layers[4], layers[3]
        return layers
    expect_failure(check.patch_discriminator_layers, variant(swapped), "runs before the norm", "conv 2 and conv 3")

    def dropout(layers, ndf):
        return layers[:5] + [nn.Dropout(0.5)] + layers[5:]
    expect_failure(check.patch_discriminator_layers, variant(dropout), "Dropout runs", "no dropout in D")


def test_bias_before_batchnorm_and_wrong_width_are_named():
    expect_failure(check.patch_discriminator_layers, variant(_biased), "conv 2 has bias=True", "BatchNorm's shift")

    def narrow(layers, ndf):
        layers[-1] = nn.Conv2d(4 * ndf, 1, 4, 1, 1)
        return layers
    expect_failure(check.patch_discriminator_layers, variant(narrow), "conv 5 has input channels 256", "512")


def test_parameter_count_and_init_are_checked():
    expect_failure(check.patch_discriminator_shapes, variant(_biased), "2,768,833")

    class NoInit(nn.Module):  # PyTorch's default init, not the paper's
        def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
            super().__init__()
            self.model = PatchDiscriminator(in_channels, ndf, n_layers, norm).model
            for m in self.model:
                m.reset_parameters() if hasattr(m, "reset_parameters") else None

        def forward(self, x, y=None):
            return self.model(torch.cat([x, y], 1) if y is not None else x)
    expect_failure(check.patch_discriminator_shapes, NoInit, "conv 1", "N(0, 0.02)", "init_weights(self)")
    check.patch_discriminator_matches_reference(NoInit)  # the weights are copied there: init is not its business


def test_swapped_pair_missing_conv_and_no_joined_input_are_named():
    def swapped(self, x, y):
        return self.model(torch.cat([y, x], 1) if y is not None else x)
    expect_failure(check.patch_discriminator_matches_reference, variant(forward=swapped), "(y, x)",
                   "fixed on purpose")
    expect_failure(check.patch_discriminator_layers, variant(lambda layers, ndf: layers[:-1]),
                   "runs 4 convolutions", "Conv2d(512 -> 1")

    def pair_only(self, x, y):
        return self.model(torch.cat([x, y], 1))
    student = variant(forward=pair_only)
    expect_failure(check.patch_discriminator_shapes, student, "D(pair)", "y=None")
    check.patch_discriminator_variants(student)  # y=None costs the shapes cell only


def test_missing_pixelgan_branch_and_uncapped_widths_are_named():
    no_pixel = notebook(NORM_LAYER, DISCRIMINATOR, edits=[("if n_layers == 0:", "if False:")])["PatchDiscriminator"]
    check.patch_discriminator_layers(no_pixel)
    expect_failure(check.patch_discriminator_variants, no_pixel, "n_layers=0", "PixelGAN")
    expect_failure(check.patch_discriminator_layers_more, no_pixel, "n_layers=0")

    uncapped = notebook(NORM_LAYER, DISCRIMINATOR, edits=[("out = ndf * min(2 ** n, 8)", "out = ndf * 2 ** n")])
    check.patch_discriminator_layers(uncapped["PatchDiscriminator"])  # the same for n_layers = 3
    expect_failure(check.patch_discriminator_layers_more, uncapped["PatchDiscriminator"], "n_layers=4",
                   "output channels 128")
    expect_failure(check.patch_discriminator_variants, uncapped["PatchDiscriminator"], "n_layers=4")


def test_ignored_arguments_are_caught_by_the_hidden_checks():
    always_batch = notebook(NORM_LAYER, DISCRIMINATOR, edits=[
        ("norm_layer(norm, 2 * ndf)", "nn.BatchNorm2d(2 * ndf)"), ("norm_layer(norm, out)", "nn.BatchNorm2d(out)")])
    D = always_batch["PatchDiscriminator"]
    check.patch_discriminator_layers(D)
    expect_failure(check.patch_discriminator_layers_more, D, "norm='instance'", "BatchNorm2d(128) runs")
    expect_failure(check.patch_discriminator_shapes_more, D, "norm='instance'")

    six = notebook(NORM_LAYER, DISCRIMINATOR, edits=[("nn.Conv2d(in_channels, ndf, 4, 2, 1)",
                                                       "nn.Conv2d(6, ndf, 4, 2, 1)")])["PatchDiscriminator"]
    check.patch_discriminator_layers(six)
    expect_failure(check.patch_discriminator_layers_more, six, "in_channels=3", "input channels 6")


def test_reference_discriminator_is_refused():
    expect_failure(check.patch_discriminator_layers, RefPatchDiscriminator, "reference package")

    class Wrapper(RefPatchDiscriminator):
        pass
    expect_failure(check.patch_discriminator_shapes, Wrapper, "as a base class")


def test_signature_and_crashes_are_reported_in_plain_words():
    class Renamed(nn.Module):
        def __init__(self, input_nc=6, ndf=64, n_layers=3, norm="batch"):
            super().__init__()

    expect_failure(check.patch_discriminator_layers, Renamed, "does not fit your class's signature", "in_channels")

    def crash(self, x, y):
        raise RuntimeError("boom")
    expect_failure(check.patch_discriminator_layers, variant(forward=crash), "raised RuntimeError: boom")


# ---- one mistake, one exercise: a wrong norm_layer costs only its own point --------------------

def test_a_wrong_norm_layer_costs_only_its_own_exercise(capsys):
    ns = notebook(NORM_LAYER, DISCRIMINATOR, edits=[("nn.InstanceNorm2d(num_channels)",
                                                     "nn.InstanceNorm2d(num_channels, affine=True)")])
    expect_failure(check.norm_layer, ns["norm_layer"], "affine=False")
    wrong_norm = ns["norm_layer"]
    for fn in ALL_D_CHECKS:
        fn(ns["PatchDiscriminator"])
    out = capsys.readouterr().out
    assert "Your PatchDiscriminator is right, but with your own `norm_layer` (Exercise 3.5)" in out
    assert "InstanceNorm2d(128, affine=True" in out  # what went wrong with the student's own
    assert ns["norm_layer"] is wrong_norm  # the student's function is back in place
    # lesson 5 trains the student's D with the student's own blocks: no stand-in there
    eps = notebook(NORM_LAYER, DISCRIMINATOR, edits=[("return nn.BatchNorm2d(num_channels)",
                                                      "return nn.BatchNorm2d(num_channels, eps=0.1)")])
    check.patch_discriminator_matches_reference(eps["PatchDiscriminator"])
    expect_failure(check.patch_discriminator, eps["PatchDiscriminator"], "between conv 2 and conv 3")


def test_an_unwritten_norm_layer_costs_only_its_own_exercise(capsys):
    ns = notebook(NORM_LAYER, DISCRIMINATOR, edits=[(
        '''    if norm == "batch":
        return nn.BatchNorm2d(num_channels)
    if norm == "instance":
        return nn.InstanceNorm2d(num_channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm={norm!r}")''', "    raise NotImplementedError()")])
    expect_failure(check.norm_layer, ns["norm_layer"], "NotImplementedError")
    check.patch_discriminator_layers(ns["PatchDiscriminator"])
    assert "raised NotImplementedError" in capsys.readouterr().out


def test_a_wrong_discriminator_with_a_wrong_norm_layer_still_fails():
    ns = notebook(NORM_LAYER, DISCRIMINATOR, edits=[
        ("nn.InstanceNorm2d(num_channels)", "nn.InstanceNorm2d(num_channels, affine=True)"),
        ("2 if n < n_layers else 1", "2")])
    message = expect_failure(check.patch_discriminator_layers_more, ns["PatchDiscriminator"], "stride 2")
    assert "affine" not in message  # the student's own first failure is reported


def test_a_discriminator_that_builds_its_own_norms_is_not_rescued():
    """Without a call to norm_layer, the D's norm is the D's own work."""
    ns = notebook(NORM_LAYER, DISCRIMINATOR, edits=[("norm_layer(norm, out)", "nn.InstanceNorm2d(out, affine=True)"),
                                                    ("norm_layer(norm, 2 * ndf)", "nn.BatchNorm2d(2 * ndf)")])
    expect_failure(check.patch_discriminator_layers, ns["PatchDiscriminator"], "InstanceNorm2d(128, affine=True")
