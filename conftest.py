"""Settings for the whole test session, applied before any notebook kernel starts.

Kernels started by nbval (the notebooks in solutions/) and by nbgrader inherit this environment:
P2P_QUICK=1 makes every notebook take its quick path (small demos, no long training), and
MPLBACKEND=Agg keeps matplotlib off any display.
"""

import os

os.environ["P2P_QUICK"] = "1"
os.environ["MPLBACKEND"] = "Agg"
# Work that lessons 2-4 save for lesson 5 (p2p_ref.course.coursework) goes to a throwaway folder, never
# into solutions/ or lessons/. nbval runs solutions/ex2 ... ex5 in order, so lesson 5 picks up what
# the solution notebooks of lessons 2-4 saved: the loop is tested end to end.
if "P2P_MY_WORK" not in os.environ:
    import tempfile

    os.environ["P2P_MY_WORK"] = tempfile.mkdtemp(prefix="p2p-my-work-")

# The exercise notebooks in lessons/ are stubs that raise NotImplementedError by design: never run
# them with nbval, even when a path under lessons/ is given. Other notebooks there (the Colab
# training notebook) are run: list them in testpaths in pyproject.toml.
collect_ignore_glob = ["lessons/ex*/*.ipynb"]
