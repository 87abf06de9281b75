"""Label maps in the CMP facades palette: the colours, drawing on a map, maps to start from.

The facade playground (`p2p_ref.playground`) draws on label maps with these functions, and the
synthetic set (`p2p_ref.synthetic`) paints its maps in the same colours for the classes it has
(its wall is CMP's facade), so a generator trained on either reads the same label maps.

The palette. Facades (the CMP Facade Database, Tylecek and Sara, GCPR 2013; the paper's labels ->
photo example, sec. 4) draws every pixel of a label map in one of 12 colours, one per class. The
numbers below were measured from the label halves (B, the right half) of all 506 files of the
pix2pix facades download (400 train + 106 test): JPEG compression blurs the colours, so every
pixel was assigned to the nearest of the colour clusters (the modes of the colour histogram),
each class's region was eroded by 3 pixels to drop the blurred edges, and the most frequent exact
colour inside was taken (values within 2 of 0 or 255 rounded to it). Inside the regions the
channels vary by 1-3 levels.

Which colour is which class: listed in the base set's class order (1-12), the colours run along a
jet colormap (dark blue -> red), and the photos confirm each one: background is the sky, ground
and neighbours around the building, facade the wall, door the entrances, cornice the crowns above
windows, sill the ledges below them, balcony the railings, blind the closed shutters, deco the
ornament panels, molding the horizontal bands (the top band and string courses), pillar the
pilasters and shop the shop fronts of the ground floor.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
N_SYNTHETIC_MAPS = 50  # the synthetic set's default test split

CMP_CLASSES = ("background", "facade", "window", "door", "cornice", "sill", "balcony", "blind",
               "deco", "molding", "pillar", "shop")
CMP_PALETTE = {
    "background": (0, 0, 222),
    "facade": (0, 48, 255),
    "window": (0, 128, 255),
    "door": (0, 207, 255),
    "cornice": (32, 255, 224),
    "sill": (112, 255, 142),
    "balcony": (192, 255, 63),
    "blind": (255, 240, 0),
    "deco": (255, 159, 0),
    "molding": (255, 80, 0),
    "pillar": (255, 0, 0),
    "shop": (174, 0, 0),
}


def hex_colour(rgb):
    """"#rrggbb" for an (r, g, b) triple of 0..255 values."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def text_colour(rgb):
    """Black or white, whichever reads better on `rgb` (relative luminance, ITU-R BT.709)."""
    r, g, b = rgb
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 110 else "white"


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
    """(files, is_pair) of the test split (else val) of a dataset folder: A|B files in split/,
    or the label half alone in split/A or split/B."""
    for split in ("test", "val"):
        half = folder / split / ("B" if direction == "BtoA" else "A")
        for where, pair in ((half, False), (folder / split, True)):
            if where.is_dir():
                files = sorted(p for p in where.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
                if files:
                    return files, pair
    return [], False


def _is_synthetic(folder):
    try:
        meta = json.loads((folder / "meta.json").read_text())
        return meta.get("generator") == "p2p_ref.synthetic"
    except (OSError, ValueError, AttributeError):
        return False


class StartMaps:
    """Label maps to start from, size x size x 3 uint8: a dataset's test split (else val), or,
    with no folder, the synthetic set's test maps drawn on the fly (p2p_ref.synthetic, seed 0)."""

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
            from p2p_ref.synthetic import make_pair
            return make_pair(0, "test", i, self.size)[:, self.size:].copy()
        with Image.open(self.files[i]) as img:
            img = img.convert("RGB")
        if self.is_pair:
            w, h = img.size
            img = img.crop((w // 2, 0, w, h) if self.direction == "BtoA" else (0, 0, w // 2, h))
        return np.array(img.resize((self.size, self.size), Image.NEAREST))
