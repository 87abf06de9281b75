"""Checks for lesson 3's PatchGAN-depth experiment (pix2pix sec. 4.4): the PREDICTION, then `colourfulness`.

`prediction` only checks that the prediction is well formed (whether it is right earns no points:
the lesson measures it). `colourfulness(images)` is compared with
p2p_ref.paper.patch_metrics.colourfulness (Hasler and Suesstrunk 2003), and the usual slips (the
[-1, 1] or [0, 1] scale instead of 0..255, variances instead of standard deviations, the 0.3
dropped, one number for the whole batch) are named. The notebook reaches these checks as
`check.prediction` and `check.colourfulness` on p2p_ref.course.checks.ex3.
"""

import numbers

import torch

from p2p_ref.course.checks.common import ensure_own_code, fail, passed, prediction_keys
from p2p_ref.paper import patch_metrics

SWEEP_DEPTHS = (0, 1, 2, 4)   # n_layers of the four discriminators of the committed sweep
PREDICTION_KEYS = ("sharpest", "most_colourful", "tiles")


def prediction(prediction):
    """Check that PREDICTION is well formed; whether it is right is not graded."""
    where = "your PREDICTION cell"
    expected = ("a dict {'sharpest': n, 'most_colourful': n, 'tiles': n}, each n the n_layers of one of "
                "the four discriminators: 0, 1, 2 or 4 (an int)")
    prediction_keys(prediction, PREDICTION_KEYS, expected, where)
    for key in PREDICTION_KEYS:
        value = prediction[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) not in SWEEP_DEPTHS:
            fail(f"PREDICTION[{key!r}] = {value!r}", "one of the sweep's depths n_layers = 0, 1, 2 or 4, as an int "
                 "(0 is the 1 x 1 PixelGAN, 4 sees the whole 64 x 64 image)", where)
    passed(f"prediction recorded: sharpest at n_layers = {prediction['sharpest']}, most colourful at "
           f"{prediction['most_colourful']}, tiling at {prediction['tiles']}. Whether it is right earns no "
           "points: the next cells measure it")


def _unbiased(images):
    """The metric with torch's default .std() (n - 1 in the denominator): also accepted, it differs
    from the population standard deviation by a factor sqrt(n / (n - 1)) only."""
    rgb = (images + 1) * 127.5
    r, g, b = (rgb[:, i].flatten(1) for i in range(3))
    rg, yb = r - g, (r + g) / 2 - b
    return (rg.std(1) ** 2 + yb.std(1) ** 2).sqrt() + 0.3 * (rg.mean(1) ** 2 + yb.mean(1) ** 2).sqrt()


def _slips(images):
    """What the usual wrong versions of the metric give, with a hint for each."""
    rgb = (images + 1) * 127.5
    r, g, b = (rgb[:, i].flatten(1) for i in range(3))
    rg, yb = r - g, (r + g) / 2 - b
    var = lambda t: t.var(dim=1, unbiased=False)  # noqa: E731
    spread, strength = (var(rg) + var(yb)).sqrt(), (rg.mean(1) ** 2 + yb.mean(1) ** 2).sqrt()
    right = spread + 0.3 * strength
    return [
        (right / 127.5, "it is measured on the [-1, 1] scale: rescale to 0..255 first, (images + 1) * 127.5"),
        (right / 255, "it is measured on the [0, 1] scale: Hasler and Suesstrunk's numbers are on 0..255"),
        (var(rg) + var(yb) + 0.3 * strength,
         "the variances are added without the square root: sigma_rgyb = sqrt(sigma_rg^2 + sigma_yb^2)"),
        (spread, "the 0.3 * mu_rgyb term (the mean strength of the opponent colours) is missing"),
        (spread + strength, "the mean strength must be weighted by 0.3"),
        (((rg.std(1) + yb.std(1)) + 0.3 * (rg.mean(1).abs() + yb.mean(1).abs())),
         "the two opponent channels are combined by a sum: sigma_rgyb = sqrt(sigma_rg^2 + sigma_yb^2), "
         "and the same for the means"),
    ]


def _check(colourfulness, images, where, case):
    want = patch_metrics.colourfulness(images)
    try:
        got = colourfulness(images.clone())
    except Exception as e:  # noqa: BLE001 - the student's code may raise anything
        fail(f"colourfulness raised {type(e).__name__}: {e} on {case}", "one number per image", where)
    if isinstance(got, (list, tuple)):
        got = torch.as_tensor(got, dtype=torch.float32)
    if not isinstance(got, torch.Tensor) or got.numel() != len(images):
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        fail(f"colourfulness returned {shape} for {case}", f"a tensor of {len(images)} numbers, one per image",
             f"{where}: reduce over the pixels of each image (dim=1 after .flatten(1)), not over the batch")
    got = got.detach().double().flatten()
    close = lambda a, b: torch.allclose(a, b.double().flatten(), rtol=1e-3, atol=1e-3)  # noqa: E731
    if not (close(got, want) or close(got, _unbiased(images.double()))):
        hint = next((h for value, h in _slips(images.double())
                     if torch.allclose(got, value.double().flatten(), rtol=5e-3, atol=1e-3)), None)
        fail(f"colourfulness = {[round(v, 3) for v in got.tolist()]} for {case}" + (f": {hint}" if hint else ""),
             f"{[round(v, 3) for v in want.tolist()]}", where)


def _test_images():
    g = torch.Generator().manual_seed(3)
    grey = torch.rand(1, 1, 16, 16, generator=g).expand(1, 3, 16, 16) * 2 - 1
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    noisy = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    return torch.cat([grey, red, noisy])


def colourfulness(colourfulness):
    """Check colourfulness(images) -> one number per image against the reference."""
    ensure_own_code(colourfulness, "colourfulness")
    where = "your `colourfulness`"
    _check(colourfulness, _test_images(), where, "a grey image, a pure red one and two random ones")
    passed("colourfulness: a grey image scores 0; per image, on the 0..255 scale of Hasler and Suesstrunk")


def colourfulness_more(colourfulness):
    """Hidden: other sizes, one image, non-square images."""
    ensure_own_code(colourfulness, "colourfulness")
    g = torch.Generator().manual_seed(4)
    for shape in ((1, 3, 64, 64), (3, 3, 24, 40)):
        images = (torch.rand(shape, generator=g) * 2 - 1).clamp(-1, 1) * torch.rand(shape[0], 1, 1, 1, generator=g)
        _check(colourfulness, images, "your `colourfulness`", f"{shape[0]} image(s) of {shape[2]} x {shape[3]}")
    passed("colourfulness: one image, other sizes")
