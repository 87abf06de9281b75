"""Grading cases of notebook 5 (ex5_training): realistic wrong solutions and the test cells they
fail (MUTATIONS), and correct solutions written in other styles that keep every point
(ALTERNATIVES).

Test cells: ex5-test-train-set (1 point), ex5-test-optimizers (2), ex5-test-lr-factor (2),
ex5-test-train-step (3), ex5-test-train-step-options (2), ex5-test-save-samples (1). Every check
builds its own data, networks and optimizers, so a mistake in one exercise costs only that
exercise's points (a wrong make_optimizers does not reach the train_step checks, a wrong
train_step does not reach save_samples, and so on).
"""

STEP = ("ex5-test-train-step", "ex5-test-train-step-options")

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
# The whole solution body of each exercise cell, for the alternatives that rewrite it.
_TRAIN_SET = """    load_size = round(crop_size * 286 / 256)
    return AlignedDataset(root, "train", direction="BtoA", load_size=load_size,
                          crop_size=crop_size, flip=True)
"""
_OPTIMIZERS = """    opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999))
    return opt_G, opt_D
"""
_LR = """    return 1.0 - max(0, epoch - n_epochs) / (n_epochs_decay + 1)
"""
_STEP_BODY = """    fake = G(x)  # once: one set of dropout masks for both updates

    # D step: real pairs -> 1, generated pairs -> 0; detached, so no gradient reaches G
""" + _D_STEP + """
    # G step: fool the updated D and stay close to y; not detached, G learns through D
""" + _G_STEP + """    return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(),
            "loss_G_GAN": loss_G_GAN.detach(), "loss_G_L1": loss_G_L1.detach()}
"""
_SAMPLES = """    with torch.no_grad():
        fake = G(x)
    rows = torch.stack([x, fake, y], dim=1).flatten(0, 1)  # x0, G(x0), y0, x1, ...
    save_image(denormalize(rows.cpu()), path, nrow=3, padding=2, pad_value=1.0)
"""


def _step(old, new, fails=STEP):
    return {"cell": "ex5-train-step", "old": old, "new": new, "fails": list(fails)}


MUTATIONS = [
    # ---------------------------------------------------------------- Exercise 1: the training set
    {
        "name": "direction AtoB (photo -> labels)",
        "cell": "ex5-make-train-set",
        "old": 'direction="BtoA"',
        "new": 'direction="AtoB"',
        "fails": ["ex5-test-train-set"],
    },
    {
        # issue 8: this one kept every point before the check looked at the mirror
        "name": "random flips off",
        "cell": "ex5-make-train-set",
        "old": "flip=True",
        "new": "flip=False",
        "fails": ["ex5-test-train-set"],
    },
    {
        # right for 64 x 64 crops, wrong for any other size (hidden test at crop_size=32)
        "name": "jitter fixed for 64 x 64 crops",
        "cell": "ex5-make-train-set",
        "old": "load_size = round(crop_size * 286 / 256)",
        "new": "load_size = 72  # 64 * 286 / 256",
        "fails": ["ex5-test-train-set"],
    },
    {
        "name": "the val split instead of train",
        "cell": "ex5-make-train-set",
        "old": 'AlignedDataset(root, "train"',
        "new": 'AlignedDataset(root, "val"',
        "fails": ["ex5-test-train-set"],
    },
    # ---------------------------------------------------------------- Exercise 2: the optimizers
    {
        "name": "Adam with its default betas (0.9, 0.999)",
        "cell": "ex5-make-optimizers",
        "old": "opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999))",
        "new": "opt_D = torch.optim.Adam(D.parameters(), lr=lr)",
        "fails": ["ex5-test-optimizers"],
    },
    {
        "name": "AdamW instead of Adam",
        "cell": "ex5-make-optimizers",
        "old": "opt_G = torch.optim.Adam(",
        "new": "opt_G = torch.optim.AdamW(",
        "fails": ["ex5-test-optimizers"],
    },
    {
        "name": "opt_G gets D's parameters",
        "cell": "ex5-make-optimizers",
        "old": "opt_G = torch.optim.Adam(G.parameters()",
        "new": "opt_G = torch.optim.Adam(D.parameters()",
        "fails": ["ex5-test-optimizers"],
    },
    {
        "name": "learning rate fixed at 2e-4",
        "cell": "ex5-make-optimizers",
        "old": "opt_G = torch.optim.Adam(G.parameters(), lr=lr,",
        "new": "opt_G = torch.optim.Adam(G.parameters(), lr=2e-4,",
        "fails": ["ex5-test-optimizers"],
    },
    # ---------------------------------------------------------------- Exercise 3: the schedule
    {
        "name": "decay divides by n_epochs_decay, reaching 0 in the last epoch",
        "cell": "ex5-lr-factor",
        "old": "/ (n_epochs_decay + 1)",
        "new": "/ n_epochs_decay",
        "fails": ["ex5-test-lr-factor"],
    },
    {
        "name": "epochs counted from 0",
        "cell": "ex5-lr-factor",
        "old": "max(0, epoch - n_epochs)",
        "new": "max(0, epoch + 1 - n_epochs)",
        "fails": ["ex5-test-lr-factor"],
    },
    # ---------------------------------------------------------------- Exercise 4: train_step
    {
        # D's backward runs through G and frees its graph: the G step's backward raises
        "name": "fake not detached in the D step",
        **_step("D(x, fake.detach())", "D(x, fake)"),
    },
    {
        # the GAN term then gives G nothing: only L1 trains it
        "name": "fake detached in the G step too",
        **_step("generator_loss(D(x, fake), fake,", "generator_loss(D(x, fake.detach()), fake,"),
    },
    {
        "name": "G step before D step",
        **_step(_D_STEP + "\n    # G step: fool the updated D and stay close to y; not detached, G learns through D\n"
                + _G_STEP, _G_STEP + "\n" + _D_STEP),
    },
    {
        # the outline's "generate a fake" in both steps: two sets of dropout masks
        "name": "G generated twice",
        **_step("    loss_G, loss_G_GAN, loss_G_L1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)",
                "    fake = G(x)\n"
                "    loss_G, loss_G_GAN, loss_G_L1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)"),
    },
    {
        # D's weights move in G's update: opt_D steps on the gradients G's backward left in D
        "name": "opt_D stepped again after G's backward",
        **_step("    loss_G.backward()\n    opt_G.step()\n",
                "    loss_G.backward()\n    opt_G.step()\n    opt_D.step()\n"),
    },
    {
        "name": "real and generated pairs judged in one batch",
        **_step("    loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)",
                "    real_logits, fake_logits = D(torch.cat([x, x]), torch.cat([y, fake.detach()])).chunk(2)\n"
                "    loss_D = discriminator_loss(real_logits, fake_logits, gan_mode)"),
    },
    {
        "name": "D's loss not halved",
        **_step("    loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)",
                "    loss_D = 2 * discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)"),
    },
    {
        "name": "opt_D.zero_grad() missing",
        **_step("    opt_D.zero_grad()\n", ""),
    },
    {
        # right with the default lambda, wrong with any other
        "name": "lambda_l1 hard-coded to 100",
        **_step("generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)",
                "generator_loss(D(x, fake), fake, y, 100.0, gan_mode)", fails=["ex5-test-train-step-options"]),
    },
    {
        # right for the paper's BCE, wrong for the hidden lsgan test
        "name": "gan_mode not passed on",
        "edits": [
            {"cell": "ex5-train-step", "old": "D(x, fake.detach()), gan_mode)", "new": "D(x, fake.detach()))"},
            {"cell": "ex5-train-step", "old": "fake, y, lambda_l1, gan_mode)", "new": "fake, y, lambda_l1)"},
        ],
        "fails": ["ex5-test-train-step-options"],
    },
    {
        "name": "the weighted L1 term returned as loss_G_L1",
        **_step('"loss_G_L1": loss_G_L1.detach()', '"loss_G_L1": lambda_l1 * loss_G_L1.detach()'),
    },
    {
        "name": "loss_G returned with its graph",
        **_step('"loss_G": loss_G.detach()', '"loss_G": loss_G'),
    },
    # ---------------------------------------------------------------- Exercise 5: sample triplets
    {
        "name": "samples in eval mode (dropout off)",
        "cell": "ex5-save-samples",
        "old": "    with torch.no_grad():\n",
        "new": "    G.eval()\n    with torch.no_grad():\n",
        "fails": ["ex5-test-save-samples"],
    },
    {
        "name": "samples with autograd on",
        "cell": "ex5-save-samples",
        "old": "    with torch.no_grad():\n        fake = G(x)\n",
        "new": "    fake = G(x).detach()\n",
        "fails": ["ex5-test-save-samples"],
    },
    {
        "name": "target first in each row",
        "cell": "ex5-save-samples",
        "old": "torch.stack([x, fake, y], dim=1)",
        "new": "torch.stack([y, fake, x], dim=1)",
        "fails": ["ex5-test-save-samples"],
    },
    {
        "name": "images saved with their [-1, 1] values",
        "cell": "ex5-save-samples",
        "old": "save_image(denormalize(rows.cpu()), path,",
        "new": "save_image(rows.cpu(), path,",
        "fails": ["ex5-test-save-samples"],
    },
    {
        "name": "x and y mapped to [0, 1] in place",
        "cell": "ex5-save-samples",
        "old": "    rows = torch.stack([x, fake, y], dim=1).flatten(0, 1)  # x0, G(x0), y0, x1, ...\n"
               "    save_image(denormalize(rows.cpu()), path,",
        "new": "    rows = torch.stack([x.add_(1).div_(2), (fake + 1) / 2, y.add_(1).div_(2)], dim=1).flatten(0, 1)\n"
               "    save_image(rows.cpu(), path,",
        "fails": ["ex5-test-save-samples"],
    },
]


ALTERNATIVES = [
    {
        # pix2pix_model.py's optimize_parameters: GANLoss with registered label buffers, loss
        # modules, backward_D asking about the fake first, set_requires_grad(netD, False) for G's
        # step and D left frozen after it; floats returned
        "name": "official code's style",
        "cell": "ex5-train-step",
        "old": _STEP_BODY,
        "new": '''    class GANLoss(torch.nn.Module):
        def __init__(self, gan_mode):
            super().__init__()
            self.register_buffer("real_label", torch.tensor(1.0))
            self.register_buffer("fake_label", torch.tensor(0.0))
            self.loss = torch.nn.BCEWithLogitsLoss() if gan_mode == "vanilla" else torch.nn.MSELoss()

        def __call__(self, prediction, target_is_real):
            target = (self.real_label if target_is_real else self.fake_label).expand_as(prediction)
            return self.loss(prediction, target)

    def set_requires_grad(net, requires_grad):
        for param in net.parameters():
            param.requires_grad = requires_grad

    criterionGAN, criterionL1 = GANLoss(gan_mode), torch.nn.L1Loss()
    real_A, real_B = x, y
    fake_B = G(real_A)

    def backward_D():
        pred_fake = D(torch.cat((real_A, fake_B), 1).detach())
        loss_D_fake = criterionGAN(pred_fake, False)
        pred_real = D(torch.cat((real_A, real_B), 1))
        loss_D_real = criterionGAN(pred_real, True)
        loss_D = (loss_D_fake + loss_D_real) * 0.5
        loss_D.backward()
        return loss_D

    def backward_G():
        pred_fake = D(torch.cat((real_A, fake_B), 1))
        loss_G_GAN = criterionGAN(pred_fake, True)
        loss_G_L1 = criterionL1(fake_B, real_B)
        loss_G = loss_G_GAN + loss_G_L1 * lambda_l1
        loss_G.backward()
        return loss_G, loss_G_GAN, loss_G_L1

    set_requires_grad(D, True)
    opt_D.zero_grad()
    loss_D = backward_D()
    opt_D.step()
    set_requires_grad(D, False)
    opt_G.zero_grad()
    loss_G, loss_G_GAN, loss_G_L1 = backward_G()
    opt_G.step()
    return {"loss_D": loss_D.item(), "loss_G": loss_G.item(),
            "loss_G_GAN": loss_G_GAN.item(), "loss_G_L1": loss_G_L1.item()}
''',
        "fails": [],
    },
    {
        # gradients cleared after the updates (module zero_grad, set_to_none=False), losses by
        # keyword, a list of optimizers from a loop, an if/else schedule
        "name": "zeroed after the updates, keyword arguments",
        "edits": [
            {"cell": "ex5-train-step", "old": _STEP_BODY, "new": '''    fake = G(x)
    loss_D = discriminator_loss(real_logits=D(x, y), fake_logits=D(x, fake.detach()), mode=gan_mode)
    loss_D.backward()
    opt_D.step()
    D.zero_grad(set_to_none=False)

    total, gan, l1 = generator_loss(fake_logits=D(x, fake), fake=fake, target=y, lambda_l1=lambda_l1,
                                    mode=gan_mode)
    total.backward()
    opt_G.step()
    G.zero_grad(set_to_none=False)
    D.zero_grad(set_to_none=False)  # what G's backward left in D
    values = {"loss_D": loss_D, "loss_G": total, "loss_G_GAN": gan, "loss_G_L1": l1}
    return {name: value.item() for name, value in values.items()}
'''},
            {"cell": "ex5-make-optimizers", "old": _OPTIMIZERS, "new": '''    optimizers = []
    for net in (G, D):
        optimizers.append(torch.optim.Adam(net.parameters(), lr, (beta1, 0.999)))
    return optimizers
'''},
            {"cell": "ex5-lr-factor", "old": _LR, "new": '''    if epoch <= n_epochs:
        return 1.0
    return 1.0 - (epoch - n_epochs) / (n_epochs_decay + 1)
'''},
        ],
        "fails": [],
    },
    {
        # BCE and MSE written out on D's joined input, the real pair asked second, D frozen with
        # requires_grad_ for G's step, set_to_none zero_grad up front, harmless no_grad/detach
        "name": "losses written out, D frozen, other data and sample code",
        "edits": [
            {"cell": "ex5-train-step", "old": _STEP_BODY, "new": '''    import torch.nn.functional as F

    def adversarial(logits, target):
        labels = torch.full_like(logits, target)
        if gan_mode == "vanilla":
            return F.binary_cross_entropy_with_logits(logits, labels)
        return F.mse_loss(logits, labels)

    opt_G.zero_grad(set_to_none=True)
    opt_D.zero_grad(set_to_none=True)
    generated = G(x)
    detached = generated.detach()
    fake_score = D(torch.cat([x, detached], dim=1))
    real_score = D(torch.cat([x, y], dim=1))
    loss_D = (adversarial(real_score, 1.0) + adversarial(fake_score, 0.0)) / 2
    loss_D.backward()
    opt_D.step()

    D.requires_grad_(False)
    loss_G_GAN = adversarial(D(torch.cat([x, generated], dim=1)), 1.0)
    loss_G_L1 = torch.mean(torch.abs(y - generated))
    loss_G = loss_G_GAN + lambda_l1 * loss_G_L1
    loss_G.backward()
    opt_G.step()
    D.requires_grad_(True)
    with torch.no_grad():
        report = dict(loss_D=loss_D.clone(), loss_G=loss_G.clone(), loss_G_GAN=loss_G_GAN.clone(),
                      loss_G_L1=loss_G_L1.clone())
    return report
'''},
            {"cell": "ex5-make-train-set", "old": _TRAIN_SET, "new": '''    load = int(crop_size * 286 / 256 + 0.5)
    return AlignedDataset(root, "train", "BtoA", load, crop_size, True)
'''},
            {"cell": "ex5-save-samples", "old": _SAMPLES, "new": '''    from PIL import Image
    with torch.inference_mode():
        out = G(x)
    rows = [torch.cat([denormalize(a), denormalize(b), denormalize(c)], dim=2)
            for a, b, c in zip(x.cpu(), out.cpu(), y.cpu())]
    grid = torch.cat(rows, dim=1).permute(1, 2, 0).mul(255).round().byte().numpy()
    Image.fromarray(grid).save(path)
'''},
        ],
        "fails": [],
    },
    {
        # the two updates as helper functions, a subclass of the dataset, a decorated sample
        # function that builds the grid with make_grid and writes it with matplotlib
        "name": "helpers, a dataset subclass, make_grid and imsave",
        "edits": [
            {"cell": "ex5-train-step", "old": _STEP_BODY, "new": '''    def update_D(fake):
        opt_D.zero_grad()
        loss = discriminator_loss(D(x, y), D(x, fake), gan_mode)
        loss.backward()
        opt_D.step()
        return loss.detach()

    def update_G(fake):
        opt_G.zero_grad()
        total, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
        total.backward()
        opt_G.step()
        return total.detach(), gan.detach(), l1.detach()

    fake = G(x)
    loss_D = update_D(fake.detach())
    loss_G, loss_G_GAN, loss_G_L1 = update_G(fake)
    return dict(loss_D=loss_D, loss_G=loss_G, loss_G_GAN=loss_G_GAN, loss_G_L1=loss_G_L1)
'''},
            {"cell": "ex5-make-train-set", "old": _TRAIN_SET, "new": '''    class FacadePairs(AlignedDataset):
        def __init__(self, root, size):
            super().__init__(root, split="train", direction="BtoA",
                             load_size=round(size * 286 / 256), crop_size=size)

    return FacadePairs(root, crop_size)
'''},
            {"cell": "ex5-save-samples", "old": _SAMPLES, "new": '''    from torchvision.utils import make_grid

    @torch.no_grad()
    def triplets():
        tiles = []
        for i in range(len(x)):
            tiles += [(x[i] + 1) / 2, (G(x[i:i + 1])[0] + 1) / 2, (y[i] + 1) / 2]
        return make_grid(tiles, nrow=3, padding=4, pad_value=1.0)

    plt.imsave(path, triplets().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
'''},
        ],
        "fails": [],
    },
]

# Correct solutions added when the lesson stopped dictating (issue 17): the resize worked out by
# floor division, D's loss back-propagated in its two halves, gradients installed with
# torch.autograd.grad instead of zero_grad / backward, and other ways to build the optimizers,
# the schedule and the sample grid.
ALTERNATIVES += [
    {
        # 64 * 286 // 256 = 71 (71.5 rounded down); D's halves backward one by one (the gradients
        # add up to those of their sum); opt_G cleared before the D step, where nothing reaches G
        # yet; losses from gan_loss / l1_loss; D's leftover gradients from G's backward are
        # cleared by the next call's opt_D.zero_grad(); floats returned
        "name": "floor-division resize, D's halves backward one by one, opt_G cleared first",
        "edits": [
            {"cell": "ex5-make-train-set", "old": _TRAIN_SET, "new": '''    load_size = crop_size * 286 // 256
    return AlignedDataset(root, split="train", direction="BtoA", load_size=load_size,
                          crop_size=crop_size)
'''},
            {"cell": "ex5-train-step", "old": _STEP_BODY, "new": '''    opt_G.zero_grad()
    opt_D.zero_grad()
    fake = G(x)
    fake_for_D = fake.detach()
    loss_D_fake = 0.5 * gan_loss(D(x, fake_for_D), False, gan_mode)
    loss_D_fake.backward()
    loss_D_real = 0.5 * gan_loss(D(x, y), True, gan_mode)
    loss_D_real.backward()
    opt_D.step()

    loss_G_GAN = gan_loss(D(x, fake), True, gan_mode)
    loss_G_L1 = l1_loss(fake, y)
    loss_G = loss_G_GAN + lambda_l1 * loss_G_L1
    loss_G.backward()
    opt_G.step()
    losses = {"loss_D": loss_D_fake + loss_D_real, "loss_G": loss_G,
              "loss_G_GAN": loss_G_GAN, "loss_G_L1": loss_G_L1}
    return {name: value.item() for name, value in losses.items()}
'''},
        ],
        "fails": [],
    },
    {
        # no zero_grad and no backward: torch.autograd.grad computes each loss's gradients for
        # its own network only, and they are installed as .grad before each optimizer's step
        "name": "gradients installed with torch.autograd.grad",
        "edits": [
            {"cell": "ex5-train-step", "old": _STEP_BODY, "new": '''    def install(loss, net):
        params = list(net.parameters())
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            p.grad = g

    fake = G(x)
    loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)
    install(loss_D, D)
    opt_D.step()
    loss_G, loss_G_GAN, loss_G_L1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
    install(loss_G, G)
    opt_G.step()
    return {key: value.detach() for key, value in
            zip(("loss_D", "loss_G", "loss_G_GAN", "loss_G_L1"), (loss_D, loss_G, loss_G_GAN, loss_G_L1))}
'''},
        ],
        "fails": [],
    },
    {
        # one Adam factory (functools.partial, betas as a list, foreach); the schedule as the
        # epochs left over the decay length, capped at 1; the sample grid with make_grid and
        # written by PIL through to_pil_image, autograd off with set_grad_enabled
        "name": "partial Adam, epochs-left schedule, make_grid to PIL",
        "edits": [
            {"cell": "ex5-make-optimizers", "old": _OPTIMIZERS, "new": '''    import functools

    adam = functools.partial(torch.optim.Adam, lr=lr, betas=[beta1, 0.999], foreach=True)
    return adam(G.parameters()), adam(D.parameters())
'''},
            {"cell": "ex5-lr-factor", "old": _LR, "new": '''    left = n_epochs + n_epochs_decay + 1 - epoch
    return float(min(1.0, left / (n_epochs_decay + 1)))
'''},
            {"cell": "ex5-save-samples", "old": _SAMPLES, "new": '''    import torchvision.transforms.functional as TF
    from torchvision.utils import make_grid

    with torch.set_grad_enabled(False):
        out = G(x)
    tiles = [t for trio in zip(x, out, y) for t in trio]
    grid = make_grid([denormalize(t.cpu()) for t in tiles], nrow=3, padding=1)
    TF.to_pil_image(grid).save(path)
'''},
        ],
        "fails": [],
    },
]
