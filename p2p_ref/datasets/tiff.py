"""TIFF files through tifffile, the library made for them: 16-bit RGB at full precision.

Pillow reads a 16-bit RGB TIFF as 8-bit RGB (the low byte is lost) and cannot write one.
tifffile reads grayscale and RGB(A) TIFFs of any bit depth as they are stored; what it cannot
decode (palette or YCbCr images, LZW or JPEG compression without the `imagecodecs` package) is
left to Pillow when nothing is lost there, and refused with the reason otherwise.
"""

from pathlib import Path

import numpy as np
import tifffile

TIFF_EXTENSIONS = (".tif", ".tiff")


def is_tiff(path):
    return Path(path).suffix.lower() in TIFF_EXTENSIONS


def tiff_header(path):
    """(width, height, channels, bits, alpha) of a TIFF's first page, from its header."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        return (page.imagewidth, page.imagelength, page.samplesperpixel,
                page.bitspersample, bool(page.extrasamples))


def read_tiff(path):
    """A TIFF's first page as an H x W [x C] array as stored (uint8, uint16, float, ...), or None
    where Pillow reads it without loss (palette, YCbCr, a compression tifffile cannot decode on
    an 8-bit or single-channel image). Raises ValueError for a truncated file, and for a 16-bit
    colour image that only Pillow could open, since Pillow would cut it to 8 bits."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if page.photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB):
            return None
        try:
            arr = page.asarray()
        except (ValueError, NotImplementedError) as e:
            if "imagecodecs" not in str(e):
                raise ValueError(str(e)) from e  # truncated or corrupt: the caller names the file
            if page.bitspersample <= 8 or page.samplesperpixel == 1:
                return None
            raise ValueError(f"{e} (pip install imagecodecs); Pillow would cut its "
                             f"{page.bitspersample}-bit colour to 8 bits") from e
        if page.samplesperpixel > 1 and page.planarconfig == tifffile.PLANARCONFIG.SEPARATE:
            arr = np.moveaxis(arr, 0, -1)
    return arr


def write_tiff(arr, path):
    """An H x W [x C] array (1, 3 or 4 channels; uint8 or uint16) as a zlib-compressed TIFF."""
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    photometric = "minisblack" if channels == 1 else "rgb"
    extrasamples = ("unassalpha",) if channels == 4 else None
    tifffile.imwrite(path, arr[:, :, 0] if arr.ndim == 3 and channels == 1 else arr,
                     photometric=photometric, extrasamples=extrasamples, compression="zlib")
    return Path(path)
