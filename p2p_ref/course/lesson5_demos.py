"""The measurements lesson 5 shows after its `train_step` exercise, run on the reference.

They take pieces of a training step (the paper's sec. 3.3: one gradient step on D, then one on G),
so the lesson calls them instead of printing their code: the notebook shows what they measure, the
student's own step stays the student's.

    detach_reach(detach=True)   -> (tensors of G that D's loss reached, tensors of G)
    halving_moves()             -> {1.0: distance D's weights moved on L_D, 2.0: ... on 2 L_D}
"""

import torch

from p2p_ref.paper import losses, models


def _tiny_pair(seed, batch_size, size=32):
    torch.manual_seed(seed)
    G, D = models.UNetGenerator(num_downs=5, ngf=8), models.PatchDiscriminator(ndf=8)
    x, y = (torch.rand(batch_size, 3, size, size) * 2 - 1 for _ in range(2))
    return G, D, x, y


def detach_reach(detach, seed=0):
    """One backward pass of D's loss, L_D = 0.5 [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)], on tiny
    reference networks, with the generated image cut from G's graph (detach=True) or not.
    Returns (reached, total): how many of G's parameter tensors received a gradient from L_D,
    and how many G has."""
    G, D, x, y = _tiny_pair(seed, batch_size=2)
    generated = G(x)
    shown = generated.detach() if detach else generated
    losses.discriminator_loss(D(x, y), D(x, shown)).backward()
    params = list(G.parameters())
    return sum(p.grad is not None for p in params), len(params)


def halving_moves(steps=5, seed=0, factors=(1.0, 2.0)):
    """The paper halves D's loss "to slow down the rate at which D learns relative to G". Give
    copies of one tiny D `steps` Adam steps (lr 2e-4, betas (0.5, 0.999), sec. 3.3) on factor * L_D,
    against one fixed generated image, and return {factor: Euclidean distance its weights moved}.
    Adam divides by a running estimate of the gradient's size, so the factor nearly cancels."""
    G, D, x, y = _tiny_pair(seed, batch_size=1)
    with torch.no_grad():
        generated = G(x)
    start = [p.detach().clone() for p in D.parameters()]
    moved = {}
    for factor in factors:
        copy = models.PatchDiscriminator(ndf=8)
        copy.load_state_dict(D.state_dict())
        opt = torch.optim.Adam(copy.parameters(), lr=2e-4, betas=(0.5, 0.999))
        for _ in range(steps):
            opt.zero_grad()
            (factor * losses.discriminator_loss(copy(x, y), copy(x, generated))).backward()
            opt.step()
        moved[factor] = float(sum((p.detach() - p0).norm() ** 2
                                  for p, p0 in zip(copy.parameters(), start)) ** 0.5)
    return moved
