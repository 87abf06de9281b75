"""End-to-end grading with the real nbgrader, in a throwaway course directory.

The harness copies the course's nbgrader_config.py and the source notebooks into a temporary
course root, releases each assignment with `nbgrader generate_assignment`, writes students'
submissions to submitted/<student>/<assignment>/, runs `nbgrader autograde <assignment>` once for
all of them and reads the scores back from the gradebook.

    course = make_course(tmp_dir, ["ex2_unet"])
    run = grade_assignment(course, "ex2_unet", mutations)   # solution, blank lesson, mutations,
    run.scores["solution"]["ex2-test-encoder"]              # tampered copies -> Score per cell

It is also usable by hand when writing tests/course/grading/grading_cases/exN.py:

    .venv/bin/python tests/course/grading/grading_harness.py ex2_unet          # grades, prints a table
"""

import atexit
import copy
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[3]
TESTS = Path(__file__).resolve().parent

# The five graded notebooks, in course order (also listed in nbgrader_config.py).
EXPECTED_ASSIGNMENTS = (
    "ex1_paired_translation",
    "ex2_unet",
    "ex3_patchgan",
    "ex4_losses",
    "ex5_training",
)

# Lines nbgrader writes into a released notebook in place of solutions.
STUB_LINES = {"# YOUR CODE HERE", "raise NotImplementedError()", "YOUR ANSWER HERE"}
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "BEGIN MARK SCHEME", "END MARK SCHEME")
REGIONS = (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
           ("BEGIN MARK SCHEME", "END MARK SCHEME"))

# Student ids of the submissions every grading run makes.
SOLUTION, BLANK = "solution", "blank"
TAMPER_LOOP, TAMPER_DELETE, TAMPER_EDIT = "tamper-loop", "tamper-deleted-test", "tamper-edited-test"
TAMPER_CHECKS = "tamper-checks-switched-off"

# What the student's kernel runs before the checks can switch them off: these lines (the route
# reported in the issue on fair grading) replace every public function of the check modules.
SWITCH_CHECKS_OFF = """import importlib
for _name in ("ex1", "ex2", "ex3", "ex4", "ex5"):
    _module = importlib.import_module("p2p_ref.course.checks." + _name)
    for _attr in dir(_module):
        if callable(getattr(_module, _attr)) and not _attr.startswith("_"):
            setattr(_module, _attr, lambda *a, **k: None)
"""


class GradingError(RuntimeError):
    """nbgrader failed, or a grading case does not fit its notebook."""


# --------------------------------------------------------------------------------------------
# notebooks and their nbgrader cells

def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_id(cell):
    return nbgrader_meta(cell).get("grade_id")


def autograded_cells(nb):
    """{grade_id: points} of the test cells nbgrader scores by running them."""
    return {m["grade_id"]: float(m.get("points", 0)) for m in map(nbgrader_meta, nb.cells)
            if m.get("grade") and not m.get("solution")}


def solution_cells(nb):
    return [c for c in nb.cells if nbgrader_meta(c).get("solution")]


def find_cell(nb, gid):
    cells = [c for c in nb.cells if grade_id(c) == gid]
    if len(cells) != 1:
        raise GradingError(f"expected one cell with grade_id {gid!r}, found {len(cells)}")
    return cells[0]


def notebook_path(assignment_dir):
    """The one notebook of an assignment folder (the course has one notebook per assignment)."""
    notebooks = sorted(p for p in Path(assignment_dir).glob("*.ipynb"))
    if len(notebooks) != 1:
        raise GradingError(f"{assignment_dir}: expected exactly one .ipynb, found "
                           f"{[p.name for p in notebooks]}")
    return notebooks[0]


def solution_regions(nb):
    """Text nbgrader must remove from a release: the lines between BEGIN/END SOLUTION,
    HIDDEN TESTS and MARK SCHEME markers, and the whole source of solution cells without markers
    (nbgrader replaces those cells with a stub). Returns (hidden_lines, visible_lines): stripped,
    non-empty lines inside such regions, and those outside them."""
    hidden, visible = set(), set()
    for cell in nb.cells:
        lines = cell.source.splitlines()
        has_markers = any(m in line for line in lines for m in MARKERS)
        if nbgrader_meta(cell).get("solution") and not has_markers:
            hidden |= {s for s in (l.strip() for l in lines) if s}
            continue
        inside = False
        for line in lines:
            if any(begin in line for begin, _ in REGIONS):
                inside = True
            elif any(end in line for _, end in REGIONS):
                inside = False
            elif line.strip():
                (hidden if inside else visible).add(line.strip())
    return hidden, visible


# Lines of a solution region that a release may show: nbgrader's stubs, and lines too trivial to
# give an answer away. Anything else from a solution or hidden-test region that appears in the
# release (a code line, a markdown line, an inline `code` span, a line of a fenced block) is a
# leak, whether or not the source also shows it outside the region.
TRIVIAL_LINES = {"pass", "return", "else:", "try:", "finally:", "super().__init__()",
                 "(", ")", "[", "]", "{", "}", "),", "],", "},", "])", "))", '"""', "'''"}
# `return x`, `return a, b`: returning names the stub's signature or the text already gives.
TRIVIAL_RETURN = re.compile(r"return\s+\w+(\s*,\s*\w+)*,?")
# The signature lines the stub must give (def / class headers).
SIGNATURE = re.compile(r"(async\s+)?(def|class)\s+\w+.*:")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")


def _normal(line):
    """A line as the leak check compares it: without a trailing `# comment` (code only), with
    runs of whitespace collapsed, stripped."""
    return " ".join(line.split())


def _code_forms(line):
    """The stripped line, and the same line without a trailing comment."""
    s = _normal(line)
    forms = {s}
    if "#" in s and not s.startswith("#"):
        forms.add(_normal(s.split("#", 1)[0]))  # a `#` inside a string only adds a shorter form
    return {f for f in forms if f}


def _allowed(line):
    return (line in STUB_LINES or line in TRIVIAL_LINES or TRIVIAL_RETURN.fullmatch(line)
            or SIGNATURE.fullmatch(line) or line.startswith("#"))


def shown_texts(cell):
    """What a student reads in a released cell, as (text, where) pairs: every line of a code
    cell (with and without a trailing comment); every line of a markdown cell, every line of its
    fenced code blocks and the content of each inline `code` span."""
    out = []
    for line in cell.source.splitlines():
        if cell.cell_type == "code":
            out += [(f, "code") for f in _code_forms(line)]
            continue
        stripped = _normal(line)
        if stripped.startswith(("```", "~~~")):
            continue
        out += [(f, "markdown") for f in _code_forms(line)]
        out += [(_normal(m.group(2)), "inline code") for m in INLINE_CODE.finditer(line)]
    return out


def leaked_lines(source_nb, released_nb):
    """(cell index, line) of the release that give away a solution: any line still holding an
    nbgrader marker, and every shown text (see shown_texts) equal to a non-trivial line of a
    solution / hidden-test region of the source, compared without trailing comments. Strict:
    a line the source also shows outside the regions counts too (a dictated answer is a leak);
    only the stub lines, def/class signatures and TRIVIAL_LINES are allowed."""
    hidden, _ = solution_regions(source_nb)
    secret = {f for line in hidden for f in _code_forms(line) if not _allowed(f)}
    leaks = []
    for i, cell in enumerate(released_nb.cells):
        for line in cell.source.splitlines():
            if any(m in line for m in MARKERS):
                leaks.append((i, line.strip()))
        for text, _ in shown_texts(cell):
            if text in secret and (i, text) not in leaks:
                leaks.append((i, text))
    return leaks


def comparable(nb):
    """A notebook's content without what may change between two runs of nbgrader on the same
    source (outputs, execution counts): cell type, id, source and metadata, in order."""
    return [{"cell_type": c.cell_type, "id": c.get("id"), "source": c.source,
             "metadata": c.get("metadata", {})} for c in nb.cells]


# The tamper toy: one exercise (the L1 loss of lesson 4) checked by the course's ex4 checks and by
# a plain assert; the tampering tests graft their routes onto a wrong or a right L1.
WRONG_L1 = "def l1_loss(fake, target):\n    return ((fake - target) ** 2).mean()  # MSE, not L1\n"
RIGHT_L1 = "def l1_loss(fake, target):\n    return (target - fake).abs().mean()\n"


def write_tamper_toy(solutions):
    """Write the tamper toy's source notebook to solutions/tt/tt.ipynb."""
    ro = dict(grade=False, solution=False, locked=True)
    test = dict(grade=True, solution=False, locked=True)
    cells = [
        make_cell("md", "# Tamper toy\n\nWrite the L1 loss."),
        make_cell("code", "import torch\nfrom p2p_ref.course.checks import ex4 as check", grade_id="tt-setup", **ro),
        make_cell("code", "### BEGIN SOLUTION\n" + RIGHT_L1 + "### END SOLUTION", grade_id="tt-l1",
                  grade=False, solution=True, locked=False),
        make_cell("code", "check.l1_loss(l1_loss)", grade_id="tt-test-check", points=1, **test),
        make_cell("code", "assert torch.equal(l1_loss(torch.zeros(4), torch.full((4,), 2.0)), torch.tensor(2.0))",
                  grade_id="tt-test-equal", points=1, **test),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (solutions / "tt").mkdir(parents=True)
    nbformat.write(nb, str(solutions / "tt" / "tt.ipynb"))


def make_cell(kind, source, **nbgrader):
    """A code ("code") or markdown cell with the given nbgrader metadata (for toy assignments)."""
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = dict(nbgrader, schema_version=3)
    return cell


# --------------------------------------------------------------------------------------------
# running nbgrader

def throwaway_install(folder):
    """A copy of the repo's p2p_ref in `folder`, made a site folder by its sitecustomize (so a
    .pth dropped there runs at start-up, as in a real site-packages). Put first on PYTHONPATH,
    it is the package nbgrader, the integrity record and the kernels import. Grading guards the
    package it imports and puts back any file that changes while a submission runs: grading a
    copy keeps the guard away from the repo, where a developer may be editing or writing files
    (a sweep's asset) while the tests run."""
    folder = Path(folder)
    shutil.copytree(REPO / "p2p_ref", folder / "p2p_ref", ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "sitecustomize.py").write_text(f"import site\nsite.addsitedir({str(folder)!r})\n")
    return folder


_SHARED_INSTALL = []


def shared_install():
    """One throwaway install for this process's grading runs (removed at exit)."""
    if not _SHARED_INSTALL:
        folder = Path(tempfile.mkdtemp(prefix="p2p-grading-install-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _SHARED_INSTALL.append(throwaway_install(folder))
    return _SHARED_INSTALL[0]


def nbgrader_env(package=None):
    """Environment for nbgrader and its kernels: the venv's bin first (nbgrader calls `alembic`),
    p2p_ref from a throwaway install (`package`, else this process's shared one), the notebooks'
    quick path on, a non-interactive matplotlib."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(package or shared_install())
    env["P2P_QUICK"] = "1"
    env["MPLBACKEND"] = "Agg"
    # one thread per kernel: the tests grade two assignments at a time on two cores
    env["OMP_NUM_THREADS"] = "1"
    return env


def nbgrader(course, *args, timeout=3600, env=None):
    """Run `nbgrader ARGS` in the course root; raise GradingError with its log when it fails.
    `env` replaces nbgrader_env() (e.g. with PYTHONPATH on a throwaway copy of the package)."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    proc = subprocess.run(cmd, cwd=course, env=env or nbgrader_env(), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise GradingError(f"`nbgrader {' '.join(args)}` failed in {course} "
                           f"(exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def make_course(root, assignments, solutions=REPO / "solutions", config=REPO / "nbgrader_config.py"):
    """A course directory under `root` with the course's nbgrader_config.py and the given
    assignments' source folders. The config sets the course root to its own folder, so a plain
    copy points nbgrader at the temporary course."""
    root = Path(root)
    (root / "lessons").mkdir(parents=True, exist_ok=True)
    shutil.copy(config, root / "nbgrader_config.py")
    for a in assignments:
        shutil.copytree(Path(solutions) / a, root / "solutions" / a,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return root


def generate(course, assignment, env=None):
    """Release one assignment into course/lessons/<assignment>/ and write the integrity record,
    as `make release` does."""
    nbgrader(course, "generate_assignment", assignment, "--force", env=env)
    # in the course root, like nbgrader: `-m` puts the working folder first on sys.path
    proc = subprocess.run([sys.executable, "-m", "p2p_ref.course.grading.integrity", "."], cwd=course,
                          env=env or nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise GradingError(f"writing the integrity record of {course} failed:\n{proc.stderr[-4000:]}")
    return Path(course) / "lessons" / assignment


# --------------------------------------------------------------------------------------------
# submissions

def mutation_edits(mutation):
    """The (cell, old, new) edits of a grading case: one edit given by the keys cell/old/new, or
    several under "edits" (a list of {"cell", "old", "new"}), for a student who wrote more than
    one cell differently."""
    for key in ("name", "fails"):
        if key not in mutation:
            raise GradingError(f"grading case {mutation.get('name', mutation)!r} lacks the key {key!r}")
    if "edits" in mutation:
        edits = mutation["edits"]
    else:
        edits = [{k: mutation[k] for k in ("cell", "old", "new") if k in mutation}]
    for edit in edits:
        for key in ("cell", "old", "new"):
            if key not in edit:
                raise GradingError(f"grading case {mutation['name']!r}: an edit lacks the key {key!r}")
    return [(e["cell"], e["old"], e["new"]) for e in edits]


def apply_mutation(solution_nb, mutation):
    """A copy of the solution notebook with each edit's `old` replaced by `new` in the solution
    cell `cell` (the format of tests/course/grading/grading_cases/exN.py)."""
    nb = copy.deepcopy(solution_nb)
    for gid, old, new in mutation_edits(mutation):
        cell = find_cell(nb, gid)
        if not nbgrader_meta(cell).get("solution"):
            raise GradingError(f"grading case {mutation['name']!r}: cell {gid!r} is not a "
                               "solution cell; grading cases change student code only")
        count = cell.source.count(old)
        if count != 1:
            raise GradingError(f"grading case {mutation['name']!r}: `old` must occur exactly once "
                               f"in cell {gid!r}, found {count} times:\n{old}")
        cell.source = cell.source.replace(old, new)
    return nb


def _first_code_solution_cell(nb):
    for cell in solution_cells(nb):
        if cell.cell_type == "code":
            return cell
    raise GradingError("the notebook has no code solution cell")


def _first_test_cell(nb):
    ids = list(autograded_cells(nb))
    if not ids:
        raise GradingError("the notebook has no auto-graded test cell")
    return ids[0]


def tamper_infinite_loop(lesson_nb):
    """The lesson with an endless loop at the top of its first code solution cell."""
    nb = copy.deepcopy(lesson_nb)
    cell = _first_code_solution_cell(nb)
    cell.source = "while True:\n    pass\n" + cell.source
    return nb


def tamper_switch_checks_off(lesson_nb):
    """The lesson with SWITCH_CHECKS_OFF at the top of its first code solution cell."""
    nb = copy.deepcopy(lesson_nb)
    cell = _first_code_solution_cell(nb)
    cell.source = SWITCH_CHECKS_OFF + cell.source
    return nb


def tamper_delete_test(lesson_nb):
    """The lesson without its first test cell (deleted by the student); returns (nb, grade_id)."""
    nb = copy.deepcopy(lesson_nb)
    gid = _first_test_cell(nb)
    nb.cells = [c for c in nb.cells if grade_id(c) != gid]
    return nb, gid


def tamper_edit_test(lesson_nb):
    """The lesson with every test cell's source replaced by `pass`."""
    nb = copy.deepcopy(lesson_nb)
    for cell in nb.cells:
        if grade_id(cell) in autograded_cells(nb):
            cell.source = "pass"
    return nb


def safe_student_id(name):
    return "mut-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def pack_cases(cases, max_size=4):
    """Group grading cases into submissions, so that one autograde run stays affordable.

    Cases share a submission only when they are of the same kind (wrong or correct), edit
    different cells and fail different test cells, so the expected result of the shared notebook
    is the union of their `fails`. The price: when one case would also break a cell that another
    case of its group declares as failing, that extra failure is hidden. Cases that test exactly
    such a cascade say "alone": True and get a submission of their own. Returns a list of
    (student id, [cases]); a case alone keeps the student id safe_student_id(name)."""
    bins = []
    for case in cases:
        cells = {gid for gid, _, _ in mutation_edits(case)}
        fails, wrong = set(case["fails"]), bool(case["fails"])
        for b in bins:
            if (not case.get("alone") and not b["alone"] and b["wrong"] == wrong
                    and len(b["cases"]) < max_size and not b["cells"] & cells and not b["fails"] & fails):
                b["cases"].append(case)
                b["cells"] |= cells
                b["fails"] |= fails
                break
        else:
            bins.append({"cases": [case], "cells": cells, "fails": fails, "wrong": wrong,
                         "alone": bool(case.get("alone"))})
    out = []
    for i, b in enumerate(bins):
        if len(b["cases"]) == 1:
            out.append((safe_student_id(b["cases"][0]["name"]), b["cases"]))
        else:
            out.append((f"pack-{i:02d}-" + ("wrong" if b["wrong"] else "correct"), b["cases"]))
    return out


def bin_label(cases):
    return " + ".join(repr(c["name"]) for c in cases)


def submit(course, student, assignment, nb, notebook_name):
    d = Path(course) / "submitted" / student / assignment
    d.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(d / notebook_name))


# --------------------------------------------------------------------------------------------
# grading

@dataclass
class Score:
    auto_score: float | None  # None: nbgrader could not score it (e.g. the cell was deleted)
    score: float
    max_score: float
    needs_manual_grade: bool


@dataclass
class GradingRun:
    course: Path
    assignment: str
    notebook: str                  # file name, e.g. "ex2_unet.ipynb"
    autograded: dict               # {grade_id: points} of the auto-graded test cells
    mutations: list
    bins: list = field(default_factory=list)       # (student id, [grading cases]) per submission
    students: dict = field(default_factory=dict)   # student id -> what the submission is
    scores: dict = field(default_factory=dict)     # student id -> {grade_id: Score}
    deleted_test: str = ""
    regraded: set = field(default_factory=set)     # students re-graded in a fresh process too
    log: str = ""                                  # what `nbgrader autograde` wrote to stderr

    def autograded_notebook(self, student):
        path = self.course / "autograded" / student / self.assignment / self.notebook
        return nbformat.read(str(path), as_version=4)

    def total(self, student):
        return sum(self.scores[student][g].score for g in self.autograded)


def read_scores(course, assignment, notebook_id, students):
    from nbgrader.api import Gradebook

    db_url = "sqlite:///" + str(Path(course) / "gradebook.db")
    out = {}
    with Gradebook(db_url) as gb:
        for student in students:
            sub = gb.find_submission_notebook(notebook_id, assignment, student)
            out[student] = {g.name: Score(g.auto_score, g.score, g.max_score, g.needs_manual_grade)
                            for g in sub.grades}
    return out


def load_mutations(assignment):
    """The grading cases of tests/course/grading/grading_cases/exN.py for the assignment exN_name: MUTATIONS
    (wrong solutions, each failing the cells in its `fails`) followed by ALTERNATIVES (correct
    solutions written another way, `fails: []`, which must keep every point)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    module = importlib.import_module("grading_cases." + assignment.split("_")[0])
    return list(module.MUTATIONS) + list(getattr(module, "ALTERNATIVES", []))


def load_alternatives(assignment):
    """ALTERNATIVES of tests/course/grading/grading_cases/exN.py alone."""
    load_mutations(assignment)
    return list(getattr(sys.modules["grading_cases." + assignment.split("_")[0]], "ALTERNATIVES", []))


def grade_assignment(course, assignment, mutations, timeout=None, pack=True, regrade_wrong=False,
                     tamper_loop=False, tamper_checks=True, plain_tampers=True, extra=None, env=None):
    """Release `assignment` in the course, submit the solution, the blank lesson, the grading
    cases (packed into shared submissions by pack_cases unless pack=False) and the tampered
    lessons, autograde them all and return the scores. `timeout` overrides the per-cell
    execution limit of the config.

    The fresh-process re-grade (p2p_ref.course.grading.nbgrader_step) runs on the submissions whose points
    it guards: the solution, the blank lesson, the lesson that switches the checks off and the
    correct alternatives (which must keep every point in both runs). Wrong cases fail in the
    kernel already, and the re-grade can only take points away, so they are graded without it
    unless regrade_wrong=True; the same goes for the tampered copies that test nbgrader's own
    safeguards (a deleted or edited test cell, and, with tamper_loop=True, an endless loop).
    tamper_checks=False leaves out the lesson that switches the course's checks off (for toy
    assignments that do not use them). plain_tampers=False leaves out the deleted and edited test
    cells. `extra` maps more student ids to functions (solution_nb, lesson_nb) -> (what, notebook),
    graded with the re-grade. `env` replaces nbgrader_env() for every nbgrader command."""
    course = Path(course)
    release = generate(course, assignment, env=env)
    source_path = notebook_path(course / "solutions" / assignment)
    name = source_path.name
    solution_nb = nbformat.read(str(source_path), as_version=4)
    lesson_nb = nbformat.read(str(release / name), as_version=4)

    run = GradingRun(course, assignment, name, autograded_cells(solution_nb), mutations)
    submissions = {SOLUTION: ("the solution notebook", solution_nb),
                   BLANK: ("the released lesson, untouched", lesson_nb)}
    regraded = {SOLUTION, BLANK} | ({TAMPER_CHECKS} if tamper_checks else set())
    names = set()
    for m in mutations:
        if safe_student_id(m["name"]) in names:
            raise GradingError(f"two grading cases named like {m['name']!r}")
        names.add(safe_student_id(m["name"]))
        unknown = set(m["fails"]) - set(run.autograded)
        if unknown:
            raise GradingError(f"grading case {m['name']!r}: `fails` names {sorted(unknown)}, which are "
                               f"not auto-graded cells (those are {sorted(run.autograded)})")
    run.bins = pack_cases(mutations) if pack else [(safe_student_id(m["name"]), [m]) for m in mutations]
    for student, cases in run.bins:
        nb = solution_nb
        for case in cases:
            nb = apply_mutation(nb, case)
        submissions[student] = (("grading case " if len(cases) == 1 else "grading cases ")
                                + bin_label(cases), nb)
        if regrade_wrong or not any(c["fails"] for c in cases):
            regraded.add(student)
    if tamper_loop:
        submissions[TAMPER_LOOP] = ("lesson with an endless loop", tamper_infinite_loop(lesson_nb))
    if plain_tampers:
        deleted_nb, run.deleted_test = tamper_delete_test(lesson_nb)
        submissions[TAMPER_DELETE] = (f"lesson without test cell {run.deleted_test}", deleted_nb)
        submissions[TAMPER_EDIT] = ("lesson with every test cell edited to `pass`",
                                    tamper_edit_test(lesson_nb))
    for student, make in (extra or {}).items():
        submissions[student] = make(solution_nb, lesson_nb)
        regraded.add(student)
    if tamper_checks:
        submissions[TAMPER_CHECKS] = ("lesson whose first cell switches every check function off",
                                      tamper_switch_checks_off(lesson_nb))

    for student, (what, nb) in submissions.items():
        submit(course, student, assignment, nb, name)
        run.students[student] = what
    run.regraded = regraded
    args = ["autograde", assignment]
    if timeout is not None:
        args.append(f"--Execute.timeout={int(timeout)}")
    plain = sorted(set(submissions) - regraded)
    run.log = nbgrader(course, *args, "--CourseDirectory.student_id_exclude=" + ",".join(plain), env=env).stderr
    if plain:
        run.log += nbgrader(course, *args, "--IsolatedRegrade.enabled=False",
                            "--CourseDirectory.student_id_exclude=" + ",".join(sorted(regraded)), env=env).stderr
    run.scores = read_scores(course, assignment, source_path.stem, submissions)
    return run


def report(run):
    """A table of points per student and auto-graded cell."""
    ids = list(run.autograded)
    lines = [f"{run.assignment}: " + ", ".join(f"{g} ({p:g})" for g, p in run.autograded.items())]
    for student in run.scores:
        cells = " ".join(f"{run.scores[student][g].score:g}" for g in ids)
        lines.append(f"  {student:<32} {cells}   total {run.total(student):g}")
    return "\n".join(lines)


if __name__ == "__main__":
    # --no-pack: one submission per grading case (slower; says exactly which case breaks what)
    args = [a for a in sys.argv[1:] if a != "--no-pack"]
    for assignment in args or EXPECTED_ASSIGNMENTS:
        with tempfile.TemporaryDirectory() as tmp:
            course = make_course(tmp, [assignment])
            run = grade_assignment(course, assignment, load_mutations(assignment),
                                   pack="--no-pack" not in sys.argv)
            print(report(run))
            for student, cases in run.bins:
                if len(cases) > 1:
                    print(f"  {student}: {bin_label(cases)}")
