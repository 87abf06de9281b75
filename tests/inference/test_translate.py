"""p2p-translate at native size: padding and cropping back, tiling with overlap, channels, the old
square resize, and A/ + B/ inputs. A tiny U-Net (num_downs 5, ngf 8) keeps it fast."""

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from p2p_ref.inference import translate
from p2p_ref.training.checkpoint import save_checkpoint
from p2p_ref.datasets.preprocess import pad_to_multiple
from p2p_ref.paper.data import normalize
from p2p_ref.paper.models import UNetGenerator
from p2p_ref.inference.translate import load_generator, translate_tensor

pytestmark = pytest.mark.usefixtures("one_thread")

CONFIG = dict(num_downs=5, ngf=8, norm="batch", input_nc=3, output_nc=3, direction="AtoB",
              crop_size=32)


def tiny_checkpoint(path, **config):
    cfg = {**CONFIG, **config}
    torch.manual_seed(0)
    G = UNetGenerator(cfg["input_nc"], cfg["output_nc"], num_downs=5, ngf=8)
    return save_checkpoint(path, {"G": G.state_dict(), "config": cfg})


class Identity(nn.Module):
    """A stand-in generator that returns its input: tiling must then give the input back."""
    num_downs = 5

    def forward(self, x):
        assert x.shape[-1] % 32 == 0 and x.shape[-2] % 32 == 0
        return x


@pytest.mark.parametrize("w, h", [(300, 200), (1000, 600)])
def test_native_size_keeps_size_and_aspect(tmp_path, w, h):
    tiny_checkpoint(tmp_path / "g.pt")
    G, _ = load_generator(tmp_path / "g.pt", mode="eval")
    x = torch.rand(3, h, w)
    out = translate_tensor(G, x)
    assert out.shape == (3, h, w) and 0 <= out.min() and out.max() <= 1
    # the crop of G's output on the reflect-padded image, not a squashed square
    padded, (top, left, _, _) = pad_to_multiple(normalize(x), 32)
    with torch.no_grad():
        full = (G(padded[None])[0] + 1) / 2
    assert torch.allclose(out, full[:, top:top + h, left:left + w], atol=1e-6)


def test_tiles_blend_back_to_the_whole_image():
    x = torch.rand(3, 600, 1000)
    out = translate_tensor(Identity(), x, tile=256, overlap=64)
    assert torch.allclose(out, x, atol=1e-6)
    assert torch.allclose(translate_tensor(Identity(), x[:, :100, :90], tile=64, overlap=0),
                          x[:, :100, :90], atol=1e-6)
    with pytest.raises(ValueError, match=r"--tile 100 must be a positive multiple of .* = 32"):
        translate_tensor(Identity(), x, tile=100)
    with pytest.raises(ValueError, match="--tile-overlap 64"):
        translate_tensor(Identity(), x, tile=64, overlap=64)


def test_tiles_with_a_real_generator_stay_close_to_the_whole(tmp_path):
    tiny_checkpoint(tmp_path / "g.pt")
    G, _ = load_generator(tmp_path / "g.pt", mode="eval")
    x = torch.rand(3, 200, 300)
    whole, tiled = translate_tensor(G, x), translate_tensor(G, x, tile=128, overlap=32)
    assert tiled.shape == whole.shape
    # each tile sees less context at its borders, so values differ a little, not wholesale
    assert (tiled - whole).abs().mean() < 0.05


def test_cli_native_tiled_square_and_side_by_side(tmp_path, capsys):
    tiny_checkpoint(tmp_path / "g.pt")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 300, 3), np.uint8)).save(
        tmp_path / "photo.png")
    pair = np.random.default_rng(1).integers(0, 256, (60, 120, 3), np.uint8)
    Image.fromarray(pair).save(tmp_path / "pair.jpg")
    args = ["--checkpoint", str(tmp_path / "g.pt"), "--mode", "eval"]
    translate.main(args + [str(tmp_path / "photo.png"), str(tmp_path / "pair.jpg"),
                           "--out", str(tmp_path / "native")])
    assert Image.open(tmp_path / "native" / "photo.png").size == (300, 200)
    assert Image.open(tmp_path / "native" / "pair.png").size == (60, 60)  # the A half
    out = capsys.readouterr().out
    assert "read as A|B pairs (pair.jpg)" in out and "at their own size" in out
    translate.main(args + [str(tmp_path / "photo.png"), "--out", str(tmp_path / "tiled"),
                           "--tile", "64", "--tile-overlap", "16"])
    assert Image.open(tmp_path / "tiled" / "photo.png").size == (300, 200)
    translate.main(args + [str(tmp_path / "pair.jpg"), "--out", str(tmp_path / "sq"), "--square",
                           "--side-by-side"])
    assert Image.open(tmp_path / "sq" / "pair.png").size == (96, 32)  # input | output | target


def test_cli_one_channel_and_paired_folders(tmp_path):
    tiny_checkpoint(tmp_path / "g.pt", input_nc=1, output_nc=1)
    split = tmp_path / "test"
    for side in "AB":
        (split / side).mkdir(parents=True)
    gray = (np.random.default_rng(0).random((40, 50)) * 65535).astype(np.uint16)
    Image.fromarray(gray).save(split / "A" / "x.png")  # 16-bit grayscale input
    Image.fromarray((gray // 256).astype(np.uint8)).save(split / "B" / "x.png")
    translate.main(["--checkpoint", str(tmp_path / "g.pt"), str(split), "--out",
                    str(tmp_path / "o8")])
    img = Image.open(tmp_path / "o8" / "x.png")
    assert img.mode == "L" and img.size == (50, 40)
    translate.main(["--checkpoint", str(tmp_path / "g.pt"), str(split), "--out",
                    str(tmp_path / "o16"), "--bits", "16", "--mode", "eval"])
    assert Image.open(tmp_path / "o16" / "x.png").mode.startswith("I")
    translate.main(["--checkpoint", str(tmp_path / "g.pt"), str(split), "--out",
                    str(tmp_path / "sbs"), "--side-by-side"])
    assert Image.open(tmp_path / "sbs" / "x.png").size == (150, 40)  # input | output | target


def test_translate_on_pil_images_keeps_the_old_square_call(tmp_path):
    tiny_checkpoint(tmp_path / "g.pt")
    G, _ = load_generator(tmp_path / "g.pt", mode="eval")
    image = Image.new("RGB", (70, 45), (10, 200, 30))
    assert translate.translate(G, image).size == (70, 45)
    assert translate.translate(G, image, 32).size == (32, 32)  # translate(G, image, size, device)


def test_a_known_dataset_folder_refuses_a_contradicting_direction_and_bars_show(tmp_path, capsys):
    from p2p_ref.datasets.synthetic import make_synthetic_dataset
    make_synthetic_dataset(tmp_path / "syn", n_train=1, n_val=0, n_test=3, size=32)
    tiny_checkpoint(tmp_path / "g.pt")  # AtoB, trained on no known dataset
    args = ["--checkpoint", str(tmp_path / "g.pt"), str(tmp_path / "syn" / "test")]
    with pytest.raises(SystemExit, match=r"is synthetic, whose pairs are read BtoA .* uses AtoB: "
                                         r"pass --direction AtoB"):
        translate.main(args + ["--out", str(tmp_path / "refused")])
    assert not (tmp_path / "refused").exists()
    translate.main(args + ["--out", str(tmp_path / "given"), "--direction", "AtoB"])
    printed = capsys.readouterr()
    assert "translated 3 image(s) at their own size (AtoB, --mode paper)" in printed.out
    assert "p2p-translate: 100%" in printed.err and "3/3" in printed.err  # the progress bar
    tiny_checkpoint(tmp_path / "b.pt", direction="BtoA")
    translate.main(["--checkpoint", str(tmp_path / "b.pt"), str(tmp_path / "syn" / "test"),
                    "--out", str(tmp_path / "fits"), "--mode", "eval"])
    assert "(BtoA, --mode eval)" in capsys.readouterr().out
    assert len(list((tmp_path / "fits").glob("*.png"))) == 3


def test_sixteen_bit_colour_outputs_are_tiffs(tmp_path):
    tiny_checkpoint(tmp_path / "g.pt")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), np.uint8)).save(
        tmp_path / "x.png")
    translate.main(["--checkpoint", str(tmp_path / "g.pt"), str(tmp_path / "x.png"), "--out",
                    str(tmp_path / "o"), "--bits", "16"])
    from p2p_ref.datasets.images import probe, read_image
    info = probe(tmp_path / "o" / "x.tif")
    assert (info.bits, info.channels, info.size) == (16, 3, (50, 40))
    assert len(set(read_image(tmp_path / "o" / "x.tif").flatten().tolist())) > 256
