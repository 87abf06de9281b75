"""Image files <-> [0, 1] tensors, without silent losses: bit depth, channels, formats.

Pillow opens most formats, but left alone it loses information on real data: a 16-bit PNG
converted to RGB is clipped at 255 (almost white), a 16-bit RGB PNG is cut to 8 bits, an alpha
channel disappears. Here every file becomes a float tensor (C, H, W) in [0, 1] at its full
precision (16-bit PNGs through torchvision's decoder, TIFFs through tifffile: tiff.py), and
`match_channels` says what it does to
reach the channel count the model expects (--input-nc / --output-nc). `.npy` arrays hold any
channel count (H x W or H x W x C; uint8, uint16, or floats in [0, 1]).
"""

import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from p2p_ref.datasets.tiff import is_tiff, read_tiff, tiff_header, write_tiff

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".npy")
READ_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, struct.error,
               RuntimeError)


def is_image_file(path):
    """True for a visible file with one of IMAGE_EXTENSIONS."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


@dataclass
class ImageInfo:
    """What a file holds, from its header: size, channels, bits per channel, alpha."""
    path: Path
    width: int
    height: int
    channels: int
    bits: int
    alpha: bool
    mode: str     # Pillow's mode, or "npy"

    @property
    def size(self):
        return self.width, self.height


def _png_header(path):
    """(bit depth, colour type) from a PNG's IHDR chunk, or None for other files."""
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # colour type -> channels (3 = palette)
_MODE_CHANNELS = {"1": 1, "L": 1, "P": 3, "LA": 2, "La": 2, "PA": 4, "RGB": 3, "RGBA": 4,
                  "RGBa": 4, "CMYK": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "I": 1, "F": 1,
                  "I;16": 1, "I;16L": 1, "I;16B": 1, "I;16N": 1}


def probe(path):
    """ImageInfo of a file from its header only (cheap: nothing is decoded).
    Raises ValueError naming the file when it is not a readable image."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if arr.ndim not in (2, 3):
                raise ValueError(f"an array of shape {arr.shape}")
            c = 1 if arr.ndim == 2 else arr.shape[2]
            bits = 16 if arr.dtype == np.uint16 else 8 if arr.dtype == np.uint8 else 32
            return ImageInfo(path, arr.shape[1], arr.shape[0], c, bits, False, "npy")
        if is_tiff(path):
            w, h, c, bits, alpha = tiff_header(path)
            return ImageInfo(path, w, h, c, bits, alpha, "tiff")
        png = _png_header(path)
        with Image.open(path) as img:
            w, h, mode = img.width, img.height, img.mode
            transparent = "transparency" in img.info
    except READ_ERRORS as e:
        raise ValueError(f"cannot read {path}: {e}. Expected an image file "
                         f"({', '.join(IMAGE_EXTENSIONS)})") from e
    if png is not None:
        bits, colour = png
        channels = _PNG_CHANNELS.get(colour, 3)
        if colour == 3 and transparent:
            channels = 4
        return ImageInfo(path, w, h, channels, 8 if colour == 3 else bits,
                         colour in (4, 6) or transparent, mode)
    channels = _MODE_CHANNELS.get(mode, 3)
    if mode == "P" and transparent:
        channels = 4
    bits = 16 if mode.startswith("I;16") or mode == "I" else 32 if mode == "F" else 8
    return ImageInfo(path, w, h, channels, bits, mode in ("LA", "La", "PA", "RGBA", "RGBa")
                     or (mode == "P" and transparent), mode)


def _from_array(arr, path):
    """H x W [x C] array -> float (C, H, W) tensor in [0, 1]."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype == np.uint8:
        t = torch.from_numpy(np.ascontiguousarray(arr)).float() / 255
    elif arr.dtype == np.uint16:
        t = torch.from_numpy(arr.astype(np.float32)) / 65535
    elif arr.dtype in (np.int32, np.int64, np.uint32):  # Pillow's "I": 16-bit values in int32
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError(f"{path} holds integers from {arr.min()} to {arr.max()}: expected "
                             f"8-bit (0-255) or 16-bit (0-65535) values")
        t = torch.from_numpy(arr.astype(np.float32)) / 65535
    elif np.issubdtype(arr.dtype, np.floating):
        if arr.size and (np.nanmin(arr) < 0 or np.nanmax(arr) > 1 or np.isnan(arr).any()):
            raise ValueError(f"{path} holds floats from {np.nanmin(arr):.4g} to "
                             f"{np.nanmax(arr):.4g}: expected values in [0, 1] (scale them first)")
        t = torch.from_numpy(arr.astype(np.float32))
    elif arr.dtype == bool:
        t = torch.from_numpy(arr.astype(np.float32))
    else:
        raise ValueError(f"{path} holds {arr.dtype} values: expected uint8, uint16 or floats "
                         f"in [0, 1]")
    return t.permute(2, 0, 1).contiguous()


def _decode_png16(path):
    """A 16-bit PNG at full precision through torchvision's decoder, or None where this
    torchvision has none (Pillow then reads it; 16-bit RGB loses its low byte there)."""
    try:
        with warnings.catch_warnings():  # torchvision >= 0.29 points to TorchCodec
            warnings.simplefilter("ignore", DeprecationWarning)
            from torchvision.io import ImageReadMode, decode_png, read_file
            t = decode_png(read_file(str(path)), mode=ImageReadMode.UNCHANGED)
    except (ImportError, AttributeError):
        return None
    return t.to(torch.int32).float() / 65535


def read_image(path):
    """A file as a float tensor (C, H, W) in [0, 1] at its full precision: 8-bit images / 255,
    16-bit ones (PNG, TIFF) / 65535. Palette images become RGB (RGBA with transparency), CMYK and
    other colour spaces RGB. Raises ValueError naming the file when it is unreadable or
    truncated."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            return _from_array(np.load(path, allow_pickle=False), path)
        arr = read_tiff(path) if is_tiff(path) else None
        if arr is not None:
            return _from_array(arr, path)
        png = _png_header(path)
        if png is not None and png[0] == 16:  # Pillow would cut 16-bit RGB to 8 bits
            t = _decode_png16(path)
            if t is not None:
                return t
        with Image.open(path) as img:
            img.load()
            if img.mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                img = img.convert("RGB")
            elif img.mode in ("1", "La", "RGBa", "PA"):
                img = img.convert({"1": "L", "La": "LA", "RGBa": "RGBA", "PA": "RGBA"}[img.mode])
            arr = np.array(img)
    except READ_ERRORS as e:
        raise ValueError(f"cannot read {path}: {e}. Expected a complete image file; re-download "
                         f"or regenerate it") from e
    return _from_array(arr, path)


def channel_plan(channels, alpha, nc):
    """What `match_channels` does to an image of `channels` channels (alpha: whether the last one
    is transparency) to give `nc`: None when nothing changes, else a short phrase. Raises
    ValueError when no sensible conversion exists."""
    if channels == nc:
        return None
    colour = channels - 1 if alpha else channels  # channels without the alpha
    if nc == 3 and colour == 1:
        return "grayscale repeated to 3 channels" + (" (alpha dropped)" if alpha else "")
    if nc == 3 and colour == 3:
        return "alpha channel dropped"
    if nc == 1 and colour in (1, 3):
        return (("converted to grayscale (ITU-R 601 luma)" if colour == 3 else "")
                + (" (alpha dropped)" if alpha else "")).strip()
    if nc == 4 and colour in (1, 3):
        return (("grayscale repeated to RGB, " if colour == 1 else "")
                + ("an opaque alpha channel added" if not alpha else "alpha kept"))
    raise ValueError(f"an image with {channels} channel(s){' (with alpha)' if alpha else ''} "
                     f"cannot become {nc} channel(s)")


def match_channels(t, nc, alpha=None, path="the image"):
    """t (C, H, W) with nc channels: grayscale -> RGB by repetition, RGB -> grayscale by luma
    (0.299 R + 0.587 G + 0.114 B), an alpha channel (the last of 2 or 4) dropped, an opaque one
    added for nc = 4. alpha=None assumes alpha for 2 and 4 channels. ValueError otherwise."""
    c = t.shape[0]
    if c == nc:
        return t
    alpha = c in (2, 4) if alpha is None else alpha
    try:
        channel_plan(c, alpha, nc)
    except ValueError as e:
        raise ValueError(f"{path}: {e}. Set --input-nc / --output-nc to the data's channel "
                         f"counts") from None
    colour = t[:-1] if alpha else t
    if nc == 4:
        rgb = colour.expand(3, -1, -1) if colour.shape[0] == 1 else colour
        return torch.cat([rgb, t[-1:] if alpha else torch.ones_like(colour[:1])])
    if nc == 3:
        return colour.expand(3, -1, -1).clone() if colour.shape[0] == 1 else colour
    if colour.shape[0] == 1:
        return colour
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=t.dtype).view(3, 1, 1)
    return (colour * weights).sum(0, keepdim=True)


def load_as(path, nc):
    """read_image + match_channels: the file as an nc-channel [0, 1] tensor."""
    t = read_image(path)
    return match_channels(t, nc, path=path)


def write_image(t, path, bits=8):
    """Save a [0, 1] tensor (C, H, W). 1, 3 or 4 channels -> PNG (8-bit), or a TIFF for a .tif
    path; bits=16: a 16-bit PNG for 1 channel, a 16-bit TIFF (tifffile) for 3 or 4 channels,
    which PNG writers here cannot do. Other channel counts -> .npy (float32). Returns the path
    written (its suffix may change to .tif or .npy)."""
    path = Path(path)
    t = t.detach().float().cpu().clamp(0, 1)
    c = t.shape[0]
    if c not in (1, 3, 4) or path.suffix.lower() == ".npy":
        path = path.with_suffix(".npy")
        np.save(path, t.permute(1, 2, 0).numpy())
        return path
    if bits not in (8, 16):
        raise ValueError(f"bits={bits!r}: expected 8 or 16")
    scale, dtype = (65535, np.uint16) if bits == 16 else (255, np.uint8)
    arr = (t.permute(1, 2, 0).numpy() * scale + 0.5).astype(dtype)
    if is_tiff(path) or (bits == 16 and c > 1):
        return write_tiff(arr, path if is_tiff(path) else path.with_suffix(".tif"))
    if bits == 16:
        Image.fromarray(arr[:, :, 0]).save(path)
        return path
    Image.fromarray(arr[:, :, 0] if c == 1 else arr).save(path)
    return path
