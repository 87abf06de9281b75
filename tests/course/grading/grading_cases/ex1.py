"""Grading cases of notebook 1 (ex1_paired_translation): wrong solutions with the test cells they
fail, and correct solutions written other ways that keep every point.

Test cells: ex1-test-split-ab, ex1-test-normalize, ex1-test-jitter-shapes,
ex1-test-jitter-aligned, ex1-test-jitter-random (2 points each).

Every requirement of the three exercise texts has a wrong case here (the comment above each
names the sentence). Smaller variants of the same mistakes are unit-tested in
tests/course/checks/test_checks_ex1.py, which is cheaper than grading a whole notebook.
"""

# The solution cells' bodies, as in solutions/ex1_paired_translation (alternatives replace them
# whole).
_SPLIT_BODY = (
    "    w, h = image.size\n"
    "    if w % 2:\n"
    "        raise ValueError(f\"the image is {w}x{h} pixels: an A|B pair needs an even width\")\n"
    "    return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))\n")
_NORMALIZE_CELL = (
    "def normalize(t):\n"
    "    \"\"\"[0, 1] -> [-1, 1], the range of the generator's Tanh.\"\"\"\n"
    "    ### BEGIN SOLUTION\n"
    "    return t * 2 - 1\n"
    "    ### END SOLUTION\n"
    "\n"
    "\n"
    "def denormalize(t):\n"
    "    \"\"\"[-1, 1] -> [0, 1], clamped, e.g. to show a generated image.\"\"\"\n"
    "    ### BEGIN SOLUTION\n"
    "    return ((t + 1) / 2).clamp(0, 1)\n"
    "    ### END SOLUTION")
_RESIZE = (
    "    a = TF.resize(a, size, interpolation=InterpolationMode.BICUBIC, antialias=True)"
    ".clamp(a.min(), a.max())\n"
    "    b = TF.resize(b, size, interpolation=InterpolationMode.BICUBIC, antialias=True)"
    ".clamp(b.min(), b.max())\n")
_POSITIONS = "    positions = load_size - crop_size + 1\n"
_DRAW_I = "    i = int(torch.randint(0, positions, (1,), generator=generator))\n"
_DRAW_J = "    j = int(torch.randint(0, positions, (1,), generator=generator))\n"
_CROP_A = "    a = a[:, i:i + crop_size, j:j + crop_size]\n"
_CROP_B = "    b = b[:, i:i + crop_size, j:j + crop_size]\n"
_FLIP = ("    if flip and torch.rand(1, generator=generator) < 0.5:\n"
         "        a, b = a.flip(-1), b.flip(-1)\n")
_JITTER_BODY_START = "    size = [load_size, load_size]\n"
_JITTER_BODY = (
    _JITTER_BODY_START
    + "    # bicubic can overshoot a little: clamp back to each input's range\n"
    + _RESIZE
    + "    # a window of crop_size pixels fits at offsets 0 .. load_size - crop_size: that is\n"
    + "    # load_size - crop_size + 1 positions (31 for 286 -> 256), and randint's `high` is "
      "excluded\n"
    + _POSITIONS + _DRAW_I + _DRAW_J + _CROP_A + _CROP_B + _FLIP
    + "    return a, b\n")


def _split(new):
    return {"cell": "ex1-split-ab", "old": _SPLIT_BODY, "new": new}


def _jitter(new):
    return {"cell": "ex1-paired-jitter", "old": _JITTER_BODY, "new": new}


MUTATIONS = [
    # ------------------------------------------------------------------------------ split_ab
    {
        # "return the pair (A, B) ... A = the left half and B = the right half"
        "name": "split_ab swaps the halves",
        "cell": "ex1-split-ab",
        "old": "return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))",
        "new": "return image.crop((w // 2, 0, w, h)), image.crop((0, 0, w // 2, h))",
        "fails": ["ex1-test-split-ab"],
    },
    {
        # "given a PIL image of width 2w and height h ... the left w x h half": cut across the
        # width, not the height
        "name": "split_ab cuts along the height",
        "cell": "ex1-split-ab",
        "old": "return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))",
        "new": "return image.crop((0, 0, w, h // 2)), image.crop((0, h // 2, w, h))",
        "fails": ["ex1-test-split-ab"],
    },
    {
        # "return the pair (A, B) of PIL images"
        "name": "split_ab returns numpy arrays",
        **_split("    x = np.asarray(image)\n"
                 "    if x.shape[1] % 2:\n"
                 "        raise ValueError(f\"{x.shape[1]}x{x.shape[0]}: an A|B pair needs an "
                 "even width\")\n"
                 "    return x[:, : x.shape[1] // 2], x[:, x.shape[1] // 2:]\n"),
        "fails": ["ex1-test-split-ab"],
    },
    {
        # "An odd width has no middle, so raise a ValueError": PIL happily cuts 513 pixels into
        # 256 + 257, only the hidden test notices
        "name": "split_ab without the odd-width error",
        "cell": "ex1-split-ab",
        "old": "    if w % 2:\n        raise ValueError(f\"the image is {w}x{h} pixels: an A|B pair "
               "needs an even width\")\n",
        "new": "",
        "fails": ["ex1-test-split-ab"],
    },
    {
        # "... a ValueError whose message names the size"
        "name": "split_ab error message without the size",
        "cell": "ex1-split-ab",
        "old": "raise ValueError(f\"the image is {w}x{h} pixels: an A|B pair needs an even width\")",
        "new": "raise ValueError(\"an A|B pair needs an even width\")",
        "fails": ["ex1-test-split-ab"],
    },
    # ------------------------------------------------------------------ normalize / denormalize
    {
        # "t' = 2t - 1 (normalize)"
        "name": "normalize shifts but does not stretch",
        "cell": "ex1-normalize",
        "old": "return t * 2 - 1",
        "new": "return t - 0.5",
        "fails": ["ex1-test-normalize"],
    },
    {
        # "t = (t' + 1) / 2 (denormalize)": operator precedence
        "name": "denormalize computes t + 1 / 2",
        "cell": "ex1-normalize",
        "old": "return ((t + 1) / 2).clamp(0, 1)",
        "new": "return (t + 1 / 2).clamp(0, 1)",
        "fails": ["ex1-test-normalize"],
    },
    {
        # "On the way back, clamp to [0, 1]"
        "name": "denormalize forgets to clamp",
        "cell": "ex1-normalize",
        "old": "return ((t + 1) / 2).clamp(0, 1)",
        "new": "return (t + 1) / 2",
        "fails": ["ex1-test-normalize"],
    },
    {
        # "Return new tensors ...; do not change t in place"
        "name": "normalize works in place",
        "cell": "ex1-normalize",
        "old": "return t * 2 - 1",
        "new": "return t.mul_(2).sub_(1)",
        "fails": ["ex1-test-normalize"],
    },
    {
        # "one image (3, H, W) or a batch (N, 3, H, W)"
        "name": "normalize only for one image",
        "cell": "ex1-normalize",
        "old": "return t * 2 - 1",
        "new": "c, h, w = t.shape\n    return (t.reshape(c, h * w) * 2 - 1).reshape(c, h, w)",
        "fails": ["ex1-test-normalize"],
    },
    {
        # "new tensors of the same shape and dtype": channels-last, ready for plt.imshow
        "name": "denormalize returns channels last for imshow",
        "cell": "ex1-normalize",
        "old": "return ((t + 1) / 2).clamp(0, 1)",
        "new": "return ((t + 1) / 2).clamp(0, 1).movedim(-3, -1)",
        "fails": ["ex1-test-normalize"],
    },
    # ---------------------------------------------------------------------------- paired_jitter
    {
        # 1. "each (C, crop_size, crop_size)"
        "name": "crop size hard-coded to 256",
        "cell": "ex1-paired-jitter",
        "old": _CROP_A + _CROP_B,
        "new": _CROP_A.replace("crop_size", "256") + _CROP_B.replace("crop_size", "256"),
        "fails": ["ex1-test-jitter-shapes"],
    },
    {
        # 1. "leaves its inputs unchanged": F.interpolate wants (N, C, H, W), and unsqueeze_
        # adds that axis to the caller's tensors too. Only the check of that requirement fails:
        # the others hand the function fresh copies.
        "name": "jitter changes its inputs in place",
        "cell": "ex1-paired-jitter",
        "old": _RESIZE,
        "new": "    a.unsqueeze_(0), b.unsqueeze_(0)\n"
               "    a = F.interpolate(a, size=size, mode=\"bicubic\", align_corners=False)[0]\n"
               "    b = F.interpolate(b, size=size, mode=\"bicubic\", align_corners=False)[0]\n",
        "fails": ["ex1-test-jitter-shapes"],
    },
    {
        # 2. "the crop is cut from the picture resized to load_size x load_size"
        "name": "crop without resizing to load_size",
        "cell": "ex1-paired-jitter",
        "old": _RESIZE,
        "new": "",
        "fails": ["ex1-test-jitter-shapes"],
    },
    {
        # 3. "every crop window that lies inside the resized picture is equally likely": the
        # classic off-by-one never uses the last offset, and cannot draw at all when
        # crop_size == load_size (a crash the shapes test reports)
        "name": "crop offsets miss the last position",
        "cell": "ex1-paired-jitter",
        "old": _POSITIONS,
        "new": "    positions = load_size - crop_size\n",
        "fails": ["ex1-test-jitter-shapes", "ex1-test-jitter-random"],
    },
    {
        # 3. "the top row i and the left column j drawn separately"
        "name": "one draw for both crop offsets",
        "cell": "ex1-paired-jitter",
        "old": _DRAW_J,
        "new": "    j = i\n",
        "fails": ["ex1-test-jitter-random"],
    },
    {
        # 4. "A and B get the same window": two independent RandomCrop's, the classic bug
        "name": "independent random crops for A and B",
        "cell": "ex1-paired-jitter",
        "old": _CROP_A + _CROP_B,
        "new": _CROP_A + _DRAW_I + _DRAW_J + _CROP_B,
        "fails": ["ex1-test-jitter-aligned"],
    },
    {
        # 4. "... and the same flip"
        "name": "flip only A",
        "cell": "ex1-paired-jitter",
        "old": "a, b = a.flip(-1), b.flip(-1)",
        "new": "a = a.flip(-1)",
        "fails": ["ex1-test-jitter-aligned"],
    },
    {
        # 5. "mirrored left-right": flip(1) on a (C, H, W) tensor mirrors top-bottom, still
        # paired but not the paper's mirror
        "name": "vertical instead of horizontal flip",
        "cell": "ex1-paired-jitter",
        "old": "a, b = a.flip(-1), b.flip(-1)",
        "new": "a, b = a.flip(1), b.flip(1)",
        "fails": ["ex1-test-jitter-random"],
    },
    {
        # 5. "with probability 1/2": randint's high is excluded, so randint(0, 1) is always 0
        "name": "flip drawn with randint 0 1 never happens",
        "cell": "ex1-paired-jitter",
        "old": "if flip and torch.rand(1, generator=generator) < 0.5:",
        "new": "if flip and torch.randint(0, 1, (1,), generator=generator).item() == 1:",
        "fails": ["ex1-test-jitter-random"],
    },
    {
        # 5. "with flip=False never"
        "name": "flip argument ignored",
        "cell": "ex1-paired-jitter",
        "old": "if flip and torch.rand(1, generator=generator) < 0.5:",
        "new": "if torch.rand(1, generator=generator) < 0.5:",
        "fails": ["ex1-test-jitter-random"],
    },
    {
        # 6. "seeded random number generators reproduce the jitter": a NumPy generator made
        # fresh inside the function draws from new OS entropy on every call
        "name": "draws from an unseeded numpy generator",
        "cell": "ex1-paired-jitter",
        "old": _DRAW_I + _DRAW_J,
        "new": "    i, j = (int(v) for v in np.random.default_rng().integers(0, positions, 2))\n",
        "fails": ["ex1-test-jitter-random"],
    },
]


# Correct solutions written the way other students would write them. Each keeps every point.
ALTERNATIVES = [
    {
        # tensor slicing for split_ab, (t - 0.5) / 0.5 and torch.clamp, and torchvision's
        # RandomCrop.get_params + TF.crop + TF.hflip on torch's global generator, the flip
        # drawn with `>` instead of `<`
        "name": "tensors, shift-scale and RandomCrop.get_params",
        "edits": [
            _split("    t = TF.to_tensor(image)\n"
                   "    width = t.shape[-1]\n"
                   "    if width % 2 == 1:\n"
                   "        raise ValueError(f\"width {width} is odd: no A|B split\")\n"
                   "    half = width // 2\n"
                   "    return TF.to_pil_image(t[..., :half]), TF.to_pil_image(t[..., half:])\n"),
            {"cell": "ex1-normalize", "old": _NORMALIZE_CELL,
             "new": "def normalize(t):\n"
                    "    return (t - 0.5) / 0.5\n"
                    "\n"
                    "\n"
                    "def denormalize(t):\n"
                    "    return torch.clamp(t * 0.5 + 0.5, min=0.0, max=1.0)\n"},
            _jitter("    from torchvision import transforms as T\n"
                    "\n"
                    "    resize = T.Resize((load_size, load_size),\n"
                    "                      interpolation=InterpolationMode.BICUBIC, antialias=True)\n"
                    "    a, b = resize(a), resize(b)\n"
                    "    top, left, h, w = T.RandomCrop.get_params(a, (crop_size, crop_size))\n"
                    "    a, b = TF.crop(a, top, left, h, w), TF.crop(b, top, left, h, w)\n"
                    "    if flip and torch.rand(1).item() > 0.5:\n"
                    "        a, b = TF.hflip(a), TF.hflip(b)\n"
                    "    return a, b\n"),
        ],
        "fails": [],
    },
    {
        # NumPy for split_ab (np.hsplit), torchvision's Normalize as the official code writes
        # it, and the pair stacked into one tensor so that one crop and one torch.flip serve
        # both, with bilinear F.interpolate and one randint for (i, j)
        "name": "numpy, Normalize and one stacked tensor",
        "edits": [
            _split("    pixels = np.asarray(image)\n"
                   "    if pixels.shape[1] % 2 != 0:\n"
                   "        raise ValueError(f\"odd width in an image of size {image.size}\")\n"
                   "    left, right = np.hsplit(pixels, 2)\n"
                   "    return Image.fromarray(left), Image.fromarray(right)\n"),
            {"cell": "ex1-normalize", "old": _NORMALIZE_CELL,
             "new": "import torchvision.transforms as T\n"
                    "\n"
                    "to_tanh_range = T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))\n"
                    "from_tanh_range = T.Normalize((-1.0, -1.0, -1.0), (2.0, 2.0, 2.0))\n"
                    "\n"
                    "\n"
                    "def normalize(t):\n"
                    "    return to_tanh_range(t)\n"
                    "\n"
                    "\n"
                    "def denormalize(t):\n"
                    "    return from_tanh_range(t).clamp(0, 1)\n"},
            _jitter("    c = a.shape[0]\n"
                    "    ab = torch.cat([a, b], dim=0)[None]          # one (1, 2C, H, W) tensor\n"
                    "    ab = F.interpolate(ab, size=(load_size, load_size), mode=\"bilinear\",\n"
                    "                       align_corners=False)[0]\n"
                    "    i, j = torch.randint(0, load_size - crop_size + 1, (2,),\n"
                    "                         generator=generator).tolist()\n"
                    "    ab = ab[:, i:i + crop_size, j:j + crop_size]\n"
                    "    if flip and torch.rand(1, generator=generator).item() < 0.5:\n"
                    "        ab = torch.flip(ab, dims=[2])\n"
                    "    return ab[:c], ab[c:]\n"),
        ],
        "fails": [],
    },
    {
        # the official code's idiom (base_dataset.get_params / get_transform): Python's random
        # draws the crop position and the flip first, then one transform is applied to A and B
        "name": "official get_params and transform idiom",
        "edits": [
            _jitter("    params = get_params(load_size, crop_size)\n"
                    "    return (transform(a, params, load_size, crop_size, flip),\n"
                    "            transform(b, params, load_size, crop_size, flip))\n"
                    "\n"
                    "\n"
                    "def get_params(load_size, crop_size):\n"
                    "    x = random.randint(0, np.maximum(0, load_size - crop_size))\n"
                    "    y = random.randint(0, np.maximum(0, load_size - crop_size))\n"
                    "    return {\"crop_pos\": (x, y), \"flip\": random.random() > 0.5}\n"
                    "\n"
                    "\n"
                    "def transform(img, params, load_size, crop_size, flip):\n"
                    "    img = TF.resize(img, [load_size, load_size],\n"
                    "                    interpolation=InterpolationMode.BICUBIC, antialias=True)\n"
                    "    x, y = params[\"crop_pos\"]\n"
                    "    img = TF.crop(img, y, x, crop_size, crop_size)\n"
                    "    if flip and params[\"flip\"]:\n"
                    "        img = TF.hflip(img)\n"
                    "    return img\n"
                    "\n"
                    "\n"
                    "import random\n"),
        ],
        "fails": [],
    },
    {
        # through PIL as the official code works on images: NumPy's global generator, a loop
        # over the two halves, Image.resize / crop / transpose; split_ab via a helper and a
        # loop over the two boxes; denormalize written with torch.where
        "name": "PIL pipeline with numpy draws and helpers",
        "edits": [
            _split("    return tuple(_half(image, side) for side in (\"left\", \"right\"))\n"
                   "\n"
                   "\n"
                   "def _half(image, side):\n"
                   "    width, height = image.size\n"
                   "    if width % 2:\n"
                   "        raise ValueError(f\"{width}x{height} image: odd width, no middle\")\n"
                   "    left = 0 if side == \"left\" else width // 2\n"
                   "    return image.crop((left, 0, left + width // 2, height))\n"),
            {"cell": "ex1-normalize", "old": "return ((t + 1) / 2).clamp(0, 1)",
             "new": "u = (t + 1) / 2\n"
                    "    u = torch.where(u < 0, torch.zeros_like(u), u)\n"
                    "    return torch.where(u > 1, torch.ones_like(u), u)"},
            _jitter("    top, left = np.random.randint(0, load_size - crop_size + 1, size=2)\n"
                    "    mirror = flip and np.random.rand() < 0.5\n"
                    "    out = []\n"
                    "    for t in (a, b):\n"
                    "        img = Image.fromarray((t.permute(1, 2, 0).numpy() * 255).round()\n"
                    "                              .astype(np.uint8))\n"
                    "        img = img.resize((load_size, load_size), Image.BICUBIC)\n"
                    "        img = img.crop((left, top, left + crop_size, top + crop_size))\n"
                    "        if mirror:\n"
                    "            img = img.transpose(Image.FLIP_LEFT_RIGHT)\n"
                    "        out.append(TF.to_tensor(img))\n"
                    "    return out[0], out[1]\n"),
        ],
        "fails": [],
    },
    {
        # torch's global generator (no generator passed on), rows and columns drawn in the other
        # order, the flip decided before the crop, crop with narrow()
        "name": "global torch generator, flip first, narrow",
        "edits": [
            _jitter("    do_flip = bool(flip) and bool(torch.rand(()) < 0.5)\n"
                    "    j = torch.randint(load_size - crop_size + 1, ()).item()\n"
                    "    i = torch.randint(load_size - crop_size + 1, ()).item()\n"
                    "    out = []\n"
                    "    for t in (a, b):\n"
                    "        t = TF.resize(t, [load_size, load_size], antialias=True)\n"
                    "        t = t.narrow(1, i, crop_size).narrow(2, j, crop_size)\n"
                    "        out.append(torch.flip(t, [2]) if do_flip else t)\n"
                    "    return tuple(out)\n"),
        ],
        "fails": [],
    },
]

# Correct solutions in idioms the issue on designed exercises (17) asked for, added when the
# lesson stopped giving the code pieces: torchvision.transforms.v2 on a pair of tv_tensors
# (one call, one set of random parameters for both), every random choice from the one
# `generator`, and NumPy or uint8 tensors for the split.
ALTERNATIVES += [
    {
        # split_ab on uint8 tensors with chunk, normalize as a lerp, denormalize clamping first
        # (hardtanh); the jitter as ONE transforms.v2 pipeline called on both images at once
        "name": "transforms v2 on a pair of tv_tensors",
        "edits": [
            _split("    t = TF.pil_to_tensor(image)                  # uint8 (C, H, W)\n"
                   "    if t.shape[-1] % 2:\n"
                   "        raise ValueError(f\"{image.width}x{image.height}: the width is odd\")\n"
                   "    a, b = t.chunk(2, dim=-1)\n"
                   "    return TF.to_pil_image(a), TF.to_pil_image(b)\n"),
            {"cell": "ex1-normalize", "old": _NORMALIZE_CELL,
             "new": "def normalize(t):\n"
                    "    return torch.lerp(torch.full_like(t, -1.0), torch.ones_like(t), t)\n"
                    "\n"
                    "\n"
                    "def denormalize(t):\n"
                    "    return F.hardtanh(t, -1.0, 1.0).add(1.0).div(2.0)\n"},
            _jitter("    from torchvision import tv_tensors\n"
                    "    from torchvision.transforms import v2\n"
                    "\n"
                    "    steps = [v2.Resize((load_size, load_size),\n"
                    "                       interpolation=InterpolationMode.BICUBIC, antialias=True),\n"
                    "             v2.RandomCrop(crop_size)]\n"
                    "    if flip:\n"
                    "        steps.append(v2.RandomHorizontalFlip(p=0.5))\n"
                    "    # tv_tensors.Image marks both as images: a plain second tensor would pass\n"
                    "    # through v2 untouched\n"
                    "    a, b = v2.Compose(steps)(tv_tensors.Image(a), tv_tensors.Image(b))\n"
                    "    return a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor)\n"),
        ],
        "fails": [],
    },
    {
        # np.split (which refuses an odd width by itself, re-raised with the size); the pair
        # stacked into one batch for F.interpolate (bicubic, antialiased); all three random
        # choices from one torch.rand(3, generator=generator)
        "name": "one generator draw for crop and flip, np.split",
        "edits": [
            _split("    pixels = np.asarray(image)\n"
                   "    try:\n"
                   "        left, right = np.split(pixels, 2, axis=1)\n"
                   "    except ValueError:\n"
                   "        raise ValueError(f\"{image.width}x{image.height} has no middle column\") from None\n"
                   "    return Image.fromarray(left), Image.fromarray(right)\n"),
            _jitter("    u = torch.rand(3, generator=generator)        # row, column, mirror\n"
                    "    n = load_size - crop_size + 1\n"
                    "    i, j = (u[:2] * n).long().clamp(max=n - 1).tolist()\n"
                    "    pair = torch.stack([a, b])                   # (2, C, H, W)\n"
                    "    pair = F.interpolate(pair, size=(load_size, load_size), mode=\"bicubic\",\n"
                    "                         align_corners=False, antialias=True)\n"
                    "    pair = pair[..., i:i + crop_size, j:j + crop_size]\n"
                    "    if flip and u[2] < 0.5:\n"
                    "        pair = pair.flip(-1)\n"
                    "    return pair[0], pair[1]\n"),
        ],
        "fails": [],
    },
    {
        # divmod and a generator of the two boxes for split_ab; torch.sub / torch.clip; the crop
        # offsets as two choices of torch.multinomial and the mirror as randint(2), all from the
        # generator, applied by a nested helper with TF.resize / TF.crop / TF.hflip
        "name": "multinomial offsets, a nested helper, divmod boxes",
        "edits": [
            _split("    half, odd = divmod(image.width, 2)\n"
                   "    if odd:\n"
                   "        raise ValueError(f\"odd width: {image.width} x {image.height}\")\n"
                   "    return tuple(image.crop((k * half, 0, (k + 1) * half, image.height))\n"
                   "                 for k in range(2))\n"),
            {"cell": "ex1-normalize", "old": _NORMALIZE_CELL,
             "new": "def normalize(t):\n"
                    "    return torch.sub(torch.mul(t, 2.0), 1.0)\n"
                    "\n"
                    "\n"
                    "def denormalize(t):\n"
                    "    return torch.clip((t + 1.0) * 0.5, 0.0, 1.0)\n"},
            _jitter("    n = load_size - crop_size + 1\n"
                    "    i, j = torch.multinomial(torch.ones(n), 2, replacement=True,\n"
                    "                             generator=generator).tolist()\n"
                    "    mirror = flip and torch.randint(2, (), generator=generator).item() == 1\n"
                    "\n"
                    "    def one(t):\n"
                    "        t = TF.resize(t, [load_size, load_size], antialias=True)\n"
                    "        t = TF.crop(t, i, j, crop_size, crop_size)\n"
                    "        return TF.hflip(t) if mirror else t\n"
                    "\n"
                    "    return one(a), one(b)\n"),
        ],
        "fails": [],
    },
]
