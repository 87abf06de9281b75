"""Grading cases of notebook 4 (ex4_losses): wrong solutions and the test cells they fail, and
(from ex4_correct.py) correct solutions written in other styles, which keep every point.

Test cells: ex4-test-gan-loss (3 points), ex4-test-l1-loss (2), ex4-test-discriminator-loss (2),
ex4-test-generator-loss (3), ex4-test-prediction (1), ex4-test-measure (2). discriminator_loss and
generator_loss call the student's gan_loss and l1_loss; a mistake there costs only the points of
the faulty block's own cell (the composed losses are re-checked with the reference block).
"""

from grading_cases.ex4_correct import ALTERNATIVES, PREDICTION  # noqa: F401 - the harness reads ALTERNATIVES

MUTATIONS = [
    # gan_loss: each mistake costs gan_loss's 3 points only
    {
        # right at ordinary logits; F.binary_cross_entropy clamps log(0) to -100 at logits of 1e4
        "name": "sigmoid + BCE on the logits",
        "cell": "ex4-gan-loss",
        "old": "return F.binary_cross_entropy_with_logits(logits, target)",
        "new": "return F.binary_cross_entropy(torch.sigmoid(logits), target)",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        "name": "labels swapped in gan_loss",
        "cell": "ex4-gan-loss",
        "old": "target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)",
        "new": "target = torch.zeros_like(logits) if target_is_real else torch.ones_like(logits)",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        "name": "BCE summed over the grid",
        "cell": "ex4-gan-loss",
        "old": "return F.binary_cross_entropy_with_logits(logits, target)",
        "new": "return F.binary_cross_entropy_with_logits(logits, target, reduction='sum')",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        # issue 8: a summed least-squares loss used to keep every point
        "name": "lsgan summed, not averaged",
        "cell": "ex4-gan-loss",
        "old": "return F.mse_loss(logits, target)",
        "new": "return F.mse_loss(logits, target, reduction='sum')",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        "name": "lsgan through a sigmoid",
        "cell": "ex4-gan-loss",
        "old": "return F.mse_loss(logits, target)",
        "new": "return F.mse_loss(torch.sigmoid(logits), target)",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        "name": "unknown mode trains with BCE",
        "cell": "ex4-gan-loss",
        "old": "raise ValueError(f\"mode={mode!r}: expected 'vanilla' or 'lsgan'\")",
        "new": "return F.binary_cross_entropy_with_logits(logits, target)",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        "name": "ValueError without the mode",
        "cell": "ex4-gan-loss",
        "old": "raise ValueError(f\"mode={mode!r}: expected 'vanilla' or 'lsgan'\")",
        "new": "raise ValueError(\"unknown GAN mode: expected 'vanilla' or 'lsgan'\")",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        "name": "gan_loss returns a float",
        "cell": "ex4-gan-loss",
        "old": "return F.binary_cross_entropy_with_logits(logits, target)",
        "new": "return F.binary_cross_entropy_with_logits(logits, target).item()",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        # visible checks use one grid; the hidden ones use batches
        "name": "gan_loss summed over the batch",
        "cell": "ex4-gan-loss",
        "old": "return F.binary_cross_entropy_with_logits(logits, target)",
        "new": "return F.binary_cross_entropy_with_logits(logits, target, reduction='none').mean(dim=(1, 2, 3)).sum()",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        # right values, no gradient: only the hidden gradient check sees it
        "name": "gan_loss detaches the logits",
        "cell": "ex4-gan-loss",
        "old": "return F.binary_cross_entropy_with_logits(logits, target)",
        "new": "return F.binary_cross_entropy_with_logits(logits.detach(), target)",
        "fails": ["ex4-test-gan-loss"],
    },
    # l1_loss: 2 points, and nothing else
    {
        "name": "L1 summed instead of averaged",
        "cell": "ex4-l1-loss",
        "old": "return (target - fake).abs().mean()",
        "new": "return (target - fake).abs().sum()",
        "fails": ["ex4-test-l1-loss"],
    },
    {
        "name": "L1 is MSE",
        "cell": "ex4-l1-loss",
        "old": "return (target - fake).abs().mean()",
        "new": "return ((target - fake) ** 2).mean()",
        "fails": ["ex4-test-l1-loss"],
    },
    {
        "name": "L1 summed over the batch",
        "cell": "ex4-l1-loss",
        "old": "return (target - fake).abs().mean()",
        "new": "return (target - fake).abs().mean(dim=(1, 2, 3)).sum()",
        "fails": ["ex4-test-l1-loss"],
    },
    # discriminator_loss
    {
        "name": "D's loss not halved",
        "cell": "ex4-discriminator-loss",
        "old": "return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))",
        "new": "return gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode)",
        "fails": ["ex4-test-discriminator-loss"],
    },
    {
        "name": "D's loss ignores mode",
        "cell": "ex4-discriminator-loss",
        "old": "return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))",
        "new": "return 0.5 * (gan_loss(real_logits, True) + gan_loss(fake_logits, False))",
        "fails": ["ex4-test-discriminator-loss"],
    },
    # generator_loss
    {
        # the literal min_G log(1 - D(x, G(x))) of eq. 1
        "name": "saturating generator loss",
        "cell": "ex4-generator-loss",
        "old": "gan = gan_loss(fake_logits, True, mode)",
        "new": "gan = -gan_loss(fake_logits, False, mode)",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "lambda multiplies both terms",
        "cell": "ex4-generator-loss",
        "old": "return gan + lambda_l1 * l1, gan, l1",
        "new": "return lambda_l1 * (gan + l1), gan, l1",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "lambda fixed at 100",
        "cell": "ex4-generator-loss",
        "old": "return gan + lambda_l1 * l1, gan, l1",
        "new": "return gan + 100.0 * l1, gan, l1",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "l1 item returned weighted",
        "cell": "ex4-generator-loss",
        "old": "l1 = l1_loss(fake, target)\n    return gan + lambda_l1 * l1, gan, l1",
        "new": "l1 = lambda_l1 * l1_loss(fake, target)\n    return gan + l1, gan, l1",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "G's loss ignores mode",
        "cell": "ex4-generator-loss",
        "old": "gan = gan_loss(fake_logits, True, mode)",
        "new": "gan = gan_loss(fake_logits, True)",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "generator_loss returns the total only",
        "cell": "ex4-generator-loss",
        "old": "return gan + lambda_l1 * l1, gan, l1",
        "new": "return gan + lambda_l1 * l1",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "logged terms as floats",
        "cell": "ex4-generator-loss",
        "old": "return gan + lambda_l1 * l1, gan, l1",
        "new": "return gan + lambda_l1 * l1, gan.item(), l1.item()",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "total detached",
        "cell": "ex4-generator-loss",
        "old": "return gan + lambda_l1 * l1, gan, l1",
        "new": "return (gan + lambda_l1 * l1).detach(), gan, l1",
        "fails": ["ex4-test-generator-loss"],
    },
    # issue 17: the named mistakes that had no grading case yet
    {
        "name": "sigmoid before BCE-with-logits",
        "cell": "ex4-gan-loss",
        "old": "return F.binary_cross_entropy_with_logits(logits, target)",
        "new": "return F.binary_cross_entropy_with_logits(torch.sigmoid(logits), target)",
        "fails": ["ex4-test-gan-loss"],
    },
    {
        # the check's typo 'lsgna' starts like 'lsgan': it must not train silently as LSGAN
        "name": "a typo of the mode trains as lsgan",
        "cell": "ex4-gan-loss",
        "old": 'if mode == "lsgan":',
        "new": 'if mode.startswith("ls"):',
        "fails": ["ex4-test-gan-loss"],
    },
    {
        "name": "L1 of the signed differences",
        "cell": "ex4-l1-loss",
        "old": "return (target - fake).abs().mean()",
        "new": "return (target - fake).mean()",
        "fails": ["ex4-test-l1-loss"],
    },
    {
        "name": "D's labels swapped",
        "cell": "ex4-discriminator-loss",
        "old": "return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))",
        "new": "return 0.5 * (gan_loss(real_logits, False, mode) + gan_loss(fake_logits, True, mode))",
        "fails": ["ex4-test-discriminator-loss"],
    },
    {
        "name": "D's fake term against the real label",
        "cell": "ex4-discriminator-loss",
        "old": "return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))",
        "new": "return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, True, mode))",
        "fails": ["ex4-test-discriminator-loss"],
    },
    {
        # the batch-concatenated form is already halved; halving it again is a slip of that idiom
        "name": "D's loss on real and fake concatenated, halved twice",
        "cell": "ex4-discriminator-loss",
        "old": "return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))",
        "new": ("logits = torch.cat([real_logits, fake_logits])\n"
                "    labels = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])\n"
                "    per_mode = {'vanilla': F.binary_cross_entropy_with_logits, 'lsgan': F.mse_loss}\n"
                "    return 0.5 * per_mode[mode](logits, labels)"),
        "fails": ["ex4-test-discriminator-loss"],
    },
    {
        "name": "G's GAN term against the fake label",
        "cell": "ex4-generator-loss",
        "old": "gan = gan_loss(fake_logits, True, mode)",
        "new": "gan = gan_loss(fake_logits, False, mode)",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        # eq. 1 taken literally, written by hand: G minimises log(1 - D(x, G(x)))
        "name": "saturating generator loss by hand",
        "cell": "ex4-generator-loss",
        "old": "gan = gan_loss(fake_logits, True, mode)",
        "new": "gan = torch.log1p(-torch.sigmoid(fake_logits)).mean()",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "lambda on the GAN term instead of L1",
        "cell": "ex4-generator-loss",
        "old": "return gan + lambda_l1 * l1, gan, l1",
        "new": "return lambda_l1 * gan + l1, gan, l1",
        "fails": ["ex4-test-generator-loss"],
    },
    {
        "name": "measured L1 squared",
        "cell": "ex4-measure",
        "old": "l1 = (targets - fakes).abs().mean()",
        "new": "l1 = ((targets - fakes) ** 2).mean()",
        "fails": ["ex4-test-measure"],
    },
    # the prediction: any well-formed one earns its point, a malformed one does not
    {
        "name": "prediction of a lambda not in the sweep",
        "cell": "ex4-prediction",
        "old": PREDICTION,
        "new": 'PREDICTION = {"lower_l1": 1000, "sharper": 0}',
        "fails": ["ex4-test-prediction"],
    },
    {
        "name": "prediction as text",
        "cell": "ex4-prediction",
        "old": PREDICTION,
        "new": 'PREDICTION = {"lower L1": "lambda = 100", "sharper": "lambda = 0"}',
        "fails": ["ex4-test-prediction"],
    },
    # measure
    {
        "name": "L1 measured in [0, 1]",
        "cell": "ex4-measure",
        "old": "l1 = (targets - fakes).abs().mean()",
        "new": "l1 = ((targets + 1) / 2 - (fakes + 1) / 2).abs().mean()",
        "fails": ["ex4-test-measure"],
    },
    {
        "name": "sharpness of images in [-1, 1]",
        "cell": "ex4-measure",
        "old": "sharpness = laplacian_variance((fakes + 1) / 2).mean()",
        "new": "sharpness = laplacian_variance(fakes).mean()",
        "fails": ["ex4-test-measure"],
    },
    {
        "name": "sharpness of the targets",
        "cell": "ex4-measure",
        "old": "sharpness = laplacian_variance((fakes + 1) / 2).mean()",
        "new": "sharpness = laplacian_variance((targets + 1) / 2).mean()",
        "fails": ["ex4-test-measure"],
    },
    {
        "name": "sharpness summed over the images",
        "cell": "ex4-measure",
        "old": "sharpness = laplacian_variance((fakes + 1) / 2).mean()",
        "new": "sharpness = laplacian_variance((fakes + 1) / 2).sum()",
        "fails": ["ex4-test-measure"],
    },
]
