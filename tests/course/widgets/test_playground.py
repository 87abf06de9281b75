"""The facade playground without a browser: the label map, G's output, undo, and the errors.

The model is a tiny U-Net trained for two steps by p2p-train itself (a real checkpoint, seconds);
tests/course/widgets/test_browser.py drives the same widget with the mouse.
"""

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from p2p_ref.datasets.label_maps import StartMaps, fill_rect, fill_stroke
from p2p_ref.datasets.palette import CMP_CLASSES, CMP_PALETTE, hex_colour, text_colour
from p2p_ref.paper.models import UNetGenerator
from p2p_ref.course.widgets.playground import (HOW_TO_TRAIN, find_checkpoint, open_generator, playground, run_generator, to_tensor)
from p2p_ref.datasets.synthetic import PALETTE, make_synthetic_dataset
from p2p_ref.training.config import TrainConfig
from p2p_ref.training.train import train

SIZE = 32
FACADE, WINDOW = np.array(CMP_PALETTE["facade"], np.uint8), np.array(CMP_PALETTE["window"], np.uint8)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A folder like the repo root: datasets/synthetic (tiny) and runs/tiny/checkpoint.pt."""
    root = tmp_path_factory.mktemp("course")
    data = make_synthetic_dataset(root / "datasets" / "synthetic", n_train=2, n_val=1, n_test=3,
                                  size=SIZE)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(TrainConfig(dataset=str(data), load_size=36, crop_size=SIZE, num_downs=5, ngf=4,
                          ndf=4, n_epochs=1, n_epochs_decay=0, max_steps=2, num_workers=0,
                          out=str(root / "runs" / "tiny")))
    finally:
        torch.set_num_threads(threads)
    return root


@pytest.fixture
def pg(course):
    widget = playground(roots=[course])
    yield widget.wait()
    widget.close()


def changed(a, b):
    return np.any(a != b, axis=-1)


# ---------------------------------------------------------------- the palette and drawing

def test_cmp_palette_has_the_twelve_classes_in_distinct_colours():
    assert tuple(CMP_PALETTE) == CMP_CLASSES and len(CMP_CLASSES) == 12
    colours = list(CMP_PALETTE.values())
    # far enough apart that a JPEG-blurred facades map still tells every class from the others
    assert min(max(abs(a - b) for a, b in zip(c, d))
               for i, c in enumerate(colours) for d in colours[i + 1:]) >= 40
    assert hex_colour(CMP_PALETTE["window"]) == "#0080ff"
    assert text_colour(CMP_PALETTE["background"]) == "white"
    assert text_colour(CMP_PALETTE["blind"]) == "black"


def test_fill_rect_changes_exactly_the_rectangle():
    labels = np.zeros((20, 30, 3), np.uint8)
    out = fill_rect(labels, (12, 3, 5, 9), WINDOW)  # corners in any order
    expected = np.zeros((20, 30), bool)
    expected[3:9, 5:12] = True
    assert np.array_equal(changed(out, labels), expected)
    assert (out[expected] == WINDOW).all() and not labels.any()  # the input is left alone
    clipped = fill_rect(labels, (-5, -5, 3, 100), WINDOW)
    assert changed(clipped, labels).sum() == 3 * 20


def test_fill_stroke_paints_the_pixels_within_half_the_width():
    labels = np.zeros((12, 16, 3), np.uint8)
    thin = changed(fill_stroke(labels, [(2.5, 5.5), (10.5, 5.5)], 1, WINDOW), labels)
    assert np.argwhere(thin).tolist() == [[5, x] for x in range(2, 11)]
    wide = changed(fill_stroke(labels, [(2.5, 5.5), (10.5, 5.5)], 3, WINDOW), labels)
    assert wide[4:7, 1:12].all() and wide.sum() == 3 * 11  # round ends reach one pixel further
    dot = changed(fill_stroke(labels, [(3.95, 3.95)], 1, WINDOW), labels)
    assert np.argwhere(dot).tolist() == [[3, 3]]  # a click paints at least the pixel under it
    with pytest.raises(ValueError, match="at least one point"):
        fill_stroke(labels, [], 3, WINDOW)


# ---------------------------------------------------------------- the widget's model

def test_opens_the_newest_run_and_its_datasets_test_maps(pg, course):
    assert Path(pg.info.source) == course / "runs" / "tiny" / "checkpoint.pt"
    assert pg.size == SIZE and pg.output.shape == (SIZE, SIZE, 3) and pg.forward_count == 1
    test_file = sorted((course / "datasets" / "synthetic" / "test").glob("*.png"))[0]
    label_half = np.asarray(Image.open(test_file).convert("RGB"))[:, SIZE:]
    assert np.array_equal(pg.labels, label_half)  # B, the label half (direction BtoA)
    assert pg.maps.synthetic and pg.palette["roof"] == PALETTE["roof"]
    assert list(pg.palette)[:12] == list(CMP_CLASSES)
    assert pg.canvas.size == SIZE and pg.canvas.image.startswith("data:image/png;base64,")


def test_painting_a_rectangle_changes_exactly_that_region_and_recomputes(pg):
    pg.clear().wait()
    assert (pg.labels == FACADE).all()
    before_labels, before_output, n = pg.labels, pg.output, pg.forward_count
    pg.select("window").paint_rect(4, 6, 12, 20).wait()
    expected = np.zeros((SIZE, SIZE), bool)
    expected[6:20, 4:12] = True
    assert np.array_equal(changed(pg.labels, before_labels), expected)
    assert (pg.labels[expected] == WINDOW).all()
    assert pg.forward_count == n + 1 and changed(pg.output, before_output).any()
    # the output is G's answer to exactly this map (same dropout seed, same result)
    again = run_generator(pg.G, to_tensor(pg.labels), "paper", pg.seed)
    assert np.array_equal(pg.output, ((again[0].clamp(-1, 1) + 1) * 127.5).round().byte()
                          .permute(1, 2, 0).numpy())


def test_each_stroke_recomputes_the_output_and_undo_restores_the_map(pg):
    pg.clear().wait()
    maps, outputs = [pg.labels], [pg.output]
    for name, points in (("door", [(3, 3), (20, 25)]), ("balcony", [(30, 2), (2, 30)])):
        n = pg.forward_count
        pg.select(name).paint_stroke(points, width=3).wait()
        assert pg.forward_count == n + 1
        assert (pg.labels[changed(pg.labels, maps[-1])] == CMP_PALETTE[name]).all()
        maps.append(pg.labels)
        outputs.append(pg.output)
    assert not np.array_equal(outputs[1], outputs[2])
    pg.undo().wait()
    assert np.array_equal(pg.labels, maps[1]) and np.array_equal(pg.output, outputs[1])
    pg.undo().wait()
    assert np.array_equal(pg.labels, maps[0]) and np.array_equal(pg.output, outputs[0])


def test_clear_and_test_maps_can_be_undone_too(pg):
    first = pg.labels
    pg.load_test_map(2).wait()
    assert np.array_equal(pg.labels, pg.maps[2]) and not np.array_equal(pg.labels, first)
    pg.clear()
    pg.undo().undo().wait()
    assert np.array_equal(pg.labels, first)
    pg.load_test_map()  # the next one after 2: wraps around the three test maps
    assert np.array_equal(pg.labels, pg.maps[0])


def test_sample_again_draws_new_dropout_and_eval_mode_is_deterministic(pg):
    first = pg.output
    pg.sample_again().wait()
    assert pg.seed == 1 and changed(pg.output, first).any()  # paper mode: a new dropout mask
    pg.eval_toggle.value = True  # the "eval mode" button
    pg.wait()
    assert pg.mode == "eval" and pg.sample_button.disabled
    evaluated = pg.output
    pg.sample_again().wait()
    assert np.array_equal(pg.output, evaluated)
    pg.set_mode("paper").wait()
    assert not pg.eval_toggle.value and not pg.sample_button.disabled


def test_g_is_left_as_it_was(pg):
    G = pg.G
    G.eval()
    buffers = [b.clone() for b in G.buffers()]
    rng = torch.get_rng_state()
    pg.select("window").paint_rect(0, 0, 8, 8).wait()  # paper mode: dropout, batch statistics
    pg.sample_again().wait()
    assert pg.mode == "paper" and pg.forward_count == 3
    assert torch.equal(torch.get_rng_state(), rng)  # G ran in a thread: the global RNG untouched
    assert not G.training and all(torch.equal(a, b) for a, b in zip(G.buffers(), buffers))
    assert all(m.p == 0.5 for m in G.modules() if isinstance(m, nn.Dropout))
    assert not any(m._forward_hooks for m in G.modules())


def test_the_same_seed_gives_the_same_dropout_mask():
    torch.manual_seed(0)
    G = UNetGenerator(num_downs=5, ngf=4)
    x = torch.rand(1, 3, SIZE, SIZE) * 2 - 1
    a, b = run_generator(G, x, "paper", seed=3), run_generator(G, x, "paper", seed=3)
    c = run_generator(G, x, "paper", seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    G.eval()
    assert torch.equal(run_generator(G, x, "eval", seed=3), G(x))
    G.train()
    # paper mode is G in training mode with dropout: batch statistics, masks of p = 0.5
    drop = [m for m in G.modules() if isinstance(m, nn.Dropout)]
    assert len(drop) == 3
    for m in drop:
        m.p = 0.0
    no_dropout = G(x)
    for m in drop:
        m.p = 0.5
    assert not torch.allclose(a, no_dropout)


def test_the_canvas_messages_paint_and_acknowledge(pg):
    pg.clear().select("window")
    pg._on_canvas_msg(pg.canvas, {"kind": "rect", "seq": 7, "box": [0, 0, 5, 4]}, [])
    assert pg.canvas.applied == 7 and (pg.labels[:4, :5] == WINDOW).all()
    n = int(changed(pg.labels, FACADE).sum())
    pg._on_canvas_msg(pg.canvas, {"kind": "stroke", "seq": 8, "points": [[10, 10], [20, 10]],
                                  "width": 2}, [])
    assert pg.canvas.applied == 8 and changed(pg.labels, FACADE).sum() > n
    before = pg.labels
    pg._on_canvas_msg(pg.canvas, {"kind": "stroke", "seq": 9, "points": []}, [])
    assert pg.labels is before and "ignored" in pg.status.value
    pg.wait()


def test_the_palette_buttons_select_a_class(pg):
    pg.buttons["door"].click()
    assert pg.current == "door" and pg.canvas.colour == hex_colour(CMP_PALETTE["door"])
    assert pg.buttons["door"].layout.border.startswith("3px solid #")
    with pytest.raises(ValueError, match="unknown class 'roofs'.*background, facade, window"):
        pg.select("roofs")


class SlowIdentity(nn.Module):
    """Returns its input (so the output shows which map it was given), slowly."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.calls = seconds, 0

    def forward(self, x):
        self.calls += 1
        time.sleep(self.seconds)
        return x


def test_strokes_made_while_g_is_busy_are_not_queued(tmp_path):
    G = SlowIdentity(0.3)
    pg = playground(G, size=SIZE, roots=[tmp_path])
    try:
        pg.wait()
        start = G.calls
        for i in range(6):  # faster than G: the map updates at once, G only runs on the newest
            pg.paint_rect(i, i, i + 3, i + 3, "door")
        assert (pg.labels[5:8, 5:8] == CMP_PALETTE["door"]).all()  # no waiting for G
        pg.wait()
        assert G.calls - start < 6
        assert np.array_equal(pg.output, pg.labels)  # and the last output is for the last map
    finally:
        pg.close()


def test_a_generator_in_memory(tmp_path):
    G = UNetGenerator(num_downs=5, ngf=4)
    pg = playground(G, size=SIZE, mode="eval", roots=[tmp_path])  # no datasets: synthetic maps
    try:
        pg.wait()
        assert pg.maps.synthetic and "synthetic" in pg.maps.name and pg.labels.shape == (32, 32, 3)
        assert pg.eval_toggle.value and pg.sample_button.disabled
        assert G.training  # as it came: the playground switches modes only while G runs
        assert np.array_equal(pg.output, (run_generator(G, to_tensor(pg.labels), "eval")[0]
                                          .add(1).mul(127.5).round().byte().permute(1, 2, 0)
                                          .numpy()))
    finally:
        pg.close()


def test_test_maps_prefer_facades_and_read_paired_folders(tmp_path):
    facades = tmp_path / "datasets" / "facades" / "test"
    facades.mkdir(parents=True)
    pair = np.zeros((64, 128, 3), np.uint8)
    pair[:, 64:] = CMP_PALETTE["window"]
    Image.fromarray(pair).save(facades / "1.jpg")
    make_synthetic_dataset(tmp_path / "datasets" / "synthetic", n_train=1, n_val=1, n_test=1,
                           size=SIZE)
    maps = StartMaps.find(SIZE, roots=[tmp_path])
    assert maps.folder == tmp_path / "datasets" / "facades" and not maps.synthetic
    assert maps[0].shape == (SIZE, SIZE, 3) and np.abs(maps[0].astype(int) - WINDOW).max() < 8
    # paired folders (test/A + test/B): the label half is B for BtoA
    (tmp_path / "mine" / "test" / "B").mkdir(parents=True)
    Image.fromarray(np.full((40, 40, 3), 7, np.uint8)).save(tmp_path / "mine" / "test" / "B" / "x.png")
    maps = StartMaps.find(SIZE, dataset="mine", roots=[tmp_path])
    assert maps.folder == tmp_path / "mine" and (maps[0] == 7).all()


# ---------------------------------------------------------------- errors

def test_no_checkpoint_names_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        find_checkpoint([tmp_path])
    for what in ("make train", "make facades", "lesson 5", "playground(G, size=64)", str(tmp_path)):
        assert what in str(e.value)
    with pytest.raises(FileNotFoundError, match="make train"):
        playground(roots=[tmp_path])
    with pytest.raises(FileNotFoundError, match=r"(?s)no checkpoint at .*nowhere.*make train"):
        playground(tmp_path / "nowhere")
    assert "make train" in HOW_TO_TRAIN


def test_a_checkpoint_that_does_not_fit(course, tmp_path):
    ck = torch.load(course / "runs" / "tiny" / "checkpoint.pt", weights_only=True)
    ck["config"]["ngf"] = 8  # the weights are for ngf 4
    bad = tmp_path / "bad.pt"
    torch.save(ck, bad)
    with pytest.raises(ValueError, match=f"{bad} does not fit the playground"):
        playground(bad)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt does not fit the playground"):
        playground(tmp_path / "junk.pt")


@pytest.mark.parametrize("G, size, message", [
    (UNetGenerator(in_channels=1, num_downs=5, ngf=4), SIZE, "3-channel"),
    (UNetGenerator(num_downs=5, ngf=4), 48, "multiple of 2\\*\\*5"),
    (nn.Conv2d(3, 3, 3), SIZE, r"returned shape \(1, 3, 30, 30\)"),
])
def test_a_generator_that_does_not_fit(G, size, message):
    with pytest.raises(ValueError, match=f"does not fit the playground.*{message}"):
        open_generator(G, size)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="mode='train'"):
        playground(UNetGenerator(num_downs=5, ngf=4), SIZE, mode="train", roots=[tmp_path])
    with pytest.raises(TypeError, match="expected None, a path"):
        open_generator(42)


def test_the_playground_notebook_follows_the_course_conventions():
    import nbformat
    import tomllib
    from test_notebooks import INSTALL_CELL

    root = Path(__file__).resolve().parents[3]
    nb = nbformat.read(str(root / "lessons" / "playground.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert ("https://colab.research.google.com/github/pix2pix-course/pix2pix-course/blob/main/"
            "lessons/playground.ipynb") in nb.cells[0].source
    assert nb.cells[1].cell_type == "code" and nb.cells[1].source.strip() == INSTALL_CELL
    assert all(not c.outputs for c in nb.cells if c.cell_type == "code")
    assert "playground(MODEL)" in "".join(c.source for c in nb.cells)
    # nbval runs it (the exercise notebooks in lessons/ are stubs and are not run)
    testpaths = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "lessons/playground.ipynb" in testpaths["testpaths"]


def test_python_can_exit_while_g_is_painting(tmp_path):
    # A notebook or script that ends right after playground(...) must not abort the process
    # (a daemon thread inside a torch op at shutdown does: "terminate called ...").
    import subprocess
    import sys
    code = ("from p2p_ref.paper.models import UNetGenerator\n"
            "from p2p_ref.course.widgets.playground import playground\n"
            "playground(UNetGenerator(num_downs=8, ngf=16), size=256, roots=[r'%s'])\n" % tmp_path)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0 and "terminate called" not in proc.stderr, proc.stderr[-2000:]
