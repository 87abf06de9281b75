"""The lambda explorer: the committed sweep, the widget driven headless, and the sweep script."""

import re

import numpy as np
import pytest
import torch

from p2p_ref.course.widgets.lambda_explorer import (DEFAULT_PATH, LambdaExplorer, lambda_explorer, load_sweep)
from p2p_ref.course.widgets.lambda_sweep import SweepConfig, main, parse_args
from p2p_ref.paper.sharpness import laplacian_variance
from p2p_ref.datasets.synthetic import make_synthetic_dataset

LAMBDAS = [0.0, 1.0, 10.0, 100.0, 1000.0]


@pytest.fixture(scope="module")
def sweep():
    return load_sweep()


def test_the_committed_sweep_is_small_and_complete(sweep):
    assert DEFAULT_PATH.stat().st_size < 2 * 1024 * 1024
    assert sweep.lambdas.tolist() == LAMBDAS
    n, h, w, c = sweep.inputs.shape
    assert n >= 3 and (h, w, c) == (64, 64, 3)
    assert sweep.outputs.shape == (5, n, 64, 64, 3) and sweep.outputs.dtype == np.uint8
    assert sweep.targets.shape == sweep.inputs.shape
    assert sweep.config["steps"] >= 500 and sweep.config["dataset"] == "facades"
    # the committed file is what the defaults make, so the lesson's "your own sweep" repeats it
    defaults = SweepConfig()
    assert {k: sweep.config[k] for k in ("dataset", "size", "steps", "ngf", "ndf", "seed")} == \
        {k: getattr(defaults, k) for k in ("dataset", "size", "steps", "ngf", "ndf", "seed")}
    assert sweep.config["lambdas"] == LAMBDAS
    # every lambda trained its own generator: no two rows of outputs are the same
    for i in range(5):
        for j in range(i + 1, 5):
            assert not np.array_equal(sweep.outputs[i], sweep.outputs[j])


def test_the_committed_metrics_follow_from_the_objective(sweep):
    assert np.isfinite(sweep.l1).all() and (sweep.l1 > 0).all()
    assert ((sweep.d_score > 0) & (sweep.d_score < 1)).all()
    assert ((sweep.d_real > 0) & (sweep.d_real < 1)).all()
    assert (sweep.sharpness > 0).all() and sweep.target_sharpness > 0
    # the L1 term is what pulls G(x) toward y: with it weighted 1000 the outputs are closer to
    # the targets than with no L1 term at all
    assert sweep.l1[LAMBDAS.index(1000.0)] < sweep.l1[LAMBDAS.index(0.0)]
    assert sweep.l1[LAMBDAS.index(100.0)] < sweep.l1[LAMBDAS.index(0.0)]
    # ...and a heavy L1 term gives the blurred per-pixel compromise (sec. 3.1): less sharp
    assert sweep.sharpness[LAMBDAS.index(1000.0)] < sweep.sharpness[LAMBDAS.index(0.0)]
    # with only the adversarial term G optimises nothing but D's score; at lambda 1000 it hardly
    # counts, and that D tells the outputs apart from real pairs far better
    assert sweep.d_score[LAMBDAS.index(1000.0)] < sweep.d_score[LAMBDAS.index(0.0)]


def test_the_widget_updates_headless(sweep):
    explorer = lambda_explorer()
    assert isinstance(explorer, LambdaExplorer)
    assert "p2p-lambda-slider" in explorer.slider._dom_classes
    assert "p2p-lambda-figure" in explorer.figure._dom_classes
    assert "p2p-lambda-readout" in explorer.readout._dom_classes
    assert explorer.slider.value == 100.0 and "lambda = 100<" in explorer.readout.value
    figures = {}
    for lam in LAMBDAS:
        explorer.show(lambda_value=lam)
        i = LAMBDAS.index(lam)
        text = re.sub("<[^>]+>", "", explorer.readout.value)
        assert text.startswith(f"lambda = {lam:g} · L1 to target {sweep.l1[i]:.3f} · "
                               f"sharpness {sweep.sharpness[i]:.4f} · D score {sweep.d_score[i]:.2f}")
        assert explorer.slider.value == lam
        assert "CMP Facade Database (Tyleček and Šára, GCPR 2013), 64 x 64" in text
        assert explorer.figure.value[:8] == b"\x89PNG\r\n\x1a\n"
        figures[lam] = explorer.figure.value
    assert len(set(figures.values())) == 5
    # moving the slider (what the browser does) updates the readout and the figure too
    explorer.slider.value = 0.0
    assert "lambda = 0<" in explorer.readout.value and explorer.figure.value == figures[0.0]


def test_show_refuses_a_lambda_not_in_the_sweep():
    with pytest.raises(ValueError, match="0, 1, 10, 100, 1000"):
        lambda_explorer().show(lambda_value=5)


def test_a_missing_or_damaged_file_names_the_path_and_the_fix(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match=f"(?s){re.escape(str(missing))}.*python -m p2p_ref.course.widgets.lambda_sweep"):
        lambda_explorer(missing)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match=f"(?s){re.escape(str(garbage))}.*python -m p2p_ref.course.widgets.lambda_sweep"):
        lambda_explorer(garbage)
    other = tmp_path / "other.npz"
    np.savez(other, lambdas=np.array([0.0]))
    with pytest.raises(ValueError, match="lacks inputs"):
        load_sweep(other)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(DEFAULT_PATH.read_bytes()[:5000])
    with pytest.raises(ValueError, match="cannot read"):
        load_sweep(truncated)


def test_laplacian_variance_is_lower_for_a_blurred_image():
    sharp = (torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1)
    assert laplacian_variance(blurred) < laplacian_variance(sharp)
    assert laplacian_variance(torch.full((1, 3, 8, 8), 0.3)).item() == 0


def test_the_sweep_script_runs_end_to_end(tmp_path):
    root = make_synthetic_dataset(tmp_path / "synthetic", n_train=4, n_val=1, n_test=3, size=64)
    out = tmp_path / "sweep.npz"
    threads = torch.get_num_threads()
    main(["--dataset", str(root), "--size", "32", "--steps", "5", "--lambdas", "0,100",
          "--n-eval", "3", "--n-show", "2", "--threads", "1", "--out", str(out)])
    assert torch.get_num_threads() == threads   # --threads holds for the sweep only
    small = load_sweep(out)
    assert small.lambdas.tolist() == [0.0, 100.0]
    assert small.inputs.shape == (2, 32, 32, 3) and small.outputs.shape == (2, 2, 32, 32, 3)
    assert small.config["steps"] == 5 and small.config["n_eval"] == 3 and small.config["threads"] == 1
    explorer = lambda_explorer(out).show(lambda_value=0)
    assert "lambda = 0<" in explorer.readout.value


def test_a_dataset_not_downloaded_says_how_to_get_it(tmp_path):
    with pytest.raises(SystemExit, match="p2p-data download facades"):
        main(["--data-root", str(tmp_path), "--out", str(tmp_path / "s.npz")])
    assert not (tmp_path / "s.npz").exists()


def test_bad_flags_are_refused():
    with pytest.raises(SystemExit):
        parse_args(["--size", "48"])
    with pytest.raises(SystemExit):
        parse_args(["--lambdas", "0,ten"])
    with pytest.raises(SystemExit):
        parse_args(["--threads", "-1"])
    cfg, out = parse_args(["--lambdas", "0,100", "--out", "x.npz"])
    assert cfg.lambdas == [0.0, 100.0] and out == "x.npz" and cfg.num_downs == 6
