"""Tamper-proof grading (p2p_ref/course/grading/regrade.py, p2p_ref/course/grading/nbgrader_step.py).

A submission's code runs before the checks in the student's kernel, so it can switch them off.
These tests show that each obvious route fools the kernel (nbgrader alone would give the points)
and gains nothing once the fresh-process re-grade runs, that such notebooks are flagged for review
with the reason, and that correct code keeps its points.
"""

import builtins
import sys

import pytest
import torch

from grading_harness import (BLANK, RIGHT_L1, SOLUTION, WRONG_L1, find_cell, grade_assignment, make_course,
                             write_tamper_toy)
from p2p_ref.course.grading.regrade import Snapshot, suspicious_code

pytestmark = pytest.mark.timeout(3600)

# --------------------------------------------------------------------------------------------
# the snapshot, in this process


def test_snapshot_sees_and_undoes_each_kind_of_change():
    import p2p_ref.course.checks.common as common
    import p2p_ref.course.checks.ex4 as ex4
    import p2p_ref.datasets.synthetic as synthetic

    snap = Snapshot()
    assert snap.changes() == []
    eq_before = "__eq__" in vars(torch.Tensor)
    try:
        torch.allclose = lambda *a, **k: True
        ex4.l1_loss = lambda *a, **k: None
        common.fail.__code__ = (lambda *a, **k: None).__code__
        real_getattr = builtins.getattr
        builtins.getattr = lambda obj, name, *default: real_getattr(obj, name, *default)
        synthetic.PALETTE["wall"] = (0, 0, 0)
        sys.modules["p2p_ref.course.checks.ex4"] = object()
        torch.Tensor.__eq__ = lambda self, other: True
        ex4.helper_added_by_student = 1
        changed = [what for what, _ in snap.changes()]
    finally:
        restored = snap.restore()  # if this failed, the rest of the session would be broken too
    assert ("__eq__" in vars(torch.Tensor)) == eq_before
    for expected in ("torch.allclose was replaced", "p2p_ref.course.checks.ex4.l1_loss was replaced",
                     "the code of p2p_ref.course.checks.common.fail was replaced", "builtins.getattr was replaced",
                     "the contents of p2p_ref.datasets.synthetic.PALETTE were changed",
                     "sys.modules['p2p_ref.course.checks.ex4'] was replaced or removed",
                     "Tensor.__eq__ was added", "p2p_ref.course.checks.ex4.helper_added_by_student was added"):
        assert any(expected in c for c in changed), (expected, changed)
    assert sorted(restored) == sorted(changed)
    assert not hasattr(ex4, "helper_added_by_student")
    assert snap.changes() == []


def test_lazily_imported_submodules_and_private_names_are_not_tampering():
    snap = Snapshot()
    import torch.utils.data._utils as private  # noqa: F401  (a private module may change itself)
    torch._p2p_private_flag = True
    try:
        assert snap.changes() == []
    finally:
        del torch._p2p_private_flag


def test_suspicious_code_is_named():
    assert suspicious_code("import sys\nf = sys._getframe(1)") == ["frame inspection"]
    assert suspicious_code("import p2p_ref.course.checks.ex4 as m\nm.fail = None") == ["the grading code"]
    assert suspicious_code("from p2p_ref.course import checks\nchecks.ex4.fail = None") == ["the grading code"]
    assert suspicious_code("from p2p_ref.course.grading import regrade") == ["the grading code"]
    assert suspicious_code("torch.allclose = lambda *a, **k: True") == ["replacing torch/numpy comparisons"]
    assert suspicious_code("x = torch.allclose(a, b) == True") == []
    assert suspicious_code("def l1_loss(fake, target):\n    return (target - fake).abs().mean()") == []


# --------------------------------------------------------------------------------------------
# every route, graded end to end with nbgrader on a one-exercise toy


# name -> (code the student adds to the solution cell, does it fool the kernel's checks?)
ROUTES = {
    # the report: four lines that replace every function of the check module
    "check module replaced": ("import p2p_ref.course.checks.ex4 as m\nfor n in dir(m):\n"
                              "    if callable(getattr(m, n)) and not n.startswith('_'):\n"
                              "        setattr(m, n, lambda *a, **k: None)\n"),
    "torch comparisons patched": ("import torch\ntorch.allclose = lambda *a, **k: True\n"
                                  "torch.equal = lambda *a, **k: True\n"),
    "fail's code replaced": ("import p2p_ref.course.checks.common as common\n"
                             "common.fail.__code__ = (lambda *a, **k: None).__code__\n"),
    "name `check` rebound": ("class _Anything:\n    def __getattr__(self, name):\n"
                             "        return lambda *a, **k: None\ncheck = _Anything()\n"),
    "patched while the check runs": (
        "_mse = l1_loss\ndef l1_loss(fake, target):\n    import p2p_ref.course.checks.common as c, p2p_ref.course.checks.ex4 as m\n"
        "    m.fail = c.fail = lambda *a, **k: None\n    import torch\n"
        "    torch.equal = lambda *a, **k: True\n    return _mse(fake, target)\n"),
}
# CheckFailed swapped for an exception the kernel is told to ignore: the kernel still reports the
# error to nbgrader, so this route fails even there; the re-grade still flags the notebook.
CHECKFAILED_ROUTE = ("import p2p_ref.course.checks.common as common\nclass Quiet(Exception):\n    pass\n"
                     "common.CheckFailed = Quiet\n"
                     "get_ipython().set_custom_exc((Quiet,), lambda *a, **k: None)\n")
# builtins: the reference imported from p2p_ref, hidden from ensure_own_code by a patched getattr
BUILTINS_ROUTE = ("from p2p_ref.paper.losses import l1_loss\nimport builtins\n_real = builtins.getattr\n"
                  "def _getattr(obj, name, *default):\n"
                  "    return '__main__' if name == '__module__' else _real(obj, name, *default)\n"
                  "builtins.getattr = _getattr\n")


def _case(name, code, base=WRONG_L1, fails=("tt-test-check", "tt-test-equal")):
    return {"name": name, "cell": "tt-l1", "old": RIGHT_L1, "new": base + code, "fails": list(fails)}


CASES = ([_case(name, code) for name, code in ROUTES.items()]
         + [_case("builtins getattr patched over the imported reference", BUILTINS_ROUTE, base="",
                  fails=["tt-test-check"]),
            _case("CheckFailed replaced, kernel told to ignore it", CHECKFAILED_ROUTE),
            # correct code that also patches torch: keeps its points, but the notebook is flagged
            _case("correct code that patches torch.allclose", "import torch\ntorch.allclose = lambda *a, **k: True\n",
                  base=RIGHT_L1, fails=[])])


@pytest.fixture(scope="module")
def tamper_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tamper")
    write_tamper_toy(root / "sources")
    course = make_course(root / "course", ["tt"], solutions=root / "sources")
    return grade_assignment(course, "tt", CASES, timeout=60, pack=False, regrade_wrong=True)


def _notes(run, student, gid):
    cell = find_cell(run.autograded_notebook(student), gid)
    return " ".join(o.get("evalue", "") + o.get("text", "") for o in cell.get("outputs", []))


@pytest.mark.slow
def test_no_route_gains_points(tamper_run):
    from grading_harness import safe_student_id
    assert tamper_run.total(SOLUTION) == 2 and tamper_run.total(BLANK) == 0
    for case in CASES:
        student = safe_student_id(case["name"])
        for gid in ("tt-test-check", "tt-test-equal"):
            score = tamper_run.scores[student][gid]
            assert score.score == (0 if gid in case["fails"] else 1), (case["name"], gid, score)


@pytest.mark.slow
@pytest.mark.parametrize("route", [*ROUTES, "builtins getattr patched over the imported reference"])
def test_each_route_fooled_the_kernel_and_is_flagged(tamper_run, route):
    from grading_harness import safe_student_id
    student = safe_student_id(route)
    notes = _notes(tamper_run, student, "tt-test-check")
    # the kernel passed the wrong code (the route works), the fresh process did not
    assert "passed in your notebook's kernel but failed when re-run in a fresh process" in notes, notes
    assert tamper_run.scores[student]["tt-test-check"].needs_manual_grade


@pytest.mark.slow
def test_replacing_checkfailed_gains_nothing_and_is_flagged(tamper_run):
    from grading_harness import safe_student_id
    student = safe_student_id("CheckFailed replaced, kernel told to ignore it")
    notes = _notes(tamper_run, student, "tt-test-check")
    assert "solution code to review: cell 2 uses the grading code" in notes, notes
    assert tamper_run.scores[student]["tt-test-check"].needs_manual_grade


@pytest.mark.slow
def test_harmless_patch_keeps_points_and_is_flagged(tamper_run):
    from grading_harness import safe_student_id
    student = safe_student_id("correct code that patches torch.allclose")
    notes = _notes(tamper_run, student, "tt-test-check")
    assert "torch.allclose was replaced" in notes and "solution code to review" in notes
    assert tamper_run.scores[student]["tt-test-check"].needs_manual_grade
    # an honest solution is not flagged
    assert not tamper_run.scores[SOLUTION]["tt-test-check"].needs_manual_grade
    assert "Re-grade" not in _notes(tamper_run, SOLUTION, "tt-test-check")
