"""The lesson 5 checks pass every correct way of writing each exercise and name the usual mistakes."""

import functools
import inspect
import math

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torchvision.utils import make_grid, save_image

import p2p_ref.paper.models
import p2p_ref.training.train
from p2p_ref.course import coursework
from p2p_ref.course.checks import CheckFailed
from p2p_ref.course.checks import ex5 as check
from p2p_ref.course.checks import ex5_step
from p2p_ref.datasets.aligned import AlignedDataset
from p2p_ref.paper.data import denormalize
from p2p_ref.paper.losses import discriminator_loss, gan_loss, generator_loss, l1_loss

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_thread")


def failure(check_fn, student, **kwargs):
    with pytest.raises(CheckFailed) as info:
        check_fn(student, **kwargs)
    return str(info.value)


def as_dict(loss_D, loss_G, gan, l1):
    return {"loss_D": loss_D, "loss_G": loss_G, "loss_G_GAN": gan, "loss_G_L1": l1}


# ------------------------------------------------------------------ correct train steps, many styles

def train_step(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
    """As a student writes it from the paper: the pair joined by hand, BCE written directly,
    nothing frozen, floats returned."""
    fake = G(x)

    opt_D.zero_grad()
    real_logits = D(torch.cat([x, y], dim=1))
    fake_logits = D(torch.cat([x, fake.detach()], dim=1))
    loss_D = discriminator_loss(real_logits, fake_logits, gan_mode)
    loss_D.backward()
    opt_D.step()

    opt_G.zero_grad()
    fake_logits = D(torch.cat([x, fake], dim=1))
    if gan_mode == "vanilla":
        loss_G_GAN = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    else:
        loss_G_GAN = F.mse_loss(fake_logits, torch.ones_like(fake_logits))
    loss_G_L1 = F.l1_loss(fake, y)
    loss_G = loss_G_GAN + lambda_l1 * loss_G_L1
    loss_G.backward()
    opt_G.step()
    return as_dict(loss_D.item(), loss_G.item(), loss_G_GAN.item(), loss_G_L1.item())


class GANLoss(nn.Module):
    """The official code's GANLoss: label buffers expanded to the prediction's shape."""

    def __init__(self, gan_mode):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(1.0))
        self.register_buffer("fake_label", torch.tensor(0.0))
        self.loss = nn.BCEWithLogitsLoss() if gan_mode == "vanilla" else nn.MSELoss()

    def __call__(self, prediction, target_is_real):
        label = self.real_label if target_is_real else self.fake_label
        return self.loss(prediction, label.expand_as(prediction))


def set_requires_grad(net, requires_grad):
    for p in net.parameters():
        p.requires_grad = requires_grad


def official_style(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
    """optimize_parameters of the official pix2pix_model.py: backward_D asks D about the fake
    first, D is frozen for G's step and stays frozen after it, losses are nn.Modules."""
    criterion_gan, criterion_l1 = GANLoss(gan_mode), nn.L1Loss()
    fake = G(x)

    def backward_d():
        pred_fake = D(torch.cat((x, fake), 1).detach())
        loss_fake = criterion_gan(pred_fake, False)
        pred_real = D(torch.cat((x, y), 1))
        loss_real = criterion_gan(pred_real, True)
        loss = (loss_fake + loss_real) * 0.5
        loss.backward()
        return loss

    def backward_g():
        pred_fake = D(torch.cat((x, fake), 1))
        gan = criterion_gan(pred_fake, True)
        l1 = criterion_l1(fake, y)
        loss = gan + l1 * lambda_l1
        loss.backward()
        return loss, gan, l1

    set_requires_grad(D, True)
    opt_D.zero_grad()
    loss_D = backward_d()
    opt_D.step()
    set_requires_grad(D, False)
    opt_G.zero_grad()
    loss_G, gan, l1 = backward_g()
    opt_G.step()
    return as_dict(loss_D.detach(), loss_G.detach(), gan.detach(), l1.detach())


def zeroed_at_the_end(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
    """Gradients cleared after the updates (set_to_none=False), losses by keyword, numpy floats."""
    fake = G(x)
    loss_D = discriminator_loss(fake_logits=D(x, fake.detach()), real_logits=D(x, y), mode=gan_mode)
    loss_D.backward()
    opt_D.step()
    D.zero_grad(set_to_none=False)
    with torch.no_grad():  # harmless: nothing here needs a gradient
        pass
    loss_G, gan, l1 = generator_loss(fake_logits=D(x, fake), fake=fake, target=y, lambda_l1=lambda_l1,
                                     mode=gan_mode)
    loss_G.backward()
    opt_G.step()
    opt_G.zero_grad(set_to_none=False)
    D.zero_grad(set_to_none=False)  # D's gradients from G's backward, cleared too
    return as_dict(*(np.float32(t.item()) for t in (loss_D, loss_G, gan, l1)))


def frozen_with_requires_grad(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
    """The reference's freezing, zero_grad(set_to_none=True) up front, 0-dim tensors returned."""
    opt_G.zero_grad(set_to_none=True)
    opt_D.zero_grad(set_to_none=True)
    fake = G(x)
    fake_detached = fake.detach()
    real_logits = D(x, y)
    loss_D = discriminator_loss(real_logits, D(x, fake_detached), gan_mode)
    loss_D.backward()
    opt_D.step()
    D.requires_grad_(False)
    loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
    loss_G.backward()
    opt_G.step()
    D.requires_grad_(True)
    return as_dict(loss_D.detach(), loss_G.detach(), gan.detach(), l1.detach())


def halves_backward_one_by_one(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
    """D's two halves back-propagated one after the other (their gradients add up to those of
    the sum), opt_G cleared before the D step, where nothing reaches G yet; D not frozen."""
    opt_G.zero_grad()
    opt_D.zero_grad()
    fake = G(x)
    loss_D_fake = 0.5 * gan_loss(D(x, fake.detach()), False, gan_mode)
    loss_D_fake.backward()
    loss_D_real = 0.5 * gan_loss(D(x, y), True, gan_mode)
    loss_D_real.backward()
    opt_D.step()
    gan, l1 = gan_loss(D(x, fake), True, gan_mode), l1_loss(fake, y)
    loss_G = gan + lambda_l1 * l1
    loss_G.backward()
    opt_G.step()
    return as_dict(*(v.item() for v in (loss_D_fake + loss_D_real, loss_G, gan, l1)))


def gradients_from_autograd_grad(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
    """No zero_grad, no backward: each loss's gradients for its own network only, installed as
    .grad before that network's optimizer steps."""
    def install(loss, net):
        params = list(net.parameters())
        for p, g in zip(params, torch.autograd.grad(loss, params)):
            p.grad = g

    fake = G(x)
    loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)
    install(loss_D, D)
    opt_D.step()
    loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
    install(loss_G, G)
    opt_G.step()
    return as_dict(loss_D.detach(), loss_G.detach(), gan.detach(), l1.detach())


CORRECT_STEPS = [train_step, official_style, zeroed_at_the_end, frozen_with_requires_grad,
                 halves_backward_one_by_one, gradients_from_autograd_grad]


@pytest.mark.parametrize("step", CORRECT_STEPS, ids=lambda f: f.__name__)
def test_every_correct_style_of_train_step_passes(step, capsys):
    check.train_step(step)
    check.train_step(step, lambda_l1=10.0, gan_mode="lsgan", batch_size=1, seed=1)
    check.train_step(step, lambda_l1=1.0, batch_size=1, seed=2)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 3


def test_the_order_of_d_calls_changes_only_ds_running_statistics():
    """Why the check leaves D's running statistics out: the official code's fake-first order
    really does leave other values there, and nothing else differs."""
    G, D, batches = ex5_step._tiny_setup(seed=0, batch_size=2)
    args = dict(seed=0, lambda_l1=100.0, gan_mode="vanilla", call="")
    ours = ex5_step._run(p2p_ref.paper.train_step.train_step, G, D, batches, **args)
    theirs = ex5_step._run(official_style, G, D, batches, **args)
    running = [k for k in ours.D.state_dict() if k.endswith("running_mean")]
    assert running and any(not torch.allclose(ours.D.state_dict()[k], theirs.D.state_dict()[k])
                           for k in running)
    assert ex5_step._differences(theirs, ours) == []


def test_the_course_recipe_is_the_reference_step():
    """The check's replayable recipe (mistake=None) is p2p_ref.paper.train_step.train_step, so its mistakes
    are mistakes of the real step."""
    G, D, batches = ex5_step._tiny_setup(seed=3, batch_size=2)
    args = dict(seed=3, lambda_l1=100.0, gan_mode="vanilla", call="")
    a = ex5_step._run(p2p_ref.paper.train_step.train_step, G, D, batches, **args)
    b = ex5_step._run(ex5_step._recipe, G, D, batches, **args)
    assert ex5_step._differences(a, b) == []
    # and the comparison sees the Adam state: one more step of opt_D alone is a difference
    b.opt_D.step()
    assert any("opt_D's Adam state" in d for d in ex5_step._differences(a, b))


def test_the_check_leaves_the_notebooks_random_numbers_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check.train_step(train_step)
    assert torch.equal(torch.rand(3), expected)


# ------------------------------------------------------------------ work carried from lesson 4

def test_carried_losses_are_graded_as_the_reference():
    """Lesson 5 binds the loss names to the student's lesson-4 functions (marked by use_own).
    The grade of train_step must not depend on them: a lesson-4 gan_loss without the optional
    lsgan mode still passes lesson 5's lsgan test, and the names are restored afterwards."""
    global discriminator_loss, generator_loss

    def vanilla_only(logits, target_is_real, mode="vanilla"):
        if mode != "vanilla":
            raise ValueError("only vanilla in my lesson 4")
        target = torch.ones_like(logits) if target_is_real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)

    def my_discriminator_loss(real_logits, fake_logits, mode="vanilla"):
        return 0.5 * (vanilla_only(real_logits, True, mode) + vanilla_only(fake_logits, False, mode))

    def my_generator_loss(fake_logits, fake, target, lambda_l1=100.0, mode="vanilla"):
        gan, l1 = vanilla_only(fake_logits, True, mode), (target - fake).abs().mean()
        return gan + lambda_l1 * l1, gan, l1

    saved = discriminator_loss, generator_loss
    try:
        discriminator_loss, generator_loss = my_discriminator_loss, my_generator_loss
        # not marked: the student's own code in this notebook is graded as it is
        assert "only vanilla" in failure(check.train_step, frozen_with_requires_grad, gan_mode="lsgan")
        setattr(my_discriminator_loss, coursework.MARK, ("ex4_losses", "discriminator_loss"))
        setattr(my_generator_loss, coursework.MARK, ("ex4_losses", "generator_loss"))
        check.train_step(frozen_with_requires_grad, gan_mode="lsgan")
        assert discriminator_loss is my_discriminator_loss and generator_loss is my_generator_loss
    finally:
        discriminator_loss, generator_loss = saved


def test_only_loss_names_are_swapped_and_only_for_the_reference_losses():
    """A mark on anything else (a helper named like the step, say) swaps nothing."""
    global helper

    def helper(*args, **kwargs):
        raise RuntimeError("my own helper")

    def step(*args, **kwargs):
        return helper(*args, **kwargs)

    setattr(helper, coursework.MARK, ("ex5_training", "train_step"))
    try:
        assert "my own helper" in failure(check.train_step, step)
    finally:
        del helper


# ------------------------------------------------------------------ wrong train steps

def test_no_detach_is_named():
    def no_detach(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        fake = G(x)
        opt_D.zero_grad()
        loss_D = discriminator_loss(D(x, y), D(x, fake), gan_mode)  # fake not detached
        loss_D.backward()
        opt_D.step()
        opt_G.zero_grad()
        loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
        loss_G.backward()
        opt_G.step()
        return as_dict(loss_D.item(), loss_G.item(), gan.item(), l1.item())

    message = failure(check.train_step, no_detach)
    assert "not detached" in message and "backward through the graph a second time" in message

    def no_detach_retained(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        # The usual "fix" of the error above: the numbers then agree with the reference, but
        # loss_D still runs backward through G.
        fake = G(x)
        opt_D.zero_grad()
        loss_D = discriminator_loss(D(x, y), D(x, fake), gan_mode)
        loss_D.backward(retain_graph=True)
        opt_D.step()
        opt_G.zero_grad()
        loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
        loss_G.backward()
        opt_G.step()
        return as_dict(loss_D.item(), loss_G.item(), gan.item(), l1.item())

    assert "not detached" in failure(check.train_step, no_detach_retained)


def test_d_loss_not_halved_is_named():
    def not_halved(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        fake = G(x)
        opt_D.zero_grad()
        real_logits, fake_logits = D(x, y), D(x, fake.detach())
        loss_D = (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                  + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        loss_D.backward()
        opt_D.step()
        opt_G.zero_grad()
        loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
        loss_G.backward()
        opt_G.step()
        return as_dict(loss_D.item(), loss_G.item(), gan.item(), l1.item())

    message = failure(check.train_step, not_halved)
    assert "not halved" in message and "exactly this mistake" in message


def test_g_generated_twice_is_named():
    def twice(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        opt_D.zero_grad()
        loss_D = discriminator_loss(D(x, y), D(x, G(x).detach()), gan_mode)
        loss_D.backward()
        opt_D.step()
        opt_G.zero_grad()
        fake = G(x)  # a second forward: new dropout masks, BatchNorm statistics updated again
        loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
        loss_G.backward()
        opt_G.step()
        return as_dict(loss_D.item(), loss_G.item(), gan.item(), l1.item())

    message = failure(check.train_step, twice)
    assert "G ran more than once" in message and "dropout" in message


def test_g_step_first_is_named():
    def g_first(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        fake = G(x)
        opt_G.zero_grad()
        loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
        loss_G.backward()
        opt_G.step()
        opt_D.zero_grad()
        loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)
        loss_D.backward()
        opt_D.step()
        return as_dict(loss_D.item(), loss_G.item(), gan.item(), l1.item())

    assert "G's step ran before D's step" in failure(check.train_step, g_first)


def test_real_and_fake_in_one_batch_is_named():
    def joint(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        fake = G(x)
        opt_D.zero_grad()
        logits = D(torch.cat([x, x]), torch.cat([y, fake.detach()]))
        real_logits, fake_logits = logits.chunk(2)
        loss_D = discriminator_loss(real_logits, fake_logits, gan_mode)
        loss_D.backward()
        opt_D.step()
        opt_G.zero_grad()
        loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
        loss_G.backward()
        opt_G.step()
        return as_dict(loss_D.item(), loss_G.item(), gan.item(), l1.item())

    assert "in one batch" in failure(check.train_step, joint)


def test_wrapping_the_reference_fails():
    def wrapper(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        return p2p_ref.paper.train_step.train_step(G, D, opt_G, opt_D, x, y, lambda_l1, gan_mode)

    assert "uses the reference implementation" in failure(check.train_step, wrapper)
    assert "not your own code" in failure(check.train_step, p2p_ref.paper.train_step.train_step)
    assert "not your own code" in failure(check.make_optimizers, p2p_ref.paper.train_step.make_optimizers)
    assert "not your own code" in failure(check.lr_factor, p2p_ref.paper.train_step.lr_factor)


def test_d_moved_in_gs_update_is_named():
    def d_steps_twice(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        fake = G(x)
        opt_D.zero_grad()
        loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)
        loss_D.backward()
        opt_D.step()
        opt_G.zero_grad()
        loss_G, gan, l1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
        loss_G.backward()
        opt_G.step()
        opt_D.step()  # D moves on what G's backward left in its .grad
        return as_dict(loss_D.item(), loss_G.item(), gan.item(), l1.item())

    assert "D's weights moved in G's update" in failure(check.train_step, d_steps_twice)


@pytest.mark.parametrize("mistake, words", [
    ("g_gan_detached", "detached in the G step too"),
    ("no_l1_weight", "without its weight lambda_l1"),
    ("no_zero_grad", "zero_grad() is missing"),
    ("no_zero_grad_G", "opt_G.zero_grad() is missing"),
    ("no_zero_grad_D", "opt_D.zero_grad() is missing"),
    ("no_opt_step", "step() is missing"),
])
def test_other_known_mistakes_are_named(mistake, words):
    def step(*args, **kwargs):
        return ex5_step._recipe(*args, mistake=mistake, **kwargs)

    assert words in failure(check.train_step, step)


def test_hard_coded_lambda_fails_the_hidden_setting():
    def fixed_lambda(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        return train_step(G, D, opt_G, opt_D, x, y, 100.0, gan_mode)

    check.train_step(fixed_lambda)  # looks right with the default...
    message = failure(check.train_step, fixed_lambda, lambda_l1=10.0)
    assert "weighted by 100" in message  # ...but not with another lambda

    def vanilla_only(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        return train_step(G, D, opt_G, opt_D, x, y, lambda_l1)

    assert "computed as 'vanilla'" in failure(check.train_step, vanilla_only, gan_mode="lsgan")


def test_returned_values_must_be_detached_numbers():
    def keeps_graph(*args, **kwargs):
        out = ex5_step._recipe(*args, **kwargs)
        return {**out, "loss_G": out["loss_G"].requires_grad_()}

    assert "autograd graph attached" in failure(check.train_step, keeps_graph)

    def weighted_l1(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        out = train_step(G, D, opt_G, opt_D, x, y, lambda_l1, gan_mode)
        return {**out, "loss_G_L1": lambda_l1 * out["loss_G_L1"]}

    assert "weighted L1" in failure(check.train_step, weighted_l1)

    def missing_key(*args, **kwargs):
        out = train_step(*args, **kwargs)
        del out["loss_G_GAN"]
        return out

    assert "exactly ['loss_D'" in failure(check.train_step, missing_key)


# ------------------------------------------------------------------ optimizers and schedule

def make_optimizers(G, D, lr=2e-4, beta1=0.5):
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999)),
            torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999)))


def lr_factor(epoch, n_epochs=100, n_epochs_decay=100):
    return 1.0 - max(0, epoch - n_epochs) / (n_epochs_decay + 1)


def test_optimizers_and_schedule_in_other_styles_pass(capsys):
    def as_list(G, D, lr=2e-4, beta1=0.5):
        return [torch.optim.Adam(net.parameters(), lr, (beta1, 0.999)) for net in (G, D)]

    def if_else(epoch, n_epochs=100, n_epochs_decay=100):
        if epoch <= n_epochs:
            return 1
        return np.float64(1 - (epoch - n_epochs) / (n_epochs_decay + 1))

    def partial_adam(G, D, lr=2e-4, beta1=0.5):  # betas as a list, foreach on
        adam = functools.partial(torch.optim.Adam, lr=lr, betas=[beta1, 0.999], foreach=True)
        return adam(G.parameters()), adam(D.parameters())

    def epochs_left(epoch, n_epochs=100, n_epochs_decay=100):  # capped at 1
        return float(min(1.0, (n_epochs + n_epochs_decay + 1 - epoch) / (n_epochs_decay + 1)))

    check.make_optimizers(make_optimizers)
    check.make_optimizers(as_list)
    check.make_optimizers(partial_adam)
    check.lr_factor(lr_factor)
    check.lr_factor(if_else)
    check.lr_factor_more(if_else)
    check.lr_factor(epochs_left)
    check.lr_factor_more(epochs_left)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 8


def test_optimizer_mistakes_are_named():
    sgd = lambda G, D, lr=2e-4, beta1=0.5: (torch.optim.SGD(G.parameters(), lr),  # noqa: E731
                                            torch.optim.SGD(D.parameters(), lr))
    assert "torch.optim.Adam" in failure(check.make_optimizers, sgd)
    swapped = lambda G, D, lr=2e-4, beta1=0.5: make_optimizers(D, G, lr, beta1)  # noqa: E731
    assert "exactly the parameters" in failure(check.make_optimizers, swapped)
    default_betas = lambda G, D, lr=2e-4, beta1=0.5: (  # noqa: E731
        torch.optim.Adam(G.parameters(), lr=lr), torch.optim.Adam(D.parameters(), lr=lr))
    assert "betas=(0.5, 0.999)" in failure(check.make_optimizers, default_betas)
    fixed_lr = lambda G, D, lr=2e-4, beta1=0.5: make_optimizers(G, D, 2e-4, beta1)  # noqa: E731
    assert "lr=0.001" in failure(check.make_optimizers, fixed_lr)
    fixed_beta1 = lambda G, D, lr=2e-4, beta1=0.5: make_optimizers(G, D, lr, 0.5)  # noqa: E731
    assert "betas=(0.9, 0.999)" in failure(check.make_optimizers, fixed_beta1)


def test_lr_factor_mistakes_are_named():
    no_plus_one = lambda epoch, n_epochs=100, n_epochs_decay=100: (  # noqa: E731
        1.0 - max(0, epoch - n_epochs) / n_epochs_decay)
    assert "n_epochs_decay + 1" in failure(check.lr_factor, no_plus_one)
    zero_based = lambda epoch, n_epochs=100, n_epochs_decay=100: lr_factor(epoch + 1, n_epochs,  # noqa: E731
                                                                        n_epochs_decay)
    assert "count from 1" in failure(check.lr_factor, zero_based)
    assert "returned" in failure(check.lr_factor, lambda epoch, n_epochs=100, n_epochs_decay=100: 1.0)
    fixed = lambda epoch, n_epochs=100, n_epochs_decay=100: lr_factor(epoch)  # noqa: E731
    assert "not 100" in failure(check.lr_factor_more, fixed)


# ------------------------------------------------------------------ the training set

def make_train_set(root, crop_size=64):
    return AlignedDataset(root, "train", "BtoA", round(crop_size * 286 / 256), crop_size)


def test_train_set_passes_in_other_styles(capsys):
    def positional(root, crop_size=64):
        return AlignedDataset(root, "train", "BtoA", int(crop_size * 286 / 256 + 0.5), crop_size, True)

    class MyPairs(AlignedDataset):  # a subclass of the dataset, as a student might write
        def __init__(self, root, crop_size):
            super().__init__(root, split="train", direction="BtoA",
                             load_size=round(crop_size * 1.1171875), crop_size=crop_size)

    def floor_division(root, crop_size=64):  # 64 * 286 / 256 = 71.5 rounded down: as good as 72
        return AlignedDataset(root, "train", "BtoA", crop_size * 286 // 256, crop_size)

    def ceiling(root, crop_size=64):  # 32 * 286 / 256 = 35.75 rounded up
        return AlignedDataset(root, "train", "BtoA", math.ceil(crop_size * 286 / 256), crop_size)

    check.make_train_set(make_train_set)
    check.make_train_set(positional, crop_size=32)
    check.make_train_set(lambda root, crop_size=64: MyPairs(root, crop_size))
    check.make_train_set(floor_division)
    check.make_train_set(floor_division, crop_size=32)
    check.make_train_set(ceiling, crop_size=32)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 6


def test_train_set_mistakes_are_named(tmp_path):
    wrong_direction = lambda root, crop_size=64: AlignedDataset(root, "train", "AtoB", 72, crop_size)  # noqa: E731
    assert "'BtoA'" in failure(check.make_train_set, wrong_direction)
    no_flip = lambda root, crop_size=64: AlignedDataset(  # noqa: E731
        root, "train", "BtoA", round(crop_size * 286 / 256), crop_size, flip=False)
    assert "random flips are off" in failure(check.make_train_set, no_flip)
    no_jitter = lambda root, crop_size=64: AlignedDataset(root, "train", "BtoA", 64, 64, flip=False)  # noqa: E731
    assert "load_size is 64" in failure(check.make_train_set, no_jitter)
    # the ratio the wrong way round or a fixed margin: within a few pixels, still not the paper's
    margin = lambda root, crop_size=64: AlignedDataset(root, "train", "BtoA", crop_size + 30, crop_size)  # noqa: E731
    assert "71 or 72 pixels" in failure(check.make_train_set, margin)
    assert "35 or 36 pixels" in failure(check.make_train_set, lambda root, crop_size=32: AlignedDataset(
        root, "train", "BtoA", 34, crop_size), crop_size=32)
    wrong_crop = lambda root, crop_size=64: AlignedDataset(root, "train", "BtoA", 286, 256)  # noqa: E731
    assert "crop_size=64" in failure(check.make_train_set, wrong_crop)
    fixed_crop = lambda root, crop_size=64: make_train_set(root)  # noqa: E731
    check.make_train_set(fixed_crop)  # right at the default size...
    assert "crop_size=32" in failure(check.make_train_set, fixed_crop, crop_size=32)  # ...not at another
    val_split = lambda root, crop_size=64: AlignedDataset(root, "val", "BtoA", 72, crop_size)  # noqa: E731
    assert "'train' split" in failure(check.make_train_set, val_split)

    class FlipsXAlone(torch.utils.data.Dataset):
        def __init__(self, root, crop_size):
            self.ds = make_train_set(root, crop_size)

        def __len__(self):
            return len(self.ds)

        def __getitem__(self, i):
            x, y = self.ds[i]
            return (x.flip(-1) if torch.rand(1) < 0.5 else x), y

    assert "mirrored separately" in failure(check.make_train_set, FlipsXAlone)


# ------------------------------------------------------------------ sample grids

def save_samples(G, x, y, path):
    with torch.no_grad():
        fake = G(x)
    rows = torch.stack([x, fake, y], dim=1).flatten(0, 1)
    save_image(denormalize(rows), path, nrow=3)


def samples_with_cat_and_pil(G, x, y, path):
    with torch.inference_mode():
        out = G(x)
    rows = [torch.cat([denormalize(a), denormalize(b), denormalize(c)], dim=2) for a, b, c in zip(x, out, y)]
    grid = (torch.cat(rows, dim=1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(grid).save(path)


@torch.no_grad()
def samples_with_make_grid_and_imsave(G, x, y, path):
    import matplotlib.pyplot as plt
    tiles = []
    for i in range(len(x)):
        tiles += [(x[i] + 1) / 2, ((G(x[i:i + 1])[0]) + 1) / 2, (y[i] + 1) / 2]
    grid = make_grid(tiles, nrow=3, padding=4, pad_value=1.0)
    plt.imsave(path, grid.permute(1, 2, 0).clamp(0, 1).numpy())


def test_save_samples_passes_in_other_styles(capsys):
    for student in (save_samples, samples_with_cat_and_pil, samples_with_make_grid_and_imsave):
        check.save_samples(student)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 3


def test_save_samples_mistakes_are_named():
    def eval_mode(G, x, y, path):
        G.eval()
        save_samples(G, x, y, path)

    assert "dropout off" in failure(check.save_samples, eval_mode)

    def eval_restored(G, x, y, path):
        G.eval()
        save_samples(G, x, y, path)
        G.train()

    assert "dropout off" in failure(check.save_samples, eval_restored)

    def eval_after(G, x, y, path):
        save_samples(G, x, y, path)
        G.eval()

    assert "left G in eval mode" in failure(check.save_samples, eval_after)

    def with_grad(G, x, y, path):
        rows = torch.stack([x, G(x).detach(), y], dim=1).flatten(0, 1)
        save_image(denormalize(rows), path, nrow=3)

    assert "torch.no_grad()" in failure(check.save_samples, with_grad)

    def target_first(G, x, y, path):
        with torch.no_grad():
            rows = torch.stack([y, G(x), x], dim=1).flatten(0, 1)
        save_image(denormalize(rows), path, nrow=3)

    assert "shows the target y" in failure(check.save_samples, target_first)

    def raw_values(G, x, y, path):
        with torch.no_grad():
            rows = torch.stack([x, G(x), y], dim=1).flatten(0, 1)
        save_image(rows, path, nrow=3)

    assert "[-1, 1] values" in failure(check.save_samples, raw_values)

    def stretched(G, x, y, path):
        with torch.no_grad():
            rows = torch.stack([x, G(x), y], dim=1).flatten(0, 1)
        save_image(rows, path, nrow=3, normalize=True)

    assert "normalize=True" in failure(check.save_samples, stretched)

    def one_column_per_pair(G, x, y, path):
        with torch.no_grad():
            rows = torch.cat([x, G(x), y])
        save_image(denormalize(rows), path, nrow=len(x))

    assert "one column per pair" in failure(check.save_samples, one_column_per_pair)

    def in_place(G, x, y, path):
        with torch.no_grad():
            fake = G(x)
        rows = torch.stack([x.add_(1).div_(2), fake.add(1).div(2), y.add_(1).div_(2)], dim=1).flatten(0, 1)
        save_image(rows, path, nrow=3)

    assert "in place" in failure(check.save_samples, in_place)

    def nothing_saved(G, x, y, path):
        with torch.no_grad():
            G(x)

    assert "no file" in failure(check.save_samples, nothing_saved)


# ------------------------------------------------------------------ pieces carried from lessons 2-3

def student_copy(module, replace=()):
    """The classes of a p2p_ref module as if a student had typed them into a notebook (so that
    they are not the reference), with some lines changed."""
    source = inspect.getsource(module)
    for old, new in replace:
        assert old in source
        source = source.replace(old, new)
    namespace = {"__name__": "student_notebook"}
    exec(compile(source, "<student>", "exec"), namespace)
    return namespace


def test_carried_networks_are_checked_quickly(capsys):
    mine = student_copy(p2p_ref.paper.models)
    check.own_unet(mine["UNetGenerator"])
    check.own_patch_discriminator(mine["PatchDiscriminator"])
    assert "UNetGenerator(num_downs=6" in capsys.readouterr().out


def test_carried_networks_with_a_mistake_fail():
    skip_first = student_copy(p2p_ref.paper.models, [("torch.cat([y, skip], dim=1)", "torch.cat([skip, y], dim=1)")])
    assert "skip first" in failure(check.own_unet, skip_first["UNetGenerator"])
    relu = student_copy(p2p_ref.paper.models, [("layers = [] if outermost else [nn.LeakyReLU(0.2)]",
                                          "layers = [] if outermost else [nn.ReLU()]")])
    assert "EncoderBlock" in failure(check.own_unet, relu["UNetGenerator"])
    swapped = student_copy(p2p_ref.paper.models, [("x = torch.cat([x, y], dim=1)", "x = torch.cat([y, x], dim=1)")])
    assert "logits differ" in failure(check.own_patch_discriminator, swapped["PatchDiscriminator"])
    sigmoid = student_copy(p2p_ref.paper.models, [("layers.append(nn.Conv2d(width, 1, 4, stride=1, padding=1))",
                                             "layers += [nn.Conv2d(width, 1, 4, stride=1, padding=1), nn.Sigmoid()]")])
    assert "Sigmoid" in failure(check.own_patch_discriminator, sigmoid["PatchDiscriminator"])
