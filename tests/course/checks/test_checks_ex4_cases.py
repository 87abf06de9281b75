"""Every grading case of lesson 4 (tests/course/grading/grading_cases/ex4.py), graded in-process
and one case at a time: the solution notebook with the case's edits, its setup, solution and test
cells (hidden tests included) run in one namespace as in the kernel. A correct alternative fails
no test cell; a wrong case fails exactly the cells in its `fails`, so a mistake costs only its own
exercise's points even where the nbgrader run (test_grading.py) packs several cases into one
submission. The nbgrader run stays the end-to-end proof; this is the quick one, case by case."""

from pathlib import Path

import nbformat
import pytest

from grading_harness import apply_mutation, load_alternatives, load_mutations, nbgrader_meta

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
