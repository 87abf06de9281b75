"""p2p_ref.datasets.synthetic: a seeded, offline labels <-> photo set in the facades A|B layout."""

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image

from p2p_ref.datasets.aligned import AlignedDataset
from p2p_ref.datasets.data import main
from p2p_ref.datasets.palette import CMP_PALETTE
from p2p_ref.datasets.synthetic import (BACKGROUND, PALETTE, WALL, WINDOW, make_synthetic_dataset, render_photo, sample_facade)

SMALL = dict(n_train=4, n_val=2, n_test=2, size=64)


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.png"))}


def halves(path):
    img = np.asarray(Image.open(path).convert("RGB"))
    w = img.shape[1] // 2
    return img[:, :w], img[:, w:]  # A = photo, B = label map


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("syn") / "synthetic", seed=0, **SMALL)


def test_layout_and_meta(small_set):
    names = files(small_set)
    assert sorted(names) == ([f"test/{i:04d}.png" for i in range(2)]
                             + [f"train/{i:04d}.png" for i in range(4)]
                             + [f"val/{i:04d}.png" for i in range(2)])
    assert Image.open(small_set / "train" / "0000.png").size == (128, 64)  # A|B, 64 x 64 each
    meta = json.loads((small_set / "meta.json").read_text())
    assert meta["seed"] == 0 and meta["size"] == 64
    assert meta["counts"] == {"train": 4, "val": 2, "test": 2}
    assert meta["palette"] == {k: list(v) for k, v in PALETTE.items()}


def test_same_seed_same_bytes_other_seed_other_images(small_set, tmp_path):
    again = make_synthetic_dataset(tmp_path / "a", seed=0, **SMALL)
    assert files(again) == files(small_set)
    other = files(make_synthetic_dataset(tmp_path / "b", seed=1, **SMALL))
    assert all(other[k] != v for k, v in files(small_set).items())


def test_splits_hold_different_buildings(small_set):
    photos, labels = set(), set()
    for path in small_set.rglob("*.png"):
        a, b = halves(path)
        photos.add(hashlib.sha1(a.tobytes()).hexdigest())
        labels.add(hashlib.sha1(b.tobytes()).hexdigest())
    assert len(photos) == len(labels) == 8


def test_label_maps_use_only_the_palette(small_set):
    palette = {tuple(c) for c in PALETTE.values()}
    for path in small_set.rglob("*.png"):
        _, b = halves(path)
        colours = {tuple(c) for c in np.unique(b.reshape(-1, 3), axis=0)}
        assert colours <= palette, f"{path}: {colours - palette}"
        assert {PALETTE["wall"], PALETTE["window"], PALETTE["background"]} <= colours


def test_palette_is_the_cmp_facades_palette_for_the_shared_classes():
    # so a generator trained on the synthetic set reads label maps drawn in the CMP colours
    shared = {"background": "background", "wall": "facade", "cornice": "cornice",
              "window": "window", "door": "door", "balcony": "balcony"}
    assert {ours: PALETTE[ours] for ours in shared} == {ours: CMP_PALETTE[cmp] for ours, cmp in shared.items()}
    # the roof is the one class CMP lacks: its colour is far from every CMP colour
    assert set(PALETTE) - set(shared) == {"roof"}
    assert min(max(abs(a - b) for a, b in zip(PALETTE["roof"], c)) for c in CMP_PALETTE.values()) >= 80


def test_photo_is_not_a_function_of_the_label_map(small_set):
    wall_means = []
    for path in small_set.rglob("*.png"):
        a, b = halves(path)
        wall = np.all(b == PALETTE["wall"], axis=-1)
        # Pixels of one label differ inside one photo: texture, shading, noise.
        assert len(np.unique(a[wall], axis=0)) > 50
        assert a[wall].astype(float).std(axis=0).max() > 5
        wall_means.append(a[wall].mean(axis=0))
    # And the same label means different colours on different buildings.
    assert np.ptp(np.array(wall_means), axis=0).max() > 40


def test_same_layout_renders_to_different_photos():
    facade = sample_facade(np.random.default_rng(5), 64)
    one = render_photo(facade, np.random.default_rng(1))
    two = render_photo(facade, np.random.default_rng(2))
    assert one.shape == two.shape == (64, 64, 3) and one.dtype == np.uint8
    assert np.abs(one.astype(int) - two.astype(int)).mean() > 10
    # ...while the photo still follows the layout: windows look different from the wall.
    win, wall = facade.labels == WINDOW, facade.labels == WALL
    assert win.any() and wall.any() and (facade.labels == BACKGROUND).any()
    assert np.abs(one[win].mean(0) - one[wall].mean(0)).max() > 10


def test_second_call_skips_and_new_arguments_regenerate(tmp_path):
    root = make_synthetic_dataset(tmp_path / "s", n_train=2, n_val=1, n_test=1, size=32)
    (root / "train" / "0000.png").write_bytes(b"kept")  # proves no rewrite happened
    make_synthetic_dataset(root, n_train=2, n_val=1, n_test=1, size=32)
    assert (root / "train" / "0000.png").read_bytes() == b"kept"
    make_synthetic_dataset(root, n_train=3, n_val=1, n_test=1, size=32)
    assert len(list((root / "train").glob("*.png"))) == 3
    assert (root / "train" / "0000.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((root / "meta.json").read_text())["counts"]["train"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temporary folders left


def test_refuses_to_overwrite_a_folder_that_is_not_synthetic(tmp_path):
    (tmp_path / "facades").mkdir()
    (tmp_path / "facades" / "mine.jpg").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="facades"):
        make_synthetic_dataset(tmp_path / "facades", n_train=1, n_val=1, n_test=1, size=32)
    assert (tmp_path / "facades" / "mine.jpg").read_bytes() == b"precious"


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        make_synthetic_dataset("unused", size=8)
    with pytest.raises(ValueError, match="n_train"):
        make_synthetic_dataset("unused", n_train=-1)


def test_labels_to_photo_is_direction_btoa(small_set):
    x, y = AlignedDataset(small_set, "val", "BtoA", 64, 64, flip=False)[0]
    palette = torch.tensor(list(PALETTE.values()), dtype=torch.float32) / 127.5 - 1

    def distance_to_palette(t):  # per pixel, the largest channel difference to the nearest colour
        pixels = t.permute(1, 2, 0).reshape(-1, 1, 3)
        return (pixels - palette).abs().amax(dim=2).amin(dim=1)

    # x (the generator's input) is the label map: every pixel is a palette colour.
    assert distance_to_palette(x).max() < 1e-5
    assert distance_to_palette(y).max() > 0.1


def test_cli_synthetic(tmp_path, capsys):
    args = ["synthetic", "--root", str(tmp_path), "--n-train", "3", "--n-val", "1",
            "--n-test", "1", "--size", "32", "--seed", "7"]
    assert main(args) == 0
    assert len(list((tmp_path / "synthetic" / "train").glob("*.png"))) == 3
    assert json.loads((tmp_path / "synthetic" / "meta.json").read_text())["seed"] == 7
    assert "BtoA" in capsys.readouterr().out
    assert main(["list", "--root", str(tmp_path)]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith("synthetic ")]
    assert listed and "train 3, val 1, test 1" in listed[0]


def test_cli_error_is_a_message_not_a_traceback(tmp_path, capsys):
    (tmp_path / "synthetic").mkdir()
    (tmp_path / "synthetic" / "mine.txt").write_text("x")
    assert main(["synthetic", "--root", str(tmp_path), "--size", "32"]) == 1
    err = capsys.readouterr().err
    assert "p2p-data: error:" in err and "refusing to overwrite" in err
    assert "Traceback" not in err
