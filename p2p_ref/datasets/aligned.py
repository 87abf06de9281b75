"""`AlignedDataset`: the pairs of one split of a dataset folder, prepared for training.

Each item is (x, y) = (G's input, its target) in [-1, 1], cut from an A|B image by
`p2p_ref.paper.data.split_ab` (or read from A/ and B/ folders paired by file name,
`p2p_ref.datasets.pairs`), in any channel count or bit depth (`p2p_ref.datasets.images`),
prepared by `--preprocess` (`p2p_ref.datasets.preprocess`). The official code's
``aligned_dataset.py`` does the same (Isola et al., CVPR 2017, appendix 6.2).
"""

import copy
import warnings
from pathlib import Path

from torch.utils.data import Dataset, default_collate

from p2p_ref.datasets.download import DATASETS
from p2p_ref.datasets.images import IMAGE_EXTENSIONS, channel_plan, match_channels, probe, read_image
from p2p_ref.datasets.pairs import list_split, names, pair_issues
from p2p_ref.datasets.preprocess import PREPROCESS, preprocess_pair
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.paper.data import normalize

DIRECTIONS = ("AtoB", "BtoA")
CHECK_LIMIT = 1000  # the start-up check reads the headers of at most this many files per split


class DataWarning(UserWarning):
    """Something in a dataset that is probably a mistake, but not an error."""


def collate_pairs(batch):
    """default_collate, with a clear message when the pairs of a batch differ in size (as they may
    with --preprocess none)."""
    sizes = {tuple(x.shape) + tuple(y.shape) for x, y in batch}
    if len(sizes) > 1:
        shown = sorted({f"{x.shape[-1]}x{x.shape[-2]}" for x, _ in batch})
        raise ValueError(f"the pairs of one batch have different sizes ({', '.join(shown)}): "
                         f"with --preprocess none every image keeps its size, so use "
                         f"--batch-size 1, or images of one size, or another --preprocess")
    return default_collate(batch)


def _folders_in(path):
    if not path.is_dir():
        return f"none ({path} does not exist)"
    names = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    return ", ".join(names) if names else "(no folders)"


def _how_to_get(name, root):
    if name == "synthetic":
        return f"Generate it offline with: p2p-data synthetic --root {root}"
    if name in DATASETS:
        return f"Download it with: p2p-data download {name} --root {root}"
    return "Known datasets: " + ", ".join(sorted(DATASETS)) + ", synthetic"


class AlignedDataset(Dataset):
    """Pairs from ``root/split/`` as ``(x, y)`` tensors in [-1, 1]: A|B files (sorted), or A/ and
    B/ folders paired by file name (see `p2p_ref.datasets.pairs`).

    x is the generator's input and y its target: A -> B for direction "AtoB", B -> A for
    "BtoA" (facades labels -> photo is "BtoA"). input_nc / output_nc: the channels of x and y
    (grayscale is repeated to 3 channels, RGB turned into luma for 1, alpha dropped; see
    `p2p_ref.datasets.images.match_channels`). preprocess: see `preprocess_pair`; multiple is the size
    "none" pads to (2**num_downs). With flip=True or a random crop every item gets the paired
    jitter, drawn from torch's global RNG (seed it with torch.manual_seed; DataLoader seeds each
    worker). With load_size == crop_size and flip=False (val / test), or center_crop=True,
    items are deterministic.

    check=True reads the headers of up to CHECK_LIMIT files at once and warns (DataWarning)
    about likely mistakes: files that are not images, A|B files that are probably not pairs,
    lossy channel conversions. Listing errors (a missing partner, two files of one name) raise.
    """

    def __init__(self, root, split="train", direction="AtoB", load_size=286, crop_size=256,
                 flip=True, preprocess="resize_and_crop", input_nc=3, output_nc=3, multiple=1,
                 center_crop=False, check=True):
        if direction not in DIRECTIONS:
            raise ValueError(f"direction={direction!r}: expected one of {DIRECTIONS}")
        if preprocess not in PREPROCESS:
            raise ValueError(f"preprocess={preprocess!r}: expected one of {', '.join(PREPROCESS)}")
        if crop_size > load_size and preprocess in ("resize_and_crop", "scale_width_and_crop"):
            raise ValueError(f"crop_size={crop_size} is larger than load_size={load_size}: "
                             f"the crop must fit inside the resized image")
        for name, nc in (("input_nc", input_nc), ("output_nc", output_nc)):
            if nc < 1:
                raise ValueError(f"{name}={nc}: expected a number of channels >= 1")
        self.root = Path(root)
        self.dir = self.root / split
        self.split, self.direction = split, direction
        self.load_size, self.crop_size, self.flip = load_size, crop_size, flip
        self.preprocess, self.multiple, self.center_crop = preprocess, multiple, center_crop
        self.input_nc, self.output_nc = input_nc, output_nc
        # channels of the A and B sides: x = A for AtoB, x = B for BtoA
        self.nc = {"A": input_nc, "B": output_nc} if direction == "AtoB" else \
            {"A": output_nc, "B": input_nc}
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"no folder {self.dir}: the dataset folder {self.root} does not exist. Folders "
                f"in {self.root.parent}: {_folders_in(self.root.parent)}. "
                f"{_how_to_get(self.root.name, self.root.parent)}")
        if not self.dir.is_dir():
            raise FileNotFoundError(
                f"no folder {self.dir}: expected A|B images (or A/ and B/ folders) in "
                f"{self.root}/{split}/; the split folders in {self.root} are: "
                f"{_folders_in(self.root)}")
        listing = list_split(self.dir)
        if listing.problems:
            raise ValueError(f"{self.dir} cannot be read as pairs: " + "; ".join(listing.problems))
        self.layout, self.pairs = listing.layout, listing.pairs
        if not self.pairs:
            where = f"{self.dir}/A and {self.dir}/B" if self.layout == "A/B" else str(self.dir)
            raise FileNotFoundError(f"{where} holds no images ({', '.join(IMAGE_EXTENSIONS)}): "
                                    f"expected A|B pairs (A = left half, B = right half) or A/ "
                                    f"and B/ folders of images paired by name")
        self._warned = set()
        if check:
            notes = self.quick_check(listing)
            if notes:
                warnings.warn(f"{self.dir}: " + "\n  ".join(notes), DataWarning, stacklevel=2)

    def deterministic(self, load_size=None):
        """The same pairs prepared without randomness (no flip, centre crops), e.g. to show
        samples; load_size defaults to crop_size (the paper's test-time resize)."""
        other = copy.copy(self)
        other.load_size = self.crop_size if load_size is None else load_size
        other.flip, other.center_crop = False, True
        return other

    @property
    def paths(self):
        """The A|B files, or the A files of an A/B split."""
        return [a for a, _ in self.pairs]

    def quick_check(self, listing=None, limit=CHECK_LIMIT):
        """The cheap part of `p2p-data check`: ignored files, and from the headers of the first
        `limit` pairs, likely non-pairs and lossy channel conversions. Returns warning lines;
        raises ValueError for pairs that cannot load (odd widths, A and B of different sizes)."""
        notes, errors = [], []
        if listing is not None and listing.ignored:
            notes.append(f"skipped, not images ({', '.join(IMAGE_EXTENSIONS)}): "
                         f"{names(listing.ignored)}")
        plans, unreadable, not_pairs = {}, [], []
        for a, b in self.pairs[:limit]:
            try:
                infos = [probe(a)] + ([probe(b)] if b is not None else [])
            except ValueError as e:
                unreadable.append(str(e).split(". ")[0])
                continue
            bad, warn = pair_issues(*infos)
            errors += bad
            not_pairs += warn
            self._warned.add(a)  # reported here (or fine): no second warning when it loads
            sides = zip(("A", "B"), infos) if b is not None else \
                [("A", infos[0]), ("B", infos[0])]
            for side, info in sides:
                try:
                    plan = channel_plan(info.channels, info.alpha, self.nc[side])
                except ValueError as e:
                    errors.append(f"{info.path}: {e} (--input-nc / --output-nc say "
                                  f"{self.nc[side]} for side {side})")
                    continue
                if plan and ("dropped" in plan or "luma" in plan):
                    plans.setdefault((side, plan), []).append(info.path)
        if errors:
            raise ValueError(f"{self.dir}: " + "; ".join(errors[:5]) +
                             (f" (+{len(errors) - 5} more)" if len(errors) > 5 else "") +
                             ". `p2p-data check` lists every problem")
        if not_pairs:
            notes.append(f"{len(not_pairs)} file(s) are likely not A|B pairs: " +
                         "; ".join(not_pairs[:3]) + (" ..." if len(not_pairs) > 3 else ""))
        if unreadable:
            notes.append(f"{len(unreadable)} file(s) cannot be read: " + "; ".join(unreadable[:3]))
        for (side, plan), paths in plans.items():
            notes.append(f"{side} of {len(paths)} pair(s): {plan} ({names(paths, 3)})")
        if len(self.pairs) > limit and notes:
            notes.append(f"(checked the first {limit} of {len(self.pairs)} pairs; "
                         f"`p2p-data check {self.root}` checks them all)")
        return notes

    def __len__(self):
        return len(self.pairs)

    def load_pair(self, index):
        """The halves (A, B) of pair `index` as [0, 1] tensors with the channels of their sides,
        before any jitter."""
        a_path, b_path = self.pairs[index]
        if b_path is None:
            ab = read_image(a_path)
            h, w = ab.shape[-2:]
            if w % 2:
                raise ValueError(f"{a_path} is {w}x{h} pixels: an A|B pair needs an even width "
                                 f"(A = left half, B = right half)")
            if abs(w / (2 * h) - 1) > 0.05 and a_path not in self._warned:
                self._warned.add(a_path)
                warnings.warn(f"{a_path} is {w}x{h}: its width is not about twice its height, so "
                              f"it is likely not an A|B pair", DataWarning, stacklevel=2)
            a, b = ab[..., :w // 2], ab[..., w // 2:]
            alpha = ab.shape[0] in (2, 4)
            a = match_channels(a, self.nc["A"], alpha, a_path)
            b = match_channels(b, self.nc["B"], alpha, a_path)
            return a, b
        a, b = read_image(a_path), read_image(b_path)
        if a.shape[-2:] != b.shape[-2:]:
            raise ValueError(f"{a_path} is {a.shape[-1]}x{a.shape[-2]} but {b_path} is "
                             f"{b.shape[-1]}x{b.shape[-2]}: A and B of a pair must have the "
                             f"same size")
        return (match_channels(a, self.nc["A"], path=a_path),
                match_channels(b, self.nc["B"], path=b_path))

    def __getitem__(self, index):
        a, b = self.load_pair(index)
        a, b = preprocess_pair(a, b, self.preprocess, self.load_size, self.crop_size, self.flip,
                               self.multiple, self.center_crop)
        a, b = normalize(a), normalize(b)
        return (a, b) if self.direction == "AtoB" else (b, a)

    def __repr__(self):
        return (f"AlignedDataset({str(self.root)!r}, split={self.split!r}, "
                f"direction={self.direction!r}, {len(self)} pairs, layout {self.layout})")


def resolve_dataset(name_or_path, root="datasets"):
    """The folder of a dataset given by a path or by name (looked up in `root`).

    "synthetic" is generated offline at root/synthetic when missing; a known download
    (facades, maps, ...) that is missing raises FileNotFoundError with the command to get it.
    """
    root = Path(root)
    candidate = Path(name_or_path)
    if candidate.is_dir():
        return candidate
    name = str(name_or_path)
    if name == "synthetic":
        path = root / "synthetic"
        if not (path / "meta.json").is_file():
            make_synthetic_dataset(path)
        return path
    if name in DATASETS:
        path = root / name
        if path.is_dir():
            return path
        raise FileNotFoundError(f"dataset {name!r} is not in {root}/ (looked for {path}). "
                                f"{_how_to_get(name, root)}")
    raise FileNotFoundError(f"{name!r} is neither a folder nor a dataset name. Folders in "
                            f"{root}: {_folders_in(root)}. {_how_to_get(name, root)}")
