"""p2p-export: G alone (weights + config) that p2p-translate and --init-from read, and ONNX with
dynamic height and width, checked against PyTorch with onnxruntime."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from p2p_ref.inference import export, translate
from p2p_ref.training.checkpoint import load_checkpoint
from p2p_ref.inference.export import check_onnx, export_onnx
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.training.config import TrainConfig
from p2p_ref.training.train import train
from p2p_ref.inference.translate import load_generator

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    make_synthetic_dataset(tmp / "syn", n_train=2, n_val=1, n_test=1, size=32)
    cfg = TrainConfig(dataset=str(tmp / "syn"), load_size=36, crop_size=32, num_downs=5, ngf=8,
                      ndf=8, n_epochs=1, n_epochs_decay=0, out=str(tmp / "run"), num_workers=0,
                      device="cpu")
    train(cfg)
    return tmp


def test_export_writes_g_and_config_only(run, capsys):
    export.main([str(run / "run"), "--out", str(run / "g.pt")])
    assert "p2p-translate --checkpoint" in capsys.readouterr().out
    ck = load_checkpoint(run / "g.pt")
    assert set(ck) == {"G", "config", "format", "step", "epoch", "exported_from"}
    full = load_checkpoint(run / "run")
    assert all(torch.equal(ck["G"][k], v) for k, v in full["G"].items())
    assert (run / "g.pt").stat().st_size < 0.5 * (run / "run" / "checkpoint.pt").stat().st_size
    # p2p-translate reads it and gives what the full checkpoint gives
    image = sorted((run / "syn" / "test").glob("*.png"))[0]
    for name, ckpt in (("full", run / "run"), ("small", run / "g.pt")):
        translate.main(["--checkpoint", str(ckpt), str(image), "--out", str(run / name),
                        "--mode", "eval"])
    assert np.array_equal(np.asarray(Image.open(run / "full" / image.name)),
                          np.asarray(Image.open(run / "small" / image.name)))


def test_init_from_an_exported_generator(run, capsys):
    export.main([str(run / "run"), "--out", str(run / "g2.pt")])
    cfg = TrainConfig(dataset=str(run / "syn"), load_size=36, crop_size=32, num_downs=5, ngf=8,
                      ndf=8, n_epochs=1, n_epochs_decay=0, out=str(run / "tuned"), num_workers=0,
                      device="cpu", init_from=str(run / "g2.pt"), max_steps=1)
    train(cfg)
    assert "holds no discriminator: D starts from scratch" in capsys.readouterr().out


def test_onnx_has_dynamic_size_and_matches_pytorch(run, capsys):
    export.main([str(run / "run"), "--out", str(run / "g3.pt"), "--onnx", str(run / "g.onnx")])
    assert "onnxruntime matches PyTorch" in capsys.readouterr().out
    import onnx
    import onnxruntime as ort
    model = onnx.load(str(run / "g.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["p2p_config"])["num_downs"] == 5 and meta["multiple"] == "32"
    G, _ = load_generator(run / "g3.pt", mode="eval")
    session = ort.InferenceSession(str(run / "g.onnx"), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 64, 96), (2, 3, 32, 160)]:  # sizes other than the export's
        x = torch.rand(shape) * 2 - 1
        got = session.run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            assert np.abs(got - G(x).numpy()).max() < 1e-4


def test_onnx_with_the_torch_export_exporter(run):
    G, cfg = load_generator(run / "run", mode="eval")
    path = export_onnx(G, cfg, run / "dynamo.onnx", dynamo=True)
    assert check_onnx(G, cfg, path) < 1e-4


def test_check_onnx_catches_a_wrong_model(run):
    G, cfg = load_generator(run / "run", mode="eval")
    path = export_onnx(G, cfg, run / "other.onnx")
    with torch.no_grad():
        G.decoders[-1].block[1].bias += 0.5
    with pytest.raises(RuntimeError, match="differ by up to"):
        check_onnx(G, cfg, path)
