"""p2p-convert against an independent statement of the official code's U-Net.

`OfficialSkipBlock` / `official_unet` restate, for this test only, how the official PyTorch
code (junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py: UnetGenerator and
UnetSkipConnectionBlock) lays out its generator: nested blocks, each an nn.Sequential
``self.model`` of [LeakyReLU, Conv, BN, <inner block>, ReLU, ConvT, BN (, Dropout)], that return
cat([input, output]) -- the skip first -- with dropout in the num_downs - 5 blocks just outside
the innermost one. With random weights and random BatchNorm statistics, the converted p2p_ref
generator must give the same outputs in eval mode.
"""

import pytest
import torch
from torch import nn

from p2p_ref.inference import convert as official
from p2p_ref.training.checkpoint import load_checkpoint
from p2p_ref.paper.models import count_parameters
from p2p_ref.inference.convert import convert_state_dict
from p2p_ref.inference.translate import load_generator

pytestmark = pytest.mark.usefixtures("one_thread")


class OfficialSkipBlock(nn.Module):
    def __init__(self, outer, inner, in_ch=None, sub=None, outermost=False, innermost=False,
                 dropout=False):
        super().__init__()
        self.outermost = outermost
        in_ch = outer if in_ch is None else in_ch
        down_conv = nn.Conv2d(in_ch, inner, 4, 2, 1, bias=False)
        if outermost:
            layers = [down_conv, sub, nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1),
                      nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.ReLU(True),
                      nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.BatchNorm2d(inner), sub, nn.ReLU(True),
                      nn.ConvTranspose2d(2 * inner, outer, 4, 2, 1, bias=False),
                      nn.BatchNorm2d(outer)] + ([nn.Dropout(0.5)] if dropout else [])
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class OfficialUnet(nn.Module):
    def __init__(self, input_nc, output_nc, num_downs, ngf):
        super().__init__()
        block = OfficialSkipBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            block = OfficialSkipBlock(ngf * 8, ngf * 8, sub=block, dropout=True)
        for mult in (4, 2, 1):
            block = OfficialSkipBlock(ngf * mult, ngf * mult * 2, sub=block)
        self.model = OfficialSkipBlock(output_nc, ngf, in_ch=input_nc, sub=block, outermost=True)

    def forward(self, x):
        return self.model(x)


def randomized(net, seed=0):
    """Random weights everywhere, random running statistics in every BatchNorm."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=g) + 0.5 if "running_var" in name
                        else torch.randn(t.shape, generator=g) * 0.1)
    return net


def test_the_restatement_has_the_official_key_names():
    keys = OfficialUnet(3, 3, 8, 4).state_dict().keys()
    assert "model.model.0.weight" in keys and "model.model.3.bias" in keys
    assert "model.model.1.model.1.weight" in keys and "model.model.1.model.2.running_mean" in keys
    assert "model.model.1.model.3.model.3.model.3.model.3.model.3.model.3.model.1.weight" in keys


@pytest.mark.parametrize("num_downs, size, in_nc, out_nc", [(8, 256, 3, 3), (7, 128, 1, 3)])
def test_converted_weights_give_the_official_outputs_in_eval_mode(tmp_path, num_downs, size,
                                                                   in_nc, out_nc):
    torch.manual_seed(0)
    theirs = randomized(OfficialUnet(in_nc, out_nc, num_downs, ngf=4)).eval()
    torch.save(theirs.state_dict(), tmp_path / "latest_net_G.pth")
    official.main([str(tmp_path / "latest_net_G.pth"), "--out", str(tmp_path / "g.pt"),
                   "--direction", "BtoA"])
    G, cfg = load_generator(tmp_path / "g.pt", mode="eval")
    assert (cfg["num_downs"], cfg["ngf"], cfg["input_nc"], cfg["output_nc"]) == \
        (num_downs, 4, in_nc, out_nc)
    assert cfg["crop_size"] == size and cfg["direction"] == "BtoA"
    assert count_parameters(G) == sum(p.numel() for p in theirs.parameters())
    x = torch.rand(2, in_nc, size, size) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(G(x), theirs(x), atol=1e-5)


def generator_with(weights):
    from p2p_ref.paper.models import UNetGenerator
    G = UNetGenerator(num_downs=5, ngf=4)
    G.load_state_dict(weights)
    return G.eval()


def test_without_the_channel_swap_the_outputs_differ(monkeypatch):
    """The permutation is what makes them equal: converting without it breaks the match."""
    theirs = randomized(OfficialUnet(3, 3, 5, ngf=4)).eval()
    G = generator_with(convert_state_dict(theirs.state_dict())[0])
    monkeypatch.setattr(official, "_swap_halves", lambda w: w)
    G_bad = generator_with(convert_state_dict(theirs.state_dict())[0])
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(G(x), theirs(x), atol=1e-5)
        assert not torch.allclose(G_bad(x), theirs(x), atol=1e-3)


def test_old_files_without_num_batches_tracked_and_dataparallel_prefixes():
    theirs = randomized(OfficialUnet(3, 3, 5, ngf=4)).eval()
    state = {f"module.{k}": v for k, v in theirs.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    ours, arch = convert_state_dict(state)
    assert arch == dict(num_downs=5, ngf=4, input_nc=3, output_nc=3, norm="batch")
    assert ours["encoders.1.block.2.num_batches_tracked"] == 0


def test_bad_files_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="not an official U-Net generator"):
        convert_state_dict({"model.0.weight": torch.zeros(1)})
    no_bn = {k: v for k, v in OfficialUnet(3, 3, 5, 4).state_dict().items() if "running" not in k}
    with pytest.raises(ValueError, match="only BatchNorm"):
        convert_state_dict(no_bn)
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(SystemExit, match="cannot read .*junk.pth"):
        official.main([str(tmp_path / "junk.pth"), "--out", str(tmp_path / "g.pt")])
    with pytest.raises(SystemExit, match="not an official model name"):
        official.main([str(tmp_path / "missing.pth")])


def test_download_of_an_official_model_by_name(tmp_path, monkeypatch, capsys):
    from test_download import Server
    theirs = randomized(OfficialUnet(3, 3, 8, ngf=4))
    torch.save(theirs.state_dict(), tmp_path / "facades_label2photo.pth")
    monkeypatch.chdir(tmp_path)
    with Server() as server:
        server.files["facades_label2photo.pth"] = \
            (tmp_path / "facades_label2photo.pth").read_bytes()
        official.main(["facades_label2photo", "--base-url", server.url])
    ck = load_checkpoint(tmp_path / "runs" / "pretrained" / "facades_label2photo.pt")
    assert ck["config"]["direction"] == "BtoA" and ck["config"]["dataset"] == "facades"
    assert "--mode eval reproduces the official outputs exactly" in capsys.readouterr().out
