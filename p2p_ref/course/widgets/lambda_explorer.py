"""The lambda explorer: what the weight of the L1 term (eq. 4) does to pix2pix's outputs.

`lambda_explorer()` shows the sweep saved by `python -m p2p_ref.course.widgets.lambda_sweep`: one generator per
lambda, trained the same way from the same start. A slider picks lambda; the figure shows test
inputs, that generator's outputs and the targets; the readout gives the L1 distance to the target,
a sharpness measure and the score its discriminator gives the outputs.
"""

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from PIL import Image, ImageDraw

DEFAULT_PATH = Path(__file__).parent / "assets" / "lambda_sweep.npz"
REGENERATE = ("python -m p2p_ref.course.widgets.lambda_sweep --out {path}  (the real facades, after "
              "`p2p-data download facades`; add --dataset synthetic --steps 1000 to stay offline)")
ARRAYS = ("lambdas", "inputs", "targets", "outputs", "l1", "sharpness", "d_score", "d_real",
          "target_sharpness", "config")


@dataclass
class Sweep:
    """The contents of a lambda_sweep .npz file (images are uint8, N x H x W x 3)."""
    lambdas: np.ndarray        # (L,)
    inputs: np.ndarray         # (N, H, W, 3) the generator's inputs (label maps)
    targets: np.ndarray        # (N, H, W, 3) the ground truth
    outputs: np.ndarray        # (L, N, H, W, 3) G(x) for each lambda
    l1: np.ndarray             # (L,) mean |y - G(x)| in [-1, 1] units
    sharpness: np.ndarray      # (L,) variance of the Laplacian of G(x)
    d_score: np.ndarray        # (L,) mean sigmoid(D(x, G(x)))
    d_real: np.ndarray         # (L,) mean sigmoid(D(x, y)) of the same D on real pairs
    target_sharpness: float    # variance of the Laplacian of the targets, for comparison
    config: dict               # the SweepConfig used, plus dataset_path and seconds


def load_sweep(path=None):
    """Read and validate a sweep file; a missing or damaged file raises an error naming it and the fix."""
    path = Path(path) if path is not None else DEFAULT_PATH
    fix = f"Regenerate it with: {REGENERATE.format(path=path)}"
    if not path.is_file():
        raise FileNotFoundError(f"no lambda sweep at {path}. {fix}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ARRAYS if name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"cannot read {path} as a lambda sweep (.npz): {e}. {fix}") from e
    missing = [name for name in ARRAYS if name not in arrays]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: it is not a lambda sweep file "
                         f"(or an old one). {fix}")
    sweep = Sweep(**{**arrays, "target_sharpness": float(arrays["target_sharpness"]),
                     "config": json.loads(str(arrays["config"]))})
    L, N = len(sweep.lambdas), len(sweep.inputs)
    if sweep.outputs.shape[:2] != (L, N) or sweep.outputs.shape[2:] != sweep.inputs.shape[1:] \
            or sweep.targets.shape != sweep.inputs.shape or sweep.inputs.dtype != np.uint8 \
            or any(len(getattr(sweep, m)) != L for m in ("l1", "sharpness", "d_score", "d_real")):
        raise ValueError(f"{path} has inconsistent shapes (lambdas {L}, inputs {sweep.inputs.shape}, "
                         f"outputs {sweep.outputs.shape}): expected outputs of shape (lambdas, N, H, W, 3) "
                         f"matching uint8 inputs and targets. {fix}")
    return sweep


def _source(config):
    """Where the sweep's images come from and how it was trained, in a line (with the credit the
    CMP Facade Database asks for)."""
    data = str(config.get("dataset", "?"))
    if data == "facades":
        data = "test split of the CMP Facade Database (Tyleček and Šára, GCPR 2013)"
    elif data == "synthetic":
        data = "test split of the synthetic facades"
    size, steps = config.get("size", "?"), config.get("steps", "?")
    return f"{data}, {size} x {size}; {steps} training steps per lambda"


def _label(value):
    return f"{value:g}"


class LambdaExplorer(widgets.VBox):
    """Slider over lambda, an image grid (input | output | target) and a readout of the metrics.

    `show(lambda_value)` updates everything; the slider calls it too, so it can be driven from code.
    """

    def __init__(self, sweep, scale=None):
        self.sweep = sweep
        height = sweep.inputs.shape[1]
        self.scale = scale or max(1, 128 // height)  # 64 px images are shown at 128 px
        options = [(_label(v), float(v)) for v in sweep.lambdas]
        start = 100.0 if 100.0 in sweep.lambdas else float(sweep.lambdas[0])
        self.slider = widgets.SelectionSlider(options=options, value=start, description="lambda",
                                              continuous_update=True,
                                              layout=widgets.Layout(width="420px"))
        self.slider.add_class("p2p-lambda-slider")
        self.figure = widgets.Image(format="png")
        self.figure.add_class("p2p-lambda-figure")
        self.readout = widgets.HTML()
        self.readout.add_class("p2p-lambda-readout")
        self.table = widgets.HTML()
        self._png = {}
        super().__init__([self.slider, self.readout, self.figure, self.table])
        self.add_class("p2p-lambda-explorer")
        self.slider.observe(lambda change: self._render(change["new"]), names="value")
        self._render(start)

    @property
    def lambda_value(self):
        return self.slider.value

    def show(self, lambda_value):
        """Show the generator trained with this lambda (one of sweep.lambdas)."""
        matches = [float(v) for v in self.sweep.lambdas if np.isclose(v, lambda_value)]
        if not matches:
            raise ValueError(f"lambda = {lambda_value} is not in this sweep: choose one of "
                             f"{', '.join(_label(v) for v in self.sweep.lambdas)}")
        if self.slider.value != matches[0]:
            self.slider.value = matches[0]  # the observer renders
        else:
            self._render(matches[0])
        return self

    def _index(self, lambda_value):
        return int(np.argmin(np.abs(self.sweep.lambdas - lambda_value)))

    def _render(self, lambda_value):
        i, s = self._index(lambda_value), self.sweep
        self.readout.value = (
            f"<b>lambda = {_label(s.lambdas[i])}</b> · L1 to target {s.l1[i]:.3f} · "
            f"sharpness {s.sharpness[i]:.4f} · D score {s.d_score[i]:.2f}"
            f"<br><small>targets: sharpness {s.target_sharpness:.4f}; this D on real pairs: "
            f"{s.d_real[i]:.2f}<br>{_source(s.config)}</small>")
        if i not in self._png:
            self._png[i] = self.figure_png(i)
        self.figure.value = self._png[i]
        self.figure.width = str(Image.open(io.BytesIO(self._png[i])).width)  # natural size, not stretched
        self.table.value = self.table_html(i)

    def figure_png(self, i):
        """PNG bytes of the grid: rows input / output at lambda / target, one column per test image."""
        s, k = self.sweep, self.scale
        n, h, w, _ = s.inputs.shape
        pad, head = 4, 16
        grid = Image.new("RGB", (pad + n * (w * k + pad), 3 * (head + h * k + pad)), "white")
        draw = ImageDraw.Draw(grid)
        titles = ("input", f"output, lambda = {_label(s.lambdas[i])}", "target")
        for r, (title, images) in enumerate(zip(titles, (s.inputs, s.outputs[i], s.targets))):
            y0 = r * (head + h * k + pad)
            draw.text((pad, y0 + 2), title, fill="black")
            for c in range(n):
                tile = Image.fromarray(images[c]).resize((w * k, h * k), Image.NEAREST)
                grid.paste(tile, (pad + c * (w * k + pad), y0 + head))
        buffer = io.BytesIO()
        grid.save(buffer, format="png")
        return buffer.getvalue()

    def table_html(self, current):
        """Every lambda's metrics, the shown one in bold."""
        s = self.sweep
        rows = "".join(
            f"<tr style='font-weight:{'bold' if j == current else 'normal'}'><td>{_label(lam)}</td>"
            f"<td>{s.l1[j]:.3f}</td><td>{s.sharpness[j]:.4f}</td><td>{s.d_score[j]:.2f}</td></tr>"
            for j, lam in enumerate(s.lambdas))
        return ("<table><tr><th>lambda</th><th>L1 to target</th><th>sharpness</th><th>D score</th></tr>"
                f"{rows}</table>")


def lambda_explorer(path=None):
    """The explorer for a sweep file (default: the one shipped with p2p_ref)."""
    return LambdaExplorer(load_sweep(path))
