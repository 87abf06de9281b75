"""A submission cannot rewrite the grader, read or hand in the answers, or change another
student's grade (p2p_ref/course/grading/integrity.py, nbgrader_guard.py, answer_key.py).

One `nbgrader autograde` run of the tamper toy (lesson 4's L1 loss, checked by the course's ex4
checks; grading_harness.write_tamper_toy) on a throwaway installation: a copy of p2p_ref in a
temporary folder that the grader and the kernels import (PYTHONPATH), made a site folder by its
own sitecustomize.py, so a `.pth` dropped there runs in every later Python process. Each attack
has a wrong L1 (squared error) and tries one route; the students ids sort before `blank` and
`solution`, which nbgrader grades after them in the same run and which must score exactly as
alone. The installation must be the same afterwards, compared by hash.

This run is the fallback without the sandbox (P2P_GRADING_SANDBOX=auto with a `bwrap` on PATH that
cannot create its namespaces): the guards alone must hold, and nbgrader says what is not
protected. test_grading_sandbox.py grades the same routes inside the sandbox.
"""

import json
from pathlib import Path

import nbformat
import pytest

from grading_harness import (BLANK, REPO, SOLUTION, WRONG_L1, find_cell, grade_assignment, make_course,
                             nbgrader_env, throwaway_install, write_tamper_toy)
from p2p_ref.course.grading.integrity import sha256
from p2p_ref.course.grading.sandbox import ENV as SANDBOX_ENV

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ASSIGNMENT = "tt"
L1_CELL = "tt-l1"
PKG = "import pathlib as _pl, p2p_ref as _p\n_pkg = _pl.Path(_p.__file__).parent\n_course = _pl.Path.cwd().parents[2]\n"
NOOP = ("\\nimport types as _t\\nfor _n, _v in list(globals().items()):\\n"
        "    if isinstance(_v, _t.FunctionType) and not _n.startswith('_'):\\n"
        "        globals()[_n] = lambda *a, **k: None\\n")

# student id -> (what, code after the wrong L1, what the note must name)
ATTACKS = {
    "attack-a-checks-rewritten": (
        "rewrites the installed checks module on disk",
        PKG + f"_f = _pkg / 'course' / 'checks' / 'ex4.py'\n_f.write_text(_f.read_text() + \"{NOOP}\")\n",
        "p2p_ref/course/checks/ex4.py"),
    "attack-b-startup-hook": (
        "drops a .pth start-up hook that switches the checks off in every later process",
        PKG + "(_pkg.parent / 'zz_hook.pth').write_text('import p2p_ref.course.checks.ex4 as m; "
        "[setattr(m, n, lambda *a, **k: None) for n in dir(m) if not n.startswith(\"_\") and callable(getattr(m, n))]\\n')\n",
        "zz_hook.pth"),
    "attack-c-config-edited": (
        "switches the re-grade off in nbgrader_config.py",
        PKG + "_c = _course / 'nbgrader_config.py'\n_c.write_text(_c.read_text() + '\\nc.IsolatedRegrade.enabled = False\\n')\n",
        "nbgrader_config.py"),
    "attack-d-gradebook": (
        "writes full marks for everyone into the gradebook",
        PKG + "import sqlite3 as _s\n_db = _s.connect(_course / 'gradebook.db')\n"
        "_db.execute('update grade set auto_score = 99, needs_manual_grade = 0')\n_db.commit()\n_db.close()\n",
        "gradebook.db"),
    "attack-e-other-submission": (
        "overwrites the solution student's submission with the blank lesson",
        PKG + "import shutil as _sh\n_sh.copy(_course / 'lessons/tt/tt.ipynb', "
        "_course / 'submitted/solution/tt/tt.ipynb')\n",
        "submitted/solution/tt/tt.ipynb"),
    "attack-f-model-answer": (
        "reads the model answer from solutions/ at grading time and runs it",
        "def l1_loss(fake, target):\n    import json, pathlib\n"
        "    nb = json.loads((pathlib.Path.cwd().parents[2] / 'solutions/tt/tt.ipynb').read_text())\n"
        "    src = next(''.join(c['source']) for c in nb['cells']\n"
        "               if c['metadata'].get('nbgrader', {}).get('grade_id') == 'tt-l1')\n"
        "    ns = {}\n    exec(src, ns)\n    return ns['l1_loss'](fake, target)\n",
        "model answers"),
}
# handing in the answer key's own l1_loss: both cells check it and lose their points
DELEGATIONS = {
    "attack-g-answer-key-import": (
        "def l1_loss(fake, target):\n    from p2p_ref.paper.losses import l1_loss as _answer\n"
        "    return _answer(fake, target)\n"),
    "attack-h-answer-key-importlib": (
        "import importlib\ndef l1_loss(fake, target):\n"
        "    return getattr(importlib.import_module('p2p_ref.' + 'paper.losses'), 'l1' + '_loss')(fake, target)\n"),
}


def _with_l1(source):
    def make(solution_nb, lesson_nb):
        nb = nbformat.from_dict(nbformat.reads(nbformat.writes(solution_nb), as_version=4))
        cell = find_cell(nb, L1_CELL)
        cell.source = WRONG_L1 + source if source.startswith(PKG) else source
        return source[:40], nb
    return make


def _installation(env_dir, course):
    files = [p for p in Path(env_dir).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    files += [course / "nbgrader_config.py", *sorted((course / "lessons").rglob("*.ipynb")),
              *sorted((course / "solutions").rglob("*.ipynb"))]
    return {str(p): sha256(p.read_bytes()) for p in files}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("integrity")
    env_dir = root / "env"
    env = nbgrader_env(throwaway_install(env_dir))
    env[SANDBOX_ENV] = "auto"
    env["PATH"] = str(failing_bwrap(root / "bin")) + ":" + env["PATH"]
    write_tamper_toy(root / "sources")
    course = make_course(root / "course", [ASSIGNMENT], solutions=root / "sources")
    extra = {s: _with_l1(code) for s, (_, code, _) in ATTACKS.items()}
    extra.update({s: _with_l1(code) for s, code in DELEGATIONS.items()})
    repo_before = sha256(b"".join(p.read_bytes() for p in sorted((REPO / "p2p_ref").rglob("*.py"))))
    run = grade_assignment(course, ASSIGNMENT, [], timeout=60, tamper_checks=False, plain_tampers=False,
                           extra=extra, env=env)
    return run, env_dir, repo_before


def failing_bwrap(folder):
    """A folder holding a `bwrap` that fails like one without user namespaces."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bwrap").write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    (folder / "bwrap").chmod(0o755)
    return folder


def _notes(run, student):
    nb = run.autograded_notebook(student)
    return " ".join(o.get("evalue", "") + o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("student", sorted(ATTACKS))
def test_attack_gains_nothing_and_is_flagged_with_the_file(attacked, student):
    run, _, _ = attacked
    for gid, score in run.scores[student].items():
        if gid in run.autograded:
            assert score.score == 0 and score.needs_manual_grade, (student, gid, score)
    notes = _notes(run, student)
    assert ATTACKS[student][2] in notes, notes


@pytest.mark.parametrize("student", sorted(DELEGATIONS))
def test_answer_key_handed_in_scores_zero_for_that_piece(attacked, student):
    run, _, _ = attacked
    for gid in run.autograded:
        score = run.scores[student][gid]
        assert score.score == 0 and score.needs_manual_grade, (gid, score)
    assert "p2p_ref.paper.losses.l1_loss" in _notes(run, student)


def test_later_submissions_score_as_alone_and_installation_is_unchanged(attacked):
    run, env_dir, repo_before = attacked
    assert all(run.scores[SOLUTION][g].score == p for g, p in run.autograded.items()), run.scores[SOLUTION]
    assert all(run.scores[BLANK][g].score == 0 for g in run.autograded), run.scores[BLANK]
    for student in (SOLUTION, BLANK):
        assert not any(run.scores[student][g].needs_manual_grade for g in run.autograded), run.scores[student]
        assert not run.autograded_notebook(student).metadata["p2p_regrade"]["flagged"]
    # the installation as recorded at release: the record, the package copy, the course files
    course = run.course
    manifest = json.loads((course / ".grading/manifest.json").read_text())
    now = _installation(env_dir, course)
    for label, digest in manifest.items():
        if label.startswith("p2p_ref/"):
            assert now[str(env_dir / label)] == digest, label
        elif not label.startswith("start-up hook"):
            assert now[str(course / label)] == digest, label
    assert not (env_dir / "zz_hook.pth").exists()
    assert not list((course / ".grading").glob("hidden-*"))
    assert sha256(b"".join(p.read_bytes() for p in sorted((REPO / "p2p_ref").rglob("*.py")))) == repo_before


def test_without_the_sandbox_nbgrader_says_what_is_not_protected(attacked):
    run, _, _ = attacked
    warnings = [line for line in run.log.splitlines() if "grading sandbox: OFF" in line]
    assert len(warnings) == 1, run.log[-3000:]
    assert "No permissions to create new namespace" in warnings[0] and "read the real solutions" in warnings[0]
    assert run.autograded_notebook(SOLUTION).metadata["p2p_regrade"]["sandbox"].startswith("OFF (")
