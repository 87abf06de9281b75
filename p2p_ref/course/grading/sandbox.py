"""The grading sandbox: every submission's code (its nbgrader kernel, and the fresh-process
re-grade) runs under Debian's bubblewrap (`bwrap`) where the machine allows it.

Inside the sandbox the whole file system is mounted read-only (the course root, the p2p_ref
package, the virtual environment and its site-packages, nbgrader_config.py); writable are only
the submission's own working folder (autograded/<student>/<assignment>/, where nbgrader runs it),
a private /tmp and the folder of the kernel's sockets. Invisible (an empty, read-only tmpfs in
their place): .grading/ (the integrity record and the real solutions/, hidden there behind a
decoy while a submission runs), the other students' submitted/, autograded/ and feedback/
folders, the course's .git; gradebook.db is /dev/null, which cannot be opened there (bwrap binds
without device access). There is no network (a network
namespace of its own, with only a loopback device), no other process to see (a PID namespace)
and no capability, even when the grader runs as root.

With `--unshare-net` the kernel cannot reach nbgrader's ZMQ ports on the host, so the sandboxed
kernel talks over jupyter_client's `ipc` transport: unix sockets in a folder bound into the
sandbox (a unix socket on a shared bind mount works across network namespaces).

The mode is chosen once per grading run from the environment variable P2P_GRADING_SANDBOX:

    auto (default)  the sandbox when `bwrap` is installed and a trial `bwrap ... true` succeeds,
                    else the guards alone, with one warning line naming what is not protected;
    on              the sandbox, or every submission fails with the reason (nothing is graded);
    off             the guards alone (nbgrader_guard.py, regrade.py).

`python -m p2p_ref.course.grading.sandbox` prints the mode this machine gets.
"""

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from nbgrader.preprocessors import Execute

ENV = "P2P_GRADING_SANDBOX"
MODES = ("auto", "on", "off")
# Namespaces and privileges: the same in the trial run and in every sandbox.
ISOLATION = ["--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
# Folders of the course root the submission must not see (replaced by an empty read-only tmpfs).
HIDDEN_IN_COURSE = (".git", ".grading", "submitted", "autograded", "feedback")
# Mounted over by the sandbox's own: a private /tmp; /run holds the host's service sockets.
PRIVATE = ("/tmp", "/run")
NOT_PROTECTED = ("the submission's code runs with the grader's own rights: it can read the real "
                 "solutions (solutions/ is only renamed behind a decoy under .grading/), the other "
                 "students' submissions and the gradebook, and reach the network; changes to graded "
                 "files are only found and put back after it ran")


class SandboxUnavailable(RuntimeError):
    """P2P_GRADING_SANDBOX=on, but bwrap cannot run here."""


@dataclass(frozen=True)
class Decision:
    """Whether this grading run sandboxes the submissions, and why (or why not)."""
    on: bool
    why: str
    bwrap: str = ""

    def describe(self):
        if self.on:
            return f"on (bubblewrap, {self.bwrap})"
        return f"OFF ({self.why})"


def mode(environ=None):
    value = (environ if environ is not None else os.environ).get(ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        raise SandboxUnavailable(f"{ENV}={value!r}: use one of {', '.join(MODES)}")
    return value


def decide(environ=None):
    """The sandbox decision for this process (the trial run is made once per bwrap found)."""
    chosen = mode(environ)
    if chosen == "off":
        return Decision(False, f"{ENV}=off")
    exe = shutil.which("bwrap", path=(environ if environ is not None else os.environ).get("PATH"))
    problem = probe(exe) if exe else "bwrap is not installed (Debian/Ubuntu: apt install bubblewrap)"
    if problem is None:
        return Decision(True, "bwrap works here", exe)
    if chosen == "on":
        raise SandboxUnavailable(f"{ENV}=on, but {problem}")
    return Decision(False, problem)


@lru_cache(maxsize=None)
def probe(exe):
    """None when `exe` can build the sandbox here, else why not (one line)."""
    cmd = [exe, *ISOLATION, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
           "--tmpfs", "/tmp", "true"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{exe} could not be run ({e})"
    if proc.returncode == 0:
        return None
    said = (proc.stderr.strip().splitlines() or ["no message"])[-1][:200]
    return (f"`{shlex.join(cmd)}` failed (exit {proc.returncode}: {said}): bwrap cannot create a "
            "namespace on this machine")


_announced = set()


def announce(log, environ=None):
    """Decide, and log the decision once per process (the first submission of a grading run).
    Raises SandboxUnavailable for P2P_GRADING_SANDBOX=on on a machine where bwrap cannot run."""
    decision = decide(environ)
    if decision not in _announced:
        _announced.add(decision)
        if decision.on:
            log.info("grading sandbox: on (bubblewrap %s): no network, the course read-only, "
                     "solutions/ and the other students invisible", decision.bwrap)
        else:
            log.warning("grading sandbox: OFF (%s); without it %s. Set %s=on to require it.",
                        decision.why, NOT_PROTECTED, ENV)
    return decision


def _under(path, folder):
    return path == folder or folder in path.parents


def readable_paths(course, extra=()):
    """What must stay readable although it lies under a folder the sandbox mounts over (/tmp,
    /run): the course root, the Python installation and its import path, `extra`."""
    env_path = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    candidates = [course, sys.prefix, sys.base_prefix, *sys.path, *env_path, *extra]
    out = set()
    for p in candidates:
        if p and Path(p).exists():
            p = Path(p).resolve()
            if any(_under(p, Path(d)) for d in PRIVATE):
                out.add(p)
    return sorted(out, key=lambda p: (len(p.parts), str(p)))


def bwrap_args(course, workdir, writable=(), readable=(), bwrap="bwrap"):
    """The bwrap command line (up to the command to run) that sandboxes a submission whose
    working folder is `workdir`, in the course root `course`: the file system read-only, a
    private /tmp and /run, the course's HIDDEN_IN_COURSE folders empty and read-only,
    gradebook.db unreadable; `workdir` and `writable` writable; `readable` (and what readable_paths
    finds) read-only although under /tmp or /run."""
    course, workdir = Path(course).resolve(), Path(workdir).resolve()
    writable = [Path(w).resolve() for w in writable]
    args = [bwrap, *ISOLATION, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    keep = [*readable_paths(course, readable), *writable, workdir]
    for folder in PRIVATE:
        if Path(folder).is_dir() and not any(p == Path(folder) for p in keep):
            args += ["--tmpfs", folder]
    for p in readable_paths(course, readable):
        args += ["--ro-bind", str(p), str(p)]
    hidden = [course / name for name in HIDDEN_IN_COURSE if (course / name).is_dir()]
    for folder in hidden:
        args += ["--tmpfs", str(folder)]
    if (course / "gradebook.db").exists():
        args += ["--ro-bind", "/dev/null", str(course / "gradebook.db")]
    for p in [workdir, *writable]:
        args += ["--bind", str(p), str(p)]
    for folder in hidden:
        args += ["--remount-ro", str(folder)]
    args += ["--chdir", str(workdir), "--unsetenv", "JPY_PARENT_PID", "--setenv", "TMPDIR", "/tmp",
             "--setenv", "MPLCONFIGDIR", "/tmp/matplotlib", "--setenv", "IPYTHONDIR", "/tmp/ipython"]
    return args


# The kernel's process group gets SIGINT when nbgrader interrupts a cell (a time-out): bwrap itself
# must survive it, so it starts with SIGINT ignored; ipykernel installs its own handler.
IGNORE_SIGINT = ["/bin/sh", "-c", 'trap "" INT; exec "$@"', "sh"]


def sandboxed(cmd, course, workdir, writable=(), readable=(), bwrap="bwrap"):
    """`cmd` wrapped in the sandbox (see bwrap_args)."""
    return [*IGNORE_SIGINT, *bwrap_args(course, workdir, writable, readable, bwrap), "--", *cmd]


def course_of(config):
    """The course root of an nbgrader configuration (CourseDirectory.root, else the working folder)."""
    return Path(config.get("CourseDirectory", {}).get("root") or ".").resolve()


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in the sandbox when this grading run has it: ipc
    transport, the connection file and sockets in a private folder bound into the sandbox."""

    _sandbox_dir = None

    async def _async_pre_start_kernel(self, **kw):
        decision = decide()
        if decision.on and not self._sandbox_dir:
            self._sandbox_dir = tempfile.mkdtemp(prefix="p2p-kernel-")
            self.cache_ports = False
            self.transport = "ipc"
            self.ip = os.path.join(self._sandbox_dir, "k")
            self.connection_file = os.path.join(self._sandbox_dir, "kernel.json")
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        if decision.on:
            cmd = sandboxed(cmd, course_of(self.config), kw.get("cwd") or os.getcwd(),
                            writable=[self._sandbox_dir], bwrap=decision.bwrap)
        return cmd, kw

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if self._sandbox_dir and not restart:
            shutil.rmtree(self._sandbox_dir, ignore_errors=True)
            self._sandbox_dir = None


class SandboxedExecute(Execute):
    """nbgrader's Execute with the sandboxed kernel manager (configured like Execute:
    `c.Execute.timeout` applies)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)


def main():
    try:
        decision = decide()
    except SandboxUnavailable as e:
        print(f"grading sandbox: unavailable: {e}")
        sys.exit(1)
    print(f"grading sandbox: {decision.describe()}")
    if not decision.on:
        print(f"without it {NOT_PROTECTED}")


if __name__ == "__main__":
    main()
