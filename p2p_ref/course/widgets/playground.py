"""The facade playground: draw a label map, watch pix2pix paint the building.

`playground()` shows a label map in the CMP facades palette (`p2p_ref.datasets.label_maps`) next to G's
photo for it (labels -> photo, direction BtoA). Pick a class, draw rectangles or strokes with the
mouse; after each stroke G translates the new map. "sample again" draws a new dropout mask:
dropout is G's only noise, and the paper keeps it (and batch statistics) on at test time
(sec. 3.1, 3.3); "eval mode" switches to model.eval(), the deterministic output.

The generator: the newest run under runs/, any p2p-train checkpoint or run folder, a file written
by p2p-export (all read by `p2p_ref.inference.translate.load_generator`), or a G in memory, e.g. the one you
trained in lesson 5: `playground(G, size=64)`.

Staying interactive: the browser draws each stroke at once and sends it to the kernel only when
the mouse is released (`assets/playground_canvas.js`), never on every mouse move. The kernel paints
the map and shows it straight away; G runs in a worker thread, always on the newest map, so the
strokes drawn while G is busy are never queued behind forward passes for maps already gone.
"""

import atexit
import base64
import html
import io
import os
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import torch
import traitlets
from PIL import Image
from torch import nn

from p2p_ref.datasets.label_maps import StartMaps, fill_rect, fill_stroke
from p2p_ref.datasets.palette import CMP_PALETTE, hex_colour, text_colour
from p2p_ref.training.validation import TEST_MODES, run_generator
from p2p_ref.inference.translate import load_generator
from p2p_ref.datasets import synthetic

UNDO_DEPTH = 50
HOW_TO_TRAIN = (
    "Train a generator first, then run playground() again (it opens the newest run under runs/) "
    "or name one, e.g. playground('runs/synthetic'):\n"
    "  make train     the synthetic set, a few minutes on a laptop CPU (writes runs/synthetic)\n"
    "  make facades   the real CMP facades with the paper's recipe (best on a GPU)\n"
    "  lesson 5       ex5_training: then playground(G, size=64) with the G you trained there")


def find_checkpoint(roots=None):
    """The newest runs/*/checkpoint.pt under `roots` (default: the current folder and its parent,
    so a notebook in lessons/ finds the repo's runs/); FileNotFoundError saying what to run."""
    roots = [Path(r) for r in (roots or (Path.cwd(), Path.cwd().parent))]
    found = [p for r in roots for p in (r / "runs").glob("*/checkpoint.pt") if p.is_file()]
    if not found:
        looked = ", ".join(str((r / "runs").resolve()) for r in roots)
        raise FileNotFoundError(f"no trained generator found: no checkpoint.pt in any run folder "
                                f"of {looked}.\n{HOW_TO_TRAIN}")
    return max(found, key=lambda p: p.stat().st_mtime)


@dataclass
class GeneratorInfo:
    """Where G came from and what it expects."""
    source: str                  # the checkpoint path, or "a UNetGenerator in memory"
    size: int                    # G's input side (the training crop)
    direction: str = "BtoA"      # which half of a dataset pair is the label map
    dataset: str | None = None   # the run's dataset (name or folder), when known
    data_root: str = "datasets"


def _check_fits(G, info, device):
    """Run G once on a blank map; ValueError saying why it does not fit the playground."""
    x = torch.zeros(1, 3, info.size, info.size, device=device)
    try:
        y = run_generator(G, x, "paper")  # the stricter mode: BatchNorm on batch statistics
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"{info.source} does not fit the playground: it should turn a 3-channel "
                         f"(RGB) label map of {info.size} x {info.size} pixels into an image of "
                         f"the same size, but running it failed: {e}") from e
    if y.ndim != 4 or y.shape[1] not in (1, 3) or y.shape[2:] != x.shape[2:]:
        raise ValueError(f"{info.source} does not fit the playground: for a 1 x 3 x {info.size} "
                         f"x {info.size} label map it returned shape {tuple(y.shape)}; expected "
                         f"1 x 3 (or 1 x 1) x {info.size} x {info.size}")


def open_generator(model=None, size=None, device=None, roots=None):
    """(G, GeneratorInfo) for `model`: None (the newest run, see find_checkpoint), a checkpoint,
    a run folder or a p2p-export file (via p2p_ref.inference.translate.load_generator), or an nn.Module
    (its input side is `size`, default 256). Raises FileNotFoundError / ValueError that name the
    file or the mismatch and what to do."""
    if isinstance(model, nn.Module):
        G = model
        if device is None:
            device = next((p.device for p in G.parameters()), torch.device("cpu"))
        info = GeneratorInfo(f"the {type(G).__name__} passed in", size or 256, dataset=None)
    elif model is None or isinstance(model, (str, Path)):
        path = find_checkpoint(roots) if model is None else Path(model)
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint at {path}: expected a run folder, a "
                                    f"checkpoint.pt or a p2p-export file.\n{HOW_TO_TRAIN}")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            G, cfg = load_generator(path, device, "paper")
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{e}\n{HOW_TO_TRAIN}") from e
        except ValueError as e:
            raise ValueError(f"{path} does not fit the playground: {e}") from e
        if cfg.get("input_nc", 3) != 3:
            raise ValueError(f"{path} does not fit the playground: it was trained on "
                             f"{cfg['input_nc']}-channel inputs, and the playground draws "
                             f"3-channel (RGB) label maps in the CMP palette")
        info = GeneratorInfo(str(path), size or int(cfg.get("crop_size", 256)),
                             cfg.get("direction", "BtoA"), cfg.get("dataset"),
                             cfg.get("data_root", "datasets"))
    else:
        raise TypeError(f"model={model!r}: expected None, a path (run folder, checkpoint, "
                        f"p2p-export file) or a generator nn.Module")
    _check_fits(G, info, device)
    return G, info


def to_tensor(labels, device="cpu"):
    """A H x W x 3 uint8 label map as G's input: 1 x 3 x H x W in [-1, 1]."""
    t = torch.tensor(labels).permute(2, 0, 1).float() / 127.5 - 1
    return t.unsqueeze(0).to(device)


def to_image(y):
    """G's output (1 x C x H x W in [-1, 1], C = 1 or 3) as H x W x 3 uint8."""
    y = ((y[0].float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte()
    return y.expand(3, -1, -1).permute(1, 2, 0).numpy().copy()


def png_bytes(rgb):
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="png")
    return buffer.getvalue()


def png_data_url(rgb):
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb)).decode()


class LabelCanvas(anywidget.AnyWidget):
    """The label map as a canvas to draw on (see assets/playground_canvas.js)."""
    _esm = Path(__file__).parent / "assets" / "playground_canvas.js"
    image = traitlets.Unicode("").tag(sync=True)      # the map as a PNG data URL
    size = traitlets.Int(256).tag(sync=True)          # label-map pixels per side
    display_size = traitlets.Int(384).tag(sync=True)  # CSS pixels per side
    colour = traitlets.Unicode("#0080ff").tag(sync=True)
    tool = traitlets.Unicode("rect").tag(sync=True)   # "rect" or "stroke"
    brush = traitlets.Int(8).tag(sync=True)           # stroke width in label-map pixels
    applied = traitlets.Int(0).tag(sync=True)         # the last shape the map holds


class Playground(widgets.VBox):
    """The palette, the tools, the label map and G's output. Everything the mouse does can be
    done from code too: select, paint_rect, paint_stroke, undo, clear, load_test_map,
    sample_again, set_mode; wait() blocks until the output shows the current map."""

    def __init__(self, G, info, maps, device="cpu", mode="paper", seed=0, display_size=384):
        self._cond, self._closed = threading.Condition(), False
        if mode not in TEST_MODES:
            raise ValueError(f"mode={mode!r}: expected 'paper' or 'eval'")
        self.G, self.info, self.maps, self.device = G, info, maps, device
        self.mode, self.seed, self.size = mode, seed, info.size
        self.palette = dict(CMP_PALETTE)
        if maps.synthetic:  # CMP has no roofs; the synthetic set's maps do
            self.palette["roof"] = synthetic.PALETTE["roof"]
        self.current = "window"
        self.labels = self.output = None
        self.history, self.map_index, self.forward_count = [], 0, 0
        self.error, self.last_ms = None, None
        self._version = self._done = 0
        self._build(display_size)
        self._set_labels(maps[0], f"start: {maps.label(0)}", remember=False)
        self._thread = threading.Thread(target=self._worker, daemon=True, name="p2p-playground")
        self._thread.start()
        atexit.register(_stop_at_exit, weakref.ref(self))

    # ------------------------------------------------------------------ the widgets
    def _build(self, display_size):
        self.buttons = {}
        for name, rgb in self.palette.items():
            b = widgets.Button(description=name, tooltip=f"{name} {rgb}",
                               layout=widgets.Layout(width="auto", min_width="80px",
                                                     border="3px solid transparent"))
            b.style.button_color, b.style.text_color = hex_colour(rgb), text_colour(rgb)
            b.add_class("p2p-playground-class")
            b.add_class(f"p2p-playground-class-{name}")
            b.on_click(lambda _, n=name: self.select(n))
            self.buttons[name] = b
        self.tool = widgets.ToggleButtons(options=[("rectangle", "rect"), ("stroke", "stroke")],
                                          value="rect", style={"button_width": "90px"})
        self.brush = widgets.IntSlider(value=max(1, self.size // 32), min=1,
                                       max=max(2, self.size // 4), description="brush",
                                       layout=widgets.Layout(width="260px"))
        self.undo_button = widgets.Button(description="undo", icon="undo")
        self.clear_button = widgets.Button(description="clear", icon="eraser",
                                           tooltip="a blank wall (every pixel facade)")
        self.test_button = widgets.Button(description="test map", icon="image",
                                          tooltip=f"the next label map of {self.maps.name}")
        self.sample_button = widgets.Button(description="sample again", icon="refresh",
                                            tooltip="a new dropout mask (paper test mode)")
        self.eval_toggle = widgets.ToggleButton(description="eval mode",
                                                tooltip="model.eval(): no dropout, running "
                                                        "BatchNorm statistics (deterministic)")
        self.canvas = LabelCanvas(size=self.size, display_size=display_size,
                                  brush=self.brush.value)
        self.canvas.add_class("p2p-playground-map")
        self.output_image = widgets.Image(format="png", width=display_size, height=display_size)
        self.output_image.add_class("p2p-playground-output")
        self.header, self.status = widgets.HTML(), widgets.HTML()
        self.status.add_class("p2p-playground-status")
        for w, cls in ((self.tool, "tool"), (self.brush, "brush"), (self.undo_button, "undo"),
                       (self.clear_button, "clear"), (self.test_button, "test-map"),
                       (self.sample_button, "sample"), (self.eval_toggle, "eval")):
            w.add_class(f"p2p-playground-{cls}")
        self.header.value = (f"<b>G</b>: {_html(_short(self.info.source))} · {self.size} x "
                             f"{self.size} · test maps: {_html(_short(self.maps.name))}")
        titles = [widgets.HTML(f"<b>{t}</b>", layout=widgets.Layout(width=f"{display_size + 8}px"))
                  for t in ("label map (draw here)", "G's output")]
        super().__init__([
            self.header,
            widgets.HBox(list(self.buttons.values()), layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.tool, self.brush]),
            widgets.HBox([self.undo_button, self.clear_button, self.test_button,
                          self.sample_button, self.eval_toggle]),
            widgets.HBox(titles), widgets.HBox([self.canvas, self.output_image]), self.status])
        self.add_class("p2p-playground")
        self.canvas.on_msg(self._on_canvas_msg)
        self.tool.observe(lambda c: setattr(self.canvas, "tool", c["new"]), names="value")
        self.brush.observe(lambda c: setattr(self.canvas, "brush", c["new"]), names="value")
        self.undo_button.on_click(lambda _: self.undo())
        self.clear_button.on_click(lambda _: self.clear())
        self.test_button.on_click(lambda _: self.load_test_map())
        self.sample_button.on_click(lambda _: self.sample_again())
        self.eval_toggle.observe(lambda c: self.set_mode("eval" if c["new"] else "paper"),
                                 names="value")
        self.eval_toggle.value = self.mode == "eval"
        self.select(self.current)

    def _on_canvas_msg(self, _widget, content, _buffers):
        try:
            if content.get("kind") == "rect":
                self.paint_rect(*content["box"], seq=content.get("seq"))
            elif content.get("kind") == "stroke":
                self.paint_stroke(content["points"], content.get("width"), seq=content.get("seq"))
        except (KeyError, TypeError, ValueError) as e:
            self.status.value = f"<span style='color:#b00'>ignored a drawing message: {e}</span>"

    # ------------------------------------------------------------------ the map
    def select(self, name):
        """Paint with class `name` from now on."""
        if name not in self.palette:
            raise ValueError(f"unknown class {name!r}: expected one of {', '.join(self.palette)}")
        self.current = name
        for n, b in self.buttons.items():
            b.layout.border = "3px solid #222" if n == name else "3px solid transparent"
        self.canvas.colour = hex_colour(self.palette[name])
        return self

    def paint_rect(self, x0, y0, x1, y1, name=None, seq=None):
        """Paint the pixels x0 <= x < x1, y0 <= y < y1 (clipped to the map) with class `name`
        (default: the selected one)."""
        new = fill_rect(self.labels, (x0, y0, x1, y1), self._colour(name))
        return self._set_labels(new, f"rectangle of {name or self.current}", seq=seq)

    def paint_stroke(self, points, width=None, name=None, seq=None):
        """Paint a stroke through `points` ((x, y) in label-map pixels, pixel i spans [i, i + 1))
        `width` pixels wide (default: the brush), with round ends."""
        width = width or self.brush.value
        new = fill_stroke(self.labels, points, width, self._colour(name))
        return self._set_labels(new, f"stroke of {name or self.current}", seq=seq)

    def undo(self):
        """Back to the map before the last stroke, clear or test map."""
        if not self.history:
            self.status.value = "nothing to undo"
            return self
        labels, what = self.history.pop()
        return self._set_labels(labels, f"undid {what}", remember=False)

    def clear(self):
        """A blank wall: every pixel facade."""
        return self._set_labels(np.broadcast_to(np.array(self.palette["facade"], np.uint8),
                                                self.labels.shape).copy(), "clear")

    def load_test_map(self, index=None):
        """Start from test map `index` (default: the next one) of the dataset found."""
        self.map_index = self.map_index + 1 if index is None else index
        return self._set_labels(self.maps[self.map_index],
                                f"test map {self.maps.label(self.map_index)}")

    def _colour(self, name):
        name = name or self.current
        if name not in self.palette:
            raise ValueError(f"unknown class {name!r}: expected one of {', '.join(self.palette)}")
        return np.array(self.palette[name], np.uint8)

    def _set_labels(self, labels, what, remember=True, seq=None):
        if remember:
            self.history = (self.history + [(self.labels, what)])[-UNDO_DEPTH:]
        self.labels, self._what = labels, what
        if seq is not None:
            self.canvas.applied = int(seq)
        self.canvas.image = png_data_url(labels)
        return self._request()

    # ------------------------------------------------------------------ G
    def sample_again(self):
        """A new dropout mask: the next seed (paper test mode)."""
        self.seed += 1
        return self._request()

    def set_mode(self, mode):
        """"paper" (dropout and batch statistics on) or "eval" (model.eval())."""
        if mode not in TEST_MODES:
            raise ValueError(f"mode={mode!r}: expected 'paper' or 'eval'")
        self.mode = mode
        self.sample_button.disabled = mode == "eval"
        if self.eval_toggle.value != (mode == "eval"):
            self.eval_toggle.value = mode == "eval"  # its observer calls set_mode again
            return self
        return self._request()

    def _request(self):
        with self._cond:
            self._version += 1
            self._cond.notify_all()
        return self

    def _worker(self):
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._version > self._done or self._closed)
                if self._closed:
                    return
                version = self._version
            labels, mode, seed, what = self.labels, self.mode, self.seed, self._what
            self.status.value = f"G is painting… ({_html(what)})"
            try:
                start = time.perf_counter()
                y = run_generator(self.G, to_tensor(labels, self.device), mode, seed)
                self.last_ms = (time.perf_counter() - start) * 1000
                self.output, self.error = to_image(y), None
                self.forward_count += 1
                self.output_image.value = png_bytes(self.output)
                noise = f"dropout sample {seed}" if mode == "paper" else "deterministic"
                self.status.value = (f"output {self.forward_count}: {_html(what)} · {mode} mode, "
                                     f"{noise} · G took {self.last_ms:.0f} ms")
            except Exception as e:  # shown, and raised again by wait()
                self.error = e
                self.status.value = f"<span style='color:#b00'>G failed: {_html(str(e))}</span>"
            with self._cond:
                self._done = version
                self._cond.notify_all()

    def _stop_worker(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def close(self):
        """Stop the worker thread and close the widgets."""
        self._stop_worker()
        super().close()

    def wait(self, timeout=120):
        """Block until the output is G's answer to the current map, mode and seed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._done >= self._version, timeout):
                raise TimeoutError(f"G did not finish within {timeout} s")
        if self.error is not None:
            raise RuntimeError(f"G failed on the current map: {self.error}") from self.error
        return self


def _stop_at_exit(ref):
    """Let a forward pass in flight end before Python does: a daemon thread still inside a torch
    op at shutdown aborts the process ("terminate called without an active exception")."""
    pg = ref()
    if pg is not None:
        pg._stop_worker()
        pg._thread.join(timeout=30)


def _html(text):
    return html.escape(str(text))


def _short(name):
    """A path as the notebook would write it (relative to the current folder), else as it is."""
    try:
        return os.path.relpath(name) if Path(name).exists() else name
    except ValueError:  # another drive on Windows
        return name


def playground(model=None, size=None, *, device=None, mode="paper", seed=0, display_size=384,
               roots=None):
    """The playground for `model`: None (the newest runs/*/checkpoint.pt here or one folder up),
    a run folder, a checkpoint or p2p-export file, or a generator nn.Module whose input side is
    `size` (default 256). Test maps come from the run's dataset, datasets/facades or the
    synthetic set. mode "paper" or "eval"; `seed` draws the first dropout mask."""
    G, info = open_generator(model, size, device, roots)
    device = next((p.device for p in G.parameters()), torch.device(device or "cpu"))
    maps = StartMaps.find(info.size, info.dataset, info.data_root, info.direction, roots)
    return Playground(G, info, maps, device, mode, seed, display_size)
