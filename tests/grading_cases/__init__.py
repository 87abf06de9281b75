"""Wrong solutions for the end-to-end grading test (tests/test_grading.py), one module per
notebook: exN.py holds MUTATIONS, a list of

    {"name": "...",            # what the student got wrong, in a few words
     "cell": "exN-...",        # grade_id of the solution cell to change
     "old": "...",             # an exact substring of that cell in solutions/exN_name/exN_name.ipynb
     "new": "...",             # what the student wrote instead
     "fails": ["exN-test-..."]}  # EXACTLY the auto-graded test cells that must lose their points

Try them by hand with `.venv/bin/python tests/grading_harness.py exN_name`.
"""
