"""p2p-student-train: p2p-train with the student's saved pieces (the solution notebooks' code,
saved as a student would), on a tiny synthetic set for a few steps on the CPU."""

import json
import shutil

import pytest

from p2p_ref.course import student_train
from p2p_ref.course.own_pipeline import own_pipeline
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.paper import models
from solution_work import save_solution_work

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--direction", "BtoA", "--load-size", "36", "--crop-size", "32", "--num-downs", "5",
        "--ngf", "8", "--ndf", "8", "--n-epochs", "1", "--n-epochs-decay", "1", "--num-workers", "0"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return save_solution_work(tmp_path_factory.mktemp("student") / "my_work")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic", n_train=3, n_val=1,
                                  n_test=0, size=64)


def losses_steps(out):
    return [json.loads(line)["step"] for line in (out / "losses.jsonl").read_text().splitlines()]


def test_trains_with_the_students_pieces_writes_ownership_and_resumes(work, root, tmp_path, capsys):
    out = tmp_path / "run"
    student_train.main([str(work), str(root), *TINY, "--max-steps", "2", "--out", str(out)])
    table = json.loads((out / "ownership.json").read_text())
    assert {r["whose"] for r in table["rows"]} == {"yours"}
    assert {r["piece"] for r in table["rows"]} == set(student_train.USED)
    assert losses_steps(out) == [1, 2] and (out / "checkpoint.pt").is_file()
    student_train.main([str(work), str(root), *TINY, "--out", str(out), "--resume"])
    assert losses_steps(out) == list(range(1, 7))  # 2 epochs of 3 pairs, steps 3-6 resumed
    printed = capsys.readouterr().out
    assert "finished at step 6" in printed and "Every piece of this run was yours" in printed


def test_the_pieces_handed_to_the_trainer_are_the_students(work):
    pipe = own_pipeline(names=student_train.USED, folder=work, log=None)
    pieces = student_train.student_pieces(pipe)
    assert pieces.train_step is pipe.train_step and pieces.lr_factor is pipe.lr_factor
    cfg = student_train.parse([str(work), "synthetic", *TINY])[1]
    G, D = pieces.build_models(cfg)
    assert type(G) is pipe.UNetGenerator and type(G) is not models.UNetGenerator
    assert type(D) is pipe.PatchDiscriminator


def test_a_broken_piece_falls_back_to_the_reference(work, root, tmp_path, capsys):
    broken = tmp_path / "my_work"
    shutil.copytree(work, broken)
    save_solution_work(broken, lessons=("ex4_losses",), breaks={
        "l1_loss": "def l1_loss(fake, target):\n    return (target - fake).abs().sum()"})
    out = tmp_path / "run"
    student_train.main([str(broken), str(root), *TINY, "--max-steps", "2", "--out", str(out)])
    rows = {r["piece"]: r for r in json.loads((out / "ownership.json").read_text())["rows"]}
    assert rows["l1_loss"]["whose"] == "reference" and "fails its check" in rows["l1_loss"]["why"]
    assert rows["generator_loss"]["whose"] == "yours" and "reference l1_loss" in rows["generator_loss"]["why"]
    assert losses_steps(out) == [1, 2]
    assert "The reference stood in for: l1_loss" in capsys.readouterr().out


def test_a_folder_without_saved_work_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        student_train.main([str(tmp_path / "nowhere"), "synthetic"])
    assert "nowhere holds no saved work" in capsys.readouterr().err


def test_fp16_is_refused_with_the_students_step(work, tmp_path):
    with pytest.raises(SystemExit, match="--amp bf16"):
        student_train.main([str(work), "synthetic", "--amp", "fp16", "--out", str(tmp_path / "r")])
