"""The lesson 5 checks pass a correct student training step and name the usual mistakes."""

import pytest
import torch
import torch.nn.functional as F

import p2p_ref.train
from p2p_ref.checks import CheckFailed
from p2p_ref.checks import ex5 as check
from p2p_ref.losses import discriminator_loss, generator_loss


# A correct student copy, written the way the notebook asks (and not the way p2p_ref writes it:
# the student concatenates the pair by hand, writes BCE directly and freezes nothing).

def train_step(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
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
    return {"loss_D": loss_D.item(), "loss_G": loss_G.item(),
            "loss_G_GAN": loss_G_GAN.item(), "loss_G_L1": loss_G_L1.item()}


def make_optimizers(G, D, lr=2e-4, beta1=0.5):
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999)),
            torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999)))


def lr_factor(epoch, n_epochs=100, n_epochs_decay=100):
    return 1.0 - max(0, epoch - n_epochs) / (n_epochs_decay + 1)


def failure(check_fn, student, **kwargs):
    with pytest.raises(CheckFailed) as info:
        check_fn(student, **kwargs)
    return str(info.value)


def test_a_correct_copy_passes_every_check(capsys):
    check.make_optimizers(make_optimizers)
    check.lr_factor(lr_factor)
    check.train_step(train_step)
    check.train_step(train_step, lambda_l1=10.0, gan_mode="lsgan", batch_size=1, seed=1)
    assert capsys.readouterr().out.count("\N{CHECK MARK}") == 4


def test_the_course_recipe_is_the_reference_step():
    """The check's replayable recipe (mistake=None) is p2p_ref.train.train_step, so its mistakes
    are mistakes of the real step."""
    G, D, batches = check._tiny_setup(seed=3, batch_size=2)
    with check._one_thread():
        a = check._run(p2p_ref.train.train_step, G, D, batches, 3, 100.0, "vanilla")
        b = check._run(check._recipe, G, D, batches, 3, 100.0, "vanilla")
    as_floats = lambda outs: [check._as_floats(o, "") for o in outs]  # noqa: E731
    assert check._matches((as_floats(a[0]), a[1], a[2]), (as_floats(b[0]), b[1], b[2]))


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
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item(), "loss_G_GAN": gan.item(),
                "loss_G_L1": l1.item()}

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
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item(), "loss_G_GAN": gan.item(),
                "loss_G_L1": l1.item()}

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
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item(), "loss_G_GAN": gan.item(),
                "loss_G_L1": l1.item()}

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
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item(), "loss_G_GAN": gan.item(),
                "loss_G_L1": l1.item()}

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
        return {"loss_D": loss_D.item(), "loss_G": loss_G.item(), "loss_G_GAN": gan.item(),
                "loss_G_L1": l1.item()}

    assert "G's step ran before D's step" in failure(check.train_step, g_first)


def test_wrapping_the_reference_fails():
    def wrapper(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        return p2p_ref.train.train_step(G, D, opt_G, opt_D, x, y, lambda_l1, gan_mode)

    assert "uses the reference implementation" in failure(check.train_step, wrapper)
    assert "not your own code" in failure(check.train_step, p2p_ref.train.train_step)
    assert "not your own code" in failure(check.make_optimizers, p2p_ref.train.make_optimizers)
    assert "not your own code" in failure(check.lr_factor, p2p_ref.train.lr_factor)


@pytest.mark.parametrize("mistake, words", [
    ("no_l1_weight", "without its weight lambda_l1"),
    ("no_zero_grad", "zero_grad() is missing"),
    ("no_zero_grad_G", "opt_G.zero_grad() is missing"),
    ("no_opt_step", "step() is missing"),
])
def test_other_known_mistakes_are_named(mistake, words):
    def step(*args, **kwargs):
        return check._recipe(*args, mistake=mistake, **kwargs)

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
        out = check._recipe(*args, **kwargs)
        return {**out, "loss_G": out["loss_G"].requires_grad_()}

    assert "autograd graph attached" in failure(check.train_step, keeps_graph)

    def weighted_l1(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla"):
        out = train_step(G, D, opt_G, opt_D, x, y, lambda_l1, gan_mode)
        return {**out, "loss_G_L1": lambda_l1 * out["loss_G_L1"]}

    assert "weighted L1" in failure(check.train_step, weighted_l1)


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


def test_lr_factor_mistakes_are_named():
    no_plus_one = lambda epoch, n_epochs=100, n_epochs_decay=100: (  # noqa: E731
        1.0 - max(0, epoch - n_epochs) / n_epochs_decay)
    assert "n_epochs_decay + 1" in failure(check.lr_factor, no_plus_one)
    zero_based = lambda epoch, n_epochs=100, n_epochs_decay=100: lr_factor(epoch + 1, n_epochs,  # noqa: E731
                                                                        n_epochs_decay)
    assert "count from 1" in failure(check.lr_factor, zero_based)
    assert "returned" in failure(check.lr_factor, lambda epoch, n_epochs=100, n_epochs_decay=100: 1.0)


def test_train_set_check(tmp_path):
    from p2p_ref.data import AlignedDataset
    from p2p_ref.synthetic import make_synthetic_dataset

    root = make_synthetic_dataset(tmp_path / "synthetic", n_train=4, n_val=0, n_test=0, size=128)

    def make_train_set(root, crop_size=64):
        return AlignedDataset(root, "train", "BtoA", round(crop_size * 286 / 256), crop_size)

    check.make_train_set(make_train_set, root)
    wrong_direction = lambda root, crop_size=64: AlignedDataset(root, "train", "AtoB", 72, crop_size)  # noqa: E731
    assert "'BtoA'" in failure(check.make_train_set, wrong_direction, root=root)
    no_jitter = lambda root, crop_size=64: AlignedDataset(root, "train", "BtoA", 64, 64, flip=False)  # noqa: E731
    assert "no random jitter" in failure(check.make_train_set, no_jitter, root=root)
    wrong_crop = lambda root, crop_size=64: AlignedDataset(root, "train", "BtoA", 286, 256)  # noqa: E731
    assert "crop_size=64" in failure(check.make_train_set, wrong_crop, root=root)
