"""Shared test setup. The tests mirror the package (tests/paper, tests/datasets, ...); the grading
tests import grading_harness and grading_cases from tests/course/grading, and a few tests share
helpers of another folder's test module (test_notebooks, test_download), so those folders are on
the path whichever test runs first."""

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
for folder in (TESTS / "course" / "grading", TESTS / "course", TESTS / "datasets"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op torch thread for a module's tests: on a small shared CPU it is as fast for
    tiny models and does not fight other jobs. Use with pytest.mark.usefixtures("one_thread")."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
