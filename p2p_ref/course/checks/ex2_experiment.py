"""Checks for lesson 2's experiment, U-Net against encoder-decoder (sec. 4.3, Figure 5): the
student's PREDICTION, then `validation_l1`, their measurement.

`prediction` only checks that the prediction is well formed (whether it is right earns no points:
the lesson measures it). `validation_l1(G, pairs)` must run G as the paper does at test time (sec.
3.3: "we run the generator net in exactly the same manner as during the training phase": dropout on,
batch statistics of the test batch, here one pair at a time), without autograd, and return the mean
|y - G(x)| over every pixel, channel and pair. The notebook reaches these checks as
`check.prediction`, `check.validation_l1`, ... on p2p_ref.course.checks.ex2.
"""

import numbers

import torch

from p2p_ref.course.checks.common import ensure_own_code, fail, passed, prediction_keys
from p2p_ref.paper import models as ref

MODELS = ("unet", "encoder-decoder")
PREDICTION_KEYS = ("lower_l1", "sharper_edges")


def prediction(prediction):
    """Check that PREDICTION is a well-formed prediction; whether it is right is not graded."""
    where = "your PREDICTION cell"
    expected = "a dict {'lower_l1': ..., 'sharper_edges': ...}, each \"unet\" or \"encoder-decoder\""
    prediction_keys(prediction, PREDICTION_KEYS, expected, where)
    for key in PREDICTION_KEYS:
        if prediction[key] not in MODELS:
            fail(f"PREDICTION[{key!r}] = {prediction[key]!r}", f"\"unet\" or \"encoder-decoder\" (a string)", where)
    passed(f"prediction recorded: the lower validation L1 for the {prediction['lower_l1']}, the sharper window "
           f"edges for the {prediction['sharper_edges']}. Whether it is right earns no points: the next cells "
           "measure it")


def _pairs(n, size, seed):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(3, size, size, generator=g) * 2 - 1, torch.rand(3, size, size, generator=g) * 2 - 1)
            for _ in range(n)]


def _reference_l1(G, pairs, train=True, batched=False):
    G.train(train)
    with torch.no_grad():
        if batched:
            fakes = G(torch.stack([x for x, _ in pairs]))
        else:
            fakes = torch.cat([G(x.unsqueeze(0)) for x, _ in pairs])
    targets = torch.stack([y for _, y in pairs])
    return (targets - fakes).abs().mean().item(), fakes, targets


def _number(value, where):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            fail(f"`validation_l1` returned a tensor of shape {tuple(value.shape)}",
                 "one number: the L1 averaged over every pixel, channel and pair", where)
        if value.requires_grad:
            fail("`validation_l1` returned a tensor that carries a graph (requires_grad=True)",
                 "a measurement without autograd: run G under torch.no_grad()", where)
        return float(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    fail(f"`validation_l1` returned {type(value).__name__} {value!r}", "a number (a float or a 0-dim tensor)",
         where)


def _record_calls(G):
    """Hooks that note, for each call of G: the batch size, G.training, whether autograd was on."""
    calls = []
    handle = G.register_forward_pre_hook(
        lambda m, args: calls.append((args[0].shape[0], m.training, torch.is_grad_enabled())))
    return calls, handle


def _check(validation_l1, n, size, where):
    torch.manual_seed(0)
    G = ref.UNetGenerator(num_downs=5, ngf=4, dropout=0.0)   # no dropout: a deterministic G to compare values
    pairs = _pairs(n, size, seed=n)
    want, fakes, targets = _reference_l1(G, pairs)
    G.eval()   # the student's function must put G in train mode itself
    calls, handle = _record_calls(G)
    try:
        got = _number(validation_l1(G, [(x.clone(), y.clone()) for x, y in pairs]), where)
    finally:
        handle.remove()
    if not calls:
        fail("`validation_l1` never calls G", "G(x) for each pair", where)
    if any(grad for _, _, grad in calls):
        fail("`validation_l1` runs G with autograd on", "torch.no_grad(): a measurement needs no gradients", where)
    if not all(training for _, training, _ in calls):
        fail("`validation_l1` runs G in eval mode",
             "G in train mode: the paper runs the generator at test time \"in exactly the same manner as "
             "during the training phase\", dropout and the test batch's statistics on (sec. 3.3)", where)
    if any(b != 1 for b, _, _ in calls):
        fail(f"`validation_l1` gives G batches of {sorted({b for b, _, _ in calls})} pairs",
             "one pair at a time (a batch of 1, as in training): BatchNorm then uses that image's statistics",
             where)
    if abs(got - want) > 1e-4 * max(1.0, abs(want)):
        diff = targets - fakes
        if abs(got - want / 2) < 1e-4:
            fail(f"validation L1 = {got:.6g}: it is measured on images rescaled to [0, 1]",
                 f"{want:.6g}, the mean |y - G(x)| in G's [-1, 1] range (eq. 3)", where)
        total = diff.abs().sum().item()
        if any(abs(got - t) < 1e-3 * t for t in (total, total / n)):
            fail(f"validation L1 = {got:.6g}: the differences are summed", f"their mean, {want:.6g}", where)
        if abs(got - (diff ** 2).mean().item()) < 1e-4:
            fail(f"validation L1 = {got:.6g}: the differences are squared", f"{want:.6g}: .abs(), not ** 2", where)
        fail(f"validation L1 = {got:.6g} for {n} random {size} x {size} pairs",
             f"{want:.6g} = the mean |y - G(x)| over every pixel, channel and pair", where)


def validation_l1(validation_l1):
    """Check validation_l1(G, pairs) against the reference measurement."""
    ensure_own_code(validation_l1, "validation_l1")
    _check(validation_l1, 3, 32, "your `validation_l1`")
    passed("validation_l1: G run as in training (train mode, one pair at a time), no autograd, the mean "
           "|y - G(x)| in [-1, 1] units")


def validation_l1_more(validation_l1):
    """Hidden: one pair, other sizes."""
    ensure_own_code(validation_l1, "validation_l1")
    _check(validation_l1, 1, 64, "your `validation_l1`")
    _check(validation_l1, 5, 32, "your `validation_l1`")
    passed("validation_l1: one pair, five pairs, 64 x 64")
