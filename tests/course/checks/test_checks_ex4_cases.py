"""Every grading case of lesson 4 (tests/course/grading/grading_cases/ex4.py), graded in-process
and one case at a time: the solution notebook with the case's edits, its setup, solution and test
cells (hidden tests included) run in one namespace as in the kernel. A correct alternative fails
no test cell; a wrong case fails exactly the cells in its `fails`, so a mistake costs only its own
exercise's points even where the nbgrader run (test_grading.py) packs several cases into one
submission. The nbgrader run stays the end-to-end proof; this is the quick one, case by case.
Then what the checks say about the slips of the idioms they accept since issue 17."""

from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grading_harness import apply_mutation, load_alternatives, load_mutations, nbgrader_meta
from p2p_ref.course.checks import CheckFailed
from p2p_ref.course.checks import ex4 as check
from p2p_ref.paper.sharpness import laplacian_variance

REPO = Path(__file__).resolve().parents[3]
SOLUTION = REPO / "solutions" / "ex4_losses" / "ex4_losses.ipynb"
CASES = load_mutations("ex4_losses")
ALTERNATIVE_NAMES = {case["name"] for case in load_alternatives("ex4_losses")}


def failing_test_cells(nb):
    """Run the setup, solution and test cells of `nb` in order; the grade ids of the test cells
    that raise."""
    namespace = {"__name__": "__main__"}
    exec("from p2p_ref.paper.sharpness import laplacian_variance", namespace)  # a demo cell imports it
    failed = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or not (meta.get("solution") or meta.get("grade") or meta.get("locked")):
            continue
        if meta.get("grade_id") == "ex4-save-work":
            continue
        try:
            exec(compile(cell.source, meta.get("grade_id", "cell"), "exec"), namespace)
        except Exception:
            if not meta.get("grade"):
                raise
            failed.append(meta["grade_id"])
    return failed


@pytest.fixture(scope="module")
def solution_nb():
    return nbformat.read(str(SOLUTION), as_version=4)


def test_the_solution_fails_no_test_cell(solution_nb):
    assert failing_test_cells(solution_nb) == []


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_each_case_loses_exactly_its_own_points(case, solution_nb, capsys):
    failed = failing_test_cells(apply_mutation(solution_nb, case))
    kind = "correct alternative" if case["name"] in ALTERNATIVE_NAMES else "wrong case"
    assert sorted(failed) == sorted(case["fails"]), (
        f"{kind} {case['name']!r}: failed {sorted(failed)}, expected {sorted(case['fails'])}\n"
        + capsys.readouterr().out[-2000:])


# What the checks say about the slips of the idioms they now accept.

def test_d_loss_halved_twice_is_named():
    def concatenated_and_halved(real_logits, fake_logits, mode="vanilla"):
        logits = torch.cat([real_logits, fake_logits])
        labels = torch.cat([torch.ones_like(real_logits), torch.zeros_like(fake_logits)])
        return 0.5 * F.binary_cross_entropy_with_logits(logits, labels)

    with pytest.raises(CheckFailed, match="halved twice"):
        check.discriminator_loss(concatenated_and_halved)


@pytest.mark.parametrize("wrong, message", [
    (lambda l1, s: (l1, s), None),                                  # 0-d arrays: numbers, accepted
    (lambda l1, s: (l1, s.reshape(1)), None),                       # one element: accepted
    (lambda l1, s: (l1, np.stack([s, s])), "shape \\(2,\\)"),       # one value per image: refused
    (lambda l1, s: (l1, np.array(True)), "bool"),                   # a boolean is no measurement
])
def test_measure_numbers_as_numpy_arrays(wrong, message):
    def measure(fakes, targets):
        l1 = (targets - fakes).abs().mean().numpy()
        sharpness = laplacian_variance((fakes + 1) / 2).mean().numpy()
        return wrong(l1, sharpness)

    if message is None:
        check.measure(measure)
        check.measure_more(measure)
    else:
        with pytest.raises(CheckFailed, match=message):
            check.measure(measure)
