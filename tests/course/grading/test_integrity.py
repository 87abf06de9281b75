"""The integrity record (p2p_ref/course/grading/integrity.py) on a toy course with its own copy of a
package and its own hook folder: every change is named and put back, the shared state too."""

import json
import sqlite3
from pathlib import Path

import nbformat
import pytest

from p2p_ref.course.grading.integrity import (MANIFEST, MODEL_ANSWER_HIDDEN, IntegrityError, Pristine,
                                              SharedState, sha256, write_manifest)


def _tree_hashes(root):
    return {str(p.relative_to(root)): sha256(p.read_bytes()) for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    for sub in ("lessons/a", "solutions/a", "submitted/ann/a", "submitted/bob/a", "autograded/bob/a"):
        (root / sub).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def l1_loss(f, t):\n    return (t - f).abs().mean()")])
    for sub in ("lessons/a", "solutions/a", "submitted/ann/a", "submitted/bob/a", "autograded/bob/a"):
        nbformat.write(nb, str(root / sub / "a.ipynb"))
    sqlite3.connect(root / "gradebook.db").execute("create table grade (score real)").connection.commit()
    pkg = tmp_path / "site" / "pkg"
    (pkg / "checks").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "checks" / "ex4.py").write_text("def l1_loss(f):\n    assert f(0, 1) == 1\n")
    (tmp_path / "site" / "legit.pth").write_text("/somewhere\n")
    return root


def _load(course):
    site = course.parent / "site"
    return Pristine.load(course, hooks=[site], package=site / "pkg")


def test_manifest_records_every_graded_file(course):
    site = course.parent / "site"
    manifest = write_manifest(course, hooks=[site], package=site / "pkg")
    assert json.loads((course / MANIFEST).read_text()) == manifest
    assert manifest["p2p_ref/checks/ex4.py"] == sha256((site / "pkg/checks/ex4.py").read_bytes())
    assert {"nbgrader_config.py", "lessons/a/a.ipynb", "solutions/a/a.ipynb", "p2p_ref/__init__.py",
            f"start-up hook {(site / 'legit.pth').resolve()}"} <= set(manifest)
    assert (course / ".grading/pristine/p2p_ref/checks/ex4.py").is_file()


def test_each_change_is_named_and_put_back(course):
    site = course.parent / "site"
    write_manifest(course, hooks=[site], package=site / "pkg")
    before = _tree_hashes(course.parent)
    record = _load(course)
    assert record.restore() == []
    (site / "pkg/checks/ex4.py").write_text("def l1_loss(f):\n    pass\n")
    (site / "zz_evil.pth").write_text("import os\n")
    (site / "sitecustomize.py").write_text("print('hi')\n")
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.IsolatedRegrade.enabled = False\n")
    (course / "lessons/a/a.ipynb").unlink()
    (site / "pkg/checks/new.py").write_text("")
    changed = record.restore()
    assert changed == sorted(["p2p_ref/checks/ex4.py", f"start-up hook {(site / 'zz_evil.pth').resolve()}",
                              f"start-up hook {(site / 'sitecustomize.py').resolve()}", "nbgrader_config.py",
                              "lessons/a/a.ipynb", "p2p_ref/checks/new.py"])
    assert _tree_hashes(course.parent) == before


def test_a_course_changed_since_release_does_not_start(course):
    site = course.parent / "site"
    write_manifest(course, hooks=[site], package=site / "pkg")
    (site / "pkg/checks/ex4.py").write_text("def l1_loss(f):\n    pass\n")
    with pytest.raises(IntegrityError, match=r"p2p_ref/checks/ex4.py.*make release"):
        _load(course)


def test_gradebook_and_other_students_are_put_back(course):
    before = _tree_hashes(course)
    shared = SharedState.capture(course, "ann")
    db = sqlite3.connect(course / "gradebook.db")
    db.execute("insert into grade values (99)")
    db.commit()
    db.close()
    (course / "submitted/bob/a/a.ipynb").write_text("{}")
    (course / "autograded/bob/a/extra.txt").write_text("x")
    (course / "submitted/ann/a/a.ipynb").write_text("{}")  # the student's own submission: not shared
    assert shared.restore() == ["autograded/bob/a/extra.txt", "gradebook.db", "submitted/bob/a/a.ipynb"]
    after = _tree_hashes(course)
    assert {k: v for k, v in after.items() if "ann" not in k} == {k: v for k, v in before.items() if "ann" not in k}


def test_solutions_hidden_behind_a_decoy_while_a_submission_runs(course):
    record = _load(course)
    real = (course / "solutions/a/a.ipynb").read_text()
    record.hide_solutions()
    decoy = nbformat.read(str(course / "solutions/a/a.ipynb"), as_version=4)
    assert MODEL_ANSWER_HIDDEN in decoy.cells[0].source and "abs()" not in decoy.cells[0].source
    with pytest.raises(RuntimeError, match=MODEL_ANSWER_HIDDEN):
        exec(decoy.cells[0].source, {})
    assert record.restore() == []  # the decoy is not a change; the hidden files are watched
    record.show_solutions()
    assert (course / "solutions/a/a.ipynb").read_text() == real
    assert not list((course / ".grading").glob("hidden-*"))
