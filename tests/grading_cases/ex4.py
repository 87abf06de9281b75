"""Realistic wrong solutions of notebook 4 (ex4_losses) and the test cells they fail.

Test cells: ex4-test-gan-loss (3 points), ex4-test-l1-loss (2), ex4-test-discriminator-loss (2),
ex4-test-generator-loss (3). discriminator_loss and generator_loss call the student's gan_loss and
l1_loss, so a mistake there also fails the later cells that use it.
"""

MUTATIONS = [
    {
        "name": "D's loss not halved",
        "cell": "ex4-discriminator-loss",
        "old": "return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))",
        "new": "return gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode)",
        "fails": ["ex4-test-discriminator-loss"],
    },
    {
        # right at ordinary logits; F.binary_cross_entropy clamps log(0) to -100 at logits of 1e4
        "name": "sigmoid + BCE on the logits",
        "cell": "ex4-gan-loss",
        "old": "return F.binary_cross_entropy_with_logits(logits, target)",
        "new": "return F.binary_cross_entropy(torch.sigmoid(logits), target)",
        "fails": ["ex4-test-gan-loss", "ex4-test-discriminator-loss", "ex4-test-generator-loss"],
    },
    {
        "name": "L1 summed instead of averaged",
        "cell": "ex4-l1-loss",
        "old": "return (target - fake).abs().mean()",
        "new": "return (target - fake).abs().sum()",
        "fails": ["ex4-test-l1-loss", "ex4-test-generator-loss"],
    },
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
        "name": "labels swapped in gan_loss",
        "cell": "ex4-gan-loss",
        "old": "target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)",
        "new": "target = torch.zeros_like(logits) if target_is_real else torch.ones_like(logits)",
        "fails": ["ex4-test-gan-loss", "ex4-test-discriminator-loss", "ex4-test-generator-loss"],
    },
]
