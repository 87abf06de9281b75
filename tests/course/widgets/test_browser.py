"""The course as students and instructors meet it: JupyterLab in a real browser.

Starts `jupyter lab` from this venv on a free 127.0.0.1 port (no token, root in a temporary copy of
the course) and drives Debian's Chromium with Playwright. Where Chromium is missing these tests skip
with a message, unless P2P_REQUIRE_BROWSER=1 (set by .ci/run), which turns the skip into a failure.
Set P2P_SCREENSHOT_DIR to keep the widget screenshots (`make screenshots` writes docs/img/).
"""

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("P2P_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
NOTEBOOK_TIMEOUT_MS = 240_000
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in the visible tab


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A temporary copy of the course: what an instructor's or student's lab root holds."""
    root = tmp_path_factory.mktemp("course")
    for name in ("solutions", "lessons"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    exchange = root / "exchange"
    exchange.mkdir()
    config = (ROOT / "nbgrader_config.py").read_text()
    (root / "nbgrader_config.py").write_text(
        config + f"\n# browser tests: a private exchange\nc.Exchange.root = {str(exchange)!r}\n")
    # as an instructor would: the assignments go into the gradebook, ex1 is released to students
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    for name in sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir()):
        subprocess.run([str(BIN / "nbgrader"), "db", "assignment", "add", name], cwd=root, env=env,
                       check=True, capture_output=True)
    subprocess.run([str(BIN / "nbgrader"), "release_assignment", "ex1_paired_translation"], cwd=root,
                   env=env, check=True, capture_output=True)
    return root


@pytest.fixture(scope="module")
def lab(course):
    """Base URL of a JupyterLab server rooted in the course copy; stopped after the module."""
    port = _free_port()
    # no "get notified about Jupyter news?" toast over the widgets, and no request for news
    settings = course / ".lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, P2P_QUICK="1", JUPYTER_CONFIG_DIR=str(course / ".jupyter"),
               JUPYTERLAB_SETTINGS_DIR=str(course / ".lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(course / ".lab-workspaces"),
               JUPYTER_RUNTIME_DIR=str(course / ".runtime"))
    as_root = ["--allow-root"] if os.geteuid() == 0 else []  # CI runs as root
    log = open(course / "lab.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={course}",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *as_root],
        cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"jupyter lab did not start on port {port}; its log:\n{(course / 'lab.log').read_text()}")
        time.sleep(0.5)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        message = (f"Chromium not found at {CHROMIUM}: the browser tests need Debian's chromium "
                   "(apt-get install chromium) or P2P_CHROMIUM=/path/to/chromium")
        if os.environ.get("P2P_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (P2P_REQUIRE_BROWSER=1 makes this a failure)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _screenshot(locator, name, tmp_path):
    path = tmp_path / name
    locator.screenshot(path=str(path))
    keep = os.environ.get("P2P_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)
    return path


def _open_notebook(page, lab, path):
    page.goto(f"{lab}/lab/tree/{path}?reset")  # ?reset: a fresh workspace, this notebook alone
    page.locator(f"{PANEL} .jp-Cell").first.wait_for()
    # a kernel is attached when the toolbar's kernel name shows it
    page.locator(f"{PANEL} .jp-KernelName", has_text="Python 3").first.wait_for()


def _menu(page, menu, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def _run_all_and_wait_for(page, selector):
    _menu(page, "Run", "Run All Cells")
    page.locator(selector).first.wait_for(timeout=NOTEBOOK_TIMEOUT_MS)
    assert page.locator("text=Error displaying widget").count() == 0, "a widget failed to render"


def _move_slider(page, slider_class, key, presses=1):
    handle = page.locator(f".{slider_class} .noUi-handle").first
    handle.focus()
    for _ in range(presses):
        handle.press(key)


def test_widget_and_nbgrader_lab_extensions_are_enabled():
    out = subprocess.run([str(BIN / "jupyter"), "labextension", "list"], capture_output=True, text=True,
                         check=True)
    text = out.stdout + out.stderr
    for name in ("@jupyter-widgets/jupyterlab-manager", "@jupyter/nbgrader"):
        line = next((ln for ln in text.splitlines() if name in ln), None)
        assert line is not None, f"{name} is not installed:\n{text}"
        assert "enabled" in line and "OK" in line, f"{name} is not enabled and OK: {line}"


def _explorer(page, lab, tmp_path, notebook, prefix, ready_text, screenshot_name):
    """Run `notebook` in the browser until its explorer (CSS classes `prefix`-readout and
    `prefix`-figure) shows `ready_text`; save its screenshot. Returns (readout, figure, text, png)."""
    _open_notebook(page, lab, notebook)
    _run_all_and_wait_for(page, f".{prefix}-readout")
    readout = page.locator(f".{prefix}-readout").first
    figure = page.locator(f".{prefix}-figure").first
    readout.scroll_into_view_if_needed()
    page.wait_for_function(f"() => document.querySelector('.{prefix}-readout').innerText"
                           f".includes({json.dumps(ready_text)})")
    box = page.locator(f".jp-OutputArea-output:has(.{prefix}-readout)").first
    _screenshot(box, screenshot_name, tmp_path)
    return readout, figure, readout.inner_text(), figure.screenshot()


def _wait_for_new_drawing(page, figure, before_png, message, timeout_s=30):
    """The readout updates first; the figure follows when its new image has arrived."""
    deadline = time.monotonic() + timeout_s
    while figure.screenshot() == before_png:
        assert time.monotonic() < deadline, message
        page.wait_for_timeout(250)


def test_receptive_field_explorer_responds_to_its_slider(page, lab, tmp_path):
    readout, figure, before_text, before_png = _explorer(
        page, lab, tmp_path, "solutions/ex3_patchgan/ex3_patchgan.ipynb", "p2p-rf", "70",
        "rf_explorer.png")
    assert "70 x 70" in before_text and "30 x 30" in before_text, before_text

    _move_slider(page, "p2p-rf-nlayers", "ArrowLeft")  # n_layers 3 -> 2: the 34 x 34 PatchGAN
    page.wait_for_function("() => document.querySelector('.p2p-rf-readout').innerText.includes('34 x 34')",
                           timeout=60_000)
    assert "62 x 62" in readout.inner_text()
    _wait_for_new_drawing(page, figure, before_png, "the drawn field did not change with n_layers")


def test_lambda_explorer_responds_to_its_slider(page, lab, tmp_path):
    _, figure, before_text, before_png = _explorer(
        page, lab, tmp_path, "solutions/ex4_losses/ex4_losses.ipynb", "p2p-lambda", "lambda",
        "lambda_explorer.png")

    _move_slider(page, "p2p-lambda-slider", "ArrowRight")
    page.wait_for_function(
        f"() => document.querySelector('.p2p-lambda-readout').innerText !== {json.dumps(before_text)}",
        timeout=60_000)
    _wait_for_new_drawing(page, figure, before_png, "the images did not change with lambda")


def _validate(page):
    page.locator(f"{PANEL} .jp-NotebookPanel-toolbar .validate-button").first.click()
    dialog = page.locator(".jp-Dialog").first
    dialog.wait_for(timeout=NOTEBOOK_TIMEOUT_MS)
    page.locator("#validation-message").first.wait_for(timeout=NOTEBOOK_TIMEOUT_MS)
    text = dialog.inner_text()
    assert "Validation failed" not in text, f"nbgrader could not validate:\n{text}"
    return text


def test_validate_button_on_an_untouched_lesson_and_a_solved_one(page, lab, course):
    _open_notebook(page, lab, "lessons/ex1_paired_translation/ex1_paired_translation.ipynb")
    text = _validate(page)
    assert "Validation Results" in text and "NotImplementedError" in text, text
    page.keyboard.press("Escape")
    page.locator(".jp-Dialog").first.wait_for(state="detached")

    solved = course / "student" / "ex1_paired_translation.ipynb"
    solved.parent.mkdir(exist_ok=True)
    shutil.copy(course / "solutions/ex1_paired_translation/ex1_paired_translation.ipynb", solved)
    _open_notebook(page, lab, "student/ex1_paired_translation.ipynb")
    assert "Success! Your notebook passes all the tests." in _validate(page)


def test_formgrader_and_assignment_list_load_without_errors(page, lab):
    page.goto(f"{lab}/lab")
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.wait_for()
    _menu(page, "Nbgrader", "Formgrader")
    frame = page.frame_locator("iframe").first
    frame.locator("text=Manage Assignments").first.wait_for()
    frame.locator("text=ex1_paired_translation").first.wait_for()

    _menu(page, "Nbgrader", "Assignment List")
    page.locator("text=Released assignments").first.wait_for()
    page.locator("text=Submitted assignments").first.wait_for()
    # the released lesson reaches the student's list, with its Fetch button
    released = page.locator("#released_assignments_list")
    released.locator("text=ex1_paired_translation").first.wait_for()
    released.locator("button", has_text="Fetch").first.wait_for()
    assert page.locator(".alert-danger:visible").count() == 0, page.locator(".alert-danger").first.inner_text()
    assert page.locator(".nbgrader-ErrorDialog").count() == 0


# ---------------------------------------------------------------- the facade playground

def _wait_until_every_cell_ran(page):
    """Run All is done when no cell's prompt shows [*] (queued or running)."""
    page.wait_for_function(
        f"() => ![...document.querySelectorAll('{PANEL} .jp-InputArea-prompt')]"
        ".some(p => p.innerText.includes('*'))", timeout=NOTEBOOK_TIMEOUT_MS)


def _pixel(png, x_fraction, y_fraction):
    from PIL import Image
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.getpixel((int(x_fraction * image.width), int(y_fraction * image.height)))


def _near(rgb, expected, tolerance=12):
    return max(abs(a - b) for a, b in zip(rgb, expected)) <= tolerance


def test_anywidget_lab_extension_is_enabled():
    out = subprocess.run([str(BIN / "jupyter"), "labextension", "list"], capture_output=True, text=True,
                         check=True)
    line = next((ln for ln in (out.stdout + out.stderr).splitlines() if "anywidget" in ln), None)
    assert line is not None and "enabled" in line and "OK" in line, \
        f"the playground's canvas needs the anywidget lab extension:\n{out.stdout + out.stderr}"


def test_playground_paints_windows_where_the_mouse_drags(page, lab, course, tmp_path):
    from p2p_ref.datasets.palette import CMP_PALETTE

    # `make screenshots` shows a trained G (P2P_SCREENSHOT_RUN, default runs/synthetic of
    # `make train`) when there is one; otherwise the notebook trains a tiny G for a few steps.
    run = ROOT / os.environ.get("P2P_SCREENSHOT_RUN", "-")
    if os.environ.get("P2P_SCREENSHOT_DIR") and (run / "checkpoint.pt").is_file():
        (course / "runs" / run.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "checkpoint.pt", course / "runs" / run.name / "checkpoint.pt")
    _open_notebook(page, lab, "lessons/playground.ipynb")
    _run_all_and_wait_for(page, ".p2p-playground-status")
    _wait_until_every_cell_ran(page)
    status = page.locator(".p2p-playground-status").first
    page.wait_for_function("() => document.querySelector('.p2p-playground-status').innerText"
                           ".includes('G took')", timeout=60_000)
    canvas = page.locator(".p2p-playground-canvas").first
    output = page.locator(".p2p-playground-output").first
    canvas.scroll_into_view_if_needed()
    map_before, output_before, status_before = canvas.screenshot(), output.screenshot(), status.inner_text()
    # the notebook's code drew floors of windows; between two floors the map is facade
    assert _near(_pixel(map_before, 0.35, 0.5), CMP_PALETTE["facade"]), _pixel(map_before, 0.35, 0.5)

    page.locator(".p2p-playground-class-window").first.click()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 0.05 * box["width"], box["y"] + 0.47 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.95 * box["width"], box["y"] + 0.53 * box["height"], steps=12)
    page.mouse.up()

    # the kernel painted the rectangle and ran G on the new map
    page.wait_for_function(
        "() => { const t = document.querySelector('.p2p-playground-status').innerText;"
        f" return t !== {json.dumps(status_before)} && t.includes('rectangle of window')"
        " && t.includes('G took'); }", timeout=60_000)
    _wait_for_new_drawing(page, canvas, map_before, "the label map did not change")
    _wait_for_new_drawing(page, output, output_before, "G's output did not change after the stroke")
    assert _near(_pixel(canvas.screenshot(), 0.35, 0.5), CMP_PALETTE["window"])
    assert _near(_pixel(canvas.screenshot(), 0.35, 0.2), _pixel(map_before, 0.35, 0.2))  # elsewhere unchanged
    assert page.locator("text=Error displaying widget").count() == 0
    _screenshot(page.locator(".jp-OutputArea-output:has(.p2p-playground)").first, "playground.png", tmp_path)
