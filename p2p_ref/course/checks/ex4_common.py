"""What every check of lesson 4's losses uses: fixed logits and images, extreme logits, the
comparison tolerance, gradients, and the test that a loss is one number (sec. 3.1, 3.3).
"""

import math

import torch

from p2p_ref.course.checks.common import fail

EXTREME = (1e4, -1e4, 100.0, -100.0)  # float32 sigmoid rounds all four to exactly 0 or 1


def _grid(shape=(1, 1, 30, 30), scale=2.0, seed=0, dtype=torch.float32):
    """Fixed logits for a batch of PatchGAN grids (30 x 30 is D's output for a 256 x 256 pair)."""
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g)).to(dtype)


def _images(shape=(1, 3, 64, 64), seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 2 - 1


def _extreme_grid(shape=(1, 1, 30, 30)):
    """A grid whose logits are all +-1e4 or +-100, in float32."""
    values = torch.tensor(EXTREME, dtype=torch.float32)
    return values.repeat(math.ceil(math.prod(shape) / len(EXTREME)))[:math.prod(shape)].reshape(shape)


def _close(a, b, rtol=1e-4, atol=1e-5):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64),
                          rtol=rtol, atol=atol)


def _grad(fn, *tensors):
    """Gradients of fn's (first) output with respect to each tensor; zeros where none arrives."""
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    out = fn(*leaves)
    out = out[0] if isinstance(out, tuple) else out
    if not isinstance(out, torch.Tensor) or not out.requires_grad:
        return [torch.zeros_like(leaf) for leaf in leaves]
    out.backward()
    return [leaf.grad if leaf.grad is not None else torch.zeros_like(leaf) for leaf in leaves]


def _number(value, name, where):
    """The student's result must be a 0-dim tensor (one number, the mean over the grid)."""
    if not isinstance(value, torch.Tensor):
        fail(f"`{name}` returned {type(value).__name__} {value!r}, not a torch tensor",
             "a 0-dim torch tensor (so that .backward() works)",
             f"{where}: return the torch result itself, not .item() or a Python float")
    if value.dim() != 0:
        fail(f"`{name}` returned a tensor of shape {tuple(value.shape)}",
             "a 0-dim tensor: the mean over every patch of every image in the batch",
             f"{where}: average with .mean() (or keep the loss function's default reduction='mean')")
    return value.detach()


def _targets(logits, is_real):
    return torch.ones_like(logits) if is_real else torch.zeros_like(logits)


def _per_image_sum(per_element):
    """The mistake 'mean over each image, summed over the batch'."""
    return per_element.flatten(1).mean(dim=1).sum()


def _bce_sigmoid_hint(where):
    return (f"{where}: sigmoid + BCE breaks at large logits (sigmoid rounds to exactly 1.0 in float32, "
            "then log(1 - 1) = -inf; torch's binary_cross_entropy clamps it to 100). Use BCE with logits: "
            "F.binary_cross_entropy_with_logits or nn.BCEWithLogitsLoss")


def _check_extreme(value, expected, name, case, where):
    if not torch.isfinite(value):
        fail(f"`{name}` gives {value.item()} for {case}",
             f"a finite loss, {expected.item():.6g}",
             _bce_sigmoid_hint(where))
    if not _close(value, expected):
        fail(f"`{name}` gives {value.item():.6g} for {case}",
             f"{expected.item():.6g} (a logit of 1e4 on the wrong side costs about 1e4, not 100)",
             _bce_sigmoid_hint(where))
