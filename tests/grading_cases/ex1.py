"""Realistic wrong solutions of notebook 1 (ex1_paired_translation) and the test cells they fail.

Test cells: ex1-test-split-ab, ex1-test-normalize, ex1-test-jitter-shapes,
ex1-test-jitter-aligned, ex1-test-jitter-random (2 points each).
"""

_DRAW_I = "    i = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))\n"
_DRAW_J = "    j = int(torch.randint(0, load_size - crop_size + 1, (1,), generator=generator))\n"
_CROP_A = "    a = a[:, i:i + crop_size, j:j + crop_size]\n"
_CROP_B = "    b = b[:, i:i + crop_size, j:j + crop_size]\n"

MUTATIONS = [
    {
        # two independent RandomCrop's, one per image: the classic paired-data bug
        "name": "independent random crops for A and B",
        "cell": "ex1-paired-jitter",
        "old": _CROP_A + _CROP_B,
        "new": _CROP_A + _DRAW_I + _DRAW_J + _CROP_B,
        "fails": ["ex1-test-jitter-aligned"],
    },
    {
        "name": "flip only A",
        "cell": "ex1-paired-jitter",
        "old": "a, b = a.flip(-1), b.flip(-1)",
        "new": "a = a.flip(-1)",
        "fails": ["ex1-test-jitter-aligned"],
    },
    {
        # flip(1) on a (C, H, W) tensor mirrors top-bottom: still paired, but not the paper's
        # left-right mirror (caught by the hidden randomness test, which looks for mirroring)
        "name": "vertical instead of horizontal flip",
        "cell": "ex1-paired-jitter",
        "old": "a, b = a.flip(-1), b.flip(-1)",
        "new": "a, b = a.flip(1), b.flip(1)",
        "fails": ["ex1-test-jitter-random"],
    },
    {
        "name": "random draws ignore the generator",
        "cell": "ex1-paired-jitter",
        "old": _DRAW_I + _DRAW_J,
        "new": _DRAW_I.replace(", generator=generator", "")
        + _DRAW_J.replace(", generator=generator", ""),
        "fails": ["ex1-test-jitter-random"],
    },
    {
        "name": "crop without resizing to load_size",
        "cell": "ex1-paired-jitter",
        "old": "    a = TF.resize(a, size, interpolation=InterpolationMode.BICUBIC, "
               "antialias=True).clamp(a.min(), a.max())\n"
               "    b = TF.resize(b, size, interpolation=InterpolationMode.BICUBIC, "
               "antialias=True).clamp(b.min(), b.max())\n",
        "new": "",
        "fails": ["ex1-test-jitter-shapes"],
    },
    {
        "name": "denormalize forgets to clamp",
        "cell": "ex1-normalize",
        "old": "return ((t + 1) / 2).clamp(0, 1)",
        "new": "return (t + 1) / 2",
        "fails": ["ex1-test-normalize"],
    },
    {
        "name": "normalize shifts but does not stretch",
        "cell": "ex1-normalize",
        "old": "return t * 2 - 1",
        "new": "return t - 0.5",
        "fails": ["ex1-test-normalize"],
    },
    {
        "name": "split_ab swaps the halves",
        "cell": "ex1-split-ab",
        "old": "return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))",
        "new": "return image.crop((w // 2, 0, w, h)), image.crop((0, 0, w // 2, h))",
        "fails": ["ex1-test-split-ab"],
    },
    {
        # PIL happily cuts 513 pixels into 256 + 257: only the hidden test notices
        "name": "split_ab without the odd-width error",
        "cell": "ex1-split-ab",
        "old": "    if w % 2:\n        raise ValueError(f\"the image is {w}x{h} pixels: an A|B pair "
               "needs an even width\")\n",
        "new": "",
        "fails": ["ex1-test-split-ab"],
    },
]
