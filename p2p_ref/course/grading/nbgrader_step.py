"""The nbgrader side of the tamper-proof re-grade (see p2p_ref.course.grading.regrade for what it guards).

`IsolatedRegrade` is a preprocessor of `nbgrader autograde`, placed right after SaveAutoGrades in
nbgrader_config.py. For each submission it runs `python -m p2p_ref.course.grading.regrade` on the notebook (whose
test cells nbgrader has already put back from the gradebook) in a fresh process, then compares
each auto-graded test cell's two results:

| in the kernel | re-graded | score                | review flag and note in the cell      |
|---------------|-----------|----------------------|---------------------------------------|
| passed        | passed    | kept                 | only if grading state had to be put back |
| passed        | failed    | 0                    | yes, with the re-grade's error        |
| failed        | passed    | 0 (the kernel's)     | yes: the two runs disagree            |
| failed        | failed    | 0                    | no                                    |

A cell the re-grade never reached (the process was killed, or student code ended it) counts as
failed there. Flagged cells get `needs_manual_grade` in the gradebook, so Formgrader lists them
for review, and a note in the autograded notebook (an error output where the points were taken
away, a warning otherwise) that the feedback shows too. A notebook whose solution cells use tools
that tampering needs (frame inspection, ctypes, sys.modules, ...) is flagged at its next test cell.

The re-grade runs `python -I -S` with the pristine copy of p2p_ref first on sys.path
(nbgrader_guard keeps it in memory), never what the kernel may have rewritten on disk. A
submission whose code changed a graded file, the gradebook or another student's folder (found by
nbgrader_guard around the kernel, and here around the re-grade), or that ran the decoy standing in
for solutions/, scores zero on every test cell, each flagged with a note naming what it did.
Where the grading run has the sandbox (sandbox.py), the re-grade process runs in it like the
kernel; the mode is recorded in nb.metadata.p2p_regrade.sandbox.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Integer

from p2p_ref.course.grading.integrity import MODEL_ANSWER_HIDDEN, SharedState
from p2p_ref.course.grading.nbgrader_guard import course_root, pristine, verify
from p2p_ref.course.grading.regrade import read_results
from p2p_ref.course.grading.sandbox import decide, sandboxed

# The re-grade process starts with -I -S (no PYTHON* variables, no site-packages start-up hooks)
# and finds p2p_ref in the pristine copy first; the rest of sys.path is the grader's own.
BOOT = ("import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
        "from p2p_ref.course.grading.regrade import main; main(sys.argv[2:])")


class IsolatedRegrade(NbGraderPreprocessor):
    """Re-run the submission in a fresh process; only what passes there keeps its points."""

    enabled = Bool(True, help="Re-grade every submission in a fresh process").tag(config=True)
    timeout = Integer(None, allow_none=True,
                      help="Seconds each cell may run in the re-grade (default: Execute.timeout, else 120)").tag(config=True)
    total_timeout = Integer(3600, help="Seconds the whole re-grade of one notebook may run").tag(config=True)

    def preprocess(self, nb, resources):
        info, root = resources["nbgrader"], course_root(self)
        self.sandbox = decide()
        try:
            changed = list(resources.get("p2p_integrity", {}).get("changed", []))
            results, summary, ended = {}, {}, None
            if self.enabled and not changed:
                resources["p2p_shared"] = SharedState.capture(root, info["student"])
                results, summary, ended = self._run(nb, resources)
                changed = verify(root, resources, "while the re-grade ran")
        finally:
            pristine(root).show_solutions()
        if _read_model_answer(nb, results):
            changed.append("it ran the model answers from solutions/ (hidden while grading: a decoy "
                           f"raised {MODEL_ANSWER_HIDDEN})")
        if changed:
            flags = self._integrity_notes(nb, changed)
        elif self.enabled:
            flags = self._notes(nb, results, summary, ended)
        else:
            return nb, resources
        self._save(info, flags)
        nb.metadata["p2p_regrade"] = {"summary": summary, "ended_early": ended, "integrity": changed,
                                      "flagged": {g: m for g, (_, m) in flags.items()},
                                      "sandbox": self.sandbox.describe()}
        return nb, resources

    def _save(self, info, flags):
        """Write the flags into the gradebook: zero where points are taken away, review everywhere."""
        with Gradebook(info["db_url"]) as gb:
            for gid, (failed, message) in flags.items():
                grade = gb.find_grade(gid, info["notebook"], info["assignment"], info["student"])
                if failed:
                    grade.auto_score = 0
                grade.needs_manual_grade = True
                self.log.warning("re-grade: %s / %s / %s: %s", info["student"], info["assignment"], gid, message)
            gb.db.commit()

    def _integrity_notes(self, nb, changed):
        """Zero and a note on every auto-graded test cell of a submission whose code changed files
        that decide grades (they were put back)."""
        message = ("your code changed files that decide grades or read the model answers; what it "
                   "changed was put back and every auto-graded point is withheld for manual review: "
                   + "; ".join(changed))
        flags = {}
        for cell in nb.cells:
            if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
                flags[cell.metadata["nbgrader"]["grade_id"]] = (True, message)
                cell.outputs.append(nbformat.v4.new_output(
                    "error", ename="IntegrityViolation", evalue=message,
                    traceback=[f"IntegrityViolation: {message}"]))
        return flags

    def _run(self, nb, resources):
        """Run p2p_ref.course.grading.regrade on `nb` in the folder nbgrader executed it in."""
        cwd = resources.get("metadata", {}).get("path") or os.getcwd()
        with tempfile.TemporaryDirectory(prefix="p2p-regrade-") as tmp:
            nb_path, out = Path(tmp) / "submission.ipynb", Path(tmp) / "out" / "result.jsonl"
            out.parent.mkdir()
            nbformat.write(nb, str(nb_path))
            timeout = self.timeout or self.config.get("Execute", {}).get("timeout") or 120
            package = pristine(course_root(self)).write_package(Path(tmp) / "pristine")
            path = [str(package)] + [p for p in sys.path if p]
            cmd = [sys.executable, "-I", "-S", "-B", "-c", BOOT, json.dumps(path), str(nb_path),
                   "--out", str(out), "--cwd", str(cwd), "--timeout", str(timeout)]
            if self.sandbox.on:  # the student's code runs here too: in the same sandbox as the kernel
                cmd = sandboxed(cmd, course_root(self), cwd, writable=[out.parent], readable=[tmp],
                                bwrap=self.sandbox.bwrap)
            ended = None
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.total_timeout,
                                      stdin=subprocess.DEVNULL)
                if proc.returncode != 0:
                    ended = f"the re-grade process exited with code {proc.returncode}: " + \
                            (proc.stderr.strip().splitlines() or ["(no message)"])[-1][:300]
            except subprocess.TimeoutExpired:
                ended = f"the re-grade took longer than {self.total_timeout} s and was stopped"
            results, summary = read_results(out)
        if summary is None and ended is None:
            ended = "the re-grade process ended before the last cell"
        return results, summary or {}, ended

    def _notes(self, nb, results, summary, ended):
        """{grade_id: (points taken away, message)} for the flagged test cells; writes the notes
        into the cells' outputs."""
        flags = {}
        suspicious = {int(i): what for i, what in (summary.get("suspicious_code") or {}).items()}
        pending = []  # suspicious cells not yet attached to a test cell
        for index, cell in enumerate(nb.cells):
            if index in suspicious:
                pending.append(f"cell {index} uses {', '.join(suspicious[index])}")
            if not (cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)):
                continue
            gid = cell.metadata["nbgrader"]["grade_id"]
            score, max_score = utils.determine_grade(cell, self.log)
            kernel_passed = score is not None and max_score and score == max_score
            record = results.get(gid)
            if record is None:
                passed, error = False, ended or "the re-grade did not reach this cell"
            else:
                passed, error = record["passed"], record["error"]
            changed = (record or {}).get("changed_before", []) + (record or {}).get("changed_during", [])
            message, failed = None, False
            if kernel_passed and not passed:
                failed = True
                message = f"passed in your notebook's kernel but failed when re-run in a fresh process: {error}"
            elif not kernel_passed and passed:
                message = ("failed in the notebook's kernel but passed when re-run in a fresh process; "
                           "the two runs disagree (cell order, hidden state, time limits?): please review")
            elif changed and kernel_passed:
                message = ("student code changed the grading code's state before or during this check; "
                           "it was put back and the check passed without it: " + "; ".join(changed))
            if pending:
                message = "; ".join(filter(None, [message, "solution code to review: " + "; ".join(pending)]))
                pending = []
            if message is None:
                continue
            flags[gid] = (failed, message)
            if failed:
                cell.outputs.append(nbformat.v4.new_output(
                    "error", ename="RegradeFailed", evalue=message,
                    traceback=[f"RegradeFailed: {message}"]))
            else:
                cell.outputs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"Re-grade note (for the instructor): {message}\n"))
        return flags


def _read_model_answer(nb, results):
    """Whether the decoy of solutions/ raised in the kernel or in the re-grade."""
    texts = [json.dumps(cell.get("outputs", [])) for cell in nb.cells if cell.cell_type == "code"]
    texts += [str(r.get("error")) for r in results.values()]
    return any(MODEL_ANSWER_HIDDEN in t for t in texts)


def summary_of(notebook_path):
    """The re-grade's record in an autograded notebook (nb.metadata.p2p_regrade), or None."""
    with open(notebook_path) as f:
        return json.load(f).get("metadata", {}).get("p2p_regrade")
