"""Checks for Exercise 5, the training loop: optimizers, learning-rate schedule, train_step.

train_step is graded by running the student's step and the reference (p2p_ref.train.train_step)
from the same seed, weights and batches on tiny models, then comparing the returned losses and
the updated parameters and BatchNorm statistics of G and D. When they differ the check names the
likely mistake, from a trace of what the step did (how often G ran, where gradients flowed, which
optimizer stepped first) and by replaying known mistakes of the recipe to see which one matches.
"""

import contextlib
import copy
import math
from pathlib import Path

import torch

from p2p_ref import losses
from p2p_ref.checks.common import CheckFailed, ensure_own_code, fail, passed
from p2p_ref.losses import gan_loss, l1_loss
from p2p_ref.models import PatchDiscriminator, UNetGenerator

# The lesson lets the student reuse the losses of Exercise 4; the loop itself is theirs.
ALLOWED = (losses, losses.gan_loss, losses.l1_loss, losses.discriminator_loss, losses.generator_loss)
LOSS_KEYS = ("loss_D", "loss_G", "loss_G_GAN", "loss_G_L1")
RTOL, ATOL = 1e-5, 1e-6  # float32 noise between equivalent ways of writing the same step
WHERE_STEP = "your `train_step` cell"


# ---------------------------------------------------------------- data

def _palette_fraction(t):
    """Share of the pixels of a [-1, 1] image that lie within a few levels of a synthetic label
    colour: near 1 for a label map (flat colours), small for a rendered photo."""
    from p2p_ref.synthetic import PALETTE
    rgb = (t.clamp(-1, 1) + 1) * 127.5  # 3 x H x W in 0..255
    colours = torch.tensor(list(PALETTE.values()), dtype=rgb.dtype)[:, :, None, None]
    distance = (rgb[None] - colours).abs().amax(dim=1).amin(dim=0)
    return (distance < 12).float().mean().item()


def make_train_set(student, root, crop_size=64):
    """`make_train_set(root, crop_size)` on the synthetic set: pairs (x, y) in [-1, 1] of shape
    3 x crop x crop, x = the label map (direction BtoA), with the paired random jitter."""
    ensure_own_code(student, "make_train_set", allowed=_data_objects())
    where = "make_train_set"
    n_files = len([p for p in (Path(root) / "train").iterdir() if p.suffix.lower() in (".png", ".jpg")])
    ds = student(root, crop_size=crop_size)
    if not hasattr(ds, "__getitem__") or not hasattr(ds, "__len__"):
        fail(f"make_train_set returned {type(ds).__name__}", "a dataset (AlignedDataset)", where)
    if len(ds) != n_files:
        fail(f"the dataset has {len(ds)} pairs, the train split of {root} has {n_files} images",
             "the 'train' split, every image", f"{where}: the split argument")
    x, y = ds[0]
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != (3, crop_size, crop_size):
            fail(f"{name} = ds[0][{name == 'y':d}] has shape {getattr(t, 'shape', None)}",
                 f"a 3 x {crop_size} x {crop_size} tensor (crop_size={crop_size})",
                 f"{where}: pass crop_size to the dataset")
        if t.min() < -1 - 1e-6 or t.max() > 1 + 1e-6 or t.min() >= 0:
            fail(f"{name}'s values span [{t.min():.3f}, {t.max():.3f}]",
                 "values in [-1, 1] (images scaled with 2 * v - 1 to match G's Tanh output)", where)
    fx, fy = _palette_fraction(x), _palette_fraction(y)
    if not (fx >= 0.3 and fx > 2 * fy):
        fail(f"x does not look like a label map ({fx:.0%} of its pixels are label colours; y: {fy:.0%})",
             "x = the label map, y = the photo: labels -> photo is direction 'BtoA' on facades and on "
             "the synthetic set (B, the right half, holds the labels)", f"{where}: the direction argument")
    torch.manual_seed(0)
    draws = [ds[0][0] for _ in range(8)]
    if all(torch.equal(draws[0], d) for d in draws[1:]):
        fail("ds[0] returns the same crop every time: no random jitter",
             "random jitter: resize a little larger than crop_size (286 for 256, so about "
             "crop_size * 286 / 256), take a random crop_size crop, flip half the time",
             f"{where}: load_size and flip")
    load = getattr(ds, "load_size", None)
    if load is not None and abs(load - crop_size * 286 / 256) > 1:
        fail(f"load_size is {load} for crop_size {crop_size}",
             f"about crop_size * 286 / 256 = {crop_size * 286 / 256:.1f}: the paper's 286 -> 256 jitter, scaled",
             f"{where}: load_size")
    passed(f"make_train_set: {len(ds)} pairs, x = label map, y = photo, {crop_size} x {crop_size} crops "
           "in [-1, 1] with random jitter")


def _data_objects():
    """What the data exercise may use from p2p_ref: the dataset classes and helpers of ex1."""
    from p2p_ref import data, synthetic
    return (data, synthetic, data.AlignedDataset, data.split_ab, data.normalize, data.denormalize,
            data.paired_jitter, data.resolve_dataset, synthetic.make_synthetic_dataset)


# ---------------------------------------------------------------- optimizers and schedule

def make_optimizers(student):
    """`make_optimizers(G, D, lr=2e-4, beta1=0.5)` returns (opt_G, opt_D): Adam with betas
    (beta1, 0.999), one optimizer per network, each holding exactly that network's parameters."""
    ensure_own_code(student, "make_optimizers")
    G, D = UNetGenerator(num_downs=5, ngf=8), PatchDiscriminator(ndf=8)
    for kwargs, lr, beta1 in (({}, 2e-4, 0.5), ({"lr": 1e-3, "beta1": 0.9}, 1e-3, 0.9)):
        result = student(G, D, **kwargs)
        if not (isinstance(result, tuple) and len(result) == 2):
            fail(f"make_optimizers returned {type(result).__name__}, not a pair",
                 "a tuple (opt_G, opt_D)", "the `return` line of make_optimizers")
        for name, opt, net in (("opt_G", result[0], G), ("opt_D", result[1], D)):
            if not isinstance(opt, torch.optim.Adam) or isinstance(opt, torch.optim.AdamW):
                fail(f"{name} is {type(opt).__name__}", "torch.optim.Adam, as in the paper (sec. 3.3)",
                     f"where you create {name}")
            params = [p for group in opt.param_groups for p in group["params"]]
            if {id(p) for p in params} != {id(p) for p in net.parameters()} or len(params) != len(
                    list(net.parameters())):
                other = "D" if name == "opt_G" else "G"
                fail(f"{name} does not hold exactly the parameters of {name[-1]}",
                     f"{name} = Adam({name[-1]}.parameters(), ...); each network has its own optimizer",
                     f"the first argument of {name}'s Adam (did you pass {other}'s parameters?)")
            group = opt.param_groups[0]
            call = "make_optimizers(G, D)" if not kwargs else "make_optimizers(G, D, lr=1e-3, beta1=0.9)"
            if not math.isclose(group["lr"], lr, rel_tol=1e-9):
                fail(f"after {call}, {name} has lr={group['lr']}", f"lr={lr}",
                     "pass the `lr` argument to Adam (default 2e-4)")
            if tuple(group["betas"]) != (beta1, 0.999):
                fail(f"after {call}, {name} has betas={tuple(group['betas'])}", f"betas=({beta1}, 0.999)",
                     "pass betas=(beta1, 0.999) to Adam; beta1 = 0.5 is the paper's choice")
    passed("make_optimizers: Adam for G and for D, lr 2e-4, betas (0.5, 0.999), arguments respected")


def _reference_lr_factor(epoch, n_epochs, n_epochs_decay):
    from p2p_ref.train import lr_factor as reference
    return reference(epoch, n_epochs, n_epochs_decay)


def lr_factor(student):
    """`lr_factor(epoch, n_epochs=100, n_epochs_decay=100)`: 1 for epochs 1..n_epochs, then a
    linear decay, 1 - max(0, epoch - n_epochs) / (n_epochs_decay + 1), epochs counted from 1."""
    ensure_own_code(student, "lr_factor")
    cases = [((e,), (e, 100, 100)) for e in (1, 50, 100, 101, 150, 199, 200)]
    cases += [((e, 3, 2), (e, 3, 2)) for e in (1, 3, 4, 5)]
    for args, ref_args in cases:
        got, want = student(*args), _reference_lr_factor(*ref_args)
        call = f"lr_factor({', '.join(map(str, args))})"
        if not isinstance(got, (int, float)) or not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            hint = "1 - max(0, epoch - n_epochs) / (n_epochs_decay + 1)"
            if isinstance(got, (int, float)) and math.isclose(
                    got, 1.0 - max(0, ref_args[0] - ref_args[1]) / ref_args[2], abs_tol=1e-12):
                hint += ": divide by n_epochs_decay + 1, so the last epoch still has a small lr"
            elif isinstance(got, (int, float)) and math.isclose(
                    got, _reference_lr_factor(ref_args[0] + 1, *ref_args[1:]), abs_tol=1e-12):
                hint += ": epochs count from 1, so epoch n_epochs is the last one at the full lr"
            fail(f"{call} returned {got!r}", f"{want!r}", f"lr_factor: {hint}")
    passed("lr_factor: constant for n_epochs epochs, then linear decay over n_epochs_decay epochs")


def lr_factor_more(student):
    """Hidden cases: other schedule lengths, including no constant phase at all."""
    ensure_own_code(student, "lr_factor")
    for n_epochs, n_decay in ((0, 9), (50, 150), (10, 0)):
        for epoch in sorted({1, max(1, n_epochs), n_epochs + 1, n_epochs + n_decay}):
            got, want = student(epoch, n_epochs, n_decay), _reference_lr_factor(epoch, n_epochs, n_decay)
            if not isinstance(got, (int, float)) or not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
                fail(f"lr_factor({epoch}, {n_epochs}, {n_decay}) returned {got!r}", f"{want!r}",
                     "lr_factor: use the n_epochs and n_epochs_decay arguments, not 100")
    passed("lr_factor: right for other schedule lengths too")


# ---------------------------------------------------------------- train_step

def _recipe(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla", mistake=None):
    """One pix2pix step as the course teaches it, or with one known `mistake` (a key of MISTAKES).
    With mistake=None this is the recipe of p2p_ref.train.train_step."""

    def d_step(fake_for_d):
        if mistake not in ("no_zero_grad", "no_zero_grad_D"):
            opt_D.zero_grad()
        half = 1.0 if mistake == "d_loss_not_halved" else 0.5
        loss_D = half * (gan_loss(D(x, y), True, gan_mode) + gan_loss(D(x, fake_for_d), False, gan_mode))
        loss_D.backward(retain_graph=mistake == "no_detach")
        if mistake != "no_opt_step":
            opt_D.step()
        return loss_D

    def g_step(fake):
        if mistake not in ("no_zero_grad", "no_zero_grad_G", "no_detach"):
            opt_G.zero_grad()
        gan, l1 = gan_loss(D(x, fake), True, gan_mode), l1_loss(fake, y)
        weight = {"no_l1_weight": 1.0, "lambda_ignored": 100.0}.get(mistake, lambda_l1)
        loss_G = gan + weight * l1
        loss_G.backward()
        if mistake != "no_opt_step":
            opt_G.step()
        return loss_G, gan, l1

    if mistake == "gan_mode_ignored":
        gan_mode = "vanilla"
    fake = G(x)
    if mistake == "no_detach":
        opt_G.zero_grad()  # zeroed before D's backward, so D's gradient stays in G's .grad
    if mistake == "g_step_first":
        loss_G, gan, l1 = g_step(fake)
        loss_D = d_step(fake.detach())
    else:
        loss_D = d_step(fake if mistake == "no_detach" else fake.detach())
        if mistake == "g_generated_twice":
            fake = G(x)
        loss_G, gan, l1 = g_step(fake)
    return {"loss_D": loss_D.detach(), "loss_G": loss_G.detach(),
            "loss_G_GAN": gan.detach(), "loss_G_L1": l1.detach()}


_DETACH_WHY = ("fake.detach() in D's step, so loss_D's backward stops at the fake image and does not "
               "run through G; G's own step then uses the fake without detach")
MISTAKES = {
    "no_detach": (
        "D's loss was back-propagated into G: the fake image given to D in D's step was not detached",
        _DETACH_WHY,
        "the D step: use D(x, fake.detach()) there, and D(x, fake) (no detach) in the G step"),
    "g_generated_twice": (
        "G ran more than once in one step; each call draws new dropout masks (and updates BatchNorm's "
        "statistics again), so D and G were trained on two different fake images",
        "fake = G(x) exactly once at the top of the step, reused by the D step (detached) and the G step",
        "remove the second G(x): keep `fake` from the first call"),
    "g_step_first": (
        "G's step ran before D's step",
        "D's step first (on D(x, y) and D(x, fake.detach())), then G's step against the updated D",
        "the order of the two steps in train_step"),
    "d_loss_not_halved": (
        "loss_D is twice the expected value: D's loss was not halved",
        "loss_D = 0.5 * (BCE(D(x, y), 1) + BCE(D(x, fake), 0)), the paper's factor that slows D down",
        "the line that computes loss_D (or use discriminator_loss from Exercise 4)"),
    "no_l1_weight": (
        "the L1 term was added without its weight lambda_l1",
        "loss_G = loss_G_GAN + lambda_l1 * loss_G_L1 (lambda_l1 = 100 in the paper)",
        "the line that computes loss_G: multiply the L1 term by the `lambda_l1` argument"),
    "lambda_ignored": (
        "the L1 term was weighted by 100 although train_step was called with another lambda_l1",
        "loss_G = loss_G_GAN + lambda_l1 * loss_G_L1 with the `lambda_l1` argument",
        "the line that computes loss_G: use the argument, not the number 100"),
    "gan_mode_ignored": (
        "the GAN losses were computed as 'vanilla' although train_step was called with another gan_mode",
        "pass `gan_mode` on to discriminator_loss and generator_loss (or gan_loss)",
        "every loss call in train_step"),
    "no_zero_grad": (
        "gradients from the previous step were added to this step's: an optimizer's zero_grad() is missing",
        "opt_D.zero_grad() before loss_D.backward() and opt_G.zero_grad() before loss_G.backward()",
        "the start of the D step and of the G step"),
    "no_zero_grad_D": (
        "D's gradients from the previous step (and from G's backward) were added to this step's: "
        "opt_D.zero_grad() is missing",
        "opt_D.zero_grad() at the start of the D step, before loss_D.backward()", "the D step"),
    "no_zero_grad_G": (
        "G's gradients from the previous step were added to this step's: opt_G.zero_grad() is missing",
        "opt_G.zero_grad() at the start of the G step, before loss_G.backward()", "the G step"),
    "no_opt_step": (
        "the parameters were not updated: an optimizer's step() is missing",
        "opt_D.step() after loss_D.backward() and opt_G.step() after loss_G.backward()",
        "the end of the D step and of the G step"),
}


def _tiny_setup(seed, batch_size, size=32, n_batches=2):
    """Tiny G and D (32 x 32 images, 5 downsamplings, 8 base channels) and a few random batches."""
    torch.manual_seed(seed)
    G, D = UNetGenerator(num_downs=5, ngf=8), PatchDiscriminator(ndf=8)
    batches = [(torch.rand(batch_size, 3, size, size) * 2 - 1, torch.rand(batch_size, 3, size, size) * 2 - 1)
               for _ in range(n_batches)]
    return G, D, batches


class _Trace:
    """Records, through hooks, what a train_step did: G's calls, gradients reaching G's output
    (the fake image) and optimizer steps. The student's code gets the real modules."""

    def __init__(self, G, opt_G, opt_D):
        self.events = []
        self.handles = [G.register_forward_hook(self._on_g),
                        opt_G.register_step_post_hook(lambda *a: self.events.append("opt_G.step")),
                        opt_D.register_step_post_hook(lambda *a: self.events.append("opt_D.step"))]

    def _on_g(self, module, args, output):
        self.events.append("G")
        if output.requires_grad:
            output.register_hook(lambda grad: self.events.append("grad->fake"))

    def remove(self):
        for handle in self.handles:
            handle.remove()


def _run(step, G, D, batches, seed, lambda_l1, gan_mode, trace=False):
    """Run `step` on copies of G and D with fresh Adam optimizers, one call per batch.
    Returns (list of loss dicts, G, D, list of per-step event lists)."""
    G, D = copy.deepcopy(G).train(), copy.deepcopy(D).train()
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    tracer = _Trace(G, opt_G, opt_D) if trace else None
    outputs, events = [], []
    torch.manual_seed(seed)
    try:
        for x, y in batches:
            if tracer:
                tracer.events = []
                events.append(tracer.events)
            outputs.append(step(G, D, opt_G, opt_D, x.clone(), y.clone(), lambda_l1=lambda_l1,
                                gan_mode=gan_mode))
    finally:
        if tracer:
            tracer.remove()
    return outputs, G, D, events


def _as_floats(out, call):
    """Validate the returned dict and turn its values into floats."""
    if not isinstance(out, dict):
        fail(f"train_step returned {type(out).__name__}", f"a dict with keys {list(LOSS_KEYS)}",
             "the `return` line of train_step")
    missing, extra = set(LOSS_KEYS) - set(out), set(out) - set(LOSS_KEYS)
    if missing or extra:
        fail(f"the returned dict has keys {sorted(out)}", f"exactly {list(LOSS_KEYS)}",
             "the `return` line of train_step")
    values = {}
    for key in LOSS_KEYS:
        v = out[key]
        if isinstance(v, torch.Tensor):
            if v.numel() != 1:
                fail(f"{key} has shape {tuple(v.shape)} in {call}", "a single number (the batch mean)",
                     f"how {key} is computed")
            if v.requires_grad:
                fail(f"{key} is returned with its autograd graph attached (requires_grad=True)",
                     "detached values: loss.detach() or loss.item(), so a training loop that stores "
                     "them does not keep every step's graph in memory", "the `return` line of train_step")
            v = v.item()
        if not isinstance(v, (int, float)):
            fail(f"{key} is a {type(v).__name__}", "a 0-dim tensor or a float", "the `return` line")
        values[key] = float(v)
    return values


def _state_diff(a, b):
    """Largest absolute difference between two modules' parameters and buffers."""
    sa, sb = a.state_dict(), b.state_dict()
    return max((sa[k].double() - sb[k].double()).abs().max().item() for k in sa)


def _matches(result, target):
    (outs, G, D), (touts, tG, tD) = result, target
    same_losses = all(math.isclose(o[k], t[k], rel_tol=RTOL, abs_tol=ATOL)
                      for o, t in zip(outs, touts) for k in LOSS_KEYS)
    same_states = all(torch.allclose(p.double(), q.double(), rtol=RTOL, atol=ATOL)
                      for m, n in ((G, tG), (D, tD)) for p, q in zip(m.state_dict().values(),
                                                                      n.state_dict().values()))
    return same_losses and same_states


def _diagnose_trace(events):
    """Mistakes that the trace shows directly (a list of MISTAKES keys)."""
    found = []
    if any(e.count("G") > 1 for e in events):
        found.append("g_generated_twice")
    if any(e.count("grad->fake") > 1 for e in events):
        found.append("no_detach")
    for e in events:
        steps = [s for s in e if s.endswith(".step")]
        if steps and steps[0] == "opt_G.step" and "opt_D.step" in steps:
            found.append("g_step_first")
            break
    return found


@contextlib.contextmanager
def _one_thread():
    """Tiny models run fastest on one thread (and do not fight other processes for cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_step(student, lambda_l1=100.0, gan_mode="vanilla", batch_size=2, seed=0):
    """Grade `train_step(G, D, opt_G, opt_D, x, y, lambda_l1, gan_mode)` against the reference:
    two consecutive steps on tiny models; losses, parameters and BatchNorm buffers must agree."""
    ensure_own_code(student, "train_step", allowed=ALLOWED)
    with _one_thread():
        _check_train_step(student, lambda_l1, gan_mode, batch_size, seed)


def _check_train_step(student, lambda_l1, gan_mode, batch_size, seed):
    from p2p_ref.train import train_step as reference

    G, D, batches = _tiny_setup(seed, batch_size)
    args = dict(seed=seed, lambda_l1=lambda_l1, gan_mode=gan_mode)
    call = f"train_step(..., lambda_l1={lambda_l1}, gan_mode={gan_mode!r})"
    ref_outs, ref_G, ref_D, _ = _run(reference, G, D, batches, **args)
    ref = ([_as_floats(o, call) for o in ref_outs], ref_G, ref_D)

    try:
        outs, sG, sD, events = _run(student, G, D, batches, trace=True, **args)
    except CheckFailed:
        raise
    except Exception as error:  # the student's traceback is chained below this message
        if "backward through the graph a second time" in str(error):
            what, expected, where = MISTAKES["no_detach"]
            fail(what + f" (PyTorch raised: {str(error).splitlines()[0]})", expected, where)
        fail(f"{call} raised {type(error).__name__}: {error}",
             "one D step and one G step that run without errors", f"{WHERE_STEP} (see the traceback above)")
    mine = ([_as_floats(o, call) for o in outs], sG, sD)

    for name in _diagnose_trace(events):
        if name in ("no_detach", "g_generated_twice"):  # wrong even where the numbers happen to agree
            fail(*MISTAKES[name])
    if _matches(mine, ref):
        passed(f"{call}: losses, parameters and BatchNorm statistics of G and D match the reference "
               "over two steps")
        return
    for name in _diagnose_trace(events):
        fail(*MISTAKES[name])
    if any(not e.count("opt_D.step") or not e.count("opt_G.step") for e in events):
        fail(*MISTAKES["no_opt_step"])
    first, first_ref = mine[0][0], ref[0][0]
    if math.isclose(first["loss_G_L1"], lambda_l1 * first_ref["loss_G_L1"], rel_tol=1e-4) and lambda_l1 != 1:
        fail("loss_G_L1 is lambda_l1 times too large: you returned the weighted L1 term",
             "loss_G_L1 = mean |y - G(x)|, before multiplying by lambda_l1 (loss_G includes the weight)",
             "the `return` line of train_step")
    candidates = ["d_loss_not_halved", "no_l1_weight", "no_zero_grad", "no_zero_grad_D", "no_zero_grad_G",
                  "g_step_first", "no_detach"]
    candidates += ["lambda_ignored"] if lambda_l1 != 100.0 else []
    candidates += ["gan_mode_ignored"] if gan_mode != "vanilla" else []
    for name in candidates:
        variant = lambda *a, **k: _recipe(*a, mistake=name, **k)  # noqa: E731
        v_outs, vG, vD, _ = _run(variant, G, D, batches, **args)
        if _matches(mine, ([_as_floats(o, call) for o in v_outs], vG, vD)):
            what, expected, where = MISTAKES[name]
            fail(f"{what} (your results equal the reference step with exactly this mistake)", expected, where)
    differences = []
    for i, (o, r) in enumerate(zip(mine[0], ref[0]), start=1):
        for key in LOSS_KEYS:
            if not math.isclose(o[key], r[key], rel_tol=RTOL, abs_tol=ATOL):
                differences.append(f"step {i}: {key} = {o[key]:.6g}, expected {r[key]:.6g}")
    for label, m, r in (("G", sG, ref_G), ("D", sD, ref_D)):
        diff = _state_diff(m, r)
        if diff > ATOL:
            differences.append(f"{label}'s parameters/BatchNorm statistics after two steps differ by up "
                               f"to {diff:.3g}")
    fail(f"{call} does not match the reference: " + "; ".join(differences),
         "fake = G(x) once; D step on D(x, y) and D(x, fake.detach()) with the halved loss; then the "
         "G step on D(x, fake) with loss_G_GAN + lambda_l1 * loss_G_L1",
         f"{WHERE_STEP}; compare it line by line with the recipe above it")
