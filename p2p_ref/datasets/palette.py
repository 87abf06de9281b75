"""The CMP facades palette: one colour per class of a label map.

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
