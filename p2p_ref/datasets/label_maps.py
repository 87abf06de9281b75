"""Label maps in the CMP facades palette: the colours, drawing on a map, maps to start from.

The facade playground (`p2p_ref.course.widgets.playground`) draws on label maps with these functions, and the
synthetic set (`p2p_ref.datasets.synthetic`) paints its maps in the same colours for the classes it has
(its wall is CMP's facade), so a generator trained on either reads the same label maps.

The colours themselves live in `p2p_ref.datasets.palette`.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from p2p_ref.datasets.images import is_image_file
from p2p_ref.datasets.pairs import list_split
from p2p_ref.datasets.synthetic import make_pair

N_SYNTHETIC_MAPS = 50  # the synthetic set's default test split

def fill_rect(labels, box, rgb):
    """A copy of `labels` (H x W x 3 uint8) with the pixels x0 <= x < x1, y0 <= y < y1 of
    box = (x0, y0, x1, y1) set to `rgb` (corners in any order, clipped to the map)."""
    x0, x1 = sorted((int(box[0]), int(box[2])))
    y0, y1 = sorted((int(box[1]), int(box[3])))
    new = labels.copy()
    new[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = rgb
    return new


def fill_stroke(labels, points, width, rgb):
    """A copy of `labels` with a stroke through `points` set to `rgb`: the pixels whose centre
    lies within width / 2 of the polyline (round ends, as a canvas draws it) and the pixels the
    points fall in. Points are (x, y) in pixels, pixel i spanning [i, i + 1)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if not len(pts):
        raise ValueError("a stroke needs at least one point")
    h, w = labels.shape[:2]
    r = max(0.5, float(width) / 2)
    mask = np.zeros((h, w), bool)
    for a, b in zip(pts, pts[1:]) if len(pts) > 1 else [(pts[0], pts[0])]:
        x0, y0 = np.maximum(0, np.floor(np.minimum(a, b) - r)).astype(int)
        x1, y1 = np.minimum((w, h), np.ceil(np.maximum(a, b) + r)).astype(int)
        if x0 >= x1 or y0 >= y1:
            continue
        cy, cx = np.mgrid[y0:y1, x0:x1] + 0.5  # pixel centres
        d = b - a
        t = np.clip(((cx - a[0]) * d[0] + (cy - a[1]) * d[1]) / max(d @ d, 1e-12), 0, 1)
        mask[y0:y1, x0:x1] |= (cx - a[0] - t * d[0]) ** 2 + (cy - a[1] - t * d[1]) ** 2 <= r * r
    inside = pts[(pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)]
    mask[inside[:, 1].astype(int), inside[:, 0].astype(int)] = True
    new = labels.copy()
    new[mask] = rgb
    return new


def _split_files(folder, direction):
    """(files, is_pair) of the test split (else val) of a dataset folder: the label halves of its
    pairs (A|B files, or the B/ or A/ files of paired folders), or a label folder alone."""
    label = "B" if direction == "BtoA" else "A"
    for split in ("test", "val"):
        where = folder / split
        if not where.is_dir():
            continue
        listing = list_split(where)
        if listing.pairs and listing.layout == "A/B":
            return [b if label == "B" else a for a, b in listing.pairs], False
        if listing.pairs:
            return [a for a, _ in listing.pairs], True
        half = where / label
        if half.is_dir():
            files = sorted(p for p in half.iterdir() if p.is_file() and is_image_file(p))
            if files:
                return files, False
    return [], False


def _is_synthetic(folder):
    try:
        meta = json.loads((folder / "meta.json").read_text())
        return meta.get("generator") == "p2p_ref.datasets.synthetic"
    except (OSError, ValueError, AttributeError):
        return False


class StartMaps:
    """Label maps to start from, size x size x 3 uint8: a dataset's test split (else val), or,
    with no folder, the synthetic set's test maps drawn on the fly (p2p_ref.datasets.synthetic, seed 0)."""

    def __init__(self, size, folder=None, direction="BtoA"):
        self.size, self.folder, self.direction = size, folder, direction
        self.files, self.is_pair = _split_files(Path(folder), direction) if folder else ([], False)
        if folder and not self.files:
            raise FileNotFoundError(f"{folder} has no test or val split with images")
        self.synthetic = not folder or _is_synthetic(Path(folder))
        self.name = (str(self.files[0].parent) if folder
                     else "the synthetic set's test split (made on the fly)")

    @classmethod
    def find(cls, size, dataset=None, data_root="datasets", direction="BtoA", roots=None):
        """The maps of a run's `dataset` (a folder, or a name under `data_root`) if it is in one
        of `roots` (default: the current folder and its parent), else of datasets/facades, else
        of datasets/synthetic, else synthetic maps made on the fly."""
        roots = [Path(r) for r in (roots or (Path.cwd(), Path.cwd().parent))]
        candidates = []
        if dataset:
            d = Path(dataset)
            candidates += [d] if d.is_absolute() else [r / p for r in roots
                                                       for p in (d, Path(data_root) / d)]
        candidates += [r / "datasets" / name for name in ("facades", "synthetic") for r in roots]
        for folder in candidates:
            if _split_files(folder, direction)[0]:
                return cls(size, folder, direction)
        return cls(size)

    def __len__(self):
        return len(self.files) if self.folder else N_SYNTHETIC_MAPS

    def label(self, index):
        i = index % len(self)
        return self.files[i].name if self.folder else f"synthetic test {i:04d}"

    def __getitem__(self, index):
        i = index % len(self)
        if not self.folder:
            return make_pair(0, "test", i, self.size)[:, self.size:].copy()
        with Image.open(self.files[i]) as img:
            img = img.convert("RGB")
        if self.is_pair:
            w, h = img.size
            img = img.crop((w // 2, 0, w, h) if self.direction == "BtoA" else (0, 0, w // 2, h))
        return np.array(img.resize((self.size, self.size), Image.NEAREST))
