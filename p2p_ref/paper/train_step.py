"""One pix2pix iteration and its optimizers: the paper's recipe (sec. 3.3, appendix 6.2).

    fake = G(x)                                                   once per batch
    D step: 0.5 * [BCE(D(x, y), 1) + BCE(D(x, fake.detach()), 0)]
    G step: BCE(D(x, fake), 1) + lambda * |y - fake|_1            lambda = 100, D frozen

Adam (lr 2e-4, betas 0.5 / 0.999) for both nets, batch size 1. The paper trains facades for 200
epochs; the split into 100 at a constant rate and 100 of linear decay is the official code's
default (`lr_factor`). Lesson 5 writes these.
"""

import torch
from torch.optim.lr_scheduler import LambdaLR

from p2p_ref.paper.losses import discriminator_loss, generator_loss


def make_optimizers(G, D, lr=2e-4, beta1=0.5, *, fused=None):
    """Adam with lr 2e-4 and betas (0.5, 0.999) for both networks (sec. 3.3)."""
    return (torch.optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999), fused=fused),
            torch.optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999), fused=fused))


def lr_factor(epoch, n_epochs=100, n_epochs_decay=100):
    """The learning-rate multiplier of epoch `epoch` (counted from 1): 1 for the first n_epochs
    epochs, then a linear decay, 1 - max(0, epoch - n_epochs) / (n_epochs_decay + 1), which
    leaves 1/101 of the rate in the last of the paper's 200 epochs (as in the official code)."""
    return 1.0 - max(0, epoch - n_epochs) / (n_epochs_decay + 1)


def make_schedulers(opt_G, opt_D, n_epochs=100, n_epochs_decay=100):
    """LambdaLR for both optimizers; LambdaLR counts finished epochs from 0, hence e + 1."""
    return tuple(LambdaLR(o, lambda e: lr_factor(e + 1, n_epochs, n_epochs_decay))
                 for o in (opt_G, opt_D))


def _backward_step(loss, optimizer, scaler):
    if scaler is None:
        loss.backward()
        optimizer.step()
    else:  # fp16: scale the loss so small gradients do not underflow; step skips inf/NaN grads
        scaler.scale(loss).backward()
        scaler.step(optimizer)


def train_step(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla", *,
               autocast_dtype=None, scaler=None):
    """One pix2pix iteration on the batch (x, y): a gradient step on D, then one on G (sec. 3.3).

    Returns the detached losses {"loss_D", "loss_G", "loss_G_GAN", "loss_G_L1"} (0-dim tensors,
    no host sync). autocast_dtype (torch.bfloat16 / torch.float16) runs the forward passes under
    autocast; scaler is the torch.amp.GradScaler that fp16 needs.
    """
    def autocast():
        return torch.autocast(x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None)

    with autocast():
        fake = G(x)  # computed once, used by both updates

    # D step: real pairs -> 1, generated pairs -> 0. The fake is detached: no gradient reaches G.
    opt_D.zero_grad(set_to_none=True)
    with autocast():
        loss_D = discriminator_loss(D(x, y), D(x, fake.detach()), gan_mode)
    _backward_step(loss_D, opt_D, scaler)

    # G step: fool the just-updated D and stay close to y. D only judges, so its weights are
    # frozen (the official code's set_requires_grad(netD, False)): no gradients are stored for it.
    D.requires_grad_(False)
    opt_G.zero_grad(set_to_none=True)
    with autocast():
        loss_G, loss_G_GAN, loss_G_L1 = generator_loss(D(x, fake), fake, y, lambda_l1, gan_mode)
    _backward_step(loss_G, opt_G, scaler)
    D.requires_grad_(True)
    if scaler is not None:
        scaler.update()
    return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(),
            "loss_G_GAN": loss_G_GAN.detach(), "loss_G_L1": loss_G_L1.detach()}
