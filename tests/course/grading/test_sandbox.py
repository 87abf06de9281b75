"""The grading sandbox (p2p_ref/course/grading/sandbox.py): what the bwrap command binds how, the
choice of mode (auto, on, off; a bwrap that cannot run), and a sandboxed kernel where bwrap works."""

import asyncio
import logging
import shutil
from pathlib import Path

import pytest
from traitlets.config import Config

from p2p_ref.course.grading.sandbox import (ENV, NOT_PROTECTED, SandboxedKernelManager, SandboxUnavailable,
                                            announce, bwrap_args, decide, probe, sandboxed)


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    for sub in (".git", ".grading/hidden-1/a", "solutions/a", "submitted/bob/a", "autograded/ann/a", "lessons/a"):
        (root / sub).mkdir(parents=True)
    (root / "gradebook.db").write_text("")
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    return root


def mounts(args):
    """The (option, operands...) of a bwrap command line, in order."""
    arity = {"--ro-bind": 2, "--bind": 2, "--tmpfs": 1, "--remount-ro": 1, "--dev": 1, "--proc": 1,
             "--chdir": 1, "--setenv": 2, "--unsetenv": 1, "--cap-drop": 1}
    out, i = [], 1
    while i < len(args):
        n = arity.get(args[i], 0)
        out.append(tuple(args[i:i + 1 + n]))
        i += 1 + n
    return out


def test_the_file_system_is_read_only_but_the_working_folder(course, tmp_path):
    work, sockets = course / "autograded/ann/a", tmp_path / "sockets"
    sockets.mkdir()
    m = mounts(bwrap_args(course, work, writable=[sockets], bwrap="/usr/bin/bwrap"))
    assert m[:4] == [("--unshare-all",), ("--die-with-parent",), ("--cap-drop", "ALL"), ("--ro-bind", "/", "/")]
    assert ("--dev", "/dev") in m and ("--proc", "/proc") in m
    binds = [x for x in m if x[0] == "--bind"]
    assert binds == [("--bind", str(work), str(work)), ("--bind", str(sockets), str(sockets))]
    # the course lies under /tmp here: the private /tmp first, then the course again, read-only
    assert m.index(("--tmpfs", "/tmp")) < m.index(("--ro-bind", str(course), str(course)))
    assert not any("--share-net" in x for x in m)
    assert ("--chdir", str(work)) in m and ("--unsetenv", "JPY_PARENT_PID") in m
    assert ("--setenv", "MPLCONFIGDIR", "/tmp/matplotlib") in m


def test_solutions_record_and_other_students_are_invisible(course):
    work = course / "autograded/ann/a"
    m = mounts(bwrap_args(course, work))
    for name in (".git", ".grading", "submitted", "autograded"):
        folder = str(course / name)
        # an empty tmpfs over it, made read-only after the working folder was bound inside it
        assert m.index(("--ro-bind", str(course), str(course))) < m.index(("--tmpfs", folder))
        bind = m.index(("--bind", str(work), str(work)))
        assert m.index(("--tmpfs", folder)) < bind < m.index(("--remount-ro", folder))
    assert ("--ro-bind", "/dev/null", str(course / "gradebook.db")) in m
    # solutions/ stays: it holds the decoy while a submission runs (the real ones are in .grading/)
    assert not any(str(course / "solutions") in x for x in m)
    assert not any(x[0] == "--tmpfs" and x[1] == str(course / "lessons") for x in m)


def test_sigint_reaches_the_kernel_not_bwrap():
    cmd = sandboxed(["python", "-m", "ipykernel_launcher"], "/", "/", bwrap="bwrap")
    assert cmd[:4] == ["/bin/sh", "-c", 'trap "" INT; exec "$@"', "sh"]
    assert cmd[4] == "bwrap" and cmd[-4:] == ["--", "python", "-m", "ipykernel_launcher"]


def fake_bwrap(folder, ok):
    """A `bwrap` on PATH that records each call and succeeds (ok) or fails like one without user
    namespaces."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "bwrap"
    script.write_text(f"#!/bin/sh\necho called >> {folder / 'calls'}\n"
                      + ("exit 0\n" if ok else "echo 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"))
    script.chmod(0o755)
    return {"PATH": str(folder) + ":/usr/bin:/bin"}


def test_off_runs_no_bwrap_at_all(tmp_path):
    environ = fake_bwrap(tmp_path / "bin", ok=True) | {ENV: "off"}
    decision = decide(environ)
    assert not decision.on and decision.why == f"{ENV}=off"
    assert not (tmp_path / "bin" / "calls").exists()


def test_auto_falls_back_with_one_warning_when_bwrap_cannot_run(tmp_path, caplog):
    environ = fake_bwrap(tmp_path / "bin", ok=False) | {ENV: "auto"}
    log = logging.getLogger("test-sandbox")
    with caplog.at_level(logging.INFO, logger="test-sandbox"):
        first, second = announce(log, environ), announce(log, environ)
    assert first == second and not first.on
    assert "No permissions to create new namespace" in first.why and "cannot create a namespace" in first.why
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "grading sandbox: OFF" in caplog.text and NOT_PROTECTED in caplog.text
    assert (tmp_path / "bin" / "calls").read_text().count("called") == 1  # the trial run, once


def test_on_fails_loudly_when_bwrap_cannot_run(tmp_path):
    with pytest.raises(SandboxUnavailable, match=f"{ENV}=on, but .*cannot create a namespace"):
        decide(fake_bwrap(tmp_path / "bin", ok=False) | {ENV: "on"})
    with pytest.raises(SandboxUnavailable, match="not installed"):
        decide({"PATH": str(tmp_path / "nowhere"), ENV: "on"})
    with pytest.raises(SandboxUnavailable, match="use one of auto, on, off"):
        decide({ENV: "maybe"})


def test_auto_uses_a_bwrap_that_works(tmp_path):
    decision = decide(fake_bwrap(tmp_path / "bin", ok=True) | {ENV: "auto"})
    assert decision.on and decision.bwrap == str(tmp_path / "bin" / "bwrap")


def _bwrap_or_skip():
    exe = shutil.which("bwrap")
    problem = probe(exe) if exe else "bwrap is not installed"
    if problem:
        pytest.skip(f"the grading sandbox cannot run on this machine: {problem}")


KERNEL_CODE = """
import os, socket
print('sees', sorted(os.listdir(COURSE)), os.listdir(COURSE + '/.grading'), os.listdir(COURSE + '/submitted'))
open('own.txt', 'w').write('ok')
for path in (COURSE + '/nbgrader_config.py', COURSE + '/submitted/x', COURSE + '/gradebook.db'):
    try:
        open(path, 'a')
    except OSError as e:
        print('write', type(e).__name__, e.strerror)
try:
    socket.create_connection(('127.0.0.1', PORT), timeout=5)
except OSError as e:
    print('network', type(e).__name__)
"""


async def _in_kernel(course, work, port):
    config = Config()
    config.CourseDirectory.root = str(course)
    km = SandboxedKernelManager(kernel_name="python3", config=config)
    await km.start_kernel(cwd=str(work))
    kc = km.client()
    kc.start_channels()
    out = []
    try:
        await kc.wait_for_ready(timeout=60)
        code = KERNEL_CODE.replace("COURSE", repr(str(course))).replace("PORT", str(port))
        def hook(msg):
            out.append(msg["content"].get("text", ""))
        await kc.execute_interactive(code, timeout=60, output_hook=hook)
        kc.execute("while True:\n    pass")
        await asyncio.sleep(1)
        await km.interrupt_kernel()  # what nbgrader does on a cell's time-out
        while (m := await kc.get_iopub_msg(timeout=20))["msg_type"] != "error":
            pass
        out.append("interrupted " + m["content"]["ename"])
        await asyncio.sleep(0.5)
        reply = await kc.execute_interactive("print('still alive')", timeout=30, output_hook=hook)
        out.append(reply["content"]["status"])
        return km.transport, "".join(out), km._sandbox_dir
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def test_sandboxed_kernel(course):
    _bwrap_or_skip()
    listener = __import__("socket").create_server(("127.0.0.1", 0))
    try:
        port = listener.getsockname()[1]
        transport, out, sockets = asyncio.run(_in_kernel(course, course / "autograded/ann/a", port))
    finally:
        listener.close()
    assert transport == "ipc"
    listing = sorted(p.name for p in course.iterdir())
    assert f"sees {listing} [] []" in out  # .grading/ and submitted/ empty
    assert (course / "autograded/ann/a/own.txt").read_text() == "ok"
    assert out.count("write OSError Read-only file system") == 2 and "write PermissionError Permission denied" in out
    assert "network ConnectionRefusedError" in out
    assert "interrupted KeyboardInterrupt" in out and "still alive" in out
    assert not Path(sockets).exists()
