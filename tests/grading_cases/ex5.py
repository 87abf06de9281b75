"""Realistic wrong solutions of notebook 5 (ex5_training) and the test cells they fail.

Test cells: ex5-test-train-set (1 point), ex5-test-optimizers (2), ex5-test-lr-factor (2),
ex5-test-train-step (3), ex5-test-train-step-options (2). The train_step checks build their own
optimizers, so a mistake in make_optimizers does not cascade into them.
"""

_D_STEP = """    opt_D.zero_grad()
    loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)
    loss_D.backward()
    opt_D.step()
"""
_G_STEP = """    opt_G.zero_grad()
    loss_G, loss_G_GAN, loss_G_L1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
    loss_G.backward()
    opt_G.step()
"""

MUTATIONS = [
    {
        # D's backward runs through G and frees its graph: the G step's backward raises
        "name": "fake not detached in the D step",
        "cell": "ex5-train-step",
        "old": "D(x, fake.detach())",
        "new": "D(x, fake)",
        "fails": ["ex5-test-train-step", "ex5-test-train-step-options"],
    },
    {
        "name": "G step before D step",
        "cell": "ex5-train-step",
        "old": _D_STEP + "\n    # G step: fool the updated D and stay close to y; not detached, G learns through D\n"
               + _G_STEP,
        "new": _G_STEP + "\n" + _D_STEP,
        "fails": ["ex5-test-train-step", "ex5-test-train-step-options"],
    },
    {
        # the outline's "generate a fake" in both steps: two sets of dropout masks
        "name": "G generated twice",
        "cell": "ex5-train-step",
        "old": "    loss_G, loss_G_GAN, loss_G_L1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)",
        "new": "    fake = G(x)\n"
               "    loss_G, loss_G_GAN, loss_G_L1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)",
        "fails": ["ex5-test-train-step", "ex5-test-train-step-options"],
    },
    {
        # right with the default lambda, wrong with any other
        "name": "lambda_l1 hard-coded to 100",
        "cell": "ex5-train-step",
        "old": "generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)",
        "new": "generator_loss(D(x, fake), fake, y, 100.0, gan_mode)",
        "fails": ["ex5-test-train-step-options"],
    },
    {
        "name": "direction AtoB (photo -> labels)",
        "cell": "ex5-make-train-set",
        "old": 'direction="BtoA"',
        "new": 'direction="AtoB"',
        "fails": ["ex5-test-train-set"],
    },
    {
        "name": "Adam with its default betas (0.9, 0.999)",
        "cell": "ex5-make-optimizers",
        "old": "opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999))",
        "new": "opt_D = torch.optim.Adam(D.parameters(), lr=lr)",
        "fails": ["ex5-test-optimizers"],
    },
    {
        "name": "decay divides by n_epochs_decay, reaching 0 in the last epoch",
        "cell": "ex5-lr-factor",
        "old": "/ (n_epochs_decay + 1)",
        "new": "/ n_epochs_decay",
        "fails": ["ex5-test-lr-factor"],
    },
]
