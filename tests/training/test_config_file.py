"""Configuration a team can share: --config FILE (YAML or TOML; flags win), the config.yaml every
run writes, --print-config, --resume PATH (a run folder or any checkpoint) and --keep-last N."""

import json

import pytest
import torch
import yaml

import p2p_ref.training.train as train_mod
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.training.config import TrainConfig, check_config, command_line, parse_args
from p2p_ref.training.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    root = tmp_path_factory.mktemp("cfg") / "syn"
    make_synthetic_dataset(root, n_train=2, n_val=1, n_test=1, size=32)
    return root


def tiny_flags(syn, out):
    return [str(syn), "--load-size", "32", "--crop-size", "32", "--num-downs", "5", "--ngf", "8",
            "--ndf", "8", "--num-workers", "0", "--device", "cpu", "--out", str(out)]


def steps(run):
    return [json.loads(line)["step"] for line in (run / "losses.jsonl").read_text().splitlines()]


def test_a_yaml_file_sets_any_setting_and_flags_win(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dataset: facades\nn-epochs: 7\nlr: 2e-4\namp: off\nflip: false\n"
                    "max_steps: 12\nbest_metric: none\n")
    cfg = parse_args(["--config", str(path)])
    assert (cfg.dataset, cfg.n_epochs, cfg.lr, cfg.amp, cfg.flip, cfg.max_steps,
            cfg.best_metric) == ("facades", 7, 2e-4, "off", False, 12, None)
    cfg = parse_args(["maps", "--config", str(path), "--n-epochs", "3", "--flip", "--amp", "bf16"])
    assert (cfg.dataset, cfg.n_epochs, cfg.flip, cfg.amp, cfg.lr) == ("maps", 3, True, "bf16",
                                                                       2e-4)


def test_a_toml_file_too(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('dataset = "maps"\ndirection = "AtoB"\nn_epochs_decay = 0\nno_flip = 1\n')
    with pytest.raises(ValueError, match=r"run.toml: unknown setting 'no_flip'"):
        parse_args(["--config", str(path)])
    path.write_text('dataset = "maps"\ndirection = "AtoB"\nn_epochs_decay = 0\nflip = false\n')
    cfg = parse_args(["--config", str(path)])
    assert (cfg.dataset, cfg.direction, cfg.n_epochs_decay, cfg.flip) == ("maps", "AtoB", 0, False)


@pytest.mark.parametrize("text, message", [
    ("n_epochs: 2.5\n", r"n_epochs: 2.5 is not a valid value; expected int"),
    ("flip: maybe\n", r"flip: 'maybe' is not a valid value; expected true or false"),
    ("- a list\n", r"expected a mapping of settings"),
    ("a: [b\n", r"cannot read it as YAML"),
])
def test_bad_files_name_the_file_and_the_setting(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit, match=rf"p2p-train: --config {path}: .*{message}"):
        train_mod.main(["--config", str(path)])
    with pytest.raises(SystemExit, match="no such file"):
        train_mod.main(["--config", str(tmp_path / "missing.yaml")])


def test_every_run_writes_config_yaml_and_it_repeats_the_run(syn, tmp_path):
    out = tmp_path / "run"
    train_mod.main(tiny_flags(syn, out) + ["--n-epochs", "1", "--n-epochs-decay", "0",
                                           "--lr", "1e-3"])
    saved = yaml.safe_load((out / "config.yaml").read_text())  # no checkpoint needed to read it
    assert saved["lr"] == 1e-3 and saved["out"] == str(out) and saved["amp"] == "off"
    assert saved["run"]["torch"] == str(torch.__version__)
    assert saved["run"]["p2p_ref"] and saved["run"]["device"] == "cpu"
    again = parse_args(["--config", str(out / "config.yaml"), "--out", str(tmp_path / "again")])
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    assert {**checkpoint["config"], "out": str(tmp_path / "again")} == again.__dict__


def test_print_config_prints_the_effective_settings_and_exits(syn, tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text("n_epochs: 9\n")
    train_mod.main(["--config", str(path), "--lr", "1e-3", "--device", "cpu", "--print-config",
                    "--out", str(tmp_path / "never")])
    printed = yaml.safe_load(capsys.readouterr().out)
    assert (printed["n_epochs"], printed["lr"], printed["amp"]) == (9, 1e-3, "off")
    assert printed["run"]["torch"] == str(torch.__version__)
    assert not (tmp_path / "never").exists()


def test_resume_takes_a_checkpoint_path_and_rolls_the_run_back(syn, tmp_path, capsys):
    out = tmp_path / "run"
    flags = tiny_flags(syn, out) + ["--n-epochs", "3", "--n-epochs-decay", "0",
                                    "--keep-every-epochs", "1"]
    train_mod.main(flags)
    assert steps(out) == [1, 2, 3, 4, 5, 6]  # 2 pairs, 3 epochs
    # back to epoch 1 by its checkpoint's path alone: the run folder is the one it belongs to
    history = out / "checkpoints" / "epoch_001.pt"
    result = train(parse_args(tiny_flags(syn, out)[:-2] + [
        "--n-epochs", "3", "--n-epochs-decay", "0", "--resume", str(history), "--max-steps", "3"]))
    assert result["checkpoint"] == out / "checkpoint.pt" and result["step"] == 3
    assert steps(out) == [1, 2, 3]  # the log reads as if epochs 2 and 3 had never run
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["run"]["resumed_from"] == str(history)
    assert saved["resume"] is False  # config.yaml stays a recipe for a run of its own
    assert "resuming " + str(history) in capsys.readouterr().out
    # a run folder works as PATH too; bare --resume still means OUT/checkpoint.pt
    assert train(parse_args(flags + ["--resume", str(out), "--max-steps", "4"]))["step"] == 4
    assert train(parse_args(flags + ["--resume", "--max-steps", "5"]))["step"] == 5


def test_resume_path_refuses_to_overwrite_another_runs_checkpoint(syn, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        train(parse_args(tiny_flags(syn, out) + ["--max-steps", "1"]))
    with pytest.raises(FileExistsError, match="holds another run's checkpoint"):
        train(parse_args(tiny_flags(syn, second) + ["--resume", str(first / "checkpoint.pt")]))


def test_keep_last_keeps_the_last_n_step_checkpoints(syn, tmp_path):
    out = tmp_path / "run"
    train(parse_args(tiny_flags(syn, out) + ["--n-epochs", "3", "--n-epochs-decay", "0",
                                             "--save-every-steps", "1", "--keep-last", "2"]))
    kept = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert kept == ["step_0000005.pt", "step_0000006.pt"]
    assert torch.load(out / "checkpoints" / kept[0], weights_only=True)["step"] == 5
    # roll back to step 5 (mid-epoch 3) and continue
    result = train(parse_args(tiny_flags(syn, tmp_path / "branch") + [
        "--n-epochs", "3", "--n-epochs-decay", "0",
        "--resume", str(out / "checkpoints" / kept[0])]))
    assert result["step"] == 6 and steps(tmp_path / "branch") == [6]


def test_keep_last_needs_save_every_steps():
    with pytest.raises(ValueError, match="keep_last=2: .* needs save_every_steps"):
        check_config(TrainConfig(keep_last=2))
    cfg, show = command_line(["--keep-last", "2", "--save-every-steps", "10", "--print-config"])
    assert show and (cfg.keep_last, cfg.save_every_steps) == (2, 10)


@pytest.mark.parametrize("dataset, expected", [("facades", "BtoA"), ("maps", "AtoB"),
                                               ("edges2shoes", "AtoB"), ("my_pairs", "AtoB")])
def test_the_direction_defaults_to_the_datasets_declared_one(tmp_path, capsys, dataset, expected):
    """p2p-train maps reads aerial -> map (AtoB), facades labels -> photo (BtoA); a folder that
    declares nothing is read AtoB; the direction is recorded resolved, and a flag wins."""
    (tmp_path / "data" / dataset).mkdir(parents=True)
    flags = [dataset, "--data-root", str(tmp_path / "data"), "--device", "cpu", "--print-config"]
    train_mod.main(flags)
    assert yaml.safe_load(capsys.readouterr().out)["direction"] == expected
    other = {"AtoB": "BtoA", "BtoA": "AtoB"}[expected]
    train_mod.main(flags + ["--direction", other])
    assert yaml.safe_load(capsys.readouterr().out)["direction"] == other


def test_the_synthetic_set_trains_labels_to_photo_by_default(syn, tmp_path):
    """The synthetic folder declares BtoA in its meta.json: the run records and trains BtoA."""
    cfg, _ = command_line(tiny_flags(syn, tmp_path / "run") + ["--max-steps", "1"])
    assert cfg.direction is None
    train(cfg)
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["direction"] == "BtoA"
