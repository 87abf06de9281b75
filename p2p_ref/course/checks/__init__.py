"""Checks that grade the course notebooks, one module per lesson (ex1 ... ex5).

Each check compares a student's function or class with the reference in p2p_ref and, when they
differ, raises CheckFailed saying what was wrong, what was expected and where to look.
"""

from p2p_ref.course.checks.common import CheckFailed, ensure_own_code, fail, passed

__all__ = ["CheckFailed", "ensure_own_code", "fail", "passed"]
