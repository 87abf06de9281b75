"""Grading cases of Exercise 3 (see tests/course/grading/grading_cases/__init__.py).

MUTATIONS are wrong solutions with exactly the auto-graded cells each must fail. A case with two
slips in two *different* exercises (e.g. a receptive field and a label grid) proves both
requirements at once: each of its failing cells can only come from its own slip. The norm_layer
cases show that a mistake in Exercise 3.5 costs only its own point although the discriminator
calls it (the D's checks re-run with the reference norm_layer in its place).

ALTERNATIVES are correct solutions written as a student who never saw solutions/ might: the
official code's idioms, attributes with functional activations, helper-built blocks, other loops
and formulas. Each must keep every point.
"""

# ---- the solution bodies that cases replace ---------------------------------------------------

OUTPUT_SIZE = '''    n = input_size
    for kernel, stride, padding in layers:
        n = (n + 2 * padding - kernel) // stride + 1
    return n'''

RECEPTIVE_FIELD = '''    size, jump, padding = 1, 1, 0
    for kernel, stride, pad in layers:
        size += (kernel - 1) * jump
        padding += pad * jump
        jump *= stride
    return size, jump, padding'''

PATCH_TARGETS = "    return torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)"

NORM_LAYER = '''    if norm == "batch":
        return nn.BatchNorm2d(num_channels)
    if norm == "instance":
        return nn.InstanceNorm2d(num_channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm={norm!r}: expected 'batch', 'instance' or 'none'")'''

# The whole discriminator cell of the solution (alternatives replace all of it).
DISCRIMINATOR = '''class PatchDiscriminator(nn.Module):
    """The conditional PatchGAN D(x, y): one logit per overlapping patch (70 x 70 when n_layers = 3)."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        ### BEGIN SOLUTION
        bias = norm != "batch"  # BatchNorm's shift replaces the conv's bias
        if n_layers == 0:  # the 1 x 1 PixelGAN
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
        ### END SOLUTION
        init_weights(self)

    def forward(self, x, y=None):
        ### BEGIN SOLUTION
        if y is not None:
            x = torch.cat([x, y], dim=1)
        return self.model(x)
        ### END SOLUTION'''

RF, OS, PT, NL, D = ("ex3-receptive-field", "ex3-output-size", "ex3-patch-targets", "ex3-norm-layer",
                     "ex3-patch-discriminator")
GEOMETRY, PRED, COL = "ex3-patchgan-geometry", "ex3-prediction", "ex3-colourfulness"
T_PRED, T_COL = "ex3-test-prediction", "ex3-test-colourfulness"

PATCHGAN_70 = "PATCHGAN_70 = [(4, 2, 1), (4, 2, 1), (4, 2, 1), (4, 1, 1), (4, 1, 1)]"
PREDICTION = 'PREDICTION = {"sharpest": 1, "most_colourful": 0, "tiles": 1}'
COLOURFULNESS = """    rgb = (images + 1) * 127.5
    r, g, b = rgb[:, 0].flatten(1), rgb[:, 1].flatten(1), rgb[:, 2].flatten(1)
    rg, yb = r - g, (r + g) / 2 - b
    spread = (rg.std(dim=1) ** 2 + yb.std(dim=1) ** 2).sqrt()
    return spread + 0.3 * (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()"""
T_RF, T_MEASURED, T_OS, T_PT, T_NL = ("ex3-test-receptive-field", "ex3-test-rf-measured", "ex3-test-output-size",
                                      "ex3-test-patch-targets", "ex3-test-norm-layer")
T_LAYERS, T_SHAPES, T_REF, T_VARIANTS = ("ex3-test-D-layers", "ex3-test-D-shapes", "ex3-test-D-reference",
                                         "ex3-test-D-variants")
ALL_D = [T_LAYERS, T_SHAPES, T_REF, T_VARIANTS]


def edit(cell, old, new):
    return {"cell": cell, "old": old, "new": new}


MUTATIONS = [
    # ---- Exercises 3.1 to 3.4 ---------------------------------------------------------------
    {"name": "receptive field without the stride product (r += k - 1)",
     "cell": RF, "old": "size += (kernel - 1) * jump", "new": "size += kernel - 1",
     "fails": [T_RF, T_MEASURED]},
    {"name": "receptive field with the jump multiplied before it is used",
     "cell": RF, "old": '''        size += (kernel - 1) * jump
        padding += pad * jump
        jump *= stride''', "new": '''        jump *= stride
        size += (kernel - 1) * jump
        padding += pad * jump''',
     "fails": [T_RF, T_MEASURED]},
    {"name": "two slips: receptive-field padding not scaled by the jump; labels computed from the logits",
     "edits": [edit(RF, "padding += pad * jump", "padding += pad"),
               edit(PT, PATCH_TARGETS, "    return logits * 0 + (1.0 if target_is_real else 0.0)")],
     "fails": [T_RF, T_PT]},
    {"name": "two slips: effective stride as the sum of the strides; output size with true division",
     "edits": [edit(RF, "jump *= stride", "jump *= stride\n    jump = sum(s for _, s, _ in layers)"),
               edit(OS, "// stride + 1", "/ stride + 1")],
     "fails": [T_RF, T_OS]},
    {"name": "two slips: a recursive receptive field that fails on no layers (hidden check); bool labels",
     "edits": [edit(RF, RECEPTIVE_FIELD, '''    kernel, stride, pad = layers[-1]
    if len(layers) == 1:
        return kernel, stride, pad
    size, jump, padding = receptive_field(layers[:-1])
    return size + (kernel - 1) * jump, jump * stride, padding + pad * jump'''),
               edit(PT, PATCH_TARGETS, "    return torch.tensor(target_is_real).expand_as(logits)")],
     "fails": [T_RF, T_PT]},
    {"name": "two slips: receptive field returns the size alone; labels written into the logits (.data.fill_)",
     "edits": [edit(RF, "    return size, jump, padding", "    return size"),
               edit(PT, PATCH_TARGETS, "    return logits.data.fill_(1.0 if target_is_real else 0.0)")],
     "fails": [T_RF, T_MEASURED, T_PT]},
    {"name": "output size without the + 1",
     "cell": OS, "old": "n = (n + 2 * padding - kernel) // stride + 1", "new": "n = (n + 2 * padding - kernel) // stride",
     "fails": [T_OS]},
    {"name": "two slips: output size with the padding counted once; labels hard-coded to 30 x 30",
     "edits": [edit(OS, "n + 2 * padding - kernel", "n + padding - kernel"),
               edit(PT, PATCH_TARGETS, "    return torch.full((1, 1, 30, 30), 1.0 if target_is_real else 0.0)")],
     "fails": [T_OS, T_PT]},
    {"name": "real and fake labels swapped",
     "cell": PT, "old": "return torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)",
     "new": "return torch.zeros_like(logits) if target_is_real else torch.ones_like(logits)",
     "fails": [T_PT]},

    # ---- Exercise 3.5: a wrong norm_layer costs its own point only ------------------------
    {"name": "norm_layer: InstanceNorm with affine=True (the D that calls it keeps its points)",
     "cell": NL, "old": "return nn.InstanceNorm2d(num_channels)",
     "new": "return nn.InstanceNorm2d(num_channels, affine=True)",
     "fails": [T_NL]},
    {"name": "norm_layer: a typo builds an identity without a word",
     "cell": NL, "old": '''    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm={norm!r}: expected 'batch', 'instance' or 'none'")''', "new": "    return nn.Identity()",
     "fails": [T_NL]},
    {"name": "norm_layer: BatchNorm without its scale and shift (affine=False)",
     "cell": NL, "old": "return nn.BatchNorm2d(num_channels)", "new": "return nn.BatchNorm2d(num_channels, affine=False)",
     "fails": [T_NL]},
    {"name": "norm_layer: None for no norm (the D's hidden check with norm='none' keeps its points)",
     "cell": NL, "old": "return nn.Identity()", "new": "return None",
     "fails": [T_NL]},
    {"name": "norm_layer left unwritten (the D that calls it keeps its points)",
     "cell": NL, "old": NORM_LAYER, "new": "    raise NotImplementedError()",
     "fails": [T_NL]},

    # ---- Exercise 3.6: the discriminator ------------------------------------------------------
    {"name": "a Sigmoid at the end of D (probabilities instead of logits)",
     "cell": D, "old": "layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))",
     "new": "layers += [nn.Conv2d(width, 1, 4, stride=1, padding=1), nn.Sigmoid()]",
     "fails": [T_LAYERS, T_REF]},
    {"name": "stride 2 on every conv but the last (15 x 15 logits, 94 x 94 patches)",
     "cell": D, "old": "stride = 2 if n < n_layers else 1", "new": "stride = 2",
     "fails": ALL_D},
    {"name": "no PixelGAN branch (n_layers = 0 builds a 4 x 4 stack)",
     "cell": D, "old": "if n_layers == 0:  # the 1 x 1 PixelGAN", "new": "if False:  # the 1 x 1 PixelGAN",
     "fails": [T_LAYERS, T_VARIANTS]},
    {"name": "a norm on the first layer",
     "cell": D, "old": "layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]",
     "new": "layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), norm_layer(norm, ndf), nn.LeakyReLU(0.2)]",
     "fails": ALL_D},
    {"name": "a bias before BatchNorm",
     "cell": D, "old": "bias = norm != \"batch\"  # BatchNorm's shift replaces the conv's bias", "new": "bias = True",
     "fails": ALL_D},
    {"name": "no bias on the first and the last conv",
     "edits": [edit(D, "layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]",
                    "layers = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1, bias=bias), nn.LeakyReLU(0.2)]"),
               edit(D, "layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))",
                    "layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1, bias=bias))")],
     "fails": ALL_D},
    {"name": "LeakyReLU with PyTorch's default slope 0.01",
     "cell": D, "old": "norm_layer(norm, new_width), nn.LeakyReLU(0.2)]", "new": "norm_layer(norm, new_width), nn.LeakyReLU()]",
     "fails": [T_LAYERS, T_REF]},
    {"name": "LeakyReLU before the norm",
     "cell": D, "old": "norm_layer(norm, new_width), nn.LeakyReLU(0.2)]", "new": "nn.LeakyReLU(0.2), norm_layer(norm, new_width)]",
     "fails": [T_LAYERS, T_REF]},
    {"name": "widths not capped at 8 * ndf (only n_layers >= 4 shows it)",
     "cell": D, "old": "new_width = ndf * min(2 ** n, 8)", "new": "new_width = ndf * 2 ** n",
     "fails": [T_LAYERS, T_VARIANTS]},
    {"name": "the norm argument ignored: always BatchNorm (hidden checks)",
     "edits": [edit(D, "norm_layer(norm, 2 * ndf)", "nn.BatchNorm2d(2 * ndf)"),
               edit(D, "norm_layer(norm, new_width)", "nn.BatchNorm2d(new_width)")],
     "fails": [T_LAYERS, T_SHAPES]},
    {"name": "the pair joined as [y, x]",
     "cell": D, "old": "x = torch.cat([x, y], dim=1)", "new": "x = torch.cat([y, x], dim=1)",
     "fails": [T_SHAPES, T_REF]},
    {"name": "forward needs y (no y=None path for the joined pair)",
     "cell": D, "old": '''        if y is not None:
            x = torch.cat([x, y], dim=1)
        return self.model(x)''', "new": "        return self.model(torch.cat([x, y], dim=1))",
     "fails": [T_SHAPES]},
    {"name": "the init_weights line dropped (PyTorch's default init)",
     "cell": D, "old": "        init_weights(self)\n", "new": "",
     "fails": [T_SHAPES]},
    {"name": "the reference discriminator subclassed instead of written",
     "cell": D, "old": DISCRIMINATOR, "new": '''from p2p_ref.paper.models import PatchDiscriminator as Reference


class PatchDiscriminator(Reference):
    """The conditional PatchGAN D(x, y)."""''',
     "fails": ALL_D},
    # ---- Exercises 3.7 and 3.8: the experiment ---------------------------------------------
    {"name": "prediction written as patch names, not n_layers",
     "cell": PRED, "old": PREDICTION,
     "new": 'PREDICTION = {"sharpest": "16x16", "most_colourful": "1x1", "tiles": "16x16"}',
     "fails": [T_PRED]},
    {"name": "two slips: prediction given as patch sizes (16, not n_layers 1); colourfulness on the [-1, 1] scale",
     "edits": [edit(PRED, PREDICTION, 'PREDICTION = {"sharpest": 16, "most_colourful": 1, "tiles": 16}'),
               edit(COL, "rgb = (images + 1) * 127.5", "rgb = images")],
     "fails": [T_PRED, T_COL]},
    {"name": "colourfulness without the 0.3-weighted mean strength",
     "cell": COL, "old": "    return spread + 0.3 * (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()",
     "new": "    return spread", "fails": [T_COL]},
    {"name": "two slips: colourfulness as one number for the whole batch; output size without the padding",
     "edits": [edit(COL, COLOURFULNESS, """    rgb = (images + 1) * 127.5
    rg, yb = rgb[:, 0] - rgb[:, 1], (rgb[:, 0] + rgb[:, 1]) / 2 - rgb[:, 2]
    return (rg.std() ** 2 + yb.std() ** 2).sqrt() + 0.3 * (rg.mean() ** 2 + yb.mean() ** 2).sqrt()"""),
               edit(OS, "n = (n + 2 * padding - kernel) // stride + 1", "n = (n - kernel) // stride + 1")],
     "fails": [T_COL, T_OS]},
    {"name": "colourfulness left unwritten, PATCHGAN_70 with stride 2 everywhere (not graded: 94 x 94)",
     "edits": [edit(COL, COLOURFULNESS, "    raise NotImplementedError()"),
               edit(GEOMETRY, PATCHGAN_70, "PATCHGAN_70 = [(4, 2, 1)] * 5")],
     "fails": [T_COL]},

    {"name": "in_channels ignored: 6 hard-coded (hidden check with 3 channels)",
     "cell": D, "old": "nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1)", "new": "nn.Conv2d(6, ndf, 4, stride=2, padding=1)",
     "fails": [T_LAYERS]},
]


# ---- correct solutions in other styles -----------------------------------------------------

OFFICIAL_D = '''class PatchDiscriminator(nn.Module):
    """NLayerDiscriminator's idiom (nf_mult, a `sequence` list, in-place LeakyReLU), plus the PixelGAN."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        use_bias = norm != "batch"
        kw, padw = 4, 1
        if n_layers == 0:
            sequence = [nn.Conv2d(in_channels, ndf, kernel_size=1, stride=1, padding=0),
                        nn.LeakyReLU(0.2, True),
                        nn.Conv2d(ndf, ndf * 2, kernel_size=1, stride=1, padding=0, bias=use_bias),
                        norm_layer(norm, ndf * 2),
                        nn.LeakyReLU(0.2, True),
                        nn.Conv2d(ndf * 2, 1, kernel_size=1, stride=1, padding=0, bias=use_bias)]
        else:
            sequence = [nn.Conv2d(in_channels, ndf, kernel_size=kw, stride=2, padding=padw), nn.LeakyReLU(0.2, True)]
            nf_mult = 1
            nf_mult_prev = 1
            for n in range(1, n_layers):
                nf_mult_prev = nf_mult
                nf_mult = min(2 ** n, 8)
                sequence += [
                    nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=2, padding=padw, bias=use_bias),
                    norm_layer(norm, ndf * nf_mult),
                    nn.LeakyReLU(0.2, True)]
            nf_mult_prev = nf_mult
            nf_mult = min(2 ** n_layers, 8)
            sequence += [
                nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1, padding=padw, bias=use_bias),
                norm_layer(norm, ndf * nf_mult),
                nn.LeakyReLU(0.2, True)]
            sequence += [nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]
        self.model = nn.Sequential(*sequence)
        init_weights(self)

    def forward(self, x, y=None):
        input = x if y is None else torch.cat((x, y), 1)
        return self.model(input)'''

ATTRIBUTES_D = '''class PatchDiscriminator(nn.Module):
    """Named attributes and ModuleLists; LeakyReLU as a function in forward; torch.hstack joins the pair."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        pixel = n_layers == 0
        k, p = (1, 0) if pixel else (4, 1)
        widths = [ndf, 2 * ndf] if pixel else [ndf] + [ndf * min(2 ** n, 8) for n in range(1, n_layers + 1)]
        strides = [1] if pixel else [2] * (n_layers - 1) + [1]
        self.first = nn.Conv2d(in_channels, ndf, k, 1 if pixel else 2, p)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, k, s, p, bias=norm != "batch")
                                   for a, b, s in zip(widths, widths[1:], strides))
        self.norms = nn.ModuleList(norm_layer(norm, b) for b in widths[1:])
        self.last = nn.Conv2d(widths[-1], 1, k, 1, p, bias=norm != "batch" if pixel else True)
        init_weights(self)

    def forward(self, x, y=None):
        if y is not None:
            x = torch.hstack((x, y))
        x = F.leaky_relu(self.first(x), 0.2, inplace=True)
        for conv, norm in zip(self.convs, self.norms):
            x = F.leaky_relu(norm(conv(x)), negative_slope=0.2)
        return self.last(x)'''

BLOCKS_D = '''def conv_block(in_c, out_c, stride, norm, use_norm=True, kernel=4, bias=True):
    """conv -> [norm] -> LeakyReLU(0.2, in place), as one small nn.Sequential."""
    layers = [nn.Conv2d(in_c, out_c, kernel, stride, 1 if kernel == 4 else 0, bias=bias)]
    if use_norm:
        layers.append(norm_layer(norm, out_c))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


class PatchDiscriminator(nn.Module):
    """Blocks from a helper function, nested in self.model; an nn.Identity at the end."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        if n_layers == 0:
            blocks = [conv_block(in_channels, ndf, 1, norm, use_norm=False, kernel=1),
                      conv_block(ndf, 2 * ndf, 1, norm, kernel=1, bias=norm != "batch")]
            last = nn.Conv2d(2 * ndf, 1, 1, bias=norm != "batch")
        else:
            blocks = [conv_block(in_channels, ndf, 2, norm, use_norm=False)]
            widths = [ndf * min(2 ** n, 8) for n in range(n_layers + 1)]
            for n in range(1, n_layers + 1):
                blocks.append(conv_block(widths[n - 1], widths[n], 2 if n < n_layers else 1, norm,
                                         bias=norm != "batch"))
            last = nn.Conv2d(widths[-1], 1, 4, 1, 1)
        self.model = nn.Sequential(*blocks, last, nn.Identity())
        init_weights(self)

    def forward(self, x, y=None):
        if y is None:
            return self.model(x)
        return self.model(torch.concat([x, y], dim=-3))'''

BLOCK_CLASS_D = '''class DBlock(nn.Module):
    """Ck: conv, norm, then the discriminator's shared LeakyReLU (passed in)."""

    def __init__(self, in_c, out_c, stride, norm, act, kernel=4, padding=1):
        super().__init__()
        self.conv = nn.Conv2d(in_c, out_c, kernel, stride, padding, bias=norm != "batch")
        self.norm = norm_layer(norm, out_c)
        self.act = act

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class PatchDiscriminator(nn.Module):
    """A block class; one LeakyReLU module shared by every layer; the pair joined with torch.cat(..., 1)."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        self.act = nn.LeakyReLU(negative_slope=0.2)
        if n_layers == 0:
            self.head = nn.Conv2d(in_channels, ndf, 1)
            self.body = nn.Sequential(DBlock(ndf, 2 * ndf, 1, norm, self.act, kernel=1, padding=0))
            self.tail = nn.Conv2d(2 * ndf, 1, 1, bias=norm != "batch")
        else:
            self.head = nn.Conv2d(in_channels, ndf, 4, 2, 1)
            blocks, c = [], ndf
            for n in range(1, n_layers + 1):
                out = ndf * min(2 ** n, 8)
                blocks.append(DBlock(c, out, 1 if n == n_layers else 2, norm, self.act))
                c = out
            self.body = nn.Sequential(*blocks)
            self.tail = nn.Conv2d(c, 1, 4, 1, 1)
        init_weights(self)

    def forward(self, x, y=None):
        pair = x if y is None else torch.cat((x, y), 1)
        return self.tail(self.body(self.act(self.head(pair))))'''

NAMED_D = '''from collections import OrderedDict


class PatchDiscriminator(nn.Module):
    """One nn.Sequential with named layers (conv1, norm2, ...) built in a while loop."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        k, p = (1, 0) if n_layers == 0 else (4, 1)
        layers = OrderedDict()
        layers["conv1"] = nn.Conv2d(in_channels, ndf, k, 1 if n_layers == 0 else 2, p)
        layers["lrelu1"] = nn.LeakyReLU(0.2)
        c, n = ndf, 1
        while n <= max(n_layers, 1):
            out = 2 * ndf if n_layers == 0 else ndf * min(2 ** n, 8)
            stride = 1 if n_layers == 0 or n == n_layers else 2
            layers[f"conv{n + 1}"] = nn.Conv2d(c, out, k, stride, p, bias=(norm != "batch"))
            layers[f"norm{n + 1}"] = norm_layer(norm, out)
            layers[f"lrelu{n + 1}"] = nn.LeakyReLU(0.2)
            c, n = out, n + 1
        layers["logits"] = nn.Conv2d(c, 1, k, 1, p, bias=(norm != "batch") if n_layers == 0 else True)
        self.model = nn.Sequential(layers)
        init_weights(self)

    def forward(self, x, y=None):
        if y is not None:
            x = torch.cat(tensors=[x, y], dim=1)
        return self.model(x)'''


ALTERNATIVES = [
    {"name": "alternative: the official code's idioms (nf_mult loop, get_norm_layer, GANLoss-style labels)",
     "edits": [
         edit(RF, RECEPTIVE_FIELD, '''    import math
    strides = [s for _, s, _ in layers]
    jumps = [math.prod(strides[:l]) for l in range(len(layers))]  # prod_{i<l} s_i
    size = 1 + sum((k - 1) * j for (k, _, _), j in zip(layers, jumps))
    padding = sum(p * j for (_, _, p), j in zip(layers, jumps))
    return size, math.prod(strides), padding'''),
         edit(OS, OUTPUT_SIZE, '''    if not layers:
        return input_size
    kernel, stride, padding = layers[0]
    return output_size(layers[1:], (input_size + 2 * padding - kernel) // stride + 1)'''),
         edit(PT, PATCH_TARGETS, '''    target_tensor = torch.tensor(1.0) if target_is_real else torch.tensor(0.0)
    return target_tensor.expand_as(logits)'''),
         edit(NL, NORM_LAYER, '''    import functools
    if norm == "batch":
        layer = functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    elif norm == "instance":
        layer = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    elif norm == "none":
        def layer(x):
            return nn.Identity()
    else:
        raise NotImplementedError("normalization layer [%s] is not found" % norm)
    return layer(num_channels)'''),
         edit(D, DISCRIMINATOR, OFFICIAL_D)],
     "fails": []},
    {"name": "alternative: attributes and ModuleLists, functional LeakyReLU, a recursive receptive field",
     "edits": [
         edit(RF, RECEPTIVE_FIELD, '''    if not layers:
        return 1, 1, 0
    # the stack below the last layer, seen from one unit of the last layer
    size, jump, padding = receptive_field(layers[:-1])
    kernel, stride, pad = layers[-1]
    return size + (kernel - 1) * jump, jump * stride, padding + pad * jump'''),
         edit(OS, OUTPUT_SIZE, '''    from functools import reduce
    return reduce(lambda n, ksp: (n + 2 * ksp[2] - ksp[0]) // ksp[1] + 1, layers, input_size)'''),
         edit(PT, PATCH_TARGETS, "    return torch.full_like(logits, float(target_is_real))"),
         edit(NL, NORM_LAYER, '''    layers = {"batch": lambda: nn.BatchNorm2d(num_channels),
              "instance": lambda: nn.InstanceNorm2d(num_channels, affine=False),
              "none": nn.Identity}
    return layers[norm]()  # an unknown norm raises KeyError('...') with the value'''),
         edit(D, DISCRIMINATOR, ATTRIBUTES_D)],
     "fails": []},
    {"name": "alternative: blocks from a helper function nested in self.model, itertools, new_ones",
     "edits": [
         edit(RF, RECEPTIVE_FIELD, '''    from itertools import accumulate
    import operator
    strides = [s for _, s, _ in layers]
    jumps = [1] + list(accumulate(strides, operator.mul))  # jumps[l] = s_1 * ... * s_l
    size = 1 + sum((k - 1) * jumps[l] for l, (k, _, _) in enumerate(layers))
    padding = sum(p * jumps[l] for l, (_, _, p) in enumerate(layers))
    return size, jumps[-1], padding'''),
         edit(OS, OUTPUT_SIZE, '''    import math
    size, i = input_size, 0
    while i < len(layers):
        kernel, stride, padding = layers[i]
        size = math.floor((size + 2 * padding - kernel) / stride) + 1
        i += 1
    return size'''),
         edit(PT, PATCH_TARGETS, '''    if target_is_real:
        return logits.new_ones(logits.shape)
    return logits.new_zeros(logits.shape)'''),
         edit(NL, NORM_LAYER, '''    match norm:
        case "batch":
            return nn.BatchNorm2d(num_channels)
        case "instance":
            return nn.InstanceNorm2d(num_channels)
        case "none":
            return nn.Identity()
        case _:
            raise ValueError(f"unknown norm {norm!r}")'''),
         edit(D, DISCRIMINATOR, BLOCKS_D)],
     "fails": []},
    {"name": "alternative: a block class with a shared LeakyReLU, GroupNorm as instance norm",
     "edits": [
         edit(RF, RECEPTIVE_FIELD, '''    size, stride, padding = 1, 1, 0
    for layer in layers:
        k, s, p = layer
        size = size + (k - 1) * stride  # stride: the jump between this layer's input positions
        padding = padding + p * stride
        stride = stride * s
    return (size, stride, padding)'''),
         edit(OS, OUTPUT_SIZE, '''    sides = [input_size]
    for kernel, stride, padding in layers:
        sides.append((sides[-1] - kernel + 2 * padding) // stride + 1)
    return sides[-1]'''),
         edit(PT, PATCH_TARGETS, "    return torch.ones_like(logits) * target_is_real"),
         edit(NL, NORM_LAYER, '''    if norm == "batch":
        return nn.BatchNorm2d(num_channels)
    if norm == "instance":  # instance norm = group norm with one group per channel
        return nn.GroupNorm(num_channels, num_channels, affine=False)
    if norm == "none":
        return nn.Sequential()  # an empty Sequential returns its input
    raise ValueError("norm must be 'batch', 'instance' or 'none', not " + repr(norm))'''),
         edit(D, DISCRIMINATOR, BLOCK_CLASS_D)],
     "fails": []},
    {"name": "alternative: named layers in an OrderedDict, numpy in the receptive field",
     "edits": [
         edit(RF, RECEPTIVE_FIELD, '''    import numpy as np
    k = np.array([l[0] for l in layers], dtype=np.int64)
    s = np.array([l[1] for l in layers], dtype=np.int64)
    p = np.array([l[2] for l in layers], dtype=np.int64)
    jumps = np.cumprod(np.concatenate([[1], s]))[:-1]  # prod_{i<l} s_i
    return 1 + np.sum((k - 1) * jumps), np.prod(s), np.sum(p * jumps)'''),
         edit(OS, OUTPUT_SIZE, '''    import numpy as np
    n = input_size
    for k, s, p in layers:
        n = int(np.floor((n + 2 * p - k) / s)) + 1
    return n'''),
         edit(PT, PATCH_TARGETS, '''    value = 1.0 if target_is_real else 0.0
    return torch.zeros_like(logits).fill_(value)'''),
         edit(NL, NORM_LAYER, '''    names = {"batch": "BatchNorm2d", "instance": "InstanceNorm2d", "none": "Identity"}
    if norm not in names:
        raise ValueError(f"{norm} is not a norm; use one of {list(names)}")
    return getattr(nn, names[norm])(num_channels)'''),
         edit(D, DISCRIMINATOR, NAMED_D)],
     "fails": []},
]


# ---- correct solutions in layouts a name- or type-reading check would refuse (issue 17) -------

MODULEDICT_D = '''class PatchDiscriminator(nn.Module):
    """The layers in an nn.ModuleDict keyed by the paper's names; in-place LeakyReLUs; forward walks the dict."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        pixel = n_layers == 0
        k, p = (1, 0) if pixel else (4, 1)
        self.layers = nn.ModuleDict()
        self.layers["C64"] = nn.Conv2d(in_channels, ndf, k, 1 if pixel else 2, p)
        self.layers["C64_act"] = nn.LeakyReLU(0.2, inplace=True)
        width = ndf
        for n in range(1, max(n_layers, 1) + 1):
            out = ndf * min(2 ** n, 8)
            name = f"C{64 * min(2 ** n, 8)}_{n}"
            stride = 1 if pixel or n == n_layers else 2
            self.layers[name] = nn.Conv2d(width, out, k, stride, p, bias=norm != "batch")
            self.layers[name + "_norm"] = norm_layer(norm, out)
            self.layers[name + "_act"] = nn.LeakyReLU(0.2, inplace=True)
            width = out
        self.layers["logits"] = nn.Conv2d(width, 1, k, 1, p, bias=(norm != "batch") or not pixel)
        init_weights(self)

    def forward(self, x, y=None):
        h = x if y is None else torch.cat((x, y), dim=1)
        for layer in self.layers.values():
            h = layer(h)
        return h'''

HELPERS_D = '''def conv(in_c, out_c, stride, kernel=4, bias=True):
    """A C-layer's convolution: 4 x 4 with padding 1, or 1 x 1 without padding."""
    return nn.Conv2d(in_c, out_c, kernel, stride=stride, padding=kernel // 4, bias=bias)


def normalise(kind, channels):
    return norm_layer(kind, channels)


def leaky():
    return nn.LeakyReLU(negative_slope=0.2, inplace=True)


class PatchDiscriminator(nn.Module):
    """One helper function per kind of layer; the layers in an nn.ModuleList that forward loops over."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        kernel = 1 if n_layers == 0 else 4
        no_bn = norm != "batch"
        widths = [ndf * min(2 ** n, 8) for n in range(max(n_layers, 1) + 1)]
        strides = [1] * len(widths) if n_layers == 0 else [2] * n_layers + [1]
        layers = [conv(in_channels, ndf, strides[0], kernel), leaky()]
        for n in range(1, len(widths)):
            layers += [conv(widths[n - 1], widths[n], strides[n], kernel, bias=no_bn),
                       normalise(norm, widths[n]), leaky()]
        layers.append(conv(widths[-1], 1, 1, kernel, bias=no_bn or n_layers > 0))
        self.layers = nn.ModuleList(layers)
        init_weights(self)

    def forward(self, x, y=None):
        if y is not None:
            x = torch.cat([x, y], 1)
        for layer in self.layers:
            x = layer(x)
        return x'''

RECURSIVE_D = '''class Level(nn.Module):
    """One C-layer wrapping the rest of the discriminator: conv -> [norm] -> LeakyReLU -> inner."""

    def __init__(self, conv, norm, inner):
        super().__init__()
        self.conv, self.norm, self.inner = conv, norm, inner

    def forward(self, x):
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        return self.inner(F.leaky_relu(x, 0.2))


class PatchDiscriminator(nn.Module):
    """Built from the logits outwards, each level holding the next (as the official U-Net's blocks do)."""

    def __init__(self, in_channels=6, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        k, p = (1, 0) if n_layers == 0 else (4, 1)
        depth = max(n_layers, 1)
        widths = [in_channels] + [ndf * min(2 ** n, 8) for n in range(depth + 1)]
        block = nn.Conv2d(widths[-1], 1, k, 1, p, bias=n_layers > 0 or norm != "batch")
        for n in range(depth, -1, -1):  # the C-layers from the deepest back to C64
            stride = 1 if n_layers == 0 or n == depth else 2
            first = n == 0
            conv = nn.Conv2d(widths[n], widths[n + 1], k, stride, p, bias=first or norm != "batch")
            block = Level(conv, None if first else norm_layer(norm, widths[n + 1]), block)
        self.net = block
        init_weights(self)

    def forward(self, x, y=None):
        return self.net(x if y is None else torch.cat([x, y], dim=1))'''

ALTERNATIVES += [
    {"name": "alternative: an nn.ModuleDict of named layers, strides found by a search, colourfulness with var",
     "edits": [
         edit(GEOMETRY, PATCHGAN_70, '''import itertools

candidates = ([(4, s, 1) for s in strides] for strides in itertools.product((1, 2), repeat=5))
PATCHGAN_70 = next(c for c in candidates if output_size(c, 256) == 30 and receptive_field(c)[0] == 70)'''),
         edit(PRED, PREDICTION, 'PREDICTION = dict(tiles=4, sharpest=0, most_colourful=2)'),
         edit(COL, COLOURFULNESS, '''    x = (images.double() + 1) * 255 / 2
    rg = x[:, 0] - x[:, 1]
    yb = 0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]
    sigma = torch.sqrt(rg.var(dim=(1, 2), unbiased=False) + yb.var(dim=(1, 2), unbiased=False))
    mu = torch.sqrt(rg.mean(dim=(1, 2)) ** 2 + yb.mean(dim=(1, 2)) ** 2)
    return (sigma + 0.3 * mu).float()'''),
         edit(D, DISCRIMINATOR, MODULEDICT_D)],
     "fails": []},
    {"name": "alternative: a helper function per layer, in-place LeakyReLUs in a ModuleList, a loop per image",
     "edits": [
         edit(GEOMETRY, PATCHGAN_70, "PATCHGAN_70 = [(4, 2, 1)] * 3 + [(4, 1, 1)] * 2"),
         edit(PRED, PREDICTION, 'PREDICTION = {"most_colourful": 4, "tiles": 2, "sharpest": 4}'),
         edit(COL, COLOURFULNESS, '''    scores = []
    for image in images:
        R, G, B = ((image + 1) * 127.5).unbind(0)
        rg, yb = R - G, (R + G) / 2 - B
        scores.append(torch.hypot(rg.std(), yb.std()) + 0.3 * torch.hypot(rg.mean(), yb.mean()))
    return torch.stack(scores)'''),
         edit(D, DISCRIMINATOR, HELPERS_D)],
     "fails": []},
    {"name": "alternative: recursive levels (UnetSkipConnectionBlock style), colourfulness as one matrix product",
     "edits": [
         edit(GEOMETRY, PATCHGAN_70, '''PATCHGAN_70 = []
for stride in (2, 2, 2, 1, 1):  # three halvings, then two convs that keep the size
    PATCHGAN_70.append((4, stride, 1))'''),
         edit(PRED, PREDICTION, 'PREDICTION = {"sharpest": 2, "most_colourful": 1, "tiles": 0}'),
         edit(COL, COLOURFULNESS, '''    opponent = torch.tensor([[1.0, -1.0, 0.0], [0.5, 0.5, -1.0]])  # rows: rg, yb
    channels = torch.einsum("oc,nchw->nohw", opponent, (images + 1) * 127.5).flatten(2)
    sigma = channels.std(dim=2).pow(2).sum(dim=1).sqrt()
    mu = channels.mean(dim=2).pow(2).sum(dim=1).sqrt()
    return sigma + 0.3 * mu'''),
         edit(D, DISCRIMINATOR, RECURSIVE_D)],
     "fails": []},
]
