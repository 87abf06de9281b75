"""lessons/evaluation_and_beyond.ipynb: an ungraded closing notebook that nbval runs, with the
course's header cells, and the paper's numbers quoted as the paper gives them.

(nbval itself runs the notebook top to bottom: it is listed in testpaths in pyproject.toml, and
its cells assert the claims its text makes about the computed scores.)
"""

import re
import tomllib

import nbformat
import pytest

from grading_harness import REPO, nbgrader_meta
from test_notebooks import INSTALL_CELL

PATH = REPO / "lessons" / "evaluation_and_beyond.ipynb"
COLAB = ("https://colab.research.google.com/github/pix2pix-course/pix2pix-course/blob/main/"
         "lessons/evaluation_and_beyond.ipynb")


@pytest.fixture(scope="module")
def nb():
    return nbformat.read(str(PATH), as_version=4)


def text(nb):
    return "\n".join(c.source for c in nb.cells)


def test_plain_notebook_with_the_course_header(nb):
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and COLAB in nb.cells[0].source
    assert nb.cells[1].cell_type == "code" and nb.cells[1].source.strip() == INSTALL_CELL
    assert not any(nbgrader_meta(c) for c in nb.cells), "not an nbgrader assignment"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"cell {i} has outputs"
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs its own stable id"


def test_nbval_runs_it():
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "lessons/evaluation_and_beyond.ipynb" in options["testpaths"]


def _table(nb, header):
    """{first column: [numbers]} of the markdown table whose header row starts with `header`."""
    lines = text(nb).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        rows[cells[0]] = [float(c.strip("*")) for c in cells[1:]]
    return rows


def test_fcn_scores_are_the_papers(nb):
    # Isola et al., CVPR 2017 (arXiv v3), Tables 1 and 3 (Cityscapes labels -> photo); the patch
    # size table is Table 3 in v3, where Table 2 compares the generator architectures
    assert "patch size (L1 + cGAN, Table 3)" in text(nb) and "Table 2)" not in text(nb)
    assert _table(nb, "| loss |") == {
        "L1": [0.42, 0.15, 0.11], "GAN": [0.22, 0.05, 0.01], "cGAN": [0.57, 0.22, 0.16],
        "L1 + GAN": [0.64, 0.20, 0.15], "L1 + cGAN": [0.66, 0.23, 0.17],
        "ground truth": [0.80, 0.26, 0.21]}
    assert _table(nb, "| discriminator receptive field |") == {
        "1 × 1 (PixelGAN)": [0.39, 0.15, 0.10], "16 × 16": [0.65, 0.21, 0.17],
        "70 × 70": [0.66, 0.23, 0.17], "286 × 286 (ImageGAN)": [0.42, 0.16, 0.11]}


def test_no_unsourced_numbers_and_spade_not_adain(nb):
    source = text(nb)
    # FID ranges that circulate in tutorials without a source are not quoted as facts
    for unsourced in ("20-35", "20–35", "35-50", "35–50", "50 → 25", "50 -> 25"):
        assert unsourced not in source
    gaugan = next(line for line in source.splitlines() if "GauGAN" in line and "**" in line)
    assert "spatially-adaptive normalization" in source and "SPADE" in gaugan
    assert re.search(r"Not AdaIN", source)
    # the 0.28 s figure: only what was measured is asserted (no guess at where it came from)
    assert "275 ms" in source and "303 ms" in source and "cannot be checked" in source
    assert "small CPU's figure" not in source
