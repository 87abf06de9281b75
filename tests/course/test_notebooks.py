"""The graded notebooks follow the course conventions, and kernels run them on the quick path.

(nbval runs every notebook in solutions/ itself: see testpaths in pyproject.toml.)
"""

from collections import Counter

import nbformat
import pytest
from nbclient import NotebookClient

from grading_harness import REPO, autograded_cells, nbgrader_meta

SOLUTIONS = REPO / "solutions"
COLAB = ("https://colab.research.google.com/github/pix2pix-course/pix2pix-course/blob/main/"
         "lessons/{name}/{name}.ipynb")
INSTALL_CELL = '''# On Colab, install the course package; locally `make lab` has already done it.
import sys
REPO_URL = "https://github.com/pix2pix-course/pix2pix-course"
if "google.colab" in sys.modules:
    !pip install -q "p2p_ref @ git+{REPO_URL}"'''


def notebooks():
    return sorted(p for p in SOLUTIONS.glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_kernels_inherit_the_quick_mode_of_the_test_session():
    # conftest.py sets these before any kernel starts; nbval and nbgrader start kernels the same
    # way (through jupyter_client), so the notebooks under test see them too.
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nprint(os.environ.get('P2P_QUICK'), os.environ.get('MPLBACKEND'))")])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert nb.cells[0].outputs[0].text.split() == ["1", "Agg"]


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.parent.name)
def test_solution_notebook_follows_the_course_conventions(path):
    name = path.parent.name
    assert path.stem == name, f"{path}: the notebook must be named like its folder"
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{path}: kernelspec"

    first, second = nb.cells[0], nb.cells[1]
    assert first.cell_type == "markdown" and COLAB.format(name=name) in first.source, \
        f"{path}: the first cell needs the Open in Colab badge linking {COLAB.format(name=name)}"
    assert second.cell_type == "code" and second.source.strip() == INSTALL_CELL, \
        f"{path}: the second cell must be the Colab-only install cell"

    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, \
                f"{path}, cell {i}: save the source notebook without outputs"

    ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    prefix = name.split("_")[0] + "-"
    assert [i for i, n in Counter(ids).items() if n > 1] == [], f"{path}: duplicate grade_ids"
    assert all(i.startswith(prefix) for i in ids), f"{path}: grade_ids must start with {prefix}"
    tests = autograded_cells(nb)
    assert tests and all(points > 0 for points in tests.values()), \
        f"{path}: every auto-graded test cell needs points"
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") in tests:
            assert "check" in cell.source, \
                f"{path}, {nbgrader_meta(cell)['grade_id']}: test cells call p2p_ref.course.checks"
