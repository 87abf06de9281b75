"""The receptive-field explorer: how depth, kernel and stride set the PatchGAN's patch size.

`receptive_field_explorer()` returns a widget with three sliders (n_layers, kernel size, stride of
the down-sampling convs). For the discriminator they describe (the layout of
p2p_ref.paper.models.PatchDiscriminator: n_layers convs with that stride, then two stride-1 convs, padding
1) it shows

* a readout: the analytic receptive field (Araujo et al., Distill 2019), the field measured from the
  input gradient of one output unit, the output grid for a 256 x 256 pair and the effective stride;
* a drawing: the field of the centre output unit (and of its right-hand neighbour) on an image,
  with the centre of every output unit's field, next to D's output grid.

`explorer.update(n_layers=2)` changes the settings from code, exactly as moving a slider does.
"""

import io

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image
from torch import nn

from p2p_ref.paper.receptive_field import measure_receptive_field, output_size, receptive_field
from p2p_ref.datasets.synthetic import make_pair

IMAGE_SIZE = 256  # the pix2pix crop; the drawing and the output grid are for this input size
MEASURE_NDF = 4  # a thin network is enough to measure where the gradient reaches
MAX_MEASURE_SIZE = 1024  # larger fields are reported, not measured


def discriminator_geometry(n_layers=3, kernel_size=4, stride=2):
    """(kernel, stride, padding) of each conv of a PatchGAN-style D.

    n_layers convs with `stride`, then two with stride 1, all with padding 1 (as in the paper's
    70 x 70 D when kernel 4, stride 2, n_layers 3). n_layers = 0 is the 1 x 1 PixelGAN: three
    1 x 1 convs, whatever the kernel and stride.
    """
    if n_layers == 0:
        return [(1, 1, 0)] * 3
    return [(kernel_size, stride, 1)] * n_layers + [(kernel_size, 1, 1)] * 2


def thin_discriminator(layers, ndf=MEASURE_NDF, in_channels=6):
    """A small random D with this geometry (Conv -> BatchNorm -> LeakyReLU, no norm on the first
    and last conv), used only to measure the field; put in eval mode by the measurement."""
    modules, width = [], in_channels
    for i, (k, s, p) in enumerate(layers):
        last = i == len(layers) - 1
        out = 1 if last else ndf * min(2 ** i, 8)
        modules.append(nn.Conv2d(width, out, k, stride=s, padding=p))
        if not last:
            if i > 0:
                modules.append(nn.BatchNorm2d(out))
            modules.append(nn.LeakyReLU(0.2))
        width = out
    return nn.Sequential(*modules)


def measure_input_size(layers):
    """An input side whose centre output unit sees a field strictly inside the image, or None
    when that needs more than MAX_MEASURE_SIZE pixels."""
    field = receptive_field(layers)
    n = max(16, field.size + 2)
    while n <= MAX_MEASURE_SIZE:
        try:
            h = output_size(layers, n)
        except ValueError:
            h = 0
        if h >= 1:
            start = (h // 2) * field.stride - field.padding
            if start >= 1 and start + field.size <= n - 1:
                return n
        n += 1
    return None


def measured_field(layers, seed=0):
    """The field side measured from the input gradient of the centre output unit, or None if too big."""
    n = measure_input_size(layers)
    if n is None:
        return None
    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convs: one thread beats several (no synchronisation)
    try:
        return measure_receptive_field(thin_discriminator(layers), input_size=n)
    finally:
        torch.set_num_threads(threads)


def default_image():
    """A synthetic facade photo (p2p_ref.datasets.synthetic), 256 x 256 x 3 uint8."""
    pair = make_pair(seed=0, split="test", index=0, size=IMAGE_SIZE)
    return pair[:, :IMAGE_SIZE]


def as_rgb_array(image):
    """A 256 x 256 x 3 uint8 array from a PIL image, an H x W (x 3) array or a 3 x H x W tensor
    (values in [0, 1], [-1, 1] or 0..255)."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    elif isinstance(image, torch.Tensor):
        t = image.detach().cpu().float()
        if t.ndim != 3 or t.shape[0] not in (1, 3):
            raise ValueError(f"image tensor of shape {tuple(t.shape)}: expected 3 x H x W or 1 x H x W")
        if t.min() < 0:
            t = (t + 1) / 2
        image = (t.clamp(0, 1).permute(1, 2, 0).expand(-1, -1, 3).numpy() * 255).astype(np.uint8)
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"image of shape {image.shape}: expected H x W x 3 (RGB), H x W or a PIL image")
    if image.dtype != np.uint8:
        scale = 255 if image.max() <= 1.0 else 1
        image = (np.clip(image * scale, 0, 255)).astype(np.uint8)
    pil = Image.fromarray(image[..., :3])
    if pil.size != (IMAGE_SIZE, IMAGE_SIZE):
        pil = pil.resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)
    return np.asarray(pil)


class ReceptiveFieldExplorer(widgets.VBox):
    """Sliders for n_layers, kernel size and stride; a text readout; the field drawn on an image."""

    def __init__(self, image=None, n_layers=3, kernel_size=4, stride=2):
        self.image = as_rgb_array(default_image() if image is None else image)
        style = {"description_width": "150px"}
        layout = widgets.Layout(width="460px")
        self.n_layers = widgets.IntSlider(value=n_layers, min=0, max=5, description="n_layers",
                                          style=style, layout=layout)
        self.kernel_size = widgets.IntSlider(value=kernel_size, min=2, max=7, description="kernel size",
                                             style=style, layout=layout)
        self.stride = widgets.IntSlider(value=stride, min=1, max=3, description="down-sampling stride",
                                        style=style, layout=layout)
        self.n_layers.add_class("p2p-rf-nlayers")
        self.kernel_size.add_class("p2p-rf-kernel")
        self.stride.add_class("p2p-rf-stride")
        self.readout = widgets.HTML()
        self.readout.add_class("p2p-rf-readout")
        self.note = widgets.HTML()
        self.note.add_class("p2p-rf-note")
        self.figure = widgets.Image(format="png")
        self.figure.add_class("p2p-rf-figure")
        self._measured = {}
        self._holding = False
        super().__init__([self.n_layers, self.kernel_size, self.stride, self.readout, self.note, self.figure])
        self.add_class("p2p-rf-explorer")
        for slider in (self.n_layers, self.kernel_size, self.stride):
            slider.observe(self._on_change, names="value")
        self.refresh()

    def _on_change(self, _change):
        if not self._holding:
            self.refresh()

    def update(self, n_layers=None, kernel_size=None, stride=None):
        """Set any of the three settings (as the sliders do) and redraw once."""
        self._holding = True
        try:
            for slider, value in ((self.n_layers, n_layers), (self.kernel_size, kernel_size),
                                  (self.stride, stride)):
                if value is None:
                    continue
                if not slider.min <= value <= slider.max:
                    raise ValueError(f"{slider.description} = {value}: expected {slider.min} .. {slider.max}")
                slider.value = value
        finally:
            self._holding = False
        self.refresh()
        return self

    @property
    def layers(self):
        return discriminator_geometry(self.n_layers.value, self.kernel_size.value, self.stride.value)

    def summary(self):
        """The numbers shown: analytic field, measured field (None if too big), grid side
        (None if the output vanishes), effective stride and padding."""
        layers = self.layers
        field = receptive_field(layers)
        key = tuple(layers)
        if key not in self._measured:
            self._measured[key] = measured_field(layers)
        try:
            grid = output_size(layers, IMAGE_SIZE)
        except ValueError:
            grid = None
        return {"size": field.size, "measured": self._measured[key], "grid": grid,
                "stride": field.stride, "padding": field.padding}

    def refresh(self):
        s = self.summary()
        r = s["size"]
        measured = (f"measured {s['measured']} x {s['measured']}" if s["measured"] is not None
                    else f"too large to measure on a {MAX_MEASURE_SIZE} x {MAX_MEASURE_SIZE} input")
        grid = f"output grid {s['grid']} x {s['grid']}" if s["grid"] else "no output: 256 x 256 is too small"
        larger = f", larger than the {IMAGE_SIZE} x {IMAGE_SIZE} image" if r > IMAGE_SIZE else ""
        self.readout.value = (f"Receptive field: {r} x {r}{larger} ({measured}) · {grid} · "
                              f"effective stride {s['stride']}")
        self.note.value = self.note_html(s)
        self.figure.value = self.figure_png(s)

    def note_html(self, s):
        n, k, st = self.n_layers.value, self.kernel_size.value, self.stride.value
        notes = []
        if n == 0:
            notes.append("n_layers = 0 is the PixelGAN: three 1 x 1 convs, so each logit judges one pixel "
                         "(colour only); kernel and stride do not apply.")
        elif (n, k, st) == (3, 4, 2):
            notes.append("The paper's 70 x 70 PatchGAN.")
        if n and k < st:
            notes.append(f"kernel {k} &lt; stride {st}: the convs skip pixels, so the field has holes.")
        if s["size"] > IMAGE_SIZE:
            notes.append("Each logit sees more than the whole image (the paper's 286 x 286 'ImageGAN' "
                         "scored worse: more parameters, harder to train).")
        return f"<small>{' '.join(notes)}</small>" if notes else ""

    def figure_png(self, s):
        """The field of the centre output unit on the image, and D's output grid, as PNG bytes."""
        r, j, P, grid = s["size"], s["stride"], s["padding"], s["grid"]
        fig = Figure(figsize=(9.6, 4.4), dpi=80)
        ax, ax_grid = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.25, 1]})
        ax.imshow(self.image, extent=(0, IMAGE_SIZE, IMAGE_SIZE, 0))
        ax.add_patch(Rectangle((0, 0), IMAGE_SIZE, IMAGE_SIZE, fill=False, color="black", lw=1))
        if grid:
            c = grid // 2
            start = c * j - P  # first input pixel of the centre unit's field
            if grid <= 64:  # the centre of every output unit's field
                centres = np.arange(grid) * j - P + r / 2
                cx, cy = np.meshgrid(centres, centres)
                ax.plot(cx.ravel(), cy.ravel(), "o", color="yellow", mec="black", mew=0.4, ms=2.5)
            ax.add_patch(Rectangle((start, start), r, r, fill=False, color="red", lw=2))
            if c + 1 < grid:
                ax.add_patch(Rectangle((start + j, start), r, r, fill=False, color="orange", lw=1.5, ls="--"))
            ax.plot([start + r / 2], [start + r / 2], "o", color="red", ms=5)
            lo, hi = min(0, start) - 6, max(IMAGE_SIZE, start + j + r) + 6
            ax.set_xlim(lo, hi)
            ax.set_ylim(hi, lo)
            dots = "; dots: every logit's centre" if grid <= 64 else ""
            ax.set_title(f"field of one logit: {r} x {r} px (red); its neighbour's,\n"
                         f"{j} px to the right (dashed){dots}", fontsize=9)
            cells = np.full((grid, grid), 0.92)
            cells[(np.indices((grid, grid)).sum(0) % 2) == 1] = 0.82
            rgb = np.stack([cells] * 3, axis=-1)
            rgb[c, c] = (0.9, 0.1, 0.1)
            if c + 1 < grid:
                rgb[c, c + 1] = (1.0, 0.65, 0.0)
            ax_grid.imshow(rgb, extent=(0, grid, grid, 0), interpolation="nearest")
            ax_grid.set_title(f"D's output: {grid} x {grid} logits, one per patch", fontsize=9)
        else:
            ax.set_title("the output vanishes for a 256 x 256 input", fontsize=9)
            ax_grid.text(0.5, 0.5, "no output grid", ha="center", va="center")
        for a in (ax, ax_grid):
            a.set_xticks([])
            a.set_yticks([])
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()


def receptive_field_explorer(image=None):
    """The explorer widget (a VBox); `image` defaults to a synthetic facade photo."""
    return ReceptiveFieldExplorer(image)
