"""End-to-end grading of the graded notebooks with the real nbgrader (see grading_harness.py).

For every assignment in solutions/, in a temporary course: the solution gets full marks, the
untouched lesson gets zero, each mutation of tests/course/grading/grading_cases/exN.py loses exactly the points
of its `fails` cells, and tampering (an endless loop, a deleted test cell, test cells edited to
`pass`) neither stops grading nor gains points. Each assignment is released and autograded once
(module-scoped fixture); a toy assignment checks the harness itself.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from grading_harness import (BLANK, make_cell as _cell, EXPECTED_ASSIGNMENTS, REPO, SOLUTION, TAMPER_DELETE,
                             TAMPER_CHECKS, TAMPER_EDIT, TAMPER_LOOP, find_cell, grade_assignment, load_alternatives,
                             bin_label, load_mutations, make_course, report,
                             safe_student_id)

# One assignment is released and autograded (a dozen notebook runs) inside its first test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

# Per-cell limit while autograding here: long enough for every legitimate cell of the quick
# path, short enough that the endless-loop submissions do not take two minutes each.
CELL_TIMEOUT = 60


def existing_assignments():
    return sorted(p.name for p in (REPO / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))


# --------------------------------------------------------------------------------------------
# what a correct grading run looks like (shared by the real assignments and the toy)

def full_marks_problems(run, student=SOLUTION):
    problems = [f"{g}: {run.scores[student][g].score:g} of {pts:g} points"
                for g, pts in run.autograded.items() if run.scores[student][g].score != pts]
    # correct work passes the fresh-process re-grade too, and nothing in it is flagged
    if student in run.regraded:
        regrade = run.autograded_notebook(student).metadata.get("p2p_regrade")
        if regrade is None:
            problems.append("the re-grade did not run")
        elif regrade["flagged"]:
            problems.append(f"flagged by the re-grade: {regrade['flagged']}")
    return problems


def zero_problems(run, student):
    return [f"{g}: {run.scores[student][g].score:g} points (expected 0)"
            for g in run.autograded if run.scores[student][g].score != 0]


def mutation_problems(run):
    problems = []
    for student, cases in run.bins:
        label = ("grading case " if len(cases) == 1 else "grading cases ") + bin_label(cases)
        fails = {g for c in cases for g in c["fails"]}
        scores = run.scores[student]
        for g, pts in run.autograded.items():
            got = scores[g].score
            if g in fails and got != 0:
                problems.append(f"{label}: {g} kept {got:g} points, expected to fail")
            elif g not in fails and got != pts:
                problems.append(f"{label}: {g} got {got:g} of {pts:g} points, expected to pass (add it "
                                "to `fails` only if the case really breaks it)")
    return problems


def tamper_problems(run):
    problems = []
    for student in (TAMPER_LOOP, TAMPER_DELETE, TAMPER_EDIT, TAMPER_CHECKS):
        if student in run.scores:
            problems += [f"{student}: {p}" for p in zero_problems(run, student)]

    # the endless loop was interrupted and grading went on to the last cell
    if TAMPER_LOOP in run.scores:
        nb = run.autograded_notebook(TAMPER_LOOP)
        looped = [c for c in nb.cells if c.cell_type == "code"
                  and c.source.startswith("while True:")]
        errors = [o.get("ename") for c in looped for o in c.get("outputs", []) if o.output_type == "error"]
        if not looped or not errors:
            problems.append(f"{TAMPER_LOOP}: the looping cell shows no interruption error")
        last_code = [c for c in nb.cells if c.cell_type == "code"][-1]
        if last_code.get("execution_count") is None:
            problems.append(f"{TAMPER_LOOP}: grading stopped before the last code cell")

    # switching the checks off fooled the kernel, and the re-grade took the points back
    flagged = [g for g, sc in run.scores.get(TAMPER_CHECKS, {}).items() if sc.needs_manual_grade]
    if TAMPER_CHECKS in run.scores and not flagged:
        problems.append(f"{TAMPER_CHECKS}: no test cell was flagged for review")

    # a deleted test cell is not restored in 0.9.6 (OverwriteCells.add_missing_cells is off):
    # it scores 0 and is flagged for the instructor in Formgrader
    deleted = run.scores[TAMPER_DELETE][run.deleted_test]
    if deleted.auto_score is not None or not deleted.needs_manual_grade:
        problems.append(f"{TAMPER_DELETE}: deleted cell {run.deleted_test} was not flagged "
                        f"(auto_score {deleted.auto_score}, needs_manual_grade "
                        f"{deleted.needs_manual_grade})")

    # edited test cells are put back from the gradebook (hidden tests included) before they run
    source = nbformat.read(str(run.course / "solutions" / run.assignment / run.notebook), 4)
    graded = run.autograded_notebook(TAMPER_EDIT)
    for g in run.autograded:
        if find_cell(graded, g).source != find_cell(source, g).source:
            problems.append(f"{TAMPER_EDIT}: test cell {g} was graded with the student's source")
    return problems


def assert_no_problems(run, problems, what):
    assert not problems, f"{what}:\n  " + "\n  ".join(problems) + "\n\n" + report(run)


# --------------------------------------------------------------------------------------------
# the five graded notebooks

def test_all_five_assignments_exist():
    assert existing_assignments() == sorted(EXPECTED_ASSIGNMENTS), \
        "solutions/ must hold exactly the five graded notebooks, one folder each"


@pytest.fixture(scope="module")
def all_graded(tmp_path_factory):
    """Every assignment released and autograded in its own temporary course, two at a time
    (each nbgrader run keeps about one core busy). Maps assignment -> future of its GradingRun."""
    def grade(assignment):
        course = make_course(tmp_path_factory.mktemp(f"course-{assignment}"), [assignment])
        return grade_assignment(course, assignment, load_mutations(assignment), timeout=CELL_TIMEOUT)

    pool = ThreadPoolExecutor(max_workers=2)
    futures = {a: pool.submit(grade, a) for a in existing_assignments()}
    yield futures
    pool.shutdown(wait=True)


@pytest.fixture(scope="module", params=existing_assignments())
def graded(request, all_graded):
    assignment = request.param
    module = f"tests/course/grading/grading_cases/{assignment.split('_')[0]}.py"
    alternatives = load_alternatives(assignment)
    assert len(load_mutations(assignment)) - len(alternatives) >= 2, \
        f"{module} needs at least two realistic wrong solutions"
    assert len(alternatives) >= 4 and all(a["fails"] == [] for a in alternatives), \
        f"{module} needs at least four correct alternatives (ALTERNATIVES, each with fails: [])"
    return all_graded[assignment].result()


def test_solution_gets_full_marks(graded):
    assert_no_problems(graded, full_marks_problems(graded), "the solution lost points")


def test_correct_alternatives_keep_every_point_in_both_runs(graded):
    problems = []
    for student, cases in graded.bins:
        if not any(c["fails"] for c in cases):
            problems += [f"{bin_label(cases)}: {p}" for p in full_marks_problems(graded, student)]
    assert_no_problems(graded, problems, "a correct alternative lost points or was flagged")


def test_untouched_lesson_gets_zero(graded):
    assert_no_problems(graded, zero_problems(graded, BLANK), "the blank lesson got points")


def test_each_mutation_loses_exactly_its_cells(graded):
    assert_no_problems(graded, mutation_problems(graded), "mutations graded unexpectedly")


def test_tampering_gains_nothing_and_grading_goes_on(graded):
    assert_no_problems(graded, tamper_problems(graded), "tampering")


# --------------------------------------------------------------------------------------------
# the harness itself, on a toy assignment with known answers

def write_toy_assignment(solutions):
    ro = dict(grade=False, solution=False, locked=True)
    sol = dict(grade=False, solution=True, locked=False)
    test = dict(grade=True, solution=False, locked=True)
    cells = [
        _cell("md", "# Toy\n\nAdd and multiply."),
        _cell("code", "import os\nQUICK = bool(os.environ.get('NBGRADER_EXECUTION') "
                      "or os.environ.get('P2P_QUICK'))\nassert QUICK", grade_id="toy-setup", **ro),
        _cell("code", "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n"
                      "    ### END SOLUTION", grade_id="toy-add", **sol),
        _cell("code", "assert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\nassert add(-1, 1) == 0\n"
                      "### END HIDDEN TESTS", grade_id="toy-test-add", points=2, **test),
        _cell("code", "def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n"
                      "    ### END SOLUTION", grade_id="toy-mul", **sol),
        _cell("code", "assert mul(2, 3) == 6", grade_id="toy-test-mul", points=1, **test),
        _cell("code", "def square(a):\n    ### BEGIN SOLUTION\n    return mul(a, a)\n"
                      "    ### END SOLUTION", grade_id="toy-square", **sol),
        _cell("code", "assert square(3) == 9", grade_id="toy-test-square", points=1, **test),
        _cell("md", "Why is addition commutative?\n\n=== BEGIN MARK SCHEME ===\nAny sound "
                    "argument.\n=== END MARK SCHEME ===", grade_id="toy-answer", points=1,
              grade=True, solution=True, locked=False),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    (solutions / "toy").mkdir(parents=True)
    nbformat.write(nb, str(solutions / "toy" / "toy.ipynb"))


TOY_MUTATIONS = [
    {"name": "add subtracts", "cell": "toy-add", "old": "return a + b", "new": "return a - b",
     "fails": ["toy-test-add"]},
    # the hidden test catches this one: 1 + 2 == 3 still holds
    {"name": "add ignores sign", "cell": "toy-add", "old": "return a + b",
     "new": "return abs(a) + abs(b)", "fails": ["toy-test-add"]},
    # a broken mul cascades into square, which uses it
    {"name": "mul adds", "cell": "toy-mul", "old": "return a * b", "new": "return a + b",
     "fails": ["toy-test-mul", "toy-test-square"]},
    # a wrong `fails` list that the checks must catch: mul is broken too, not only square
    {"name": "wrongly declared", "cell": "toy-mul", "old": "return a * b",
     "new": "return a ** b", "fails": ["toy-test-square"]},
]


def test_cases_share_a_submission_only_when_they_cannot_mask_each_other_directly():
    from grading_harness import pack_cases

    def case(name, cell, fails, **extra):
        return dict(name=name, cell=cell, old="x", new="y", fails=fails, **extra)

    cases = [case("a", "c1", ["t1"]), case("b", "c2", ["t2"]), case("c", "c1", ["t3"]),  # c: same cell as a
             case("d", "c3", ["t2"]),                                                    # d: same fails as b
             case("e", "c4", ["t4"], alone=True), case("ok1", "c1", []), case("ok2", "c2", []),
             case("f", "c5", ["t5"]), case("g", "c6", ["t6"])]
    bins = [[c["name"] for c in group] for _, group in pack_cases(cases, max_size=3)]
    assert bins == [["a", "b", "f"], ["c", "d", "g"], ["e"], ["ok1", "ok2"]]
    # a case alone keeps its own student id; shared submissions say what they hold
    ids = [student for student, _ in pack_cases(cases, max_size=3)]
    assert ids[2] == "mut-e" and ids[0].startswith("pack-") and ids[0].endswith("-wrong")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    write_toy_assignment(root / "toy-solutions")
    course = make_course(root / "course", ["toy"], solutions=root / "toy-solutions")
    return grade_assignment(course, "toy", TOY_MUTATIONS, timeout=10, pack=False, tamper_loop=True,
                            tamper_checks=False)


def test_harness_on_toy_assignment(toy):
    assert toy.autograded == {"toy-test-add": 2, "toy-test-mul": 1, "toy-test-square": 1}
    assert full_marks_problems(toy) == []
    assert zero_problems(toy, BLANK) == []
    assert toy.total(SOLUTION) == 4
    assert tamper_problems(toy) == []
    # the first three mutations are declared right; the checks catch the wrong fourth one
    assert mutation_problems(toy) == [
        "grading case 'wrongly declared': toy-test-mul got 0 of 1 points, expected to pass (add it "
        "to `fails` only if the case really breaks it)"]
    assert toy.total("mut-mul-adds") == 2 and toy.total("mut-add-ignores-sign") == 2


def test_harness_restores_locked_cells_on_toy(toy):
    # the edited test cells were run as written in the gradebook, so they failed on the stubs
    graded = toy.autograded_notebook(TAMPER_EDIT)
    assert find_cell(graded, "toy-test-mul").source == "assert mul(2, 3) == 6"
    assert any(o.output_type == "error" for o in find_cell(graded, "toy-test-mul").outputs)
    # the deleted cell is absent from the graded notebook, scored 0 and flagged
    assert toy.deleted_test == "toy-test-add"
    deleted = toy.scores[TAMPER_DELETE]["toy-test-add"]
    assert (deleted.score, deleted.auto_score, deleted.needs_manual_grade) == (0, None, True)
