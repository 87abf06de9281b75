"""The commands end to end on a tiny synthetic set: p2p-train -> checkpoint -> p2p-translate,
their error messages, and p2p-bench."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from p2p_ref.training import bench, train
from p2p_ref.inference import translate
from p2p_ref.datasets.synthetic import make_synthetic_dataset


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny epoch of p2p-train on 3 synthetic pairs (64 x 64)."""
    tmp = tmp_path_factory.mktemp("cli")
    make_synthetic_dataset(tmp / "syn", n_train=3, n_val=2, n_test=2, size=64)
    run = tmp / "run"
    train.main([str(tmp / "syn"), "--load-size", "72", "--crop-size", "64", "--num-downs", "6",
                "--ngf", "8", "--ndf", "8", "--n-epochs", "1", "--n-epochs-decay", "0",
                "--out", str(run), "--num-workers", "0", "--device", "cpu"])
    return tmp, run


def test_train_writes_checkpoint_metrics_and_samples(trained):
    _, run = trained
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 3 and checkpoint["epoch"] == 1
    assert {"G", "D", "opt_G", "opt_D", "sched_G", "sched_D", "rng", "config"} <= set(checkpoint)
    (record,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"val_l1", "val_psnr", "val_ssim", "lr"} <= set(record)
    assert 0 < record["val_ssim"] <= 1 and record["val_psnr"] > 0
    assert len((run / "losses.jsonl").read_text().splitlines()) == 3
    grid = Image.open(run / "samples" / "epoch_001.png")
    assert grid.size[0] > grid.size[1]  # rows of input | output | target
    assert list((run / "tensorboard").glob("events.*"))


def test_translate_writes_one_png_per_input(trained, capsys):
    tmp, run = trained
    out = tmp / "translated"
    translate.main(["--checkpoint", str(run / "checkpoint.pt"), str(tmp / "syn" / "test"),
                    "--out", str(out)])
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == sorted(p.name for p in (tmp / "syn" / "test").glob("*.png"))
    assert Image.open(out / written[0]).size == (64, 64)
    assert "translated 2 image(s)" in capsys.readouterr().out


def test_translate_modes_and_single_images(trained, capsys):
    tmp, run = trained
    pair = sorted((tmp / "syn" / "test").glob("*.png"))[0]
    labels = Image.open(pair).crop((64, 0, 128, 64))  # B = the label map, BtoA input
    labels.resize((100, 70)).save(tmp / "labels.png")  # another size: kept, not squashed
    outs = {}
    for mode in ("paper", "eval"):
        translate.main(["--checkpoint", str(run), str(tmp / "labels.png"), "--out",
                        str(tmp / mode), "--mode", mode])
        outs[mode] = np.array(Image.open(tmp / mode / "labels.png"))
    assert outs["eval"].shape == (70, 100, 3)
    assert "at their own size" in capsys.readouterr().out
    translate.main(["--checkpoint", str(run), str(tmp / "labels.png"), "--out",
                    str(tmp / "square"), "--square"])  # the old way: the training crop size
    assert Image.open(tmp / "square" / "labels.png").size == (64, 64)
    assert "resized to 64x64" in capsys.readouterr().out
    assert not np.array_equal(outs["paper"], outs["eval"])  # dropout + batch statistics vs eval()
    # The pair and its B half alone give the same output (the input half is picked by direction).
    translate.main(["--checkpoint", str(run), str(pair), "--out", str(tmp / "pair"),
                    "--mode", "eval"])
    Image.open(pair).crop((64, 0, 128, 64)).save(tmp / "half.png")
    translate.main(["--checkpoint", str(run), str(tmp / "half.png"), "--out", str(tmp / "half"),
                    "--mode", "eval"])
    assert np.array_equal(np.asarray(Image.open(tmp / "pair" / f"{pair.stem}.png")),
                          np.asarray(Image.open(tmp / "half" / "half.png")))


def test_translate_errors_name_the_problem(trained, tmp_path):
    tmp, run = trained
    image = str(sorted((tmp / "syn" / "test").glob("*.png"))[0])
    with pytest.raises(SystemExit, match="no checkpoint at"):
        translate.main(["--checkpoint", str(tmp_path / "nope.pt"), image, "--out", str(tmp_path)])
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes((run / "checkpoint.pt").read_bytes()[:5000])
    with pytest.raises(SystemExit, match="cannot read checkpoint .*corrupt.pt"):
        translate.main(["--checkpoint", str(corrupt), image, "--out", str(tmp_path)])
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(SystemExit, match="cannot read .*notes.png"):
        translate.main(["--checkpoint", str(run), str(tmp_path / "notes.png"), "--out",
                        str(tmp_path / "o")])


def test_train_cli_errors_and_entry_point(tmp_path):
    with pytest.raises(SystemExit, match="crop_size=100 does not work with num_downs=6"):
        train.main(["synthetic", "--crop-size", "100", "--num-downs", "6", "--out",
                    str(tmp_path / "r")])
    with pytest.raises(SystemExit, match="neither a folder nor a dataset name"):
        train.main([str(tmp_path / "missing"), "--out", str(tmp_path / "r")])
    proc = subprocess.run([sys.executable, "-m", "p2p_ref.training.train", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "--n-epochs-decay" in proc.stdout and "torchrun" in proc.stdout
    for name in ("p2p-train", "p2p-translate", "p2p-bench"):
        assert shutil.which(name, path=str(Path(sys.executable).parent)), f"{name} not installed"


def test_bench_prints_both_rows_and_the_speed_up(capsys):
    from p2p_ref.training.fast_path import choose
    rows = bench.bench_command(["--device", "cpu", "--size", "32", "--steps", "2", "--warmup", "1",
                       "--ngf", "8", "--ndf", "8"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.startswith("baseline: fp32, NCHW, eager") for line in lines)
    # the fast row is this CPU's choice: the fp32 baseline, bf16 + channels-last only with native bf16
    assert any(line.startswith(f"fast: {choose('cpu').describe()}") for line in lines)
    assert lines[-1].startswith("speed-up over the baseline: fast ")
    assert [r["label"] for r in rows] == ["baseline", "fast"]
    assert all(r["images_per_s"] > 0 and r["peak_mib"] > 0 and r["timed_steps"] == 2 for r in rows)
    speedup = float(lines[-1].rsplit(" ", 1)[1].rstrip("x"))
    # printed with 2 decimals: within half of the last digit
    assert speedup == pytest.approx(rows[1]["images_per_s"] / rows[0]["images_per_s"], abs=0.0051)


def test_sigterm_saves_a_checkpoint_like_ctrl_c(tmp_path):
    """A run stopped with SIGTERM (kill, a job scheduler) saves where it was and can resume."""
    import signal
    import time
    make_synthetic_dataset(tmp_path / "syn", n_train=3, n_val=1, n_test=1, size=64)
    run = tmp_path / "run"
    args = [sys.executable, "-m", "p2p_ref.training.train", str(tmp_path / "syn"), "--load-size", "64",
            "--crop-size", "64", "--num-downs", "6", "--ngf", "8", "--ndf", "8", "--n-epochs", "1000",
            "--n-epochs-decay", "0", "--out", str(run), "--num-workers", "0", "--device", "cpu"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (run / "losses.jsonl").exists() or not (run / "losses.jsonl").read_text().strip():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "--resume" in output
    checkpoint = torch.load(run / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] >= 1


def test_installed_commands_exit_0_and_print_no_python_objects(tmp_path):
    # a console script exits with what main() returns: a list or dict there is exit status 1
    # and a dump of it on stderr
    binary = Path(sys.executable).parent
    for folder, seed in (("results", 0), ("targets", 1)):
        (tmp_path / folder).mkdir()
        for i in range(2):
            rgb = np.random.default_rng(seed + 10 * i).integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(rgb).save(tmp_path / folder / f"{i}.png")
    runs = [
        ["p2p-bench", "--device", "cpu", "--size", "32", "--steps", "1", "--warmup", "1",
         "--ngf", "4", "--ndf", "4"],
        ["p2p-eval", "--results", str(tmp_path / "results"), "--targets", str(tmp_path / "targets"),
         "--out", str(tmp_path / "eval"), "--no-fid"],
        ["p2p-data", "list", "--root", str(tmp_path)],
    ]
    for cmd in runs:
        proc = subprocess.run([str(binary / cmd[0]), *cmd[1:]], capture_output=True, text=True,
                              timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, f"{cmd[0]} exited with {proc.returncode}:\n{proc.stderr[-2000:]}"
        assert "[{" not in proc.stderr and "{'" not in proc.stderr, proc.stderr[-2000:]
