"""Paired data for Pix2Pix: A|B images, the paired jitter, and `AlignedDataset`.

Isola et al. (CVPR 2017), appendix 6.2: every training pair is one image holding the source A
(left half) and the target B (right half) side by side. Training uses "random jitter": resize to
286 x 286, take the SAME random 256 x 256 crop of A and B, and mirror both or neither. Pixels are
scaled to [-1, 1] to match the generator's Tanh. The authors' code does the same
(junyanz/pytorch-CycleGAN-and-pix2pix, ``aligned_dataset.py``).
"""

from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset
from torchvision.transforms import InterpolationMode

from p2p_ref.download import DATASETS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
DIRECTIONS = ("AtoB", "BtoA")


def split_ab(image):
    """Cut an A|B image into its halves: A = left, B = right (both PIL images)."""
    w, h = image.size
    if w % 2:
        where = getattr(image, "filename", "") or "the image"
        raise ValueError(f"{where} is {w}x{h} pixels: an A|B pair needs an even width "
                         f"(A = left half, B = right half)")
    return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))


def normalize(t):
    """[0, 1] -> [-1, 1], the range of the generator's Tanh output."""
    return t * 2 - 1


def denormalize(t):
    """[-1, 1] -> [0, 1], clamped, e.g. to show a generated image."""
    return ((t + 1) / 2).clamp(0, 1)


def paired_jitter(a, b, load_size=286, crop_size=256, flip=True, generator=None):
    """The paper's random jitter (appendix 6.2) applied identically to A and B.

    a, b: (C, H, W) tensors of the same height and width. Both are resized (bicubic) to
    load_size x load_size, then cut at the same random crop_size x crop_size window (top row i is
    drawn before left column j), then mirrored together with probability 1/2 when flip is True.
    Bicubic resizing can overshoot, so each result is clamped to its input's value range.
    With load_size == crop_size == the input size and flip=False nothing changes.
    """
    if a.dim() != 3 or b.dim() != 3 or a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"paired_jitter needs two (C, H, W) tensors of the same H and W; "
                         f"got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if crop_size > load_size:
        raise ValueError(f"crop_size={crop_size} is larger than load_size={load_size}: "
                         f"the crop must fit inside the resized image")
    out = []
    for t in (a, b):
        if tuple(t.shape[-2:]) != (load_size, load_size):
            lo, hi = t.min(), t.max()
            t = TF.resize(t, [load_size, load_size], interpolation=InterpolationMode.BICUBIC,
                          antialias=True).clamp(lo, hi)
        out.append(t)
    a, b = out
    i = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    j = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))
    a = a[:, i:i + crop_size, j:j + crop_size]
    b = b[:, i:i + crop_size, j:j + crop_size]
    if flip and torch.rand(1, generator=generator) < 0.5:
        a, b = a.flip(-1), b.flip(-1)
    return a, b


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
    """A|B pairs from ``root/split/*.jpg|png`` (sorted), as ``(x, y)`` tensors in [-1, 1].

    x is the generator's input and y its target: A -> B for direction "AtoB", B -> A for
    "BtoA" (facades labels -> photo is "BtoA"). With flip=True or load_size > crop_size every
    item gets the paired jitter, drawn from torch's global RNG (seed it with torch.manual_seed;
    DataLoader seeds each worker). With load_size == crop_size and flip=False (val / test)
    items are deterministic.
    """

    def __init__(self, root, split="train", direction="AtoB", load_size=286, crop_size=256,
                 flip=True):
        if direction not in DIRECTIONS:
            raise ValueError(f"direction={direction!r}: expected one of {DIRECTIONS}")
        if crop_size > load_size:
            raise ValueError(f"crop_size={crop_size} is larger than load_size={load_size}: "
                             f"the crop must fit inside the resized image")
        self.root = Path(root)
        self.dir = self.root / split
        self.split, self.direction = split, direction
        self.load_size, self.crop_size, self.flip = load_size, crop_size, flip
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"no folder {self.dir}: the dataset folder {self.root} does not exist. Folders "
                f"in {self.root.parent}: {_folders_in(self.root.parent)}. "
                f"{_how_to_get(self.root.name, self.root.parent)}")
        if not self.dir.is_dir():
            raise FileNotFoundError(
                f"no folder {self.dir}: expected A|B images in {self.root}/{split}/; the split "
                f"folders in {self.root} are: {_folders_in(self.root)}")
        self.paths = sorted(p for p in self.dir.iterdir()
                            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self.paths:
            raise FileNotFoundError(f"{self.dir} holds no .jpg or .png images: expected A|B "
                                    f"pairs (A = left half, B = right half)")

    def __len__(self):
        return len(self.paths)

    def load_pair(self, index):
        """The halves (A, B) of image `index` as [0, 1] tensors, before any jitter."""
        path = self.paths[index]
        try:
            with Image.open(path) as img:
                img.load()
                img = img.convert("RGB")
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
            raise ValueError(f"cannot read {path}: {e}. Expected a complete .jpg or .png "
                             f"image holding an A|B pair; re-download or regenerate it") from e
        w, h = img.size
        if w % 2:
            raise ValueError(f"{path} is {w}x{h} pixels: an A|B pair needs an even width "
                             f"(A = left half, B = right half)")
        a, b = split_ab(img)
        return TF.to_tensor(a), TF.to_tensor(b)

    def __getitem__(self, index):
        a, b = self.load_pair(index)
        a, b = paired_jitter(a, b, self.load_size, self.crop_size, self.flip)
        a, b = normalize(a), normalize(b)
        return (a, b) if self.direction == "AtoB" else (b, a)

    def __repr__(self):
        return (f"AlignedDataset({str(self.root)!r}, split={self.split!r}, "
                f"direction={self.direction!r}, {len(self)} pairs)")


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
            from p2p_ref.synthetic import make_synthetic_dataset
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
