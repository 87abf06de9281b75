"""Correct solutions of notebook 4 (ex4_losses) for the end-to-end grading test: the solution cells
as they stand, and ALTERNATIVES, correct solutions written in other styles (the official code's
idioms, module instances, other reductions and call orders), each keeping every point in the
kernel run and in the fresh-process re-grade. grading_cases/ex4.py holds the wrong ones and
hands both lists to the harness.
"""

# The solution cells as they stand in solutions/ex4_losses (an alternative replaces a whole cell).
GAN_LOSS = '''def gan_loss(logits, target_is_real, mode="vanilla"):
    """The adversarial loss of D's patch logits for a player who wants every patch judged real (or fake)."""
    ### BEGIN SOLUTION
    target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
    if mode == "vanilla":
        return F.binary_cross_entropy_with_logits(logits, target)
    if mode == "lsgan":
        return F.mse_loss(logits, target)
    raise ValueError(f"mode={mode!r}: expected 'vanilla' or 'lsgan'")
    ### END SOLUTION'''

L1_LOSS = '''def l1_loss(fake, target):
    """L_L1 of eq. 3 between generated images and their targets."""
    ### BEGIN SOLUTION
    return (target - fake).abs().mean()
    ### END SOLUTION'''

DISCRIMINATOR_LOSS = '''def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    """What D's optimiser minimises: eq. 1 for D, as sec. 3.3 trains it."""
    ### BEGIN SOLUTION
    return 0.5 * (gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode))
    ### END SOLUTION'''

GENERATOR_LOSS = '''def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    """(total, gan, l1): what G's optimiser minimises (eq. 4, sec. 3.3) and its two terms."""
    ### BEGIN SOLUTION
    gan = gan_loss(fake_logits, True, mode)
    l1 = l1_loss(fake, target)
    return gan + lambda_l1 * l1, gan, l1
    ### END SOLUTION'''

PREDICTION = 'PREDICTION = {"lower_l1": 100, "sharper": 0}'

MEASURE = '''    l1 = (targets - fakes).abs().mean()
    sharpness = laplacian_variance((fakes + 1) / 2).mean()
    return l1.item(), sharpness.item()'''


def _whole(cell, old, new):
    return {"cell": cell, "old": old, "new": new}


ALTERNATIVES = [
    {
        "name": "loss modules and full_like labels",
        "fails": [],
        "edits": [
            _whole("ex4-gan-loss", GAN_LOSS, '''from torch import nn

bce, mse = nn.BCEWithLogitsLoss(), nn.MSELoss()


def gan_loss(logits, target_is_real, mode="vanilla"):
    target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
    if mode == "vanilla":
        return bce(logits, target)
    elif mode == "lsgan":
        return mse(logits, target)
    else:
        raise ValueError("unknown GAN mode: " + str(mode))'''),
            _whole("ex4-l1-loss", L1_LOSS, '''criterion_l1 = nn.L1Loss()


def l1_loss(fake, target):
    return criterion_l1(fake, target)'''),
            _whole("ex4-discriminator-loss", DISCRIMINATOR_LOSS, '''def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    real_term = gan_loss(real_logits, target_is_real=True, mode=mode)
    fake_term = gan_loss(fake_logits, target_is_real=False, mode=mode)
    return (real_term + fake_term) / 2'''),
            _whole("ex4-generator-loss", GENERATOR_LOSS, '''def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    loss_G_GAN = gan_loss(fake_logits, target_is_real=True, mode=mode)
    loss_G_L1 = l1_loss(fake, target)
    return loss_G_GAN + loss_G_L1 * lambda_l1, loss_G_GAN, loss_G_L1'''),
        ],
    },
    {
        # junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py GANLoss and pix2pix_model.py backward_D
        "name": "official GANLoss class with label buffers",
        "fails": [],
        "edits": [
            _whole("ex4-gan-loss", GAN_LOSS, '''import torch.nn as nn


class GANLoss(nn.Module):
    def __init__(self, gan_mode, target_real_label=1.0, target_fake_label=0.0):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(target_real_label))
        self.register_buffer("fake_label", torch.tensor(target_fake_label))
        self.gan_mode = gan_mode
        if gan_mode == "lsgan":
            self.loss = nn.MSELoss()
        elif gan_mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        else:
            raise ValueError(f"gan mode {gan_mode} not implemented")

    def get_target_tensor(self, prediction, target_is_real):
        target_tensor = self.real_label if target_is_real else self.fake_label
        return target_tensor.expand_as(prediction)

    def __call__(self, prediction, target_is_real):
        return self.loss(prediction, self.get_target_tensor(prediction, target_is_real))


criteria = {}


def gan_loss(logits, target_is_real, mode="vanilla"):
    if mode not in criteria:
        criteria[mode] = GANLoss(mode)
    return criteria[mode](logits, target_is_real)'''),
            _whole("ex4-discriminator-loss", DISCRIMINATOR_LOSS, '''def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    loss_D_fake = gan_loss(fake_logits, False, mode)   # backward_D: the fake term first
    loss_D_real = gan_loss(real_logits, True, mode)
    return (loss_D_fake + loss_D_real) * 0.5'''),
            _whole("ex4-generator-loss", GENERATOR_LOSS, '''def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    loss_G_GAN = gan_loss(fake_logits, True, mode)
    loss_G_L1 = l1_loss(fake, target)
    loss_G = loss_G_GAN + loss_G_L1 * lambda_l1
    return loss_G, loss_G_GAN, loss_G_L1'''),
        ],
    },
    {
        "name": "softplus formulas and a loop over the terms",
        "fails": [],
        "edits": [
            _whole("ex4-gan-loss", GAN_LOSS, '''def gan_loss(logits, target_is_real, mode="vanilla"):
    if mode not in ("vanilla", "lsgan"):
        raise ValueError(f"unknown mode {mode}")
    if mode == "lsgan":
        return ((logits - float(target_is_real)) ** 2).mean()
    # BCE(s, 1) = log(1 + exp(-s)) = softplus(-s) and BCE(s, 0) = softplus(s), stable for any s
    return F.softplus(-logits if target_is_real else logits).mean()'''),
            _whole("ex4-l1-loss", L1_LOSS, '''def l1_loss(fake, target):
    return torch.mean(torch.abs(fake - target))'''),
            _whole("ex4-discriminator-loss", DISCRIMINATOR_LOSS, '''def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    terms = []
    for logits, is_real in ((real_logits, True), (fake_logits, False)):
        terms.append(gan_loss(logits, is_real, mode))
    return sum(terms) / len(terms)'''),
            _whole("ex4-generator-loss", GENERATOR_LOSS, '''from collections import namedtuple

GLoss = namedtuple("GLoss", ["total", "gan", "l1"])


def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    gan = gan_loss(fake_logits, True, mode=mode)
    l1 = l1_loss(fake, target)
    return GLoss(total=gan + lambda_l1 * l1, gan=gan, l1=l1)'''),
            {"cell": "ex4-prediction", "old": PREDICTION, "new": "PREDICTION = {'sharper': 0.0, 'lower_l1': 100.0}"},
        ],
    },
    {
        "name": "dispatch table, functional L1, stacked mean, detached logs",
        "fails": [],
        "edits": [
            _whole("ex4-gan-loss", GAN_LOSS, '''LOSSES = {"vanilla": F.binary_cross_entropy_with_logits, "lsgan": F.mse_loss}


def gan_loss(logits, target_is_real, mode="vanilla"):
    if mode not in LOSSES:
        raise ValueError(f"{mode!r} is not one of {sorted(LOSSES)}")
    labels = torch.ones_like(logits) * float(target_is_real)
    return LOSSES[mode](input=logits, target=labels)'''),
            _whole("ex4-l1-loss", L1_LOSS, '''def l1_loss(fake, target):
    return F.l1_loss(fake, target)'''),
            _whole("ex4-discriminator-loss", DISCRIMINATOR_LOSS, '''def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    return torch.stack([gan_loss(real_logits, True, mode), gan_loss(fake_logits, False, mode)]).mean()'''),
            _whole("ex4-generator-loss", GENERATOR_LOSS, '''def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    gan = gan_loss(fake_logits, True, mode)
    l1 = l1_loss(fake, target)
    total = gan + lambda_l1 * l1
    return total, gan.detach(), l1.detach()   # the logged terms need no graph'''),
        ],
    },
    {
        "name": "measure image by image, with denormalize",
        "fails": [],
        "edits": [
            {"cell": "ex4-measure", "old": MEASURE, "new": '''    from p2p_ref.paper.data import denormalize

    l1_values, sharpness_values = [], []
    with torch.no_grad():
        for fake, target in zip(fakes, targets):
            l1_values.append(F.l1_loss(fake, target).item())
            sharpness_values.append(laplacian_variance(denormalize(fake)[None]).item())
    return sum(l1_values) / len(l1_values), sum(sharpness_values) / len(sharpness_values)'''},
            {"cell": "ex4-prediction", "old": PREDICTION, "new": "PREDICTION = dict(lower_l1=0, sharper=100)"},
        ],
    },
    {
        "name": "measure with numpy",
        "fails": [],
        "edits": [
            {"cell": "ex4-measure", "old": MEASURE, "new": '''    import numpy as np
    from p2p_ref.course.widgets import lambda_sweep

    l1 = np.mean(np.abs(targets.numpy() - fakes.numpy()))
    sharpness = lambda_sweep.laplacian_variance(fakes * 0.5 + 0.5).numpy().mean()
    return float(l1), float(sharpness)'''},
        ],
    },
    # issue 17: correct idioms that the checks before it refused or never tried
    {
        # junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py GANLoss as it stands: it also
        # knows 'wgangp' and refuses other modes with NotImplementedError (the old check tried
        # 'wgangp' and wanted a ValueError)
        "name": "the official GANLoss verbatim, wgangp and NotImplementedError",
        "fails": [],
        "edits": [
            _whole("ex4-gan-loss", GAN_LOSS, '''import torch.nn as nn


class GANLoss(nn.Module):
    def __init__(self, gan_mode, target_real_label=1.0, target_fake_label=0.0):
        super(GANLoss, self).__init__()
        self.register_buffer('real_label', torch.tensor(target_real_label))
        self.register_buffer('fake_label', torch.tensor(target_fake_label))
        self.gan_mode = gan_mode
        if gan_mode == 'lsgan':
            self.loss = nn.MSELoss()
        elif gan_mode == 'vanilla':
            self.loss = nn.BCEWithLogitsLoss()
        elif gan_mode in ['wgangp']:
            self.loss = None
        else:
            raise NotImplementedError('gan mode %s not implemented' % gan_mode)

    def get_target_tensor(self, prediction, target_is_real):
        if target_is_real:
            target_tensor = self.real_label
        else:
            target_tensor = self.fake_label
        return target_tensor.expand_as(prediction)

    def __call__(self, prediction, target_is_real):
        if self.gan_mode in ['lsgan', 'vanilla']:
            target_tensor = self.get_target_tensor(prediction, target_is_real)
            loss = self.loss(prediction, target_tensor)
        elif self.gan_mode == 'wgangp':
            if target_is_real:
                loss = -prediction.mean()
            else:
                loss = prediction.mean()
        return loss


def gan_loss(logits, target_is_real, mode="vanilla"):
    return GANLoss(mode).to(logits.device)(logits, target_is_real)'''),
        ],
    },
    {
        # -log sigmoid(s) and -log(1 - sigmoid(s)) = -log sigmoid(-s) by hand, a dispatch table
        # whose KeyError names the typo (the old check wanted a ValueError); D's loss as one BCE
        # over real and fake concatenated along the batch (its mean is the halved sum)
        "name": "logsigmoid by hand, KeyError, D's loss on real and fake concatenated",
        "fails": [],
        "edits": [
            _whole("ex4-gan-loss", GAN_LOSS, '''def neg_log_likelihood(logits, target_is_real):
    return -F.logsigmoid(logits if target_is_real else -logits).mean()


def least_squares(logits, target_is_real):
    return (logits - float(target_is_real)).square().mean()


GAN_LOSSES = {"vanilla": neg_log_likelihood, "lsgan": least_squares}


def gan_loss(logits, target_is_real, mode="vanilla"):
    return GAN_LOSSES[mode](logits, target_is_real)'''),
            _whole("ex4-discriminator-loss", DISCRIMINATOR_LOSS, '''def discriminator_loss(real_logits, fake_logits, mode="vanilla"):
    logits = torch.cat([real_logits, fake_logits])
    labels = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])
    if mode == "lsgan":
        return F.mse_loss(logits, labels)
    if mode != "vanilla":
        raise ValueError(f"unknown GAN mode {mode!r}")
    return F.binary_cross_entropy_with_logits(logits, labels)'''),
        ],
    },
    {
        # the official code's criterionL1 = torch.nn.L1Loss(): a module, not a def; lambda first,
        # through torch.add's alpha; the target detached (it needs no gradient)
        "name": "criterionL1 module, torch.add with alpha, target detached",
        "fails": [],
        "edits": [
            _whole("ex4-l1-loss", L1_LOSS, "l1_loss = torch.nn.L1Loss()"),
            _whole("ex4-generator-loss", GENERATOR_LOSS, '''def generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
    l1 = l1_loss(fake, target.detach())
    gan = gan_loss(fake_logits, True, mode)
    return torch.add(gan, l1, alpha=lambda_l1), gan, l1'''),
        ],
    },
    {
        # 0-d NumPy arrays (what tensor.numpy() gives): the old check wanted floats or tensors
        "name": "measure returns 0-d NumPy arrays",
        "fails": [],
        "edits": [
            {"cell": "ex4-measure", "old": MEASURE, "new": '''    with torch.no_grad():
        l1 = F.l1_loss(fakes, targets).numpy()
        sharpness = laplacian_variance(fakes.add(1).div(2)).mean().numpy()
    return l1, sharpness'''},
        ],
    },
]
