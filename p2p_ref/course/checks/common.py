"""What every notebook check shares: plain-words failures and the "is this your own code?" test.

A failed check raises CheckFailed (an AssertionError, so nbgrader marks the cell as failed) whose
message has three parts: what was wrong, what was expected, and where to look.
"""

import inspect
import types


class CheckFailed(AssertionError):
    """A check found a mistake; the message says what, what was expected, and where to look."""


def fail(what, expected, where):
    """Raise CheckFailed with the course's three-part message."""
    raise CheckFailed(f"\n  What is wrong:   {what}\n  Expected:        {expected}\n"
                      f"  Where to look:   {where}")


def passed(message):
    """Report a passed check in the notebook output."""
    print(f"\N{CHECK MARK} {message}")


def _p2p_objects_used_by(obj, seen=None):
    """Names of p2p_ref objects (outside p2p_ref.course.checks) that a function or class reaches
    through its globals, closures, base classes or methods."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return set()
    seen.add(id(obj))
    found = set()
    if inspect.isclass(obj):
        for base in obj.__mro__[1:]:
            if _is_reference(base):
                found.add(f"{base.__module__}.{base.__qualname__} (as a base class)")
        for value in vars(obj).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                value = value.fget
            if inspect.isfunction(value):
                found |= _p2p_objects_used_by(value, seen)
        return found
    if inspect.ismethod(obj):
        obj = obj.__func__
    if not inspect.isfunction(obj):
        return found
    code_objects = [obj.__code__]
    names = set()
    while code_objects:
        code = code_objects.pop()
        names |= set(code.co_names)
        code_objects += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    values = [obj.__globals__[n] for n in names if n in obj.__globals__]
    values += [cell.cell_contents for cell in (obj.__closure__ or ()) if _cell_filled(cell)]
    for value in values:
        if _is_reference(value):
            found.add(_describe(value))
        elif inspect.isclass(value) or inspect.isfunction(value):
            found |= _p2p_objects_used_by(value, seen)
    return found


def _cell_filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _is_reference(value):
    if isinstance(value, types.ModuleType):
        name = value.__name__
    else:
        name = getattr(value, "__module__", None) or ""
        if not (inspect.isclass(value) or callable(value)):
            return False
    return name == "p2p_ref" or (name.startswith("p2p_ref.") and not name.startswith("p2p_ref.course.checks"))


def _describe(value):
    if isinstance(value, types.ModuleType):
        return f"the module {value.__name__}"
    return f"{value.__module__}.{getattr(value, '__qualname__', repr(value))}"


def ensure_own_code(student, name, allowed=()):
    """Fail when the student's function or class is the reference, subclasses it or calls it.

    `allowed` lists p2p_ref objects the exercise lets the student use (for example the loss
    functions from an earlier lesson inside train_step).
    """
    target = student if (inspect.isclass(student) or inspect.isfunction(student)
                         or inspect.ismethod(student)) else type(student)
    if _is_reference(target):
        fail(f"`{name}` is {_describe(target)} from the reference package, not your own code",
             f"your own implementation of `{name}` written in this notebook",
             f"the cell where you define `{name}`: remove the import from p2p_ref and write it yourself")
    allowed_names = {_describe(a) for a in allowed}
    used = {u for u in _p2p_objects_used_by(target)
            if u not in allowed_names and not u.startswith("the module p2p_ref.course.checks")}
    if used:
        fail(f"`{name}` uses the reference implementation: {', '.join(sorted(used))}",
             f"`{name}` built from torch and your own code, not from p2p_ref",
             f"the cell where you define `{name}`")


def prediction_keys(prediction, keys, expected, where="your PREDICTION cell"):
    """The form every predict-then-measure cell shares (lessons 2, 3, 4): PREDICTION must be a dict
    with exactly `keys`; `expected` describes the whole dict. Its values are each lesson's to check;
    whether the prediction is right is never graded."""
    if not isinstance(prediction, dict):
        fail(f"PREDICTION is {type(prediction).__name__} {prediction!r}", expected, where)
    found = sorted(map(str, prediction))
    if found != sorted(keys):
        names = [repr(k) for k in keys]
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        fail(f"PREDICTION has the keys {found}", f"exactly the keys {listed}: {expected}", where)
