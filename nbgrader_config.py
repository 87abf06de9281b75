"""nbgrader configuration of the Pix2Pix course; run every nbgrader command from the repo root.

    solutions/<assignment>/   instructor notebooks: solutions, visible and hidden tests (source)
    lessons/<assignment>/     what students get, made by `make release` (release)
    submitted/<student>/<assignment>/   collected student work, then autograded/ and feedback/

`generate_assignment --force` replaces only lessons/<assignment>/, so files that live directly in
lessons/ (README.md, the Colab training notebook) are never touched.
"""

import os

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

# The five graded notebooks, in course order. `nbgrader generate_assignment NAME` adds each one to
# the gradebook on first use (create_assignment below), so there is no manual `nbgrader db` step.
ASSIGNMENTS = [
    "ex1_paired_translation",
    "ex2_unet",
    "ex3_patchgan",
    "ex4_losses",
    "ex5_training",
]

c.CourseDirectory.course_id = "pix2pix"
# The course root is the folder of this file, wherever the repo is cloned (or copied, as the
# grading tests do), so the commands work from the repo root without more setup.
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
# Never copy training outputs, checkpoints or caches into a release or a submission.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
                            "runs", "*.pt", "*.pth"]

c.GenerateAssignment.create_assignment = True
c.Autograde.create_student = True

# Each cell gets two minutes when autograding; an endless loop is interrupted, that cell is marked
# as failed and grading goes on with the next cell and the next student. The notebooks take their
# quick path under autograding (they check NBGRADER_EXECUTION, which nbgrader sets).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Tamper-proof grading (README, "Tamper-proof grading"). GuardBefore, at the head, holds the files
# that decide grades (the p2p_ref package, this file, the notebooks, site-packages start-up hooks)
# as recorded by `make release` in .grading/manifest.json, and captures the gradebook and the other
# students' folders; GuardAfterExecute, right after the kernel ran, names and puts back whatever the
# submission changed (p2p_ref/course/grading/nbgrader_guard.py). After SaveAutoGrades, every
# submission is run again in a fresh process from the pristine copy of the package, where the
# checks were loaded before the student's code and cannot be switched off
# (p2p_ref/course/grading/regrade.py). A test cell keeps its points only if it passes there too;
# cells whose two results disagree, that called the answer key's version of the piece they check,
# or of a submission that changed grading files are flagged for manual review in Formgrader with
# the reason. SandboxedExecute is nbgrader's Execute whose kernel (like the re-grade process) runs
# under bubblewrap where the machine allows it: the course, the package and the environment
# read-only, solutions/, .grading/ and the other students invisible, no network
# (p2p_ref/course/grading/sandbox.py; P2P_GRADING_SANDBOX=auto|on|off, default auto). The list is
# nbgrader 0.9's default with the three steps added and Execute sandboxed.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,  # noqa: E402
                                    LimitOutput, SaveAutoGrades)

from p2p_ref.course.grading.nbgrader_guard import GuardAfterExecute, GuardBefore  # noqa: E402
from p2p_ref.course.grading.nbgrader_step import IsolatedRegrade  # noqa: E402
from p2p_ref.course.grading.sandbox import SandboxedExecute  # noqa: E402

c.Autograde.autograde_preprocessors = [GuardBefore, SandboxedExecute, GuardAfterExecute, IgnorePattern,
                                       ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
                                       IsolatedRegrade, AssignLatePenalties, CheckCellMetadata]
