"""p2p_ref.course.own_pipeline: lesson 5's run uses every piece the student saved, a missing or
failing piece is replaced alone, and the table says whose code ran. The student's work is the
solution notebooks' code, saved as a student's kernel would (tests/course/solution_work.py).

Each case checks the table, then trains two steps with exactly the pieces in use, as lesson 5's
training cell does.
"""

import shutil

import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR

from p2p_ref.course.coursework import load_work
from p2p_ref.course.own_pairs import OwnPairs
from p2p_ref.course.own_pipeline import LESSON5, PIECES, own_pipeline
from p2p_ref.datasets.synthetic import make_synthetic_dataset
from p2p_ref.paper import data, losses, models
from solution_work import ROOT, save_solution_work

pytestmark = pytest.mark.usefixtures("one_thread")

BROKEN_GAN_LOSS = "def gan_loss(logits, target_is_real, mode='vanilla'):\n    raise NotImplementedError()"
BROKEN_UNET = ("class UNetGenerator(UNetGenerator):\n    def forward(self, x):\n"
               "        return super().forward(x).flip(-1)")


@pytest.fixture(scope="module")
def solution_work(tmp_path_factory):
    return save_solution_work(tmp_path_factory.mktemp("student") / "my_work")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return make_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic", n_train=4, n_val=1,
                                  n_test=0, size=64)


def variant(solution_work, tmp_path, lesson, breaks):
    """A copy of the saved work in which `lesson` was saved with `breaks` applied."""
    work = tmp_path / "my_work"
    shutil.copytree(solution_work, work)
    save_solution_work(work, lessons=(lesson,), breaks=breaks)
    return work


def train_two_steps(pipe, root, tmp_path):
    """Lesson 5's loop in brief, with the pieces in use: the set, G, D, optimizers, schedule,
    steps and a sample grid."""
    train_set = pipe.train_set(root, crop_size=32)
    G, D = pipe.UNetGenerator(num_downs=5, ngf=8), pipe.PatchDiscriminator(ndf=8)
    opt_G, opt_D = pipe.make_optimizers(G, D)
    scheduler = LambdaLR(opt_G, lambda finished: pipe.lr_factor(finished + 1, 0, 2))
    for i in range(2):
        x, y = (t[None] for t in train_set[i])
        out = pipe.train_step(G, D, opt_G, opt_D, x, y)
        assert all(torch.isfinite(torch.as_tensor(out[k])) for k in ("loss_D", "loss_G"))
        scheduler.step()
    assert opt_G.param_groups[0]["lr"] == pytest.approx(2e-4 * pipe.lr_factor(3, 0, 2))
    pipe.save_samples(G, x, y, tmp_path / "samples.png")
    assert (tmp_path / "samples.png").is_file()
    return train_set


def whose(pipe):
    return {r.piece: r.whose for r in pipe.rows}


def test_every_saved_piece_runs_and_the_table_says_so(solution_work, root, tmp_path):
    pipe = own_pipeline(folder=solution_work, log=None)
    assert [r.piece for r in pipe.rows] == [p.name for p in PIECES]
    assert set(whose(pipe).values()) == {"yours"}, pipe.table()
    references = {p.name: p.reference for p in PIECES}
    for name in whose(pipe):
        assert pipe.pieces[name] is not references[name]
    # the step calls the losses in use, the composites the blocks in use
    assert pipe.train_step.__globals__["generator_loss"] is pipe.generator_loss
    assert pipe.discriminator_loss.__globals__["gan_loss"] is pipe.gan_loss
    train_set = train_two_steps(pipe, root, tmp_path)
    assert isinstance(train_set, OwnPairs) and train_set.paired_jitter is pipe.paired_jitter
    assert pipe.summary().startswith("Every piece of this run was yours")


def test_a_broken_gan_loss_is_replaced_and_the_composites_run_with_the_reference(solution_work, root,
                                                                                  tmp_path):
    work = variant(solution_work, tmp_path, "ex4_losses", {"gan_loss": BROKEN_GAN_LOSS})
    pipe = own_pipeline(folder=work, log=None)
    assert pipe.row("gan_loss").whose == "reference"
    assert "not written yet" in pipe.row("gan_loss").why
    for name in ("discriminator_loss", "generator_loss"):
        assert pipe.row(name).whose == "yours"
        assert "run with the reference gan_loss" in pipe.row(name).why
        assert pipe.pieces[name].__globals__["gan_loss"] is losses.gan_loss
    assert pipe.row("train_step").whose == "yours"
    train_two_steps(pipe, root, tmp_path)  # the broken gan_loss would raise here
    assert "gan_loss (the table says why)" in pipe.summary()


def test_a_wrong_composite_is_replaced_by_the_reference_calling_the_students_blocks(solution_work,
                                                                                    tmp_path):
    work = variant(solution_work, tmp_path, "ex4_losses", {"discriminator_loss": (
        "def discriminator_loss(real_logits, fake_logits, mode='vanilla'):\n"
        "    return gan_loss(real_logits, True, mode) + gan_loss(fake_logits, False, mode)")})
    pipe = own_pipeline(folder=work, log=None, names=("gan_loss", "l1_loss", "discriminator_loss"))
    row = pipe.row("discriminator_loss")
    assert row.whose == "reference" and "fails its check" in row.why
    assert row.why.endswith("the reference calls your gan_loss")
    assert pipe.discriminator_loss.__globals__["gan_loss"] is pipe.gan_loss is not losses.gan_loss
    logits = torch.zeros(1, 1, 4, 4)
    assert float(pipe.discriminator_loss(logits, logits)) == pytest.approx(float(
        losses.discriminator_loss(logits, logits)))


def test_nothing_saved_trains_the_reference_and_says_nothing_was_yours(root, tmp_path):
    pipe = own_pipeline(folder=tmp_path / "empty", log=None)
    assert set(whose(pipe).values()) == {"reference"}
    assert all(r.why.startswith("missing") for r in pipe.rows)
    train_two_steps(pipe, root, tmp_path)
    assert pipe.summary().startswith("None of this run's code was yours")


def test_an_unfinished_lesson5_exercise_is_replaced_alone(solution_work, root, tmp_path):
    def make_optimizers(G, D, lr=2e-4, beta1=0.5):
        raise NotImplementedError()

    lesson5 = {name: obj for name, obj in load_work("ex5_training", solution_work).items()
               if name in LESSON5}
    pipe = own_pipeline(lesson5={**lesson5, "make_optimizers": make_optimizers, "save_samples": None},
                        folder=solution_work, log=None)
    assert pipe.row("make_optimizers").whose == "reference"
    assert "not written yet" in pipe.row("make_optimizers").why
    assert pipe.row("save_samples").whose == "reference" and "missing" in pipe.row("save_samples").why
    mine = {name for name, w in whose(pipe).items() if w == "yours"}
    assert mine == {p.name for p in PIECES} - {"make_optimizers", "save_samples"}
    train_two_steps(pipe, root, tmp_path)


def test_a_unet_that_fails_its_check_is_replaced_by_the_reference(solution_work, root, tmp_path):
    work = variant(solution_work, tmp_path, "ex2_unet", {"UNetGenerator": BROKEN_UNET})
    lines = []
    pipe = own_pipeline(folder=work, log=lines.append)
    assert pipe.row("UNetGenerator").whose == "reference"
    assert "fails its check" in pipe.row("UNetGenerator").why
    assert pipe.UNetGenerator is models.UNetGenerator
    assert any("UNetGenerator" in line and "fails its check" in line for line in lines)
    assert pipe.row("PatchDiscriminator").whose == "yours"
    train_two_steps(pipe, root, tmp_path)


def test_while_grading_nothing_is_loaded_or_checked(solution_work, monkeypatch):
    lesson5 = load_work("ex5_training", solution_work)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr("p2p_ref.course.own_pipeline._check", lambda *a: pytest.fail("checked"))
    pipe = own_pipeline(lesson5=lesson5, folder=solution_work, log=None)
    assert {r.whose for r in pipe.rows} == {"reference"}
    assert all("graded" in r.why for r in pipe.rows)


def test_lesson1_rows_say_when_its_code_cannot_prepare_the_data(solution_work, tmp_path):
    pipe = own_pipeline(folder=solution_work, log=None, names=("split_ab", "normalize", "paired_jitter"))
    not_aligned = [(torch.zeros(3, 8, 8), torch.zeros(3, 8, 8))]
    assert pipe.wrap_pairs(not_aligned) is not_aligned
    assert {r.whose for r in pipe.rows} == {"reference"}
    assert all("not used" in r.why for r in pipe.rows)
    assert pipe.split_ab is not data.split_ab  # the object stays; the table tells the truth


def test_lesson5_runs_to_the_end_with_broken_and_unfinished_pieces(solution_work, tmp_path, monkeypatch):
    """The solution notebook as a student may have it: lesson 4's gan_loss unfinished, lesson 2's
    U-Net wrong, lesson 5's make_optimizers not written. Only the optimizers' graded cell fails;
    the training cell runs, and the table and the closing text name exactly those stand-ins."""
    import nbformat
    from nbclient import NotebookClient

    work = variant(solution_work, tmp_path, "ex4_losses", {"gan_loss": BROKEN_GAN_LOSS})
    save_solution_work(work, lessons=("ex2_unet",), breaks={"UNetGenerator": BROKEN_UNET})
    monkeypatch.setenv("P2P_MY_WORK", str(work))
    nb = nbformat.read(str(ROOT / "solutions/ex5_training/ex5_training.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex5-make-optimizers")
    cell.source = "def make_optimizers(G, D, lr=2e-4, beta1=0.5):\n    raise NotImplementedError()"
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    def output(grade_id):
        cell = next(c for c in nb.cells if c.get("id") == grade_id or
                    c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        return cell, "".join(o.get("text", "") for o in cell.outputs)

    failed = [c.metadata.get("nbgrader", {}).get("grade_id", c.get("id")) for c in nb.cells
              if c.cell_type == "code" and any(o.output_type == "error" for o in c.outputs)]
    assert failed == ["ex5-test-optimizers"]
    table = output("ex5-pipeline")[1]
    rows = {line.split()[0]: line.split()[2] for line in table.splitlines()[2:]}
    assert {name for name, w in rows.items() if w == "reference"} == {"gan_loss", "UNetGenerator",
                                                                      "make_optimizers"}
    assert "run with the reference gan_loss" in table and "not written yet" in table
    run = output("68f0e7d3")[1]
    assert "6 steps" in run and "The reference stood in for: UNetGenerator, gan_loss, make_optimizers" in run
    assert output("ex5-whose-run")[1].strip() == run.strip().splitlines()[-1]
