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
