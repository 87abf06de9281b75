"""lessons/ is the nbgrader release of solutions/: in step with it, and leaking nothing.

`make release` regenerates lessons/; these tests release solutions/ again into a temporary course
and compare, and check that no solution code, hidden test or nbgrader marker reached a student.
"""

import json
from pathlib import Path

import nbformat
import pytest

from grading_harness import (MARKERS, REPO, comparable, generate, leaked_lines, make_course, nbgrader_env,
                             notebook_path)

LESSONS = REPO / "lessons"
SOLUTIONS = REPO / "solutions"
# Files that live directly in lessons/, outside any assignment, and must survive a release.
LESSON_EXTRAS = {"README.md": "# the lessons\n", "train_reference_on_colab.ipynb": None,
                 "playground.ipynb": None, "evaluation_and_beyond.ipynb": None}


def assignments():
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*")
                  if p.is_file() and ".ipynb_checkpoints" not in p.parts
                  and "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    """solutions/ released again, into a temporary course whose lessons/ already holds the files
    that live there outside the assignments."""
    course = make_course(tmp_path_factory.mktemp("release"), assignments())
    for name, text in LESSON_EXTRAS.items():
        path = course / "lessons" / name
        if text is None:
            nbformat.write(nbformat.v4.new_notebook(), str(path))
        else:
            path.write_text(text)
    if assignments():
        generate(course, "*")  # one nbgrader run releases every assignment, like `make release`
    return course / "lessons"


def test_release_keeps_files_outside_the_assignments(fresh_release):
    for name, text in LESSON_EXTRAS.items():
        assert (fresh_release / name).is_file(), f"generate_assignment deleted lessons/{name}"
    assert (fresh_release / "README.md").read_text() == LESSON_EXTRAS["README.md"]


@pytest.mark.parametrize("assignment", assignments())
def test_lessons_are_in_step_with_solutions(assignment, fresh_release):
    committed, fresh = LESSONS / assignment, fresh_release / assignment
    hint = "run `make release` and commit lessons/"
    assert committed.is_dir(), f"lessons/{assignment}/ is missing: {hint}"
    assert files(committed) == files(fresh), f"lessons/{assignment}/ has other files: {hint}"
    for name in files(fresh):
        if name.endswith(".ipynb"):
            old = comparable(nbformat.read(str(committed / name), as_version=4))
            new = comparable(nbformat.read(str(fresh / name), as_version=4))
            assert len(old) == len(new), f"lessons/{assignment}/{name}: {len(old)} cells, " \
                                         f"the release of solutions/ has {len(new)}: {hint}"
            for i, (a, b) in enumerate(zip(old, new)):
                assert a == b, f"lessons/{assignment}/{name}, cell {i} differs from the release " \
                               f"of solutions/: {hint}\ncommitted: {a}\nfresh:     {b}"
        else:
            assert (committed / name).read_bytes() == (fresh / name).read_bytes(), \
                f"lessons/{assignment}/{name} differs from solutions/: {hint}"


def test_no_stale_assignments_in_lessons():
    stale = sorted(p.name for p in LESSONS.iterdir() if p.is_dir() and p.name not in assignments()
                   and p.name not in (".ipynb_checkpoints", "my_work"))  # my_work: p2p_ref.course.coursework
    assert stale == [], f"lessons/ holds assignments that solutions/ does not: {stale}"


@pytest.mark.parametrize("assignment", assignments())
def test_lessons_leak_no_solution(assignment):
    source = nbformat.read(str(notebook_path(SOLUTIONS / assignment)), as_version=4)
    released = LESSONS / assignment / notebook_path(SOLUTIONS / assignment).name
    assert released.is_file(), f"{released} is missing: run `make release`"
    leaks = leaked_lines(source, nbformat.read(str(released), as_version=4))
    assert leaks == [], f"{released} shows solution or hidden-test lines (cell, line): {leaks}"


def test_no_notebook_in_lessons_holds_nbgrader_markers_or_outputs():
    for path in sorted(LESSONS.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(str(path), as_version=4)
        for i, cell in enumerate(nb.cells):
            found = [m for m in MARKERS if m in cell.source]
            assert not found, f"{path.relative_to(REPO)}, cell {i}: nbgrader marker {found}"
            assert not cell.get("outputs"), f"{path.relative_to(REPO)}, cell {i} has outputs"


# --------------------------------------------------------------------------------------------
# the leak check itself

def _nb(*sources, solution_index=1):
    cells = [nbformat.v4.new_code_cell(s) for s in sources]
    cells[solution_index].metadata["nbgrader"] = {"solution": True, "grade": False,
                                                  "locked": False, "grade_id": "s",
                                                  "schema_version": 3}
    return nbformat.v4.new_notebook(cells=cells)


SOURCE = _nb("import torch",
             "def f(x):\n    ### BEGIN SOLUTION\n    y = torch.relu(x)\n    return y\n"
             "    ### END SOLUTION",
             "assert f(1) == 1\n### BEGIN HIDDEN TESTS\nassert f(-1) == 0\n### END HIDDEN TESTS")


def test_leak_check_passes_a_clean_release():
    clean = _nb("import torch", "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                "assert f(1) == 1")
    assert leaked_lines(SOURCE, clean) == []


@pytest.mark.parametrize("released, leak", [
    ("def f(x):\n    y = torch.relu(x)\n    raise NotImplementedError()", "y = torch.relu(x)"),
    ("def f(x):\n    ### BEGIN SOLUTION\n    raise NotImplementedError()", "### BEGIN SOLUTION"),
])
def test_leak_check_finds_solution_lines_and_markers(released, leak):
    nb = _nb("import torch", released, "assert f(1) == 1")
    assert (1, leak) in leaked_lines(SOURCE, nb)


def test_leak_check_finds_hidden_tests():
    nb = _nb("import torch", "def f(x):\n    raise NotImplementedError()",
             "assert f(1) == 1\nassert f(-1) == 0")
    assert leaked_lines(SOURCE, nb) == [(2, "assert f(-1) == 0")]


# The strict check: a solution line is a leak wherever the release shows it, even where the source
# itself shows it outside the solution region (a dictated answer).
DICTATING_SOURCE = _nb("import torch\n# the answer, shown before the exercise:\ny = torch.relu(x)",
                       "def f(x):\n    ### BEGIN SOLUTION\n    y = torch.relu(x)  # ReLU\n"
                       "    return y\n    ### END SOLUTION",
                       "assert f(1) == 1")
STUB = "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"


def _release(first, kind="code"):
    """A release of DICTATING_SOURCE whose first cell (code or markdown) holds `first`."""
    nb = _nb("import torch", STUB, "assert f(1) == 1")
    if kind == "markdown":
        nb.cells[0] = nbformat.v4.new_markdown_cell(first)
    else:
        nb.cells[0].source = first
    return nb


@pytest.mark.parametrize("first, kind", [
    ("import torch\ny = torch.relu(x)", "code"),                 # a visible code cell repeats it
    ("import torch\ny = torch.relu(x)   # see the paper", "code"),  # with another comment
    ("Compute `y = torch.relu(x)` and return it.", "markdown"),   # inline code in the prose
    ("The answer:\n\n```python\n    y = torch.relu(x)\n```", "markdown"),  # a fenced block
    ("y = torch.relu(x)", "markdown"),                            # a plain markdown line
], ids=["code-cell", "code-cell-other-comment", "inline-code", "fenced-block", "markdown-line"])
def test_strict_leak_check_finds_dictated_solution_lines(first, kind):
    assert leaked_lines(DICTATING_SOURCE, _release(first, kind)) == [(0, "y = torch.relu(x)")]


def test_strict_leak_check_allows_signatures_stubs_and_trivial_lines():
    source = _nb("import torch",
                 "class Net(torch.nn.Module):\n    ### BEGIN SOLUTION\n    def __init__(self):\n"
                 "        super().__init__()\n        self.layers = torch.nn.Sequential(\n"
                 "            torch.nn.ReLU(),\n        )\n\n    def forward(self, x):\n"
                 "        return self.layers(x)\n    ### END SOLUTION\n\n\n"
                 "def f(a, b):\n    ### BEGIN SOLUTION\n    # swap them\n    return b, a\n"
                 "    ### END SOLUTION",
                 "assert f(1, 2) == (2, 1)")
    released = _nb("import torch",
                   "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                   "        # YOUR CODE HERE\n        raise NotImplementedError()\n\n"
                   "    def forward(self, x):\n        pass\n        )\n\n\n"
                   "def f(a, b):\n    # swap them\n    return b, a",
                   "assert f(1, 2) == (2, 1)")
    assert leaked_lines(source, released) == []
    released.cells[1].source += "\n        return self.layers(x)"
    assert leaked_lines(source, released) == [(1, "return self.layers(x)")]


def test_release_writes_the_integrity_record(fresh_release):
    """The release records SHA-256 of every released and source notebook and of the package
    (.grading/manifest.json), which autograding checks before and after each submission."""
    from p2p_ref.course.grading.integrity import MANIFEST, sha256
    course = fresh_release.parent
    manifest = json.loads((course / MANIFEST).read_text())
    notebooks = sorted(course.glob("lessons/*/*.ipynb")) + sorted(course.glob("solutions/*/*.ipynb"))
    assert notebooks
    for path in notebooks:
        label = str(path.relative_to(course))
        assert manifest.get(label) == sha256(path.read_bytes()), label
    assert "p2p_ref/course/checks/ex4.py" in manifest and "nbgrader_config.py" in manifest
    assert (course / ".grading/pristine/p2p_ref/course/checks/ex4.py").is_file()


def test_grading_runs_import_a_throwaway_copy_of_the_package():
    """The guards put back any package file that changes while a submission runs; the tests'
    grading runs therefore import a copy, so a file edited or written in the repo's p2p_ref during
    `make test` (a sweep's asset, say) is never reverted."""
    import subprocess
    import sys
    env = nbgrader_env()
    where = subprocess.run([sys.executable, "-c", "import p2p_ref; print(p2p_ref.__file__)"], env=env,
                           capture_output=True, text=True, check=True, cwd="/").stdout.strip()
    copy = Path(where).parent
    assert REPO not in copy.parents and copy.parent == Path(env["PYTHONPATH"]), where
    assert (copy / "course/checks/ex4.py").read_bytes() == (REPO / "p2p_ref/course/checks/ex4.py").read_bytes()
