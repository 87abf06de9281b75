"""p2p_ref.datasets.aligned: A|B splitting, the paired jitter, AlignedDataset and its error messages."""

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from p2p_ref.datasets import aligned as data
from p2p_ref.datasets.aligned import AlignedDataset, resolve_dataset
from p2p_ref.paper.data import denormalize, normalize, paired_jitter, split_ab


def texture(h, w, seed=0):
    """A non-repeating RGB pattern (uint8), so any misaligned crop shows."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(small).resize((w, h), Image.BILINEAR)).astype(np.int16)
    return np.clip(img + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)


def write_pair(path, a, b=None):
    """Save A|B with B = A's colours inverted (unless given)."""
    b = 255 - a if b is None else b
    Image.fromarray(np.concatenate([a, b], axis=1)).save(path)
    return path


@pytest.fixture
def pairs(tmp_path):
    root = tmp_path / "pairs"
    (root / "train").mkdir(parents=True)
    for i in range(3):
        write_pair(root / "train" / f"{i}.png", texture(48, 48, seed=i))
    (root / "train" / "notes.txt").write_text("not an image")
    return root


# split_ab, normalize, denormalize

def test_split_ab_cuts_left_and_right_halves():
    a, b = texture(6, 4, 1), texture(6, 4, 2)
    A, B = split_ab(Image.fromarray(np.concatenate([a, b], axis=1)))
    assert A.size == B.size == (4, 6)
    assert np.array_equal(np.asarray(A), a) and np.array_equal(np.asarray(B), b)


def test_split_ab_rejects_odd_width_and_says_the_size():
    with pytest.raises(ValueError, match="7x4"):
        split_ab(Image.new("RGB", (7, 4)))


def test_normalize_round_trip_and_range():
    t = torch.rand(3, 8, 8)
    n = normalize(t)
    assert n.min() >= -1 and n.max() <= 1
    assert torch.allclose(normalize(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.allclose(denormalize(n), t, atol=1e-6)
    assert torch.equal(denormalize(torch.tensor([-3.0, 3.0])), torch.tensor([0.0, 1.0]))


# paired_jitter

def as_tensor(img):
    return torch.from_numpy(img).permute(2, 0, 1).float() / 255


def test_paired_jitter_keeps_a_and_b_aligned():
    a = as_tensor(texture(48, 48))
    b = 1 - a  # B is a pixel-wise function of A: a misaligned crop or flip breaks it
    seen = set()
    for seed in range(12):
        ja, jb = paired_jitter(a, b, load_size=72, crop_size=64,
                               generator=torch.Generator().manual_seed(seed))
        assert ja.shape == jb.shape == (3, 64, 64)
        assert torch.allclose(jb, 1 - ja, atol=1e-5)
        seen.add(ja.sum().item())
    assert len(seen) > 6  # the crop and flip really change with the seed


def test_paired_jitter_draws_i_then_j_then_flip():
    a, b = as_tensor(texture(40, 40, 3)), as_tensor(texture(40, 40, 4))
    flips = 0
    for seed in range(20):
        ja, jb = paired_jitter(a, b, load_size=40, crop_size=32,
                               generator=torch.Generator().manual_seed(seed))
        g = torch.Generator().manual_seed(seed)
        i = int(torch.randint(0, 9, (1,), generator=g))
        j = int(torch.randint(0, 9, (1,), generator=g))
        flip = bool(torch.rand(1, generator=g) < 0.5)
        want_a, want_b = a[:, i:i + 32, j:j + 32], b[:, i:i + 32, j:j + 32]
        if flip:
            want_a, want_b = want_a.flip(-1), want_b.flip(-1)
        assert torch.equal(ja, want_a) and torch.equal(jb, want_b)
        flips += flip
    assert 0 < flips < 20  # mirrored for some seeds, not for others


def test_paired_jitter_without_resize_crop_or_flip_is_the_identity():
    a, b = torch.rand(3, 32, 32), torch.rand(3, 32, 32)
    ja, jb = paired_jitter(a, b, load_size=32, crop_size=32, flip=False)
    assert torch.equal(ja, a) and torch.equal(jb, b)


def test_paired_jitter_resize_stays_in_range():
    a = torch.zeros(3, 16, 16)
    a[:, :, 8:] = 1  # a hard edge makes bicubic overshoot
    ja, _ = paired_jitter(a, a.clone(), load_size=40, crop_size=40, flip=False)
    assert ja.min() >= 0 and ja.max() <= 1


def test_paired_jitter_rejects_bad_arguments():
    with pytest.raises(ValueError, match="crop_size=300"):
        paired_jitter(torch.rand(3, 8, 8), torch.rand(3, 8, 8), load_size=286, crop_size=300)
    with pytest.raises(ValueError, match="same H and W"):
        paired_jitter(torch.rand(3, 8, 8), torch.rand(3, 8, 6))


# AlignedDataset

def test_dataset_items_are_aligned_pairs_in_range(pairs):
    ds = AlignedDataset(pairs, load_size=72, crop_size=64)
    assert len(ds) == 3 and [p.name for p in ds.paths] == ["0.png", "1.png", "2.png"]
    torch.manual_seed(0)
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == y.shape == (3, 64, 64) and x.dtype == torch.float32
        assert x.min() >= -1 and x.max() <= 1 and y.min() >= -1 and y.max() <= 1
        assert torch.allclose(y, -x, atol=1e-5)  # B = 255 - A  <=>  y = -x in [-1, 1]


def test_dataset_direction_swaps_input_and_target(pairs):
    ab = AlignedDataset(pairs, direction="AtoB", load_size=48, crop_size=48, flip=False)
    ba = AlignedDataset(pairs, direction="BtoA", load_size=48, crop_size=48, flip=False)
    x, y = ab[1]
    x2, y2 = ba[1]
    assert torch.equal(x, y2) and torch.equal(y, x2)
    a = torch.from_numpy(texture(48, 48, seed=1)).permute(2, 0, 1).float() / 255
    assert torch.allclose(x, normalize(a), atol=1e-6)  # AtoB: the input is the left half


def test_dataset_is_deterministic_without_jitter_and_reproducible_with_it(pairs):
    plain = AlignedDataset(pairs, load_size=48, crop_size=48, flip=False)
    assert all(torch.equal(u, v) for u, v in zip(plain[0], plain[0]))
    jit = AlignedDataset(pairs, load_size=72, crop_size=64)
    torch.manual_seed(3)
    first = [jit[0][0] for _ in range(6)]
    torch.manual_seed(3)
    second = [jit[0][0] for _ in range(6)]
    assert all(torch.equal(u, v) for u, v in zip(first, second))
    assert len({t.sum().item() for t in first}) > 1


def test_dataset_reads_jpeg(tmp_path):
    (tmp_path / "d" / "val").mkdir(parents=True)
    write_pair(tmp_path / "d" / "val" / "1.jpg", texture(32, 32))
    x, y = AlignedDataset(tmp_path / "d", "val", load_size=32, crop_size=32, flip=False)[0]
    assert x.shape == (3, 32, 32) and (y + x).abs().mean() < 0.1  # JPEG is lossy


def test_bad_direction_and_sizes(pairs):
    with pytest.raises(ValueError, match="'A2B'"):
        AlignedDataset(pairs, direction="A2B")
    with pytest.raises(ValueError, match="crop_size=300"):
        AlignedDataset(pairs, load_size=286, crop_size=300)


def image_bytes(fmt, w=64, h=32):
    """A random RGB image encoded as `fmt` ("PNG", "JPEG")."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
        buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("name, content", [
    ("garbage.png", b"this is not an image at all"),
    ("cut.png", image_bytes("PNG")[:len(image_bytes("PNG")) // 2]),
    ("cut.jpg", image_bytes("JPEG")[:len(image_bytes("JPEG")) // 2]),
])
def test_unreadable_or_truncated_image_names_the_file(tmp_path, name, content):
    (tmp_path / "d" / "train").mkdir(parents=True)
    path = tmp_path / "d" / "train" / name
    path.write_bytes(content)
    ds = AlignedDataset(tmp_path / "d", load_size=64, crop_size=64)
    with pytest.raises(ValueError, match="cannot read") as err:
        ds[0]
    assert str(path) in str(err.value)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_odd_width_names_the_file_and_size(tmp_path):
    (tmp_path / "d" / "train").mkdir(parents=True)
    path = tmp_path / "d" / "train" / "odd.png"
    Image.new("RGB", (65, 32)).save(path)
    with pytest.raises(ValueError, match="65x32") as err:
        AlignedDataset(tmp_path / "d", load_size=32, crop_size=32)[0]
    assert str(path) in str(err.value) and "even width" in str(err.value)


def test_empty_folder_names_the_folder(tmp_path):
    (tmp_path / "d" / "train").mkdir(parents=True)
    (tmp_path / "d" / "train" / "readme.txt").write_text("no images")
    with pytest.raises(FileNotFoundError, match="holds no images") as err:
        AlignedDataset(tmp_path / "d")
    assert str(tmp_path / "d" / "train") in str(err.value)


def test_missing_split_lists_the_existing_ones(pairs):
    with pytest.raises(FileNotFoundError) as err:
        AlignedDataset(pairs, split="test")
    msg = str(err.value)
    assert str(pairs / "test") in msg and "train" in msg


def test_missing_known_dataset_says_how_to_download(tmp_path):
    (tmp_path / "synthetic").mkdir()
    with pytest.raises(FileNotFoundError) as err:
        AlignedDataset(tmp_path / "facades")
    msg = str(err.value)
    assert str(tmp_path / "facades") in msg and "p2p-data download facades" in msg
    assert "synthetic" in msg  # the folders that do exist


# resolve_dataset

def test_resolve_dataset_paths_and_names(tmp_path, pairs):
    assert resolve_dataset(pairs) == pairs
    (tmp_path / "maps").mkdir()
    assert resolve_dataset("maps", tmp_path) == tmp_path / "maps"
    with pytest.raises(FileNotFoundError, match="p2p-data download facades"):
        resolve_dataset("facades", tmp_path)
    with pytest.raises(FileNotFoundError, match="neither a folder nor a dataset name"):
        resolve_dataset("no_such_set", tmp_path)


def test_resolve_dataset_generates_synthetic_when_missing(tmp_path, monkeypatch):
    import p2p_ref.datasets.aligned
    import p2p_ref.datasets.synthetic as synthetic
    real, calls = synthetic.make_synthetic_dataset, []

    def small(root, **kwargs):  # the default 500 x 256 px set is too slow for a unit test
        calls.append(root)
        return real(root, n_train=2, n_val=1, n_test=1, size=32)

    monkeypatch.setattr(synthetic, "make_synthetic_dataset", small)
    monkeypatch.setattr(p2p_ref.datasets.aligned, "make_synthetic_dataset", small)
    path = resolve_dataset("synthetic", tmp_path)
    assert path == tmp_path / "synthetic" and calls == [path]
    assert len(AlignedDataset(path, "train", "BtoA", 32, 32, False)) == 2
    assert resolve_dataset("synthetic", tmp_path) == path and len(calls) == 1  # not again


def test_known_names_match_the_download_table():
    assert {"facades", "cityscapes", "maps"} <= set(data.DATASETS)
