"""p2p-train --wandb in W&B's offline mode (nothing leaves the machine): the run's files hold the
config, every step's losses, the validation metrics and the sample grids, a resumed run continues
the same W&B run, and a missing wandb package gets a one-line answer."""

import json
import sys
from pathlib import Path

import pytest

import p2p_ref.training.train as train_mod
from p2p_ref.datasets.synthetic import make_synthetic_dataset

pytestmark = pytest.mark.usefixtures("one_thread")
wandb_pb = pytest.importorskip("wandb.proto.wandb_internal_pb2")  # the dev extra installs wandb


def wandb_records(path, block=32768):
    """The records of a .wandb file: after a 7-byte header (":W&B", magic, version), LevelDB
    log chunks (crc32, length, type: 1 full, 2 first, 3 middle, 4 last) in 32 KiB blocks."""
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    records, pos, parts = [], 7, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        if left < 7 or kind == 0:  # the block's padding
            pos += left
            continue
        parts += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_pb.Record()
            record.ParseFromString(parts)
            records.append(record)
            parts = b""
    return records


@pytest.fixture
def offline(tmp_path, monkeypatch):
    quiet = {"WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path / "wb"), "WANDB_SILENT": "true",
             "WANDB_CONSOLE": "off", "WANDB_X_DISABLE_STATS": "true",
             "WANDB_X_DISABLE_META": "true", "WANDB_X_DISABLE_MACHINE_INFO": "true"}
    for name, value in quiet.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "wb").mkdir()
    make_synthetic_dataset(tmp_path / "syn", n_train=2, n_val=1, n_test=1, size=32)
    return tmp_path


def flags(root, *more):
    return [str(root / "syn"), "--load-size", "32", "--crop-size", "32", "--num-downs", "5",
            "--ngf", "8", "--ndf", "8", "--num-workers", "0", "--device", "cpu", "--out",
            str(root / "run"), "--n-epochs", "2", "--n-epochs-decay", "0", "--wandb",
            "--wandb-project", "p2p-test", *more]


def test_wandb_offline_logs_config_losses_metrics_and_samples(offline):
    train_mod.main(flags(offline, "--max-steps", "2"))
    (first,) = (offline / "wb" / "wandb").glob("offline-run-*")
    records = wandb_records(next(first.glob("run-*.wandb")))
    run = next(r.run for r in records if r.WhichOneof("record_type") == "run")
    config = {i.key: json.loads(i.value_json) for i in run.config.update}
    assert run.project == "p2p-test" and run.display_name == "run"
    assert config["lr"] == 2e-4 and config["num_downs"] == 5 and config["wandb"] is True
    history = [{i.key or "/".join(i.nested_key): json.loads(i.value_json)
                for i in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    assert [h["_step"] for h in history] == [1, 2]
    losses = [json.loads(line) for line in (offline / "run" / "losses.jsonl").read_text().splitlines()]
    assert [h["train/loss_G_L1"] for h in history] == pytest.approx(
        [r["loss_G_L1"] for r in losses])
    metrics = json.loads((offline / "run" / "metrics.jsonl").read_text())
    assert history[1]["val/val_psnr"] == pytest.approx(metrics["val_psnr"])
    assert history[1]["samples/_type"] == "image-file"
    assert list((first / "files" / "media" / "images").glob("samples_2_*.png"))

    # --resume continues the same W&B run (its id is in config.yaml)
    train_mod.main(flags(offline, "--resume"))
    runs = sorted((offline / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and runs[0].name.split("-")[-1] == runs[1].name.split("-")[-1]


def test_without_wandb_installed_the_error_says_what_to_install(offline, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    with pytest.raises(SystemExit, match=r"--wandb needs the wandb package: pip install "
                                         r"'p2p_ref\[wandb\]'"):
        train_mod.main(flags(offline))
