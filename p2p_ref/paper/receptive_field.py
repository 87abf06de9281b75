"""Receptive fields of conv stacks: the size of the input patch one output unit sees.

Analytic (Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks",
Distill 2019), for layers l = 1..L with kernel k_l, stride s_l, padding p_l:

    r = 1 + sum_l (k_l - 1) * prod_{i<l} s_i        (size)
    j = prod_l s_l                                  (effective stride)
    P = sum_l p_l * prod_{i<l} s_i                  (effective padding)

Measured: back-propagate from one output unit and see which input pixels get a gradient
(pix2pix sec. 3.2.2 and 4.4 call the field of the PatchGAN the "patch size").
"""

from typing import NamedTuple

import torch
from torch import nn

_SPATIAL = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


class ReceptiveField(NamedTuple):
    size: int
    stride: int
    padding: int


def _pair_first(v):
    return v[0] if isinstance(v, tuple) else v


def conv_geometry(model_or_layers):
    """The (kernel, stride, padding) of each spatial layer, in order.

    Accepts a module (its Conv2d and pooling layers, in registration order), a list of modules,
    or a list of (kernel, stride, padding) tuples.
    """
    if isinstance(model_or_layers, nn.Module):
        items = list(model_or_layers.modules())
    else:
        items = list(model_or_layers)
    geometry = []
    for item in items:
        if isinstance(item, nn.Module):
            if not isinstance(item, _SPATIAL):
                continue
            dilation = _pair_first(getattr(item, "dilation", 1))
            k = dilation * (_pair_first(item.kernel_size) - 1) + 1
            geometry.append((k, _pair_first(item.stride), _pair_first(item.padding)))
        elif isinstance(item, (tuple, list)) and len(item) == 3 and all(isinstance(v, int) for v in item):
            geometry.append(tuple(item))
        else:
            raise TypeError(f"cannot read a layer from {item!r}: expected an nn.Module or a "
                            f"(kernel, stride, padding) tuple of ints")
    return geometry


def receptive_field(model_or_layers):
    """Analytic receptive field (size, effective stride, effective padding) of a conv stack."""
    size, stride, padding = 1, 1, 0
    for k, s, p in conv_geometry(model_or_layers):
        size += (k - 1) * stride
        padding += p * stride
        stride *= s
    return ReceptiveField(size, stride, padding)


def output_size(model_or_layers, input_size):
    """Side of the output grid for a square input: n -> floor((n + 2p - k) / s) + 1 per layer."""
    n = input_size
    for k, s, p in conv_geometry(model_or_layers):
        n = (n + 2 * p - k) // s + 1
        if n < 1:
            raise ValueError(f"input size {input_size} is too small for this stack: the output "
                             f"vanishes at a layer with kernel {k}, stride {s}, padding {p}")
    return n


def measure_receptive_field(model, input_size=256, in_channels=None):
    """Measure the receptive field side of the centre output unit from the input gradient.

    Norm layers must be in eval mode: batch statistics would spread the gradient over the whole
    image, so the model is switched to eval() for the measurement and restored after. Max pooling
    passes the gradient to one pixel per window, so a stack with it measures smaller than its field.
    Raises ValueError when the gradient reaches the image border (the field is clipped).
    """
    if in_channels is None:
        first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        in_channels = first.in_channels
    training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        x = torch.randn(1, in_channels, input_size, input_size, device=param.device,
                        dtype=param.dtype, requires_grad=True)
        out = model(x)
        h, w = out.shape[-2:]
        out[..., h // 2, w // 2].sum().backward()
    finally:
        model.train(training)
    hit = x.grad.abs().sum(dim=(0, 1)) > 0
    rows = hit.any(dim=1).nonzero().flatten()
    cols = hit.any(dim=0).nonzero().flatten()
    if rows.numel() == 0:
        raise ValueError("no input pixel reaches the centre output unit: is the model connected?")
    if rows[0] == 0 or rows[-1] == input_size - 1 or cols[0] == 0 or cols[-1] == input_size - 1:
        raise ValueError(f"the gradient reaches the border of the {input_size} x {input_size} input, so the "
                         f"field is clipped: measure with a larger input_size (at least the analytic "
                         f"field plus a margin)")
    return int(rows[-1] - rows[0] + 1)
