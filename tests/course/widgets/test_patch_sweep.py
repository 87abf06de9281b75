"""Lesson 3's PatchGAN-depth sweep: the committed file holds what the lesson says, and the script runs."""

import numpy as np
import pytest
import torch

from p2p_ref.course.widgets.patch_sweep import (DEFAULT_OUT, PatchSweepConfig, load_patch_sweep, main,
                                                parse_args, patch_map_side, patch_size)
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.paper.patch_metrics import colourfulness

DEPTHS = [0, 1, 2, 4]


@pytest.fixture(scope="module")
def sweep():
    return load_patch_sweep()


def test_the_committed_sweep_is_small_and_what_the_defaults_make(sweep):
    assert DEFAULT_OUT.stat().st_size < 400 * 1024
    assert sweep.depths.tolist() == DEPTHS
    assert sweep.patch_sizes.tolist() == [1, 16, 34, 142]     # the lesson's table
    assert sweep.patch_maps.tolist() == [64, 30, 14, 2]       # logits for a 64 x 64 pair
    n = len(sweep.inputs)
    assert n >= 4 and sweep.inputs.shape == (n, 64, 64, 3) and sweep.targets.shape == sweep.inputs.shape
    assert sweep.outputs.shape == (4, n, 64, 64, 3) and sweep.outputs.dtype == np.uint8
    defaults = PatchSweepConfig()
    for key in ("size", "steps", "depths", "ngf", "ndf", "lambda_l1", "seed", "dataset"):
        assert sweep.config[key] == getattr(defaults, key), key
    assert sweep.config["dataset"] == "facades" and sweep.config["n_eval"] == 50
    for metric in (sweep.l1, sweep.sharpness, sweep.colourfulness, sweep.grid_energy, sweep.seconds):
        assert metric.shape == (4,) and np.isfinite(metric).all() and (metric > 0).all()
    for i in range(4):   # every depth trained its own generator
        for j in range(i + 1, 4):
            assert not np.array_equal(sweep.outputs[i], sweep.outputs[j])


def test_the_stored_images_agree_with_the_stored_metrics(sweep):
    # the colourfulness of the 6 stored outputs (what the lesson's students measure) ranks the
    # four generators as the 50-image numbers of the file do at the ends of the scale
    six = np.array([colourfulness(sweep.as_tensor(sweep.outputs[i])).mean().item() for i in range(4)])
    assert six.argmax() == sweep.colourfulness.argmax() and six.argmin() == sweep.colourfulness.argmin()
    assert sweep.as_tensor(sweep.targets).min() >= -1 and sweep.as_tensor(sweep.targets).max() <= 1


def test_the_geometry_helpers_match_the_lesson():
    assert [patch_size(n) for n in range(6)] == [1, 16, 34, 70, 142, 286]
    assert [patch_map_side(n, 256) for n in range(6)] == [256, 126, 62, 30, 14, 6]
    assert patch_map_side(5, 64) == 0   # the paper's 286 x 286 D does not fit a 64 x 64 image


def test_the_sweep_script_runs_end_to_end(tmp_path):
    root = make_synthetic_dataset(tmp_path / "synthetic", n_train=4, n_val=1, n_test=3, size=64)
    out = tmp_path / "sweep.npz"
    threads = torch.get_num_threads()
    main(["--dataset", str(root), "--size", "32", "--steps", "3", "--depths", "0,1,3",
          "--n-eval", "3", "--n-show", "2", "--threads", "1", "--out", str(out)])
    assert torch.get_num_threads() == threads
    small = load_patch_sweep(out)
    assert small.depths.tolist() == [0, 1, 3] and small.patch_maps.tolist() == [32, 14, 2]
    assert small.outputs.shape == (3, 2, 32, 32, 3) and small.config["steps"] == 3
    assert small.config["n_eval"] == 3 and small.config["torch_threads"] == 1


def test_depths_that_do_not_fit_and_bad_flags_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        parse_args(["--depths", "0,5"])          # 64 -> ... -> 0: the 286 x 286 D does not fit
    with pytest.raises(ValueError, match="does not fit"):
        PatchSweepConfig(depths=[5])
    with pytest.raises(SystemExit):
        parse_args(["--depths", "one"])
    with pytest.raises(SystemExit):
        parse_args(["--size", "48"])
    cfg, out = parse_args(["--size", "256", "--depths", "0,1,3,5", "--out", "x.npz"])
    assert cfg.depths == [0, 1, 3, 5] and cfg.num_downs == 8 and out == "x.npz"
    with pytest.raises(FileNotFoundError, match="patch_sweep"):
        load_patch_sweep(tmp_path / "missing.npz")
    with pytest.raises(SystemExit, match="p2p-data download facades"):
        main(["--data-root", str(tmp_path), "--out", str(tmp_path / "s.npz")])
