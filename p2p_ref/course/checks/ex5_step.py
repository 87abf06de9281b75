"""The check of lesson 5's `train_step` (re-exported by p2p_ref.course.checks.ex5).

The student's step and the reference (p2p_ref.paper.train_step.train_step) run from the same seed, weights
and batches on tiny models, two steps each, and must do the same thing: the same returned losses,
the same parameters of G and D afterwards, the same BatchNorm statistics of G and the same Adam
states of both optimizers. Every way of writing the step that trains identically passes: either
order of D's two calls, zero_grad anywhere that clears the gradients in time, set_to_none either
way, D frozen (requires_grad_(False), the official code's set_requires_grad) or not during G's
step, losses as nn.Modules or functions, values returned as tensors or floats.

D's BatchNorm running statistics are left out on purpose. D only ever runs in training mode,
where BatchNorm normalises with the statistics of the batch and never reads the running ones; and
their values depend on the order in which the step asks D about the real and the generated pair,
which the paper leaves free (the official code's backward_D asks about the fake first).

When the results differ the check names the likely mistake, from a trace of what the step did
(how often G ran, where gradients flowed, which optimizer stepped first, the batches D saw) and
by replaying known mistakes of the recipe to see which one matches.
"""

import contextlib
import copy
import math
import numbers
from dataclasses import dataclass, field

import torch

from p2p_ref.paper import losses
from p2p_ref.course.checks.common import CheckFailed, ensure_own_code, fail, passed
from p2p_ref.course.coursework import carried
from p2p_ref.paper.losses import gan_loss, l1_loss
from p2p_ref.paper.models import PatchDiscriminator, UNetGenerator
from p2p_ref.paper.train_step import train_step as reference_train_step

# The lesson lets the student use the losses of lesson 4; the loop itself is theirs.
ALLOWED = (losses, losses.gan_loss, losses.l1_loss, losses.discriminator_loss, losses.generator_loss)
# Lesson 5 binds these names to the student's own lesson-4 functions when they were saved and pass
# their checks (p2p_ref.course.coursework.use_own). While train_step is graded the names point to the
# reference, so that its grade depends on this lesson alone (only these names, only to these).
REFERENCE_LOSSES = {"gan_loss": losses.gan_loss, "l1_loss": losses.l1_loss,
                    "discriminator_loss": losses.discriminator_loss, "generator_loss": losses.generator_loss}
LOSS_KEYS = ("loss_D", "loss_G", "loss_G_GAN", "loss_G_L1")
RTOL, ATOL = 1e-5, 1e-6  # float32 noise between equivalent ways of writing the same step
WHERE_STEP = "your `train_step` cell"


# ---------------------------------------------------------------- the recipe and its mistakes

def _recipe(G, D, opt_G, opt_D, x, y, lambda_l1=100.0, gan_mode="vanilla", mistake=None):
    """One pix2pix step as the course teaches it, or with one known `mistake` (a key of MISTAKES).
    With mistake=None this is the recipe of p2p_ref.paper.train_step.train_step."""

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
        judged = fake.detach() if mistake == "g_gan_detached" else fake
        gan, l1 = gan_loss(D(x, judged), True, gan_mode), l1_loss(fake, y)
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
        "the D step: give D the generated image cut from G's graph there, and the attached one in the G step"),
    "g_generated_twice": (
        "G ran more than once in one step; each call draws new dropout masks (and updates BatchNorm's "
        "statistics again), so D and G were trained on two different fake images",
        "fake = G(x) exactly once per step, reused by the D step (detached) and the G step",
        "remove the second G(x): keep `fake` from the first call"),
    "g_step_first": (
        "G's step ran before D's step",
        "D's step first (on D(x, y) and D(x, fake.detach())), then G's step against the updated D",
        "the order of the two steps in train_step"),
    "d_loss_not_halved": (
        "loss_D is twice the expected value: D's loss was not halved",
        "loss_D = 0.5 * (BCE(D(x, y), 1) + BCE(D(x, fake), 0)), the paper's factor that slows D down",
        "the line that computes loss_D (or use discriminator_loss from lesson 4)"),
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
        "each network's gradients cleared before its loss's backward (opt_D.zero_grad(), opt_G.zero_grad())",
        "the start of the D step and of the G step"),
    "no_zero_grad_D": (
        "D's gradients from the previous step (and from G's backward) were added to this step's: "
        "opt_D.zero_grad() is missing",
        "D's gradients cleared before loss_D.backward() (opt_D.zero_grad())", "the D step"),
    "no_zero_grad_G": (
        "G's gradients from the previous step were added to this step's: opt_G.zero_grad() is missing",
        "G's gradients cleared before loss_G.backward() (opt_G.zero_grad())", "the G step"),
    "no_opt_step": (
        "the parameters were not updated: an optimizer's step() is missing",
        "opt_D.step() after loss_D.backward() and opt_G.step() after loss_G.backward()",
        "the end of the D step and of the G step"),
    "g_gan_detached": (
        "the GAN term of G's loss gave G no gradient: the generated image was detached in the G step "
        "too, so only the L1 term trained G",
        "D(x, fake) without detach in the G step: G learns how to look real through D's gradient",
        "the G step: the fake that D judges there must stay attached to G's graph"),
    "d_moved_in_g_step": (
        "opt_D stepped again after G's backward: D's weights moved in G's update, on the gradients "
        "that G's loss left in D",
        "D's weights fixed during G's update: opt_D.step() once per step, in the D step (freeze D with "
        "requires_grad_(False) during the G step if you like; opt_G.step() does not touch D)",
        "the G step: only opt_G steps there"),
    "joint_batch": (
        "D judged the real and the generated pairs in one batch (torch.cat along the batch): its "
        "BatchNorm then normalises real and fake together, which changes what D computes",
        "two calls of D, one on the real pairs D(x, y) and one on the generated pairs, as in the paper "
        "and the official code", "the D step: call D separately on the real and the generated pair"),
}


# ---------------------------------------------------------------- running a step

def _tiny_setup(seed, batch_size, size=32, n_batches=2):
    """Tiny G and D (32 x 32 images, 5 downsamplings, 8 base channels) and a few random batches."""
    torch.manual_seed(seed)
    G, D = UNetGenerator(num_downs=5, ngf=8), PatchDiscriminator(ndf=8)
    batches = [(torch.rand(batch_size, 3, size, size) * 2 - 1, torch.rand(batch_size, 3, size, size) * 2 - 1)
               for _ in range(n_batches)]
    return G, D, batches


class _Trace:
    """Records, through hooks, what a train_step did: G's calls, the batch sizes D saw, gradients
    reaching G's output (the fake image) and optimizer steps. The student's code gets the real
    modules."""

    def __init__(self, G, D, opt_G, opt_D):
        self.events = []
        self.handles = [G.register_forward_hook(self._on_g),
                        D.register_forward_pre_hook(self._on_d),
                        opt_G.register_step_post_hook(lambda *a: self.events.append("opt_G.step")),
                        opt_D.register_step_post_hook(lambda *a: self.events.append("opt_D.step"))]

    def _on_g(self, module, args, output):
        self.events.append("G")
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(lambda grad: self.events.append("grad->fake"))

    def _on_d(self, module, args):
        if args and isinstance(args[0], torch.Tensor):
            self.events.append(f"D:{args[0].shape[0]}")

    def remove(self):
        for handle in self.handles:
            handle.remove()


@dataclass
class _Run:
    losses: list  # per step: {key: float}
    G: torch.nn.Module
    D: torch.nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    events: list = field(default_factory=list)  # per step: the trace


def _run(step, G, D, batches, seed, lambda_l1, gan_mode, call, trace=False):
    """Run `step` on copies of G and D with fresh Adam optimizers, one call per batch."""
    G, D = copy.deepcopy(G).train(), copy.deepcopy(D).train()
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    tracer = _Trace(G, D, opt_G, opt_D) if trace else None
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
    return _Run([_as_floats(o, call) for o in outputs], G, D, opt_G, opt_D, events)


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
        elif hasattr(v, "item") and getattr(v, "size", 0) == 1:  # a numpy number or 0-dim array
            v = v.item()
        if not isinstance(v, numbers.Real) or isinstance(v, bool):
            fail(f"{key} is a {type(v).__name__}", "a 0-dim tensor or a float", "the `return` line")
        values[key] = float(v)
    return values


# ---------------------------------------------------------------- comparing two runs

def _largest(pairs):
    """Largest |a - b| over pairs of tensors, or None when they all agree within RTOL / ATOL."""
    worst, differs = 0.0, False
    for a, b in pairs:
        a, b = a.detach().double(), b.detach().double()
        if a.shape != b.shape:
            return math.inf
        if not torch.allclose(a, b, rtol=RTOL, atol=ATOL):
            differs = True
            worst = max(worst, (a - b).abs().max().item())
    return worst if differs else None


def _optimizer_tensors(opt):
    """The Adam state of every parameter, in order: step, exp_avg, exp_avg_sq (zeros if absent)."""
    out = []
    for group in opt.param_groups:
        for p in group["params"]:
            state = opt.state.get(p, {})
            for key in ("step", "exp_avg", "exp_avg_sq"):
                value = state.get(key)
                out.append(torch.as_tensor(0.0) if value is None else torch.as_tensor(value))
    return out


def _differences(run, target):
    """What differs between two runs in what they did; [] when they trained identically."""
    diffs = []
    for i, (o, t) in enumerate(zip(run.losses, target.losses), start=1):
        for key in LOSS_KEYS:
            if not math.isclose(o[key], t[key], rel_tol=RTOL, abs_tol=ATOL):
                diffs.append(f"step {i}: {key} = {o[key]:.6g}, expected {t[key]:.6g}")
    # G: parameters and BatchNorm statistics. D: parameters only (see the module docstring).
    g_state, g_target = run.G.state_dict(), target.G.state_dict()
    compared = [
        ("G's parameters and BatchNorm statistics", [(g_state[k], g_target[k]) for k in g_target]),
        ("D's parameters", list(zip(run.D.parameters(), target.D.parameters()))),
        ("opt_G's Adam state", list(zip(_optimizer_tensors(run.opt_G), _optimizer_tensors(target.opt_G)))),
        ("opt_D's Adam state", list(zip(_optimizer_tensors(run.opt_D), _optimizer_tensors(target.opt_D)))),
    ]
    for label, pairs in compared:
        worst = _largest(pairs)
        if worst is not None:
            diffs.append(f"{label} after two steps differ by up to {worst:.3g}")
    return diffs


def _diagnose_trace(events, batch_size):
    """Mistakes that the trace shows directly (a list of MISTAKES keys)."""
    found = []
    if any(e.count("G") > 1 for e in events):
        found.append("g_generated_twice")
    if any(e.count("grad->fake") > 1 for e in events):
        found.append("no_detach")
    if any(f"D:{2 * batch_size}" in e for e in events):
        found.append("joint_batch")
    for e in events:
        steps = [s for s in e if s.endswith(".step")]
        if steps and steps[0] == "opt_G.step" and "opt_D.step" in steps:
            found.append("g_step_first")
            break
    if any(e.count("opt_D.step") > 1 for e in events):
        found.append("d_moved_in_g_step")
    return found


@contextlib.contextmanager
def _quiet_rng_and_one_thread():
    """Tiny models run fastest on one thread (and do not fight other processes for cores); the
    notebook's random numbers are the same after the check as before it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _reference_losses_for_carried(student):
    """Point the loss names that hold the student's lesson-4 work to the reference while grading."""
    names = getattr(student, "__globals__", None)
    swapped = {}
    if isinstance(names, dict):
        for name, value in list(names.items()):
            mark = carried(value)
            if mark and mark[1] in REFERENCE_LOSSES:
                swapped[name] = value
                names[name] = REFERENCE_LOSSES[mark[1]]
    try:
        yield bool(swapped)
    finally:
        if swapped:
            names.update(swapped)


# ---------------------------------------------------------------- the check

def train_step(student, lambda_l1=100.0, gan_mode="vanilla", batch_size=2, seed=0):
    """Grade `train_step(G, D, opt_G, opt_D, x, y, lambda_l1, gan_mode)` against the reference:
    two consecutive steps on tiny models must do what the reference's do."""
    ensure_own_code(student, "train_step", allowed=ALLOWED)
    with _quiet_rng_and_one_thread(), _reference_losses_for_carried(student) as swapped:
        _check_train_step(student, lambda_l1, gan_mode, batch_size, seed, swapped)


def _check_train_step(student, lambda_l1, gan_mode, batch_size, seed, swapped):
    reference = reference_train_step
    G, D, batches = _tiny_setup(seed, batch_size)
    call = f"train_step(..., lambda_l1={lambda_l1}, gan_mode={gan_mode!r})"
    args = dict(seed=seed, lambda_l1=lambda_l1, gan_mode=gan_mode, call=call)
    ref = _run(reference, G, D, batches, **args)
    try:
        mine = _run(student, G, D, batches, trace=True, **args)
    except CheckFailed:
        raise
    except Exception as error:  # the student's traceback is chained below this message
        if "backward through the graph a second time" in str(error):
            what, expected, where = MISTAKES["no_detach"]
            fail(what + f" (PyTorch raised: {str(error).splitlines()[0]})", expected, where)
        fail(f"{call} raised {type(error).__name__}: {error}",
             "one D step and one G step that run without errors", f"{WHERE_STEP} (see the traceback above)")

    found = _diagnose_trace(mine.events, batch_size)
    for name in found:
        if name in ("no_detach", "g_generated_twice"):  # wrong even where the numbers happen to agree
            fail(*MISTAKES[name])
    differences = _differences(mine, ref)
    if not differences:
        note = " (with the reference losses standing in for your lesson-4 ones)" if swapped else ""
        passed(f"{call}: losses, parameters, G's BatchNorm statistics and both Adam states match the "
               f"reference over two steps{note}")
        return
    for name in found:
        fail(*MISTAKES[name])
    if any(not e.count("opt_D.step") or not e.count("opt_G.step") for e in mine.events):
        fail(*MISTAKES["no_opt_step"])
    first, first_ref = mine.losses[0], ref.losses[0]
    if math.isclose(first["loss_G_L1"], lambda_l1 * first_ref["loss_G_L1"], rel_tol=1e-4) and lambda_l1 != 1:
        fail("loss_G_L1 is lambda_l1 times too large: you returned the weighted L1 term",
             "loss_G_L1 = mean |y - G(x)|, before multiplying by lambda_l1 (loss_G includes the weight)",
             "the `return` line of train_step")
    candidates = ["d_loss_not_halved", "no_l1_weight", "no_zero_grad", "no_zero_grad_D", "no_zero_grad_G",
                  "g_step_first", "no_detach", "g_gan_detached"]
    candidates += ["lambda_ignored"] if lambda_l1 != 100.0 else []
    candidates += ["gan_mode_ignored"] if gan_mode != "vanilla" else []
    for name in candidates:
        variant = _run(lambda *a, **k: _recipe(*a, mistake=name, **k), G, D, batches, **args)
        if not _differences(mine, variant):
            what, expected, where = MISTAKES[name]
            fail(f"{what} (your results equal the reference step with exactly this mistake)", expected, where)
    fail(f"{call} does not do what the reference step does: " + "; ".join(differences[:6]),
         "fake = G(x) once; a D step on the halved loss of D(x, y) -> 1 and D(x, fake) -> 0 that does not "
         "reach G; then a G step on loss_G_GAN + lambda_l1 * loss_G_L1 against the updated D",
         f"{WHERE_STEP}; compare it with the paper's description above it")
