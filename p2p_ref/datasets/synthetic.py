"""An offline, seeded "synthetic facades" set: label maps <-> rendered facade photos.

Same layout as the real facades download: ROOT/{train,val,test}/NNNN.png, each an A|B pair with
A (left) = the photo and B (right) = the label map, so labels -> photo is direction "BtoA".

The label map (B) paints every pixel in one flat colour of PALETTE, the CMP facades colours
(`p2p_ref.datasets.label_maps`) for the classes both sets have:

    background (0, 0, 222)    sky and ground around the building      (CMP background)
    wall       (0, 48, 255)   the facade's wall                        (CMP facade)
    roof       (170, 85, 255) a sloped roof above the top cornice (some buildings have none);
                              CMP has no roof class, so it gets a colour off CMP's jet colormap
    cornice    (32, 255, 224) the band at the top of the wall and some bands between floors
    window     (0, 128, 255)  window openings, frames included
    door       (0, 207, 255)  the entrance on the ground floor
    balcony    (192, 255, 63) railings in front of the lower part of some windows

The photo (A) is NOT a pixel-wise function of the labels, so this is a real translation task:
each building draws its own wall material (brick, plaster or stone) and colour, a lighting
gradient, roof and frame colours; every window gets its own reflection, curtains or light, and
the whole image gets shadows, sensor noise and a little blur. A model must learn a plausible
photo, not a colour lookup. Each image's randomness comes from (seed, split, index), so the
same arguments give byte-identical files and the splits hold different buildings.
"""

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from tqdm.auto import tqdm

from p2p_ref.datasets.palette import CMP_PALETTE

CLASSES = ("background", "wall", "roof", "cornice", "window", "door", "balcony")
PALETTE = {  # name -> (r, g, b); the same colours as CMP facades (a wall is CMP's "facade")
    "background": CMP_PALETTE["background"],
    "wall": CMP_PALETTE["facade"],
    "roof": (170, 85, 255),
    "cornice": CMP_PALETTE["cornice"],
    "window": CMP_PALETTE["window"],
    "door": CMP_PALETTE["door"],
    "balcony": CMP_PALETTE["balcony"],
}
BACKGROUND, WALL, ROOF, CORNICE, WINDOW, DOOR, BALCONY = range(len(CLASSES))
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
FORMAT_VERSION = 1


@dataclass
class Facade:
    """One building: the label map (H x W class indices) and the rectangles it was drawn from."""
    labels: np.ndarray
    windows: list = field(default_factory=list)     # (y0, y1, x0, x1)
    doors: list = field(default_factory=list)
    balconies: list = field(default_factory=list)
    ground_floor_top: int = 0


def sample_facade(rng, size=256):
    """Draw a facade layout: a roof, cornices, a grid of floors x columns of windows, a door
    and some balconies. Sizes are fractions of `size`, so any resolution works."""
    S = size
    labels = np.full((S, S), BACKGROUND, np.uint8)
    x0 = int(rng.integers(0, S * 0.12 + 1))
    x1 = S - int(rng.integers(0, S * 0.12 + 1))
    top = int(rng.integers(0, S * 0.12 + 1))
    roof_h = int(rng.uniform(0.05, 0.13) * S) if rng.random() < 0.7 else 0
    if roof_h:  # a trapezoid that narrows upwards
        y = np.arange(top, top + roof_h)[:, None]
        x = np.arange(S)[None, :]
        inset = (top + roof_h - y) * rng.uniform(0.5, 1.5)
        labels[top:top + roof_h][(x >= x0 + inset) & (x < x1 - inset)] = ROOF
    wall_top = top + roof_h
    labels[wall_top:, x0:x1] = WALL
    cornice_h = max(2, int(rng.uniform(0.015, 0.035) * S))
    labels[wall_top:wall_top + cornice_h, max(0, x0 - 2):min(S, x1 + 2)] = CORNICE
    facade = Facade(labels)

    n_floors, n_cols = int(rng.integers(3, 7)), int(rng.integers(3, 7))
    body_top = wall_top + cornice_h
    fh, cw = (S - body_top) / n_floors, (x1 - x0) / n_cols
    win_w, win_h, win_dy = rng.uniform(0.4, 0.7) * cw, rng.uniform(0.45, 0.68) * fh, 0.18 * fh
    string_courses = rng.random() < 0.4
    balcony_p = rng.uniform(0.0, 0.5)
    door_col = int(rng.integers(0, n_cols))
    for f in range(n_floors):
        fy = body_top + f * fh
        ground = f == n_floors - 1
        if ground:
            facade.ground_floor_top = int(fy)
        if string_courses and f > 0:
            labels[int(fy):int(fy) + max(1, cornice_h // 2), x0:x1] = CORNICE
        for c in range(n_cols):
            cx = x0 + (c + 0.5) * cw
            if ground and c == door_col:
                dw = min(0.75 * cw, max(win_w, 0.45 * cw))
                rect = (int(fy + 0.22 * fh), S, int(cx - dw / 2), int(cx + dw / 2))
                labels[rect[0]:rect[1], rect[2]:rect[3]] = DOOR
                facade.doors.append(rect)
                continue
            if rng.random() < 0.04:  # a blind bay now and then
                continue
            w = win_w * (1.3 if ground else 1.0)
            rect = (int(fy + win_dy), int(fy + win_dy + win_h), int(cx - w / 2), int(cx + w / 2))
            labels[rect[0]:rect[1], rect[2]:rect[3]] = WINDOW
            facade.windows.append(rect)
            if not ground and f > 0 and rng.random() < balcony_p:
                bh = max(2, int(0.3 * win_h))
                pad = int(0.15 * cw)
                b = (rect[1] - bh, min(S, rect[1] + max(1, int(0.06 * fh))),
                     max(x0, rect[2] - pad), min(x1, rect[3] + pad))
                facade.balconies.append(b)
    for y0, y1, bx0, bx1 in facade.balconies:  # balconies stand in front of the windows
        labels[y0:y1, bx0:bx1] = BALCONY
    return facade


def smooth_noise(rng, size, cells):
    """A smooth random field (size x size, about unit variance): bicubic upsampled noise."""
    small = Image.fromarray(rng.standard_normal((cells, cells)).astype(np.float32), mode="F")
    return np.asarray(small.resize((size, size), Image.BICUBIC))


def _jitter(rng, rgb, amount):
    rgb = np.asarray(rgb, np.float32) + rng.uniform(-amount, amount, 3).astype(np.float32)
    return np.clip(rgb, 0, 1)


def _wall_texture(rng, S, yy, xx):
    """Wall colour and texture for one building: brick, plaster or stone."""
    material = rng.choice(["brick", "plaster", "stone"])
    if material == "plaster":
        base = _jitter(rng, [(0.87, 0.80, 0.66), (0.93, 0.88, 0.78), (0.90, 0.72, 0.60),
                             (0.78, 0.82, 0.74), (0.80, 0.80, 0.80), (0.92, 0.84, 0.55)]
                       [rng.integers(6)], 0.05)
        shade = 1 + 0.06 * smooth_noise(rng, S, 8) + 0.03 * smooth_noise(rng, S, 32)
        return base * shade[..., None]
    if material == "brick":
        base = _jitter(rng, (0.58, 0.28, 0.20), 0.08)
        mortar = _jitter(rng, (0.80, 0.78, 0.72), 0.05)
        bh = max(3.0, rng.uniform(0.018, 0.028) * S)
        bw = bh * rng.uniform(2.0, 2.6)
    else:
        base = _jitter(rng, (0.70, 0.67, 0.60), 0.08)
        mortar = base * 0.75
        bh = max(4.0, rng.uniform(0.04, 0.07) * S)
        bw = bh * rng.uniform(1.5, 2.5)
    row = np.floor(yy / bh).astype(int)
    xs = xx + (row % 2) * bw / 2
    col = np.floor(xs / bw).astype(int)
    variation = rng.normal(0, 0.07, (row.max() + 1, col.max() + 1)).astype(np.float32)
    img = base * (1 + variation[row, col])[..., None]
    joint = ((yy - row * bh) < 1) | ((xs - col * bw) < 1)
    img[joint] = mortar
    return img


def _paint_windows(img, facade, rng, ft, sky_reflect):
    """Windows in place: a frame ft pixels thick, glass (lit, curtained or reflecting the sky),
    a streak of reflection and, on most facades, mullions."""
    frame = _jitter(rng, [(0.95, 0.95, 0.93), (0.30, 0.20, 0.12), (0.2, 0.2, 0.22)]
                    [rng.integers(3)], 0.04)
    mullions = rng.random() < 0.6
    for y0, y1, x0, x1 in facade.windows:
        h, w = y1 - y0, x1 - x0
        if h < 2 * ft + 1 or w < 2 * ft + 1:
            continue
        kind = rng.random()
        gy = np.linspace(0, 1, h - 2 * ft, dtype=np.float32)[:, None, None]
        if kind < 0.12:      # lit from inside
            glass = _jitter(rng, (0.95, 0.80, 0.45), 0.05) * (0.8 + 0.2 * gy)
        elif kind < 0.35:    # curtains
            glass = _jitter(rng, (0.85, 0.83, 0.78), 0.1) * (0.75 + 0.25 * gy)
        else:                # dark glass reflecting the sky, brighter at the top
            glass = (0.12 + 0.5 * rng.uniform(0.2, 1.0) * (1 - gy)) * sky_reflect
        gx = np.linspace(0, 1, w - 2 * ft, dtype=np.float32)[None, :, None]
        streak = np.abs(gx - gy * rng.uniform(0.3, 1.0) - rng.uniform(-0.2, 0.6)) < 0.08
        img[y0:y1, x0:x1] = frame
        img[y0 + ft:y1 - ft, x0 + ft:x1 - ft] = glass * (1 + 0.5 * streak)
        img[y0 + ft:y0 + 2 * ft, x0 + ft:x1 - ft] *= 0.7  # the recess casts a shadow
        if mullions:
            xm, ym = (x0 + x1) // 2, y0 + h // 3
            img[y0:y1, xm - ft // 2:xm - ft // 2 + ft] = frame
            img[ym:ym + ft, x0:x1] = frame


def _paint_doors(img, facade, rng):
    """Doors in place: painted wood with two recessed panels."""
    S = img.shape[0]
    wood = _jitter(rng, [(0.35, 0.22, 0.12), (0.15, 0.30, 0.20), (0.45, 0.12, 0.10),
                         (0.15, 0.18, 0.32)][rng.integers(4)], 0.05)
    for y0, y1, x0, x1 in facade.doors:
        img[y0:y1, x0:x1] = wood
        h, w, p = y1 - y0, x1 - x0, max(1, round(0.02 * S))
        for py0, py1 in ((y0 + p, y0 + h // 2 - p), (y0 + h // 2 + p, y1 - p)):
            if py1 - py0 > 2 and w > 4 * p:  # two recessed panels
                img[py0:py1, x0 + p:x1 - p] *= 0.8
                img[py0:py0 + 1, x0 + p:x1 - p] *= 0.7


def _paint_balconies(img, facade, rng, ft, stone):
    """Balconies in place: metal railings in front of what is behind, on a stone slab."""
    S = img.shape[0]
    metal = _jitter(rng, (0.12, 0.12, 0.13), 0.05)
    bar = max(2, round(rng.uniform(0.012, 0.025) * S))
    for y0, y1, x0, x1 in facade.balconies:  # railings: bars in front of what is behind
        region = img[y0:y1, x0:x1]
        bars = (np.arange(x1 - x0) % bar) == 0
        region[:, bars] = metal
        region[:ft] = metal
        region[-max(1, ft):] = stone * 0.85


def render_photo(facade, rng):
    """Render a photo (H x W x 3 uint8) of a facade layout with randomness from `rng`."""
    labels = facade.labels
    S = labels.shape[0]
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    v = yy / S

    # Sky (a vertical gradient with clouds) and a strip of ground.
    sky_top = _jitter(rng, (0.35, 0.55, 0.85), 0.15)
    sky_bottom = _jitter(rng, (0.8, 0.85, 0.9), 0.1)
    img = sky_top + (sky_bottom - sky_top) * v[..., None]
    img += 0.06 * smooth_noise(rng, S, 5)[..., None]
    ground = v > rng.uniform(0.88, 0.97)
    np.copyto(img, _jitter(rng, (0.45, 0.44, 0.42), 0.08), where=ground[..., None])

    wall = _wall_texture(rng, S, yy, xx)
    if rng.random() < 0.5:  # a rusticated ground floor in another colour
        g = yy >= facade.ground_floor_top
        wall[g] *= _jitter(rng, (0.85, 0.85, 0.85), 0.15)
    np.copyto(img, wall, where=(labels != BACKGROUND)[..., None])

    roof = labels == ROOF
    roof_rgb = _jitter(rng, [(0.55, 0.25, 0.18), (0.30, 0.31, 0.35), (0.35, 0.55, 0.48)]
                       [rng.integers(3)], 0.06)
    tile = np.where((yy % max(2.0, 0.015 * S)) < 1, np.float32(0.75), np.float32(1))
    np.copyto(img, roof_rgb * tile[..., None], where=roof[..., None])

    stone = _jitter(rng, (0.85, 0.83, 0.78), 0.06)
    np.copyto(img, stone * np.float32(rng.uniform(0.9, 1.05)), where=(labels == CORNICE)[..., None])

    # Shadows cast downwards by cornices and balconies onto the wall.
    casters = (labels == CORNICE) | (labels == BALCONY)
    shadow = np.zeros_like(casters)
    for k in range(1, max(2, int(0.015 * S)) + 1):
        shadow[k:] |= casters[:-k]
    shadow &= labels == WALL
    img *= np.where(shadow, np.float32(rng.uniform(0.6, 0.8)), np.float32(1))[..., None]

    ft = max(1, round(0.008 * S))  # the thickness of window frames and railings
    _paint_windows(img, facade, rng, ft, (sky_top + sky_bottom) / 2)
    _paint_doors(img, facade, rng)
    _paint_balconies(img, facade, rng, ft, stone)

    angle = rng.uniform(0, 2 * np.pi)  # light falls from a random side
    light = rng.uniform(0.1, 0.45) * ((xx / S - 0.5) * np.cos(angle) + (v - 0.5) * np.sin(angle))
    img *= (np.float32(rng.uniform(0.85, 1.1)) + light)[..., None]
    img += np.float32(rng.uniform(0.008, 0.025)) * rng.standard_normal((S, S, 1), np.float32)
    photo = Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))
    return np.asarray(photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7))))


def label_image(labels):
    """The label map in PALETTE colours (H x W x 3 uint8)."""
    colours = np.array([PALETTE[c] for c in CLASSES], np.uint8)
    return colours[labels]


def make_pair(seed, split, index, size=256):
    """The A|B image (photo | label map) number `index` of `split`, as an H x 2W x 3 array."""
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    facade = sample_facade(rng, size)
    return np.concatenate([render_photo(facade, rng), label_image(facade.labels)], axis=1)


def _meta(seed, counts, size):
    return {"generator": "p2p_ref.datasets.synthetic", "version": FORMAT_VERSION, "seed": seed,
            "counts": counts, "size": size, "layout": "A|B: A (left) = photo, B (right) = "
            "label map; labels -> photo is direction BtoA",
            "palette": {name: list(rgb) for name, rgb in PALETTE.items()}}


def _complete(root, meta):
    try:
        old = json.loads((root / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return old == meta and all(len(list((root / s).glob("*.png"))) == n
                               for s, n in meta["counts"].items())


def make_synthetic_dataset(root, n_train=400, n_val=50, n_test=50, size=256, seed=0):
    """Write the synthetic facades to root/{train,val,test}/NNNN.png and root/meta.json.

    A second call with the same arguments finds meta.json and returns at once; other arguments
    regenerate the set. The files are written to a temporary folder next to `root` and
    swapped in whole. A non-empty `root` that is not a synthetic set is never overwritten.
    """
    root = Path(root)
    counts = {"train": n_train, "val": n_val, "test": n_test}
    args = {"n_train": n_train, "n_val": n_val, "n_test": n_test, "size": size}
    for name, n in args.items():
        least = 32 if name == "size" else 0
        if not isinstance(n, int) or n < least:
            raise ValueError(f"{name}={n!r}: expected a whole number >= {least}")
    meta = _meta(seed, counts, size)
    if _complete(root, meta):
        return root
    if root.exists() and not (root / "meta.json").is_file() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty and is not a synthetic set (no meta.json): "
                              f"refusing to overwrite it; choose another folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        for split, n in counts.items():
            (tmp / split).mkdir()
            for i in tqdm(range(n), desc=f"synthetic {split}", disable=n < 100):
                pair = Image.fromarray(make_pair(seed, split, i, size))
                pair.save(tmp / split / f"{i:04d}.png", compress_level=1)  # fast, nearly as small
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if root.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
            os.replace(root, old / "set")
            os.replace(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
