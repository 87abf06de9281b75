"""The U-Net against encoder-decoder sweep (p2p_ref.course.widgets.skip_sweep) that lesson 2 shows:
the encoder-decoder is the U-Net without its skips, the script runs end to end, and the committed
file holds what the notebook says it holds."""

import pytest
import torch

from p2p_ref.course.widgets.skip_sweep import (DEFAULT_OUT, MODELS, EncoderDecoderGenerator, edge_error, load_sweep,
                                               main, pair_of_models, parse_args)
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.paper.models import UNetGenerator
from torch import nn


def test_the_encoder_decoder_is_the_unet_without_skips():
    G = EncoderDecoderGenerator()   # unet_256's encoder, the appendix's encoder-decoder decoder
    ups = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.in_channels for m in ups] == [512, 512, 512, 512, 512, 256, 128, 64]
    assert [m.out_channels for m in ups] == [512, 512, 512, 512, 256, 128, 64, 3]   # CD512-CD512-CD512-C512-C256-C128-C64
    drops = [any(isinstance(m, nn.Dropout) for m in d.modules()) for d in G.decoders]
    assert drops == [True] * 3 + [False] * 5
    assert G(torch.randn(1, 3, 256, 256)).shape == (1, 3, 256, 256)
    models = pair_of_models(num_downs=5, ngf=4)
    unet, plain = models["unet"], models["encoder-decoder"]
    for a, b in zip(unet.encoders.state_dict().values(), plain.encoders.state_dict().values()):
        assert torch.equal(a, b)   # the same start for the encoder
    # with the skips severed, an input change can only reach the output through the bottleneck
    assert sum(p.numel() for p in plain.parameters()) < sum(p.numel() for p in UNetGenerator(num_downs=5, ngf=4).parameters())


def test_edge_error_is_zero_for_the_target_and_grows_with_blur():
    y = (torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)) > 0.5).float() * 2 - 1
    blurred = torch.nn.functional.avg_pool2d(y, 5, stride=1, padding=2)
    assert edge_error(y, y) == 0
    assert edge_error(blurred, y) > edge_error(y * 0.9, y) > 0


def test_the_sweep_script_runs_end_to_end(tmp_path):
    root = make_synthetic_dataset(tmp_path / "synthetic", n_train=4, n_val=1, n_test=3, size=64)
    out = tmp_path / "sweep.npz"
    threads = torch.get_num_threads()
    main(["--dataset", str(root), "--size", "32", "--steps", "4", "--eval-every", "2", "--ngf", "4", "--ndf", "4",
          "--n-eval", "3", "--n-show", "2", "--threads", "1", "--out", str(out)])
    assert torch.get_num_threads() == threads   # --threads holds for the sweep only
    small = load_sweep(out)
    assert small.models == MODELS
    assert small.inputs.shape == (2, 32, 32, 3) and small.outputs.shape == (2, 2, 32, 32, 3)
    assert small.curve_steps.tolist() == [2, 4] and small.curve_l1.shape == (2, 2)
    assert small.curve_l1[:, -1].tolist() == pytest.approx(small.l1.tolist())   # the curve ends at the final L1
    assert small.config["steps"] == 4 and small.config["n_eval"] == 3 and small.config["threads"] == 1


def test_a_dataset_not_downloaded_says_how_to_get_it(tmp_path):
    with pytest.raises(SystemExit, match="p2p-data download facades"):
        main(["--data-root", str(tmp_path), "--out", str(tmp_path / "s.npz")])
    assert not (tmp_path / "s.npz").exists()


def test_bad_flags_are_refused():
    for argv in (["--size", "48"], ["--steps", "0"], ["--threads", "-1"]):
        with pytest.raises(SystemExit):
            parse_args(argv)
    cfg, out = parse_args(["--steps", "7", "--out", "x.npz"])
    assert cfg.steps == 7 and out == "x.npz" and cfg.num_downs == 6


def test_the_committed_sweep_is_small_and_complete():
    assert DEFAULT_OUT.stat().st_size < 400_000
    sweep = load_sweep()
    cfg = sweep.config
    assert sweep.models == MODELS
    assert (cfg["dataset"], cfg["size"], cfg["steps"], cfg["ngf"], cfg["ndf"], cfg["lambda_l1"]) == \
        ("facades", 64, 1500, 32, 32, 100.0)
    assert cfg["n_eval"] == 50 and cfg["threads"] == 1
    assert sweep.inputs.shape == (4, 64, 64, 3) and sweep.outputs.shape == (2, 4, 64, 64, 3)
    assert sweep.curve_steps.tolist() == list(range(150, 1501, 150)) and sweep.curve_l1.shape == (2, 10)
    for values in (sweep.l1, sweep.edge_error, sweep.sharpness):
        assert values.shape == (2,) and (values > 0).all()


def test_the_committed_sweep_shows_what_lesson_2_says():
    """The numbers lesson 2's conclusions quote (section 5), read back from the committed file."""
    sweep = load_sweep()
    unet, plain = 0, 1
    assert sweep.l1.round(3).tolist() == [0.321, 0.359]
    assert (sweep.curve_l1[unet] < sweep.curve_l1[plain]).sum() == 9          # 9 of the 10 points
    tie = sweep.curve_steps.tolist().index(750)
    assert abs(sweep.curve_l1[unet, tie] - sweep.curve_l1[plain, tie]) < 0.001
    assert sweep.curve_l1[unet].min().round(3) == 0.316 and sweep.curve_l1[unet].max().round(3) == 0.334
    assert sweep.curve_l1[plain].min().round(3) == 0.325 and sweep.curve_l1[plain].max().round(3) == 0.372
    assert sweep.edge_error.round(3).tolist() == [0.073, 0.078]
    assert sweep.sharpness.round(4).tolist() == [0.0101, 0.0095] and round(sweep.target_sharpness, 3) == 0.050

    def spread(images):   # mean absolute difference between the outputs for different inputs, 0-1 scale
        x = images.astype(float) / 255
        return sum(abs(x[i] - x[j]).mean() for i in range(len(x)) for j in range(i + 1, len(x))) / 6

    assert round(spread(sweep.outputs[unet]), 3) == 0.103 and round(spread(sweep.outputs[plain]), 3) == 0.039
    assert round(spread(sweep.targets), 3) == 0.219
    assert sweep.config["seconds"] == 1634
