"""Your own data: A/ + B/ folders, messy files (non-pairs, 16-bit, other formats, non-images),
channel counts, --preprocess, `p2p-data check` and `p2p-data combine`, and training end to end
with 1 channel and with --preprocess none. Small generated images only (32 x 32 to 64 x 48).
"""

import struct
import zlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from p2p_ref.datasets.aligned import AlignedDataset, DataWarning, collate_pairs
from p2p_ref.datasets.preprocess import crop_box, pad_to_multiple, preprocess_pair
from p2p_ref.paper.data import normalize
from p2p_ref.datasets.check import check_dataset, combine_pairs
from p2p_ref.datasets.data import main as data_main
from p2p_ref.datasets.images import match_channels, probe, read_image, write_image

pytestmark = pytest.mark.usefixtures("one_thread")


def texture(h, w, seed=0, channels=3):
    """A smooth random pattern (uint8) that shows any misaligned crop."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 4 + 1, w // 4 + 1, channels), dtype=np.uint8)
    img = Image.fromarray(small[:, :, 0] if channels == 1 else small).resize((w, h), Image.BILINEAR)
    return np.array(img)


def save(path, arr, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def png16(path, arr):
    """Write a 16-bit PNG (grayscale H x W or RGB H x W x 3) byte by byte: Pillow cannot write
    16-bit RGB."""
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = arr.shape[:2]
    colour = 0 if arr.ndim == 2 else 2
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour,
                                                                       0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def paired_folders(root, n=3, size=(32, 32), split="train", gray_a=False):
    w, h = size
    for i in range(n):
        a = texture(h, w, seed=i, channels=1 if gray_a else 3)
        save(root / split / "A" / f"{i}.png", a)
        save(root / split / "B" / f"{i}.jpg" if i == 1 else root / split / "B" / f"{i}.png",
             255 - texture(h, w, seed=i), quality=95)
    return root


# ----------------------------------------------------------------------------- A/ + B/ folders


def test_paired_folders_pair_by_name_and_match_ab_files(tmp_path):
    paired_folders(tmp_path / "ab")
    ds = AlignedDataset(tmp_path / "ab", "train", load_size=32, crop_size=32, flip=False)
    assert ds.layout == "A/B" and len(ds) == 3
    assert [(a.name, b.name) for a, b in ds.pairs] == [("0.png", "0.png"), ("1.png", "1.jpg"),
                                                      ("2.png", "2.png")]
    x, y = ds[0]
    assert torch.allclose(x, normalize(torch.from_numpy(texture(32, 32, 0)).permute(2, 0, 1) / 255))
    assert torch.allclose(y, -x, atol=1e-5)  # B = 255 - A
    # the same pair as one A|B file gives the same tensors
    a, b = np.asarray(Image.open(ds.pairs[0][0])), np.asarray(Image.open(ds.pairs[0][1]))
    save(tmp_path / "one" / "train" / "0.png", np.concatenate([a, b], axis=1))
    x2, y2 = AlignedDataset(tmp_path / "one", "train", load_size=32, crop_size=32, flip=False)[0]
    assert torch.equal(x, x2) and torch.equal(y, y2)
    # the jitter stays aligned across the two files
    torch.manual_seed(0)
    x, y = AlignedDataset(tmp_path / "ab", "train", load_size=40, crop_size=32)[2]
    assert torch.allclose(y, -x, atol=0.02)  # B is a JPEG only for pair 1


def test_paired_folders_report_missing_partners_duplicates_and_non_images(tmp_path):
    root = paired_folders(tmp_path / "d", n=4)
    (root / "train" / "B" / "3.png").unlink()
    save(root / "train" / "A" / "2.jpg", texture(32, 32))  # a second "2" in A/
    (root / "train" / "A" / ".ipynb_checkpoints").mkdir()  # hidden: skipped quietly
    with pytest.raises(ValueError) as err:
        AlignedDataset(root, "train")
    msg = str(err.value)
    assert "A/ have no partner of the same name" in msg and "3.png" in msg
    assert "2 files named '2'" in msg and "2.jpg" in msg and "2.png" in msg
    assert "ipynb" not in msg
    (root / "train" / "A" / "3.png").unlink()
    (root / "train" / "A" / "2.jpg").unlink()
    (root / "train" / "B" / "notes.txt").write_text("labels from the survey")
    with pytest.warns(DataWarning, match=r"skipped, not images .*notes\.txt"):
        assert len(AlignedDataset(root, "train", load_size=32, crop_size=32)) == 3


def test_only_a_folder_or_both_layouts_are_errors(tmp_path):
    save(tmp_path / "d" / "train" / "A" / "0.png", texture(32, 32))
    with pytest.raises(ValueError, match=r"has A/ but no B/"):
        AlignedDataset(tmp_path / "d", "train")
    save(tmp_path / "d" / "train" / "B" / "0.png", texture(32, 32))
    save(tmp_path / "d" / "train" / "7.png", texture(32, 64))
    with pytest.raises(ValueError, match=r"both A/ \+ B/ folders and 1 image.*7\.png"):
        AlignedDataset(tmp_path / "d", "train")


def test_a_and_b_of_different_sizes_are_named(tmp_path):
    root = paired_folders(tmp_path / "d", n=2)
    save(root / "train" / "B" / "0.png", texture(30, 32))
    with pytest.raises(ValueError, match=r"A/0\.png is 32x32 but B/0\.png is 32x30"):
        AlignedDataset(root, "train")


# ----------------------------------------------------------------------------- messy files


def test_an_even_width_that_is_not_a_pair_warns_with_its_name(tmp_path):
    path = save(tmp_path / "d" / "train" / "odd.png", texture(255, 256))
    with pytest.warns(DataWarning, match=r"odd\.png is 256x255: its width is not about twice"):
        ds = AlignedDataset(tmp_path / "d", "train", load_size=64, crop_size=64)
    with pytest.warns(DataWarning, match="likely not an A|B pair"):  # also when read later
        AlignedDataset(tmp_path / "d", "train", load_size=64, crop_size=64, check=False)[0]
    assert ds.paths == [path]


def test_sixteen_bit_pngs_keep_their_precision(tmp_path):
    gray = (np.arange(32 * 64).reshape(32, 64) * 31 % 65536).astype(np.uint16)
    save(tmp_path / "g.png", gray)  # Pillow writes 16-bit grayscale itself
    t = read_image(tmp_path / "g.png")
    assert t.shape == (1, 32, 64) and torch.allclose(t[0], torch.from_numpy(gray / 65535).float())
    assert probe(tmp_path / "g.png").bits == 16
    rgb = np.random.default_rng(0).integers(0, 65536, (8, 16, 3)).astype(np.uint16)
    t = read_image(png16(tmp_path / "rgb.png", rgb))
    assert torch.allclose(t, torch.from_numpy(rgb / 65535).float().permute(2, 0, 1))
    assert len({round(v, 6) for v in t.flatten().tolist()}) > 256  # more than 8 bits of values
    # as training data: an A|B 16-bit grayscale file, A = the left half
    png16(tmp_path / "d" / "train" / "0.png", gray)
    x, y = AlignedDataset(tmp_path / "d", "train", load_size=32, crop_size=32, flip=False,
                          input_nc=1, output_nc=1)[0]
    assert torch.allclose(x[0], normalize(torch.from_numpy(gray[:, :32] / 65535).float()))
    assert x.max() < 1  # not clipped to white, as a conversion to 8-bit RGB would


@pytest.mark.parametrize("ext, kw", [("tif", {}), ("webp", {"lossless": True}), ("bmp", {})])
def test_tif_webp_and_bmp_are_read(tmp_path, ext, kw):
    ab = np.concatenate([texture(32, 32), 255 - texture(32, 32)], axis=1)
    save(tmp_path / "d" / "train" / f"0.{ext}", ab, **kw)
    x, y = AlignedDataset(tmp_path / "d", "train", load_size=32, crop_size=32, flip=False)[0]
    assert torch.allclose(y, -x, atol=1e-5)


def test_npy_arrays_hold_any_channel_count(tmp_path):
    a = np.random.default_rng(0).random((32, 32, 5)).astype(np.float32)
    (tmp_path / "d" / "train" / "A").mkdir(parents=True)
    (tmp_path / "d" / "train" / "B").mkdir(parents=True)
    np.save(tmp_path / "d" / "train" / "A" / "0.npy", a)
    save(tmp_path / "d" / "train" / "B" / "0.png", texture(32, 32))
    x, y = AlignedDataset(tmp_path / "d", "train", load_size=32, crop_size=32, flip=False,
                          input_nc=5)[0]
    assert x.shape == (5, 32, 32)
    assert torch.allclose(x, normalize(torch.from_numpy(a)).permute(2, 0, 1))
    np.save(tmp_path / "d" / "train" / "A" / "0.npy", a * 3)
    with pytest.raises(ValueError, match=r"0\.npy holds floats from .* values in \[0, 1\]"):
        AlignedDataset(tmp_path / "d", "train", load_size=32, crop_size=32, input_nc=5)[0]


def test_channel_conversions():
    rgb = torch.rand(3, 4, 4)
    gray = match_channels(rgb, 1)
    assert torch.allclose(gray[0], 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])
    assert torch.equal(match_channels(gray, 3), gray.expand(3, -1, -1))
    rgba = torch.cat([rgb, torch.zeros(1, 4, 4)])
    assert torch.equal(match_channels(rgba, 3), rgb)
    assert torch.equal(match_channels(rgb, 4)[3], torch.ones(4, 4))
    with pytest.raises(ValueError, match="5 channel.*cannot become 3.*--input-nc"):
        match_channels(torch.rand(5, 4, 4), 3, path="x.npy")


def test_rgba_and_rgb_to_gray_are_reported_at_start_up(tmp_path):
    rgba = np.concatenate([texture(32, 64), np.full((32, 64, 1), 128, np.uint8)], axis=2)
    save(tmp_path / "d" / "train" / "0.png", rgba)
    with pytest.warns(DataWarning) as record:
        x, y = AlignedDataset(tmp_path / "d", "train", load_size=32, crop_size=32, flip=False,
                              input_nc=1)[0]
    text = " ".join(str(w.message) for w in record)
    assert "A of 1 pair(s): converted to grayscale" in text
    assert "B of 1 pair(s): alpha channel dropped" in text
    assert x.shape == (1, 32, 32) and y.shape == (3, 32, 32)


# ----------------------------------------------------------------------------- --preprocess


def test_preprocess_modes_have_the_official_meanings():
    a = torch.rand(3, 48, 64)
    b = 1 - a
    g = torch.Generator().manual_seed(0)
    # crop: a window of the image at its own size
    ca, cb = preprocess_pair(a, b, "crop", 0, 32, flip=False, generator=g)
    hits = [(i, j) for i in range(17) for j in range(33)
            if torch.equal(a[:, i:i + 32, j:j + 32], ca)]
    assert ca.shape == (3, 32, 32) and len(hits) == 1 and torch.allclose(cb, 1 - ca)
    # scale_width_and_crop: width -> load_size (aspect kept), then the crop
    sa, sb = preprocess_pair(a, b, "scale_width_and_crop", 40, 24, flip=False, center_crop=True)
    assert sa.shape == (3, 24, 24)
    full, _ = preprocess_pair(a, b, "scale_width_and_crop", 40, 30, flip=False, center_crop=True)
    assert full.shape == (3, 30, 30)  # 64x48 -> 40x30, then the 30 x 30 centre
    # none: every size kept, padded (reflect) to the multiple
    na, nb = preprocess_pair(a[:, :40, :50], b[:, :40, :50], "none", flip=False, multiple=32)
    assert na.shape == (3, 64, 64)
    assert torch.equal(crop_box(na, (12, 7, 40, 50)), a[:, :40, :50])
    # center crop is deterministic; flip=False never mirrors
    assert torch.equal(preprocess_pair(a, b, "crop", 0, 32, flip=False, center_crop=True)[0],
                       a[:, 8:40, 16:48])
    with pytest.raises(ValueError, match=r"64x48 .* smaller than crop_size=56"):
        preprocess_pair(a, b, "crop", 0, 56)


def test_pad_to_multiple_reflects_and_handles_tiny_images():
    t = torch.arange(30.).view(1, 5, 6)
    padded, box = pad_to_multiple(t, 8)
    assert padded.shape == (1, 8, 8) and box == (1, 1, 5, 6)
    assert torch.equal(crop_box(padded, box), t)
    assert padded[0, 0, 1] == t[0, 1, 0]  # reflection, not zeros
    tiny, box = pad_to_multiple(torch.rand(3, 2, 2), 32)  # too small to reflect: replicate
    assert tiny.shape == (3, 32, 32)


def test_no_flip_never_mirrors(tmp_path):
    ab = np.concatenate([texture(32, 32), 255 - texture(32, 32)], axis=1)
    save(tmp_path / "d" / "train" / "0.png", ab)
    kept = AlignedDataset(tmp_path / "d", "train", load_size=32, crop_size=32, flip=False)
    mirrored = AlignedDataset(tmp_path / "d", "train", load_size=32, crop_size=32, flip=True)
    first = kept[0][0]
    flips = 0
    for seed in range(10):
        torch.manual_seed(seed)
        assert torch.equal(kept[0][0], first)
        flips += torch.equal(mirrored[0][0], first.flip(-1))
    assert 0 < flips < 10


def test_batches_of_mixed_sizes_say_what_to_do():
    with pytest.raises(ValueError, match=r"different sizes \(32x32, 64x32\).*--batch-size 1"):
        collate_pairs([(torch.zeros(3, 32, 32), torch.zeros(3, 32, 32)),
                       (torch.zeros(3, 32, 64), torch.zeros(3, 32, 64))])
    x, y = collate_pairs([(torch.zeros(3, 8, 8), torch.ones(3, 8, 8))] * 2)
    assert x.shape == (2, 3, 8, 8)


# ----------------------------------------------------------------------------- check, combine


@pytest.fixture
def messy(tmp_path):
    root = tmp_path / "messy"
    for i in range(3):
        ab = np.concatenate([texture(32, 32, i), texture(32, 32, 9)], 1)
        save(root / "train" / f"{i}.png", ab)
    save(root / "train" / "not_a_pair.png", texture(255, 256))
    (root / "train" / "cut.jpg").write_bytes(
        (root / "train" / "0.png").read_bytes()[:300])  # truncated
    (root / "train" / "README.txt").write_text("x")
    png16(root / "train" / "deep.png", (np.ones((32, 64)) * 40000).astype(np.uint16))
    save(root / "val" / "0.png", np.asarray(Image.open(root / "train" / "1.png")))  # a copy
    return root


def test_check_reports_every_problem_by_name(messy, capsys):
    report = check_dataset(messy)
    text = report.text()
    assert "train: 6 pair(s) (A|B files)" in text and "val: 1 pair(s)" in text
    assert "64x32 (4)" in text  # the sizes
    assert "not_a_pair.png is 256x255" in text and "likely not an A|B pair" in text
    assert "corrupt or truncated" in text and "cut.jpg" in text
    assert "16-bit grayscale image(s): read at full 16-bit precision, grayscale repeated" in text
    assert "will be ignored (not images): README.txt" in text
    assert "the same image is in train and val: train/1.png, val/0.png" in text
    assert not report.ok
    assert data_main(["check", str(messy)]) == 1
    assert "error(s): fix them before training" in capsys.readouterr().out


def test_check_of_a_clean_dataset_passes(tmp_path, capsys):
    paired_folders(tmp_path / "clean", n=2)
    assert data_main(["check", str(tmp_path / "clean")]) == 0
    out = capsys.readouterr().out
    assert "A/ + B/ folders paired by name" in out and "OK: no errors" in out


@pytest.mark.parametrize("layout", ["ours", "official"])
def test_combine_writes_ab_files_that_load_like_the_folders(tmp_path, layout):
    src = paired_folders(tmp_path / "src", n=2)
    if layout == "official":  # SRC/A/train + SRC/B/train, as the official combine script wants
        (src / "A").mkdir(), (src / "B").mkdir()
        (src / "train" / "A").rename(src / "A" / "train")
        (src / "train" / "B").rename(src / "B" / "train")
        (src / "train").rmdir()
    assert combine_pairs(src, tmp_path / "out", log=lambda msg: None) == 2
    files = sorted(p.name for p in (tmp_path / "out" / "train").iterdir())
    assert files == ["0.png", "1.png"]
    assert Image.open(tmp_path / "out" / "train" / "0.png").size == (64, 32)
    kw = dict(load_size=32, crop_size=32, flip=False)
    combined = AlignedDataset(tmp_path / "out", "train", **kw)
    folders = AlignedDataset(paired_folders(tmp_path / "again", n=2), "train", **kw)
    for i in range(2):
        for u, v in zip(combined[i], folders[i]):
            assert torch.allclose(u, v, atol=1 / 255)


def test_combine_refuses_problems_and_writes_nothing(tmp_path, capsys):
    src = paired_folders(tmp_path / "src", n=3)
    (src / "train" / "B" / "2.png").unlink()
    png16(src / "train" / "A" / "0.png", np.zeros((32, 32), np.uint16))
    assert data_main(["combine", str(src), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "nothing was written" in err and "have no partner" in err and "2.png" in err
    assert "16-bit grayscale: combine writes 8-bit images" in err
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == [src]


def test_write_image_round_trips():
    t = torch.rand(1, 8, 8)
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as d:
        p16 = write_image(t, Path(d) / "g.png", bits=16)
        assert torch.allclose(read_image(p16), t, atol=1 / 65535)
        p5 = write_image(torch.rand(5, 8, 8), Path(d) / "m.png")
        assert p5.suffix == ".npy" and read_image(p5).shape == (5, 8, 8)


SIXTEEN_BIT = np.random.default_rng(1).integers(0, 65536, (8, 12, 3)).astype(np.uint16)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("ext", ["png", "tif"])
def test_sixteen_bit_files_are_read_exactly(tmp_path, ext, channels):
    """Files written by other tools (Pillow, the byte writer above, tifffile in both planar
    layouts) are read value for value, not through 8 bits."""
    import tifffile
    arr = SIXTEEN_BIT[:, :, 0] if channels == 1 else SIXTEEN_BIT
    want = torch.from_numpy(arr.astype(np.float64) / 65535).float().reshape(8, 12, channels)
    files = [png16(tmp_path / "a.png", arr)] if ext == "png" else []
    if ext == "tif":
        tifffile.imwrite(tmp_path / "a.tif", arr, photometric="minisblack" if channels == 1
                         else "rgb")
        files.append(tmp_path / "a.tif")
        if channels == 3:
            tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(arr, -1, 0), photometric="rgb",
                             planarconfig="separate")
            files.append(tmp_path / "planar.tif")
    for f in files:
        assert torch.equal(read_image(f), want.permute(2, 0, 1)), f
        info = probe(f)
        assert (info.bits, info.channels, info.size) == (16, channels, (12, 8)), f


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("ext", ["png", "tif"])
def test_sixteen_bit_outputs_round_trip(tmp_path, ext, channels):
    """write_image(bits=16) keeps 16 bits for 1 and 3 channels: 3-channel PNG paths become
    16-bit TIFFs (no PNG writer here does 16-bit colour), the rest keep their suffix."""
    t = torch.rand(channels, 8, 12, generator=torch.Generator().manual_seed(channels))
    path = write_image(t, tmp_path / f"out.{ext}", bits=16)
    assert path.suffix == (".png" if ext == "png" and channels == 1 else ".tif")
    back = read_image(path)
    assert back.shape == t.shape and (back - t).abs().max() <= 0.5 / 65535 + 1e-7
    assert len(set(back.flatten().tolist())) > 80 and probe(path).bits == 16
    eight = read_image(write_image(t, tmp_path / f"eight.{ext}"))
    assert (eight - t).abs().max() > 1 / 65535  # 8 bits do lose what 16 keep


def test_a_truncated_sixteen_bit_tiff_names_the_file(tmp_path):
    import tifffile
    tifffile.imwrite(tmp_path / "full.tif", SIXTEEN_BIT, photometric="rgb")
    data = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot read .*cut\.tif: .*Expected a complete image"):
        read_image(tmp_path / "cut.tif")


def test_tiffs_tifffile_cannot_decode_go_to_pillow_when_nothing_is_lost(tmp_path):
    lzw = save(tmp_path / "lzw.tif", texture(16, 16), compression="tiff_lzw")
    assert torch.equal(read_image(lzw), torch.from_numpy(texture(16, 16)).permute(2, 0, 1) / 255)
    with pytest.raises(ValueError, match="bits=12: expected 8 or 16"):
        write_image(torch.rand(3, 4, 4), tmp_path / "x.png", bits=12)


# ----------------------------------------------------------------------------- training


def tiny(dataset, out, **kw):
    from p2p_ref.training.config import TrainConfig
    base = TrainConfig(dataset=str(dataset), load_size=36, crop_size=32, num_downs=5, ngf=8, ndf=8,
                       n_epochs=1, n_epochs_decay=0, out=str(out), num_workers=0, device="cpu",
                       direction="AtoB")
    return replace(base, **kw)


def test_one_channel_training_end_to_end(tmp_path):
    from p2p_ref.training.checkpoint import load_checkpoint
    from p2p_ref.training.train import train
    root = tmp_path / "gray"
    for split, n in (("train", 3), ("val", 1)):
        for i in range(n):
            save(root / split / "A" / f"{i}.png", texture(32, 32, i, channels=1))
            save(root / split / "B" / f"{i}.png", 255 - texture(32, 32, i, channels=1))
    result = train(tiny(root, tmp_path / "run", input_nc=1, output_nc=1, flip=False))
    assert result["status"] == "finished" and result["step"] == 3
    G = result["G"]
    assert G.encoders[0].block[0].in_channels == 1 and G.decoders[-1].block[1].out_channels == 1
    assert result["D"].model[0].in_channels == 2
    ck = load_checkpoint(tmp_path / "run")
    assert ck["config"]["input_nc"] == 1 and ck["config"]["flip"] is False
    assert Image.open(tmp_path / "run" / "samples" / "epoch_001.png").mode == "RGB"


def test_preprocess_none_trains_on_mixed_sizes(tmp_path, capsys):
    from p2p_ref.training.train import train
    root = tmp_path / "mixed"
    for i, (w, h) in enumerate([(40, 32), (32, 48)]):
        ab = np.concatenate([texture(h, w, i), 255 - texture(h, w, i)], 1)
        save(root / "train" / f"{i}.png", ab)
    result = train(tiny(root, tmp_path / "run", preprocess="none", crop_size=30))
    assert result["status"] == "finished" and result["step"] == 2
    out = capsys.readouterr().out  # the start-up check: 80x32 is not 2:1
    assert "data warning:" in out and "0.png is 80x32" in out and "likely not an A|B pair" in out
