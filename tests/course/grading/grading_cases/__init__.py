"""Grading cases for the end-to-end grading test (tests/course/grading/test_grading.py), one module per
notebook. exN.py holds two lists of cases:

MUTATIONS, realistic wrong solutions, each losing exactly the points of its `fails` cells:

    {"name": "...",            # what the student got wrong, in a few words
     "cell": "exN-...",        # grade_id of the solution cell to change
     "old": "...",             # an exact substring of that cell in solutions/exN_name/exN_name.ipynb
     "new": "...",             # what the student wrote instead
     "fails": ["exN-test-..."]}  # EXACTLY the auto-graded test cells that must lose their points

ALTERNATIVES, correct solutions written another way (other loops, helpers, call orders, the
official code's idioms), each with "fails": [] and keeping every point.

A case that changes several cells lists them under "edits" instead of cell/old/new:

    {"name": "...", "edits": [{"cell": ..., "old": ..., "new": ...}, ...], "fails": [...]}

Try them by hand with `.venv/bin/python tests/course/grading/grading_harness.py exN_name`.
"""
