"""p2p-eval: per-image L1 / PSNR / SSIM, FID and KID through torchmetrics (with a small feature
extractor passed in: the Inception weights cannot be downloaded here), the gallery, and the
error when the Inception weights cannot be fetched."""

import json
import math
import re
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from p2p_ref.inference import eval as evaluate
from p2p_ref.training.checkpoint import save_checkpoint
from p2p_ref.paper.models import UNetGenerator
from p2p_ref.datasets.synthetic import make_synthetic_dataset

pytestmark = pytest.mark.usefixtures("one_thread")


class SmallFeatures(nn.Module):
    """A fixed random conv + pooling: [0, 1] RGB images -> 8 numbers each, for the metric path."""
    num_features = 8

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        with torch.no_grad():
            return torch.tanh(self.conv(x.float())).mean(dim=(2, 3)).double()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    make_synthetic_dataset(tmp / "syn", n_train=1, n_val=1, n_test=12, size=32)
    torch.manual_seed(0)
    G = UNetGenerator(num_downs=5, ngf=8)
    save_checkpoint(tmp / "g.pt", {"G": G.state_dict(), "config": dict(
        num_downs=5, ngf=8, norm="batch", direction="BtoA", crop_size=32)})
    return tmp


def test_eval_of_a_checkpoint_writes_metrics_gallery_and_notes(setup, capsys):
    out = setup / "out"
    summary = evaluate.eval_command(["--checkpoint", str(setup / "g.pt"), str(setup / "syn"), "--out",
                             str(out), "--kid-subsets", "5"], features=SmallFeatures())
    printed = capsys.readouterr().out
    assert "FID on 12 images is unreliable" in printed and "KID (unbiased) is the better" in printed
    data = json.loads((out / "metrics.json").read_text())
    assert data["summary"]["images"] == 12 and len(data["images"]) == 12
    assert {"l1", "psnr", "ssim", "fid", "kid", "kid_std"} <= set(summary)
    assert summary["fid"] > 0 and math.isfinite(summary["kid"])
    for row in data["images"][:3]:  # L1 and PSNR recomputed from the written images
        o = np.asarray(Image.open(out / "images" / f"{row['name']}_output.png"), float) / 255
        t = np.asarray(Image.open(out / "images" / f"{row['name']}_target.png"), float) / 255
        assert abs(np.abs(o - t).mean() - row["l1"]) < 2 / 255
        assert abs(10 * math.log10(1 / ((o - t) ** 2).mean()) - row["psnr"]) < 0.2
        assert -1 <= row["ssim"] <= 1
    assert summary["l1"] == pytest.approx(np.mean([r["l1"] for r in data["images"]]))
    assert (out / "per_image.csv").read_text().splitlines()[0] == "name,l1,psnr,ssim"


def test_gallery_is_worst_first_and_sortable(setup):
    out = setup / "gallery"
    evaluate.eval_command(["--checkpoint", str(setup / "g.pt"), str(setup / "syn"), "--out", str(out),
                   "--no-fid"])
    page = (out / "index.html").read_text()
    rows = json.loads((out / "metrics.json").read_text())["images"]
    names_in_page = re.findall(r'<tr><td data-v="([^"]+)">', page)
    assert names_in_page == [r["name"] for r in sorted(rows, key=lambda r: -r["l1"])]
    assert "function sortBy" in page and 'data-col="4"' in page  # image, 3 panels, then L1
    for name in names_in_page[:2]:
        for panel in ("input", "output", "target"):
            assert f'src="images/{name}_{panel}.png"' in page
            assert (out / "images" / f"{name}_{panel}.png").is_file()
    assert "fid" not in json.loads((out / "metrics.json").read_text())["summary"]


def test_fid_and_kid_vanish_for_identical_sets_and_grow_with_differences():
    g = torch.Generator().manual_seed(0)
    targets = [torch.rand(3, 16, 16, generator=g) for _ in range(20)]
    same = evaluate.distribution_metrics(targets, targets, SmallFeatures(), kid_subsets=5)
    dark = evaluate.distribution_metrics([t * 0.3 for t in targets], targets, SmallFeatures(),
                                         kid_subsets=5)
    assert abs(same["fid"]) < 1e-3 and abs(same["kid"]) < 1e-3
    assert dark["fid"] > 0.01 and dark["kid"] > 0.001


def test_results_against_targets(setup, tmp_path):
    results, targets, inputs = (tmp_path / n for n in ("results", "targets", "inputs"))
    for d in (results, targets, inputs):
        d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        t = rng.integers(0, 256, (24, 40, 3), np.uint8)
        Image.fromarray(t).save(targets / f"{i}.png")
        Image.fromarray(t).save(inputs / f"{i}.png")
        Image.fromarray(255 - t if i == 2 else t).save(results / f"{i}.png")
    summary = evaluate.eval_command(["--results", str(results), "--targets", str(targets), "--inputs",
                             str(inputs), "--out", str(tmp_path / "e"), "--no-fid"])
    rows = json.loads((tmp_path / "e" / "metrics.json").read_text())["images"]
    assert [r["l1"] for r in rows][:2] == [0, 0] and rows[2]["l1"] > 0.2
    assert math.isinf(rows[0]["psnr"]) and summary["psnr"] == pytest.approx(rows[2]["psnr"])
    (results / "1.png").unlink()
    with pytest.raises(SystemExit, match="1 target.* no translated image .*: 1"):
        evaluate.eval_command(["--results", str(results), "--targets", str(targets), "--out",
                       str(tmp_path / "e2"), "--no-fid"])
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(results / "1.png")
    with pytest.raises(SystemExit, match=r"1\.png is 10x10 but its target is 40x24"):
        evaluate.eval_command(["--results", str(results), "--targets", str(targets), "--out",
                       str(tmp_path / "e3"), "--no-fid"])


def test_missing_inception_weights_say_what_failed(setup, monkeypatch):
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fe, "load_state_dict_from_url", offline)
    with pytest.raises(SystemExit) as err:
        evaluate.eval_command(["--checkpoint", str(setup / "g.pt"), str(setup / "syn"), "--out",
                       str(setup / "noweights")])
    msg = str(err.value)
    assert "Inception v3 weights" in msg and "name resolution" in msg
    assert fe.URL_INCEPTION_V3 in msg and "--no-fid" in msg


def test_results_against_a_dataset_split_agree_with_the_checkpoint_path(setup, tmp_path):
    first = evaluate.eval_command(["--checkpoint", str(setup / "g.pt"), str(setup / "syn"), "--out",
                           str(tmp_path / "a"), "--no-fid"])
    results = tmp_path / "results"
    results.mkdir()
    for p in (tmp_path / "a" / "images").glob("*_output.png"):
        p.rename(results / p.name.replace("_output", ""))
    again = evaluate.eval_command(["--results", str(results), "--dataset", str(setup / "syn"),
                           "--direction", "BtoA", "--out", str(tmp_path / "b"), "--no-fid"])
    assert again["images"] == first["images"] == 12
    assert again["l1"] == pytest.approx(first["l1"], abs=1 / 255)  # outputs saved at 8 bits


# ----------------------------------------------------------------- direction, mode, progress


def facades_like(root, n=3, size=16):
    """root/facades/test: A|B files with A = 0.2 and B = 0.8 everywhere, so which half is the
    target shows in L1 against outputs equal to A."""
    split = root / "facades" / "test"
    split.mkdir(parents=True)
    for i in range(n):
        ab = np.concatenate([np.full((size, size, 3), 51, np.uint8),
                             np.full((size, size, 3), 204, np.uint8)], axis=1)
        Image.fromarray(ab).save(split / f"{i}.png")
    return split


def test_results_on_a_known_dataset_take_its_declared_direction(tmp_path, capsys):
    facades_like(tmp_path / "data")
    results = tmp_path / "results"
    results.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16, 3), 51, np.uint8)).save(results / f"{i}.png")
    common = ["--results", str(results), "--dataset", "facades", "--data-root",
              str(tmp_path / "data"), "--no-fid"]
    declared = evaluate.eval_command(common + ["--out", str(tmp_path / "a")])
    assert declared["direction"] == "BtoA" and declared["l1"] < 1e-6  # the target is the A half
    assert "BtoA" in capsys.readouterr().out
    explicit = evaluate.eval_command(common + ["--out", str(tmp_path / "b"), "--direction", "AtoB"])
    assert explicit["direction"] == "AtoB" and explicit["l1"] == pytest.approx(153 / 255)


def test_a_checkpoint_direction_that_contradicts_the_dataset_is_refused_unless_given(tmp_path):
    facades_like(tmp_path / "data", size=32)
    G = UNetGenerator(num_downs=5, ngf=8)
    cfg = dict(num_downs=5, ngf=8, norm="batch", direction="AtoB", crop_size=32)
    save_checkpoint(tmp_path / "other.pt", {"G": G.state_dict(),
                                            "config": {**cfg, "dataset": "synthetic"}})
    save_checkpoint(tmp_path / "own.pt", {"G": G.state_dict(),
                                          "config": {**cfg, "dataset": "facades"}})
    common = ["facades", "--data-root", str(tmp_path / "data"), "--no-fid", "--out",
              str(tmp_path / "e")]
    with pytest.raises(SystemExit, match="facades is facades, whose pairs are read BtoA .* uses "
                                         "AtoB: pass --direction AtoB"):
        evaluate.eval_command(["--checkpoint", str(tmp_path / "other.pt")] + common)
    given = evaluate.eval_command(["--checkpoint", str(tmp_path / "other.pt"), "--direction",
                                   "AtoB"] + common)
    trained_here = evaluate.eval_command(["--checkpoint", str(tmp_path / "own.pt")] + common)
    assert given["direction"] == trained_here["direction"] == "AtoB"


def test_the_paper_test_mode_is_the_default_and_every_report_says_which(setup, tmp_path, capsys):
    base = ["--checkpoint", str(setup / "g.pt"), str(setup / "syn"), "--no-fid"]
    paper = evaluate.eval_command(base + ["--out", str(tmp_path / "p")])
    printed = capsys.readouterr()
    assert paper["mode"] == "paper" and "G in --mode paper, BtoA" in printed.out
    assert "p2p-eval: 100%" in printed.err and "12/12" in printed.err  # the progress bar
    eval_mode = evaluate.eval_command(base + ["--out", str(tmp_path / "e"), "--mode", "eval"])
    assert eval_mode["mode"] == "eval" and eval_mode["l1"] != paper["l1"]
    assert "G in --mode eval" in capsys.readouterr().out
    saved = json.loads((tmp_path / "p" / "metrics.json").read_text())["summary"]
    assert saved["mode"] == "paper" and "G in --mode paper" in (tmp_path / "p" /
                                                                "index.html").read_text()


# ----------------------------------------------------------------------------- LPIPS


class TinyLPIPS(nn.Module):
    """LPIPS's recipe on one fixed random conv: unit-normalised features, squared difference,
    averaged; two [0, 1] batches -> one distance per image."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, a, b):
        fa, fb = (nn.functional.normalize(self.conv(t * 2 - 1), dim=1) for t in (a, b))
        return ((fa - fb) ** 2).sum(1).mean(dim=(1, 2))


def test_lpips_per_image_in_batches_of_mixed_sizes(tmp_path, capsys):
    results, targets = tmp_path / "results", tmp_path / "targets"
    results.mkdir()
    targets.mkdir()
    rng = np.random.default_rng(0)
    for i in range(7):
        h, w = (24, 40) if i < 3 else (32, 32)
        t = rng.integers(0, 256, (h, w, 3), np.uint8)
        Image.fromarray(t).save(targets / f"{i}.png")
        Image.fromarray(t if i == 0 else rng.integers(0, 256, (h, w, 3), np.uint8)).save(
            results / f"{i}.png")
    net = TinyLPIPS()
    summary = evaluate.eval_command(["--results", str(results), "--targets", str(targets), "--out",
                                     str(tmp_path / "e"), "--no-fid", "--lpips", "--batch-size",
                                     "2"], lpips=net)
    rows = json.loads((tmp_path / "e" / "metrics.json").read_text())["images"]
    with torch.no_grad():
        alone = [net(read(results / f"{r['name']}.png"), read(targets / f"{r['name']}.png")).item()
                 for r in rows]
    assert [r["lpips"] for r in rows] == pytest.approx(alone, abs=1e-6)
    assert rows[0]["lpips"] == 0 and min(alone[1:]) > 0.01
    assert summary["lpips"] == pytest.approx(np.mean(alone))
    assert "LPIPS" in capsys.readouterr().out
    header = (tmp_path / "e" / "per_image.csv").read_text().splitlines()[0]
    assert header == "name,l1,psnr,ssim,lpips"
    assert ">LPIPS</th>" in (tmp_path / "e" / "index.html").read_text()


def read(path):
    from p2p_ref.datasets.images import read_image
    return read_image(path)[None]


def test_lpips_distance_is_torchmetrics_lpips(monkeypatch):
    """LPIPSDistance is torchmetrics' LPIPS per image: checked on AlexNet with random weights
    standing in for the ImageNet ones (no download), against the metric itself."""
    import torchvision
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity
    torch.manual_seed(0)
    random_alexnet = torchvision.models.alexnet().state_dict()
    monkeypatch.setattr(torchvision.models.AlexNet_Weights, "get_state_dict",
                        lambda self, *a, **k: random_alexnet)
    a, b = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        ours = evaluate.LPIPSDistance()(a, b)
        metric = LearnedPerceptualImagePatchSimilarity("alex", reduction="none", normalize=True)
        theirs = metric(a, b)
        same = evaluate.LPIPSDistance()(a, a)
    assert ours.shape == (3,) and torch.allclose(ours, theirs.reshape(-1), atol=1e-6)
    assert same.abs().max() < 1e-6 and ours.min() > 0
    metrics = evaluate.SetMetrics(lpips=evaluate.LPIPSDistance())
    with pytest.raises(ValueError, match="tiny.png is 40x30 pixels: LPIPS needs at least 31x31"):
        metrics.add(torch.rand(3, 30, 40), torch.rand(3, 30, 40), "tiny.png")


def test_missing_lpips_weights_say_what_failed(setup, monkeypatch):
    import torchvision.models._api as api

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(SystemExit) as err:
        evaluate.eval_command(["--checkpoint", str(setup / "g.pt"), str(setup / "syn"), "--out",
                               str(setup / "nolpips"), "--no-fid", "--lpips"])
    msg = str(err.value)
    import torchvision
    assert "LPIPS needs the ImageNet weights of its alex network" in msg
    assert "name resolution" in msg and torchvision.models.AlexNet_Weights.DEFAULT.url in msg
    assert "leave out --lpips" in msg and not (setup / "nolpips").exists()


# ----------------------------------------------------------------------------- memory


class CountingFeatures(SmallFeatures):
    """SmallFeatures that records the batch shapes it sees."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def forward(self, x):
        self.shapes.append(tuple(x.shape))
        return super().forward(x)


def test_images_stream_through_in_batches(tmp_path):
    """evaluate holds no more than a batch of images at once, the networks see batches (a new
    one where the size changes), and the figures equal those of one image at a time."""
    import weakref
    g = torch.Generator().manual_seed(0)
    alive, most = weakref.WeakSet(), []

    def items():
        for i in range(11):
            size = 16 if i < 7 else 24
            out, tgt = (torch.rand(3, size, size, generator=g) for _ in range(2))
            most.append(len(alive))
            alive.add(out)
            yield f"{i}", None, out, tgt

    features = CountingFeatures()
    summary = evaluate.evaluate(items(), tmp_path / "e", features, kid_subsets=5, batch_size=3,
                                progress=False)
    assert max(most) <= 3  # the batch being filled, never the set
    assert sorted({s[0] for s in features.shapes}) == [1, 3] and len(features.shapes) == 4 * 5
    g.manual_seed(0)
    pairs = [(o, t) for _, _, o, t in items()]
    one_by_one = evaluate.distribution_metrics([o for o, _ in pairs], [t for _, t in pairs],
                                               SmallFeatures(), kid_subsets=5, batch_size=1)
    assert summary["fid"] == pytest.approx(one_by_one["fid"], rel=1e-6)
