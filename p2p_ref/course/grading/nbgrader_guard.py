"""The nbgrader side of the integrity record (p2p_ref.course.grading.integrity): a check before and
after each submission's code runs.

nbgrader_config.py puts `GuardBefore` at the head of `nbgrader autograde`'s preprocessors and
`GuardAfterExecute` right after Execute:

* GuardBefore: on the first submission of the run, decide and log the sandbox mode (sandbox.py),
  read the graded files (the p2p_ref package,
  nbgrader_config.py, the notebooks, the start-up hooks) into memory, after checking them against
  .grading/manifest.json; on every submission, put back whatever changed since (logged), capture
  the gradebook and the other students' submitted/ and autograded/ files, and hide solutions/
  behind a decoy whose code raises ModelAnswersHidden (integrity.hide_solutions);
* GuardAfterExecute: compare both with what the kernel left, put the pristine files back, and
  record what changed in resources["p2p_integrity"].

IsolatedRegrade (nbgrader_step.py) puts solutions/ back, and gives such a submission zero on every test cell and flags
it for manual grading with a note naming the files; it checks again after its own run.
"""

import atexit
from pathlib import Path

from nbgrader.preprocessors import NbGraderPreprocessor

from p2p_ref.course.grading.integrity import Pristine, SharedState
from p2p_ref.course.grading.sandbox import announce


def course_root(preprocessor):
    """The course root nbgrader runs in (CourseDirectory.root, else the working folder)."""
    root = preprocessor.config.get("CourseDirectory", {}).get("root")
    return Path(root or ".").resolve()


class GuardBefore(NbGraderPreprocessor):
    """Load (once per run) or restore the pristine files; capture the shared state."""

    # nbgrader makes new preprocessors for every notebook: the pristine record of this run is kept
    # on the class, keyed by course root, from before the first submission ran.
    records = {}

    def preprocess(self, nb, resources):
        root = course_root(self)
        announce(self.log)  # the sandbox mode of this run: logged once; P2P_GRADING_SANDBOX=on fails here
        record = pristine(root)
        record.show_solutions()  # in case the last submission's steps ended early
        changed = record.restore()
        if changed:
            self.log.warning("integrity: changed since the last submission, put back before %s: %s",
                             resources["nbgrader"]["student"], ", ".join(changed))
        resources["p2p_shared"] = SharedState.capture(root, resources["nbgrader"]["student"])
        resources["p2p_integrity"] = {"changed": []}
        record.hide_solutions()  # IsolatedRegrade puts them back
        return nb, resources


def pristine(root):
    """This run's in-memory record of the graded files (loaded on first use)."""
    if root not in GuardBefore.records:
        GuardBefore.records[root] = Pristine.load(root)
        atexit.register(GuardBefore.records[root].show_solutions)
    return GuardBefore.records[root]


def verify(root, resources, when):
    """Put back what the submission's code changed; add it to resources["p2p_integrity"] and
    return the new labels."""
    changed = pristine(root).restore()
    shared = resources.get("p2p_shared")
    if shared is not None:
        changed += shared.restore()
    found = resources.setdefault("p2p_integrity", {"changed": []})["changed"]
    new = [f"{label} ({when})" for label in changed]
    found += new
    return new


class GuardAfterExecute(NbGraderPreprocessor):
    """Compare the graded files and the shared state with what the kernel left; put them back."""

    def preprocess(self, nb, resources):
        changed = verify(course_root(self), resources, "while the notebook ran")
        if changed:
            self.log.warning("integrity: %s's code changed %s; put back", resources["nbgrader"]["student"],
                             ", ".join(changed))
        return nb, resources
