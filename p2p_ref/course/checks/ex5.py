"""Checks for lesson 5, the training loop: the training set, the optimizers, the schedule, the
sample grids, and the quick re-checks of the pieces a student carries over from lessons 2 to 4.

`train_step`, the heart of the lesson, is graded in p2p_ref.course.checks.ex5_step (re-exported here):
the student's step and the reference run from the same seed, weights and batches, and what the
two steps did to the networks and the optimizers must agree.

Every check works on data and models it builds itself, so that one exercise's grade never
depends on another exercise, or on another lesson.
"""

import inspect
import math
import numbers
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from p2p_ref.course.checks import ex2, ex3
from p2p_ref.course.checks.common import ensure_own_code, fail, passed
from p2p_ref.course.checks.ex5_step import MISTAKES, train_step  # noqa: F401  (the train_step check)
from p2p_ref.datasets import aligned, synthetic
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.paper import data, models
from p2p_ref.paper.train_step import lr_factor as reference_lr_factor

# ---------------------------------------------------------------- data


def _palette_fraction(t):
    """Share of the pixels of a [-1, 1] image that lie within a few levels of a synthetic label
    colour: near 1 for a label map (flat colours), small for a rendered photo."""
    rgb = (t.clamp(-1, 1) + 1) * 127.5  # 3 x H x W in 0..255
    colours = torch.tensor(list(synthetic.PALETTE.values()), dtype=rgb.dtype)[:, :, None, None]
    distance = (rgb[None] - colours).abs().amax(dim=1).amin(dim=0)
    return (distance < 12).float().mean().item()


def _data_objects():
    """What the data exercise may use from p2p_ref: the dataset classes and helpers of ex1."""
    return (aligned, data, synthetic, aligned.AlignedDataset, data.split_ab, data.normalize,
            data.denormalize, data.paired_jitter, aligned.resolve_dataset,
            synthetic.make_synthetic_dataset)


def _data_subclasses(student):
    """A student's subclass of AlignedDataset uses the dataset the exercise allows; ensure_own_code
    reports base classes on their own, so allow them here (as base classes of this one function)."""
    class AsBase:  # described by ensure_own_code as "<module>.<qualname>", like the base it stands for
        pass
    AsBase.__module__, AsBase.__qualname__ = aligned.__name__, "AlignedDataset (as a base class)"
    return (AsBase,)


def _mirror_set(folder, size=128, n=2):
    """A set whose halves are dark on the left and bright on the right, both of them, so that a
    crop shows whether it was mirrored (bright on the left) wherever it was cut."""
    half = np.full((size, size, 3), 40, np.uint8)
    half[:, size // 2:] = 215
    (folder / "train").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.concatenate([half, half], axis=1)).save(folder / "train" / f"{i:04d}.png")
    return folder


def _mirrored(t):
    """True when a [-1, 1] crop of the mirror set is bright on its left."""
    quarter = max(1, t.shape[-1] // 4)
    return bool(t[..., :quarter].mean() > t[..., -quarter:].mean())


def make_train_set(student, root=None, crop_size=64):
    """`make_train_set(root, crop_size)`: the "train" split as pairs (x, y) = (label map, photo)
    in [-1, 1], crop_size x crop_size, with the paper's paired jitter scaled to crop_size: resize
    to crop_size * 286 / 256 (rounded either way when it is not whole), the same random crop and
    the same random mirror for x and y.

    The check makes its own data (four synthetic facades, and a set that shows which way a crop
    was mirrored) in a temporary folder; `root` may name another synthetic set instead."""
    ensure_own_code(student, "make_train_set", allowed=_data_objects() + _data_subclasses(student))
    where = "make_train_set"
    with tempfile.TemporaryDirectory(prefix="p2p-check-ex5-") as tmp, torch.random.fork_rng(devices=[]):
        if root is None:
            root = make_synthetic_dataset(Path(tmp) / "synthetic", n_train=4, n_val=1, n_test=0, size=128)
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
                fail(f"{name} = ds[0][{name == 'y':d}] has shape {getattr(t, 'shape', None)} for "
                     f"make_train_set(root, crop_size={crop_size})",
                     f"a 3 x {crop_size} x {crop_size} tensor", f"{where}: pass crop_size on to the dataset")
            if t.min() < -1 - 1e-6 or t.max() > 1 + 1e-6 or t.min() >= 0:
                fail(f"{name}'s values span [{t.min():.3f}, {t.max():.3f}]",
                     "values in [-1, 1] (images scaled with 2 * v - 1 to match G's Tanh output)", where)
        fx, fy = _palette_fraction(x), _palette_fraction(y)
        if not (fx >= 0.3 and fx > 2 * fy):
            fail(f"x does not look like a label map ({fx:.0%} of its pixels are label colours; y: {fy:.0%})",
                 "x = the label map, y = the photo: labels -> photo is direction 'BtoA' on facades and on "
                 "the synthetic set (B, the right half, holds the labels)", f"{where}: the direction argument")
        load = getattr(ds, "load_size", None)
        exact = crop_size * 286 / 256
        sizes = sorted({math.floor(exact), math.ceil(exact)})
        want = " or ".join(map(str, sizes))
        if load is not None and load not in sizes:
            fail(f"load_size is {load} for crop_size {crop_size}",
                 f"{want} pixels: the paper resizes to 286 x 286 before its 256 x 256 crops, and "
                 f"{crop_size} * 286 / 256 = {exact:g} (rounded either way)", f"{where}: load_size")
        torch.manual_seed(0)
        draws = [ds[0][0] for _ in range(8)]
        if all(torch.equal(draws[0], d) for d in draws[1:]):
            fail("ds[0] returns the same crop every time: no random jitter",
                 f"random jitter: resize to {want} (crop_size * 286 / 256), take a random "
                 "crop_size crop, mirror half the time", f"{where}: load_size and flip")
        _check_flips(student, _mirror_set(Path(tmp) / "mirror"), crop_size)
    passed(f"make_train_set(root, crop_size={crop_size}): the train split, x = label map, y = photo, "
           f"{crop_size} x {crop_size} crops in [-1, 1], the same random crop and mirror for x and y")


def _check_flips(student, root, crop_size, n=32):
    where = "make_train_set: the flip argument"
    ds = student(root, crop_size=crop_size)
    torch.manual_seed(1)
    flips = []
    for _ in range(n):
        x, y = ds[0]
        if _mirrored(x) != _mirrored(y):
            fail("x and y were mirrored separately: in some pairs only one of them is flipped",
                 "the same mirror for both halves (AlignedDataset applies one paired jitter)", where)
        flips.append(_mirrored(x))
    if not any(flips):
        fail(f"none of {n} draws of an item was mirrored: random flips are off",
             "random horizontal flips, half of the draws (flip=True): the paper's mirroring", where)
    if all(flips):
        fail(f"all {n} draws of an item were mirrored", "a random mirror, half of the draws", where)


# ---------------------------------------------------------------- optimizers and schedule

def make_optimizers(student):
    """`make_optimizers(G, D, lr=2e-4, beta1=0.5)` returns (opt_G, opt_D): Adam with betas
    (beta1, 0.999), one optimizer per network, each holding exactly that network's parameters."""
    ensure_own_code(student, "make_optimizers")
    G, D = models.UNetGenerator(num_downs=5, ngf=8), models.PatchDiscriminator(ndf=8)
    for kwargs, lr, beta1 in (({}, 2e-4, 0.5), ({"lr": 1e-3, "beta1": 0.9}, 1e-3, 0.9)):
        result = student(G, D, **kwargs)
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
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
            call = "make_optimizers(G, D)" if not kwargs else "make_optimizers(G, D, lr=1e-3, beta1=0.9)"
            for group in opt.param_groups:
                if not math.isclose(group["lr"], lr, rel_tol=1e-9):
                    fail(f"after {call}, {name} has lr={group['lr']}", f"lr={lr}",
                         "pass the `lr` argument to Adam (default 2e-4)")
                if tuple(group["betas"]) != (beta1, 0.999):
                    fail(f"after {call}, {name} has betas={tuple(group['betas'])}", f"betas=({beta1}, 0.999)",
                         "pass betas=(beta1, 0.999) to Adam; beta1 = 0.5 is the paper's choice")
    passed("make_optimizers: Adam for G and for D, lr 2e-4, betas (0.5, 0.999), arguments respected")


def _reference_lr_factor(epoch, n_epochs, n_epochs_decay):
    return reference_lr_factor(epoch, n_epochs, n_epochs_decay)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def lr_factor(student):
    """`lr_factor(epoch, n_epochs=100, n_epochs_decay=100)`: 1 for epochs 1..n_epochs, then a
    linear decay, 1 - max(0, epoch - n_epochs) / (n_epochs_decay + 1), epochs counted from 1."""
    ensure_own_code(student, "lr_factor")
    cases = [((e,), (e, 100, 100)) for e in (1, 50, 100, 101, 150, 199, 200)]
    cases += [((e, 3, 2), (e, 3, 2)) for e in (1, 3, 4, 5)]
    for args, ref_args in cases:
        got, want = student(*args), _reference_lr_factor(*ref_args)
        call = f"lr_factor({', '.join(map(str, args))})"
        if not _is_number(got) or not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
            hint = "1 - max(0, epoch - n_epochs) / (n_epochs_decay + 1)"
            if _is_number(got) and math.isclose(
                    got, 1.0 - max(0, ref_args[0] - ref_args[1]) / ref_args[2], abs_tol=1e-12):
                hint += ": divide by n_epochs_decay + 1, so the last epoch still has a small lr"
            elif _is_number(got) and math.isclose(
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
            if not _is_number(got) or not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12):
                fail(f"lr_factor({epoch}, {n_epochs}, {n_decay}) returned {got!r}", f"{want!r}",
                     "lr_factor: use the n_epochs and n_epochs_decay arguments, not 100")
    passed("lr_factor: right for other schedule lengths too")


# ---------------------------------------------------------------- sample grids

class _StandIn(nn.Module):
    """A stand-in generator with a known output, G(x) = -0.8 * x mirrored, that records the mode
    it ran in and whether autograd was recording."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.8))
        self.calls = []

    def forward(self, x):
        self.calls.append({"training": self.training, "grad": torch.is_grad_enabled()})
        return -self.scale * x.flip(-1)


def _grid_layouts(height, width, rows, cols, h, w):
    """(padding, border) of the grids of rows x cols tiles of h x w that are height x width:
    torchvision's make_grid puts `padding` pixels around every tile (border=True); joining tiles
    with gaps only between them is border=False."""
    found = []
    for pad in range(0, 33):
        for border in (True, False):
            edge = pad if border else 0
            if (width, height) == (cols * w + (cols - 1) * pad + 2 * edge, rows * h + (rows - 1) * pad + 2 * edge):
                found.append((pad, border))
    return found


def _tiles(image, n, h, w, pad, border):
    """The n x 3 tiles of a grid laid out as _grid_layouts found it."""
    edge = pad if border else 0

    def tile(r, c):
        top, left = edge + r * (h + pad), edge + c * (w + pad)
        return image[:, top:top + h, left:left + w]
    return [[tile(r, c) for c in range(3)] for r in range(n)]


def _close_image(a, b):
    """Two [0, 1] images that agree up to 8-bit rounding (PNG)."""
    d = (a - b).abs()
    return d.mean().item() < 1.5 / 255 and d.max().item() < 4 / 255


def save_samples(student):
    """`save_samples(G, x, y, path)`: one image at `path`, a row input | G(x) | target for each
    pair of the batch, mapped from [-1, 1] to [0, 1]; G runs in training mode (dropout on, the
    paper's test mode) with autograd off, and x, y and G's mode are left as they were."""
    ensure_own_code(student, "save_samples", allowed=(data, data.denormalize, data.normalize))
    where = "your `save_samples`"
    n, h, w = 2, 16, 24
    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(-0.9, 0.7, w).expand(n, 3, h, w)
    x = (0.5 * ramp + 0.4 * torch.rand(n, 3, h, w, generator=gen) - 0.2).clamp(-0.9, 0.7)
    y = torch.rand(n, 3, h, w, generator=gen) * 1.6 - 0.9
    G = _StandIn().train()
    with torch.no_grad():
        expected = [[data.denormalize(t[i]) for t in (x, -0.8 * x.flip(-1), y)] for i in range(n)]
    x_in, y_in = x.clone(), y.clone()
    with tempfile.TemporaryDirectory(prefix="p2p-check-ex5-") as tmp:
        path = Path(tmp) / "samples.png"
        student(G, x_in, y_in, path)
        if not torch.equal(x_in, x) or not torch.equal(y_in, y):
            fail("save_samples changed x or y in place", "x and y unchanged (the loop shows the same "
                 "pairs again later): map a copy to [0, 1], e.g. denormalize(x), not x.add_(1)", where)
        if not G.calls:
            fail("save_samples did not call G", "the output G(x) in the middle of each row", where)
        if any(not c["training"] for c in G.calls):
            fail("G ran in eval mode (G.eval()): dropout off",
                 "G run as it is, in training mode: the paper keeps dropout on at test time, and it "
                 "is G's only noise", f"{where}: do not call G.eval()")
        if not G.training:
            fail("save_samples left G in eval mode, so training would continue without dropout",
                 "G left in training mode", f"{where}: do not call G.eval()")
        if any(c["grad"] for c in G.calls):
            fail("G ran with autograd on: every sample would build a graph nobody uses",
                 "G(x) inside `with torch.no_grad():`", where)
        if not path.is_file():
            fail(f"no file at the path given ({path.name})", "one image file written at `path`",
                 f"{where}: save_image(grid, path, ...)")
        try:
            with Image.open(path) as img:
                image = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
        except Exception as e:  # noqa: BLE001 - whatever PIL says about the file
            fail(f"the file at `path` is not an image PIL can read ({e})", "a PNG", where)
    height, width = image.shape[-2:]
    layouts = _grid_layouts(height, width, n, 3, h, w)
    if not layouts:
        if _grid_layouts(height, width, 3, n, h, w):
            fail(f"for 2 pairs of {h} x {w} images the grid is {width} x {height} pixels: one column per pair",
                 "one ROW per pair: input | output | target side by side (save_image(..., nrow=3))", where)
        fail(f"for 2 pairs of {h} x {w} images the saved image is {width} x {height} pixels",
             f"the grid itself: 2 rows of 3 tiles, {3 * w} x {2 * h} plus any padding "
             "(save_image(torch.cat(...), path, nrow=3))", f"{where}: how the tiles are put together")
    tiles = _tiles(image, n, h, w, *layouts[0])
    names = ("the input x", "the output G(x)", "the target y")
    for r in range(n):
        for c in range(3):
            if _close_image(tiles[r][c], expected[r][c]):
                continue
            for k in range(3):
                if k != c and _close_image(tiles[r][c], expected[r][k]):
                    fail(f"row {r + 1}, tile {c + 1} shows {names[k]}",
                         "input | output | target in this order in every row", f"{where}: the order of the tiles")
            if any(_close_image(tiles[r][c], t[r].clamp(0, 1)) for t in (x, -0.8 * x.flip(-1), y)):
                fail("the images were saved with their [-1, 1] values, so everything below 0 is black",
                     "each image mapped to [0, 1] with (v + 1) / 2 (denormalize)", where)
            fail(f"row {r + 1}, tile {c + 1} does not show {names[c]} (mapped to [0, 1])",
                 "input | output | target, each mapped to [0, 1] with (v + 1) / 2 (denormalize), no other "
                 "scaling (save_image's normalize=True stretches each grid to its own range)", where)
    passed("save_samples: one row per pair, input | output | target in [0, 1], G in training mode "
           "(dropout on) without autograd")


# ---------------------------------------------------------------- work carried from lessons 2-4

def own_unet(UNetGenerator):
    """Lesson 5's quick re-check of a U-Net carried from lesson 2 (p2p_ref.course.coursework.use_own):
    lesson 2's checks of the blocks it is built from, then of the whole generator at the depth
    lesson 5 trains (num_downs = 6, 64 x 64), with ngf = 8 to stay quick."""
    for name, check_block in (("EncoderBlock", ex2.encoder_block), ("DecoderBlock", ex2.decoder_block)):
        block = getattr(UNetGenerator.__init__, "__globals__", {}).get(name)
        if inspect.isclass(block):
            check_block(block)
    ex2.unet_generator(UNetGenerator, ngf=8, num_downs=6, size=64)


def own_patch_discriminator(PatchDiscriminator):
    """Lesson 5's quick re-check of a PatchGAN carried from lesson 3: lesson 3's check of its
    layers, then, with the reference's weights loaded, the reference's logits on 64 x 64 pairs."""
    ex3.patch_discriminator_layers(PatchDiscriminator)
    torch.manual_seed(0)
    reference, D = models.PatchDiscriminator(ndf=8), PatchDiscriminator(ndf=8)
    D.load_state_dict(reference.state_dict())
    x, y = torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    for mode in (False, True):
        reference.train(mode), D.train(mode)
        with torch.no_grad():
            got, want = D(x, y), reference(x, y)
        if got.shape != want.shape or not torch.allclose(got, want, atol=1e-4, rtol=1e-4):
            fail(f"with the reference's weights your D's logits differ from the reference's "
                 f"({'train' if mode else 'eval'} mode)", "the same logits",
                 "PatchDiscriminator.forward in lesson 3: torch.cat([x, y], dim=1), then self.model")
    passed("PatchDiscriminator: the reference's layers and logits")
