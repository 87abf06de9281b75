"""Which of the student's pieces a training run uses, and a true table of whose code ran.

Lesson 5 and `p2p-student-train` train with every piece the student wrote: lesson 1's split_ab,
normalize and paired_jitter (inside the training set), lesson 2's U-Net, lesson 3's PatchGAN,
lesson 4's four losses, and lesson 5's make_train_set, make_optimizers, lr_factor, train_step and
save_samples. Each piece is checked before use with the check of its own lesson. A piece that is
missing or fails is replaced by the reference for that piece alone, and its row says why. A
piece built on blocks (discriminator_loss calls gan_loss, train_step calls the losses) runs with
the blocks in use: when the student's gan_loss fails, their discriminator_loss runs with the
reference gan_loss if it passes its check that way, and the row says so.

    pipe = own_pipeline(lesson5=dict(train_step=train_step, ...))   # lessons 1-4 from my_work/
    print(pipe.table())
"""

import contextlib
import functools
import io
import types
from dataclasses import asdict, dataclass, field

import torch
from torchvision.utils import save_image

from p2p_ref.course.checks import ex1, ex4, ex5
from p2p_ref.course.coursework import MARK, WorkNotFound, grading, load_work
from p2p_ref.course.own_pairs import OwnPairs, why_not_own
from p2p_ref.datasets.aligned import AlignedDataset
from p2p_ref.paper import data, losses, models, train_step

L1, L2, L3, L4, L5 = "ex1_paired_translation", "ex2_unet", "ex3_patchgan", "ex4_losses", "ex5_training"


def reference_make_train_set(root, crop_size=64):
    """The train split, labels -> photo, with the paper's jitter scaled to crop_size."""
    return AlignedDataset(root, "train", direction="BtoA", load_size=round(crop_size * 286 / 256),
                          crop_size=crop_size, flip=True)


def reference_save_samples(G, x, y, path):
    """One row input | G(x) | target per pair, in [0, 1], G as it is, without autograd."""
    with torch.no_grad():
        fake = G(x)
    rows = torch.stack([x, fake, y], dim=1).flatten(0, 1)
    save_image(data.denormalize(rows.cpu()), path, nrow=3, padding=2, pad_value=1.0)


@dataclass(frozen=True)
class Piece:
    name: str
    lesson: str
    reference: object
    checks: tuple
    blocks: tuple = ()  # names it calls that are pieces too (their chosen versions are bound in)


PIECES = (
    Piece("split_ab", L1, data.split_ab, (ex1.split_ab,)),
    Piece("normalize", L1, data.normalize, (ex1.normalize,)),
    Piece("paired_jitter", L1, data.paired_jitter, (ex1.paired_jitter_shapes, ex1.paired_jitter_aligned)),
    Piece("UNetGenerator", L2, models.UNetGenerator, (ex5.own_unet,)),
    Piece("PatchDiscriminator", L3, models.PatchDiscriminator, (ex5.own_patch_discriminator,)),
    Piece("gan_loss", L4, losses.gan_loss, (ex4.gan_loss,)),
    Piece("l1_loss", L4, losses.l1_loss, (ex4.l1_loss,)),
    Piece("discriminator_loss", L4, losses.discriminator_loss,
          (functools.partial(ex4.discriminator_loss, strict=True),), ("gan_loss",)),
    Piece("generator_loss", L4, losses.generator_loss,
          (functools.partial(ex4.generator_loss, strict=True),), ("gan_loss", "l1_loss")),
    Piece("make_train_set", L5, reference_make_train_set, (ex5.make_train_set,)),
    Piece("make_optimizers", L5, train_step.make_optimizers, (ex5.make_optimizers,)),
    Piece("lr_factor", L5, train_step.lr_factor, (ex5.lr_factor,)),
    Piece("train_step", L5, train_step.train_step, (ex5.train_step,),
          ("discriminator_loss", "generator_loss", "gan_loss", "l1_loss")),
    Piece("save_samples", L5, reference_save_samples, (ex5.save_samples,)),
)
LESSON5 = tuple(p.name for p in PIECES if p.lesson == L5)


@dataclass
class Row:
    piece: str
    lesson: str
    whose: str  # "yours" or "reference"
    why: str


@dataclass
class Pipeline:
    """The pieces in use (`pipe.train_step`, ...) and one Row per piece."""
    pieces: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)

    def __getattr__(self, name):
        if name in ("pieces", "rows"):
            raise AttributeError(name)
        try:
            return self.pieces[name]
        except KeyError:
            raise AttributeError(f"no piece {name!r}; pieces: {', '.join(self.pieces)}") from None

    def row(self, name):
        return next(r for r in self.rows if r.piece == name)

    def yours(self, name):
        return self.row(name).whose == "yours"

    def table(self):
        lines = [f"{'piece':<19} {'lesson':<7} {'whose':<10} why", "-" * 78]
        lines += [f"{r.piece:<19} {r.lesson[2]:<7} {r.whose:<10} {r.why}" for r in self.rows]
        return "\n".join(lines)

    def summary(self):
        """The closing sentence, built from the rows."""
        mine = [r.piece for r in self.rows if r.whose == "yours"]
        theirs = [r.piece for r in self.rows if r.whose != "yours"]
        if not mine:
            return "None of this run's code was yours: the reference ran every piece (the table says why)."
        if not theirs:
            return f"Every piece of this run was yours: {', '.join(mine)}."
        return (f"Yours in this run: {', '.join(mine)}. The reference stood in for: "
                f"{', '.join(theirs)} (the table says why).")

    def to_json(self):
        return {"rows": [asdict(r) for r in self.rows], "summary": self.summary()}

    def train_set(self, root, crop_size=64):
        """make_train_set's dataset, its pairs prepared by lesson 1's pieces (wrap_pairs)."""
        return self.wrap_pairs(self.make_train_set(root, crop_size=crop_size))

    def wrap_pairs(self, dataset):
        """`dataset` with its pairs prepared by the split_ab, paired_jitter and normalize in use;
        unchanged (and lesson 1's rows say so) when its files are not what lesson 1 prepares."""
        reason = why_not_own(dataset)
        if reason:
            for r in self.rows:
                if r.lesson == L1 and r.whose == "yours":
                    r.whose, r.why = "reference", f"not used: {reason}"
            return dataset
        return OwnPairs(dataset, self.split_ab, self.paired_jitter, self.normalize)


def rebind(fn, **names):
    """A copy of function `fn` whose global `names` point to other objects (only names it has)."""
    if not isinstance(fn, types.FunctionType):
        return fn
    names = {k: v for k, v in names.items() if k in fn.__code__.co_names and fn.__globals__.get(k) is not v}
    if not names:
        return fn
    new = types.FunctionType(fn.__code__, {**fn.__globals__, **names}, fn.__name__,
                             fn.__defaults__, fn.__closure__)
    new.__kwdefaults__, new.__qualname__, new.__module__ = fn.__kwdefaults__, fn.__qualname__, fn.__module__
    new.__dict__.update(fn.__dict__)
    return new


def _reason(error):
    if isinstance(error, NotImplementedError):
        return "not written yet (NotImplementedError)"
    first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {first}" if not first.startswith("What is wrong") else first


def _check(piece, obj):
    """None when obj passes the piece's checks, else the reason."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), torch.random.fork_rng(devices=[]):
            for check in piece.checks:
                check(obj)
    except Exception as e:  # CheckFailed, or the student's code raising anything
        return _reason(e)
    return None


def _mark(obj, piece):
    try:
        setattr(obj, MARK, (piece.lesson, piece.name))  # p2p_ref.course.coursework.carried
    except (AttributeError, TypeError):
        pass
    return obj


def _saved(lesson, cache, folder):
    if lesson not in cache:
        try:
            cache[lesson] = load_work(lesson, folder)
        except WorkNotFound as e:
            cache[lesson] = e
    return cache[lesson]


def _choose(piece, own, chosen, mine):
    """(object in use, Row) for one piece, given the student's object or why it is absent
    ("missing: ..."); chosen: the pieces in use so far, mine: the names of those that are yours.
    Pieces built on blocks are bound to the blocks in use (rebind), and marked as carried when
    they run the student's code (so that lesson 5's graded train_step check swaps them out)."""
    blocks = {b: chosen[b] for b in piece.blocks if chosen.get(b) is not None}
    if not isinstance(own, str):
        not_mine = [b for b in _calls(own, blocks) if b not in mine]
        problem = _check(piece, own)
        if problem is None:
            return _mark(rebind(own, **blocks), piece), _row(piece, "yours", "passes its check", not_mine)
        if not_mine and piece.name != "train_step":  # the student's own blocks may be what fails
            swapped = rebind(own, **{b: blocks[b] for b in not_mine})
            if _check(piece, swapped) is None:
                return _mark(rebind(swapped, **blocks), piece), _row(piece, "yours", "passes its check",
                                                                     not_mine)
        own = f"yours fails its check ({problem}); fix it in lesson {piece.lesson[2]}"
    obj = rebind(piece.reference, **blocks)
    if obj is not piece.reference:
        _mark(obj, piece)
    ran_mine = [b for b in _calls(piece.reference, blocks) if b in mine]
    why = own + (f"; the reference calls your {' and '.join(ran_mine)}" if ran_mine else "")
    return obj, Row(piece.name, piece.lesson, "reference", why)


def _calls(fn, blocks):
    """The names among `blocks` that function fn calls by a global name."""
    names = getattr(getattr(fn, "__code__", None), "co_names", ())
    return [b for b in blocks if b in names]


def _row(piece, whose, why, not_mine):
    if not_mine:
        why += f", run with the reference {' and '.join(not_mine)} (yours is not in use)"
    return Row(piece.name, piece.lesson, whose, why)


def own_pipeline(lesson5=None, names=None, log=print, folder=None):
    """The Pipeline of every piece in PIECES. Lessons 1-4 (and 5 when `lesson5` is None) come from
    the student's saved work in `folder` (default: p2p_ref.course.coursework.work_dir());
    `lesson5` maps lesson 5's names to the notebook's objects (None: not written). `names` limits
    the pieces; log prints each row. Loading saved work runs its code: load only your own."""
    pipe, cache = Pipeline(), {}
    for piece in PIECES:
        if names is not None and piece.name not in names:
            continue
        if grading():  # each lesson is graded on its own, and the run is not graded: no re-checks
            own = "not loaded or re-checked while the notebook is graded"
        elif lesson5 is not None and piece.lesson == L5:
            own = lesson5.get(piece.name) or f"missing: no {piece.name} in this notebook"
        else:
            saved = _saved(piece.lesson, cache, folder)
            own = (f"missing: {str(saved).split(': ')[0]}" if isinstance(saved, WorkNotFound) else saved.get(piece.name)
                   or f"missing: {piece.name} was not saved in {piece.lesson}; run its last cell again")
        mine = {r.piece for r in pipe.rows if r.whose == "yours"}
        pipe.pieces[piece.name], row = _choose(piece, own, pipe.pieces, mine)
        pipe.rows.append(row)
        if log:
            log(f"  {row.whose:<9} {row.piece} (lesson {row.lesson[2]}): {row.why}")
    return pipe


EARLIER = tuple(p.name for p in PIECES if p.lesson != L5)  # lessons 1-4: what lesson 5 carries over
DATA = ("split_ab", "normalize", "paired_jitter", "make_train_set")  # what makes the training set
