"""Helpers for tests/test_browser.py: a private JupyterLab server and a learner's actions in headless Chromium.

The server listens on 127.0.0.1 only, on a free port, with a random token, in its own process group; every
Jupyter directory (config, data, runtime, IPython) points into a temporary folder, so the test neither reads
nor writes the user's Jupyter settings and leaves nothing behind. The page helpers do what a learner does:
menus, clicks and typing, reading only what the page shows.
"""

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# Debian's Chromium. Playwright must never download a browser of its own (no network here): it gets this path.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_ADVICE = (
    "install Chromium and Playwright: `apt-get install -y chromium` (Debian/Ubuntu) and "
    "`pip install -r requirements.txt` (Playwright's Python package; do not run `playwright install`); "
    "or set VAE_COURSE_CHROMIUM to a Chromium executable"
)

SERVER_START_TIMEOUT = 60  # seconds until /api/status answers
KERNEL_TIMEOUT = 90  # seconds for the kernel to start and become idle
RUN_ALL_TIMEOUT = 240  # seconds for "Run All Cells" on a whole lesson (TensorFlow import included)
CELL_TIMEOUT = 60  # seconds for one re-run cell and its output
WIDGET_TIMEOUT = 30  # seconds for a slider move to reach the image


def find_chromium():
    """Path of a Chromium executable, or None: $VAE_COURSE_CHROMIUM, then Debian's paths, then the PATH."""
    explicit = os.environ.get("VAE_COURSE_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def headless_chromium(path):
    """Chromium at ``path`` (Debian's, see ``find_chromium``) driven by Playwright; closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


VIEWPORT = {"width": 1400, "height": 1000}
PAGE_TIMEOUT_MS = 30_000  # every Playwright wait: a kernel start or a lesson's training can take this long


@contextlib.contextmanager
def browser_context(browser):
    """A fresh browser context (its own cookies and storage) at the tests' window size and time limit; closed after."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


def running_in_ci():
    """True when the environment variable CI is set to anything but empty, 0 or false."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the server is started with port_retries=0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the server ------------------------------------------------------------------------------------------


def processes_mentioning(text):
    """{pid: command line} of every live process whose command line or environment contains ``text``."""
    found = {}
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                environ = b""
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # exited meanwhile
        if state == "Z":  # a zombie is already dead; its parent (not us) has to reap it
            continue
        if needle in cmdline or needle in environ:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def wait_until_gone(find, timeout=15):
    """Poll ``find()`` until it returns nothing or ``timeout`` seconds pass; returns what it found last."""
    deadline = time.monotonic() + timeout
    while (found := find()) and time.monotonic() < deadline:
        time.sleep(0.25)
    return found


def kill_all(find, timeout=10):
    """SIGKILL every process ``find()`` returns until none is left (bounded); returns {pid: command} killed."""
    killed = {}
    deadline = time.monotonic() + timeout
    while (found := find()) and time.monotonic() < deadline:
        for pid, command in found.items():
            killed[pid] = command
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    return killed


class ManagedServer:
    """A server process of a test: started in its own process group with its output in ``log_path``, tried again
    on other free ports when it does not come up, polled until it answers, and stopped with everything it started.

    A subclass sets ``name``, ``log_path`` and ``stray_folder`` and gives ``_launch()`` (the command, environment and
    folder of one attempt, on newly chosen ports) and ``_answers()`` (one readiness probe; OSError counts as no).
    Use as a context manager, or call ``start()`` and (always, in a ``finally``) ``stop()``.
    """

    name = "the server"
    start_timeout = SERVER_START_TIMEOUT  # seconds until it answers
    stop_timeout = 20  # seconds for a graceful stop after SIGTERM
    signal_group = True  # SIGTERM to the whole process group (False: to the server alone, which stops the rest)
    port = None
    process = None
    _log = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def _launch(self):
        raise NotImplementedError

    def _answers(self):
        raise NotImplementedError

    def start(self):
        last_error = None
        for _attempt in range(3):  # a port found free can be taken before the server binds it: try others
            command, env, cwd = self._launch()
            self._log = open(self.log_path, "a")
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
            try:
                self._wait_until_up()
                return self
            except RuntimeError as error:
                last_error = error
                self.stop()
        raise RuntimeError(f"{self.name} did not start: {last_error}")

    def _wait_until_up(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}; log:\n{self.log_tail()}")
            try:
                if self._answers():
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"no answer from {self.name} on {self.base_url} after {self.start_timeout} s; "
                           f"log:\n{self.log_tail()}")

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stray_processes(self):
        """Live processes started for this server: their command line or environment names its folder."""
        return processes_mentioning(str(self.stray_folder))

    def stop(self):
        """SIGTERM, then SIGKILL to what is left of the process group, then to every process that mentions the
        server's folder once they had a moment to exit. Returns {pid: command} of what had to be killed."""
        killed = {}
        if self.process is not None and self.process.poll() is None:
            try:
                if self.signal_group:
                    os.killpg(self.process.pid, signal.SIGTERM)
                else:
                    self.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                killed[self.process.pid] = f"{self.name} (did not stop on SIGTERM)"
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # anything left in the server's process group
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # Kernels and spawned servers run in sessions of their own; they exit a moment after the server does.
        wait_until_gone(self.stray_processes)
        killed.update(kill_all(self.stray_processes))
        if self._log is not None:
            self._log.close()
            self._log = None
        return killed

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class JupyterLabServer(ManagedServer):
    """``python -m jupyterlab`` on a copy of a folder, 127.0.0.1 only, random token, own process group.

    ``stop()`` returns the processes that were still alive after the graceful shutdown and had to be killed.
    """

    name = "JupyterLab"

    def __init__(self, workdir, notebooks, repo_root):
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        self.log_path = self.workdir / "jupyterlab.log"
        self.repo_root = Path(repo_root)
        self.token = secrets.token_hex(32)
        self.stray_folder = self.workdir
        self.cache = self.workdir / "cache"  # the kernels' model cache (VAE_COURSE_CACHE), empty at the start
        shutil.copytree(notebooks, self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))

    def url(self, path):
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def _environment(self):
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        for variable, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                                 ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")):
            env[variable] = str(self.workdir / folder)
            (self.workdir / folder).mkdir(exist_ok=True)
        # The kernel imports this checkout's vae_course, whatever the editable install points at.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.repo_root), env.get("PYTHONPATH")]))
        env["VAE_COURSE_CACHE"] = str(self.cache)
        env.pop("JUPYTER_TOKEN", None)
        env.pop("JUPYTER_PASSWORD", None)
        return env

    def _write_lab_settings(self):
        # Only the "get Jupyter news?" toast is switched off (it would cover outputs in the screenshots and asks
        # to fetch from the internet); everything else is JupyterLab's defaults, as a learner gets them.
        settings = self.workdir / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    def _launch(self):
        env = self._environment()
        self._write_lab_settings()
        self.port = free_port()
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI and containers run as root
        return command, env, self.root

    def _answers(self):
        request = urllib.request.Request(f"{self.base_url}/api/status",
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status == 200


# ---- a learner's actions in the page ---------------------------------------------------------------------

PROMPT_DONE = re.compile(r"^\[\d+\]:$")


def _wait(predicate, timeout, what, poll=0.25, describe=None):
    """Poll ``predicate()`` until truthy; raise AssertionError naming ``what`` (and ``describe()``) on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f" Last seen: {describe()}" if describe else ""
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}.{detail}")
        time.sleep(poll)


class Notebook:
    """One notebook open in JupyterLab, driven like a learner would (menus, clicks, keys)."""

    def __init__(self, page, server, name, screenshots):
        self.page = page
        self.server = server
        self.name = name
        self.screenshots = Path(screenshots)
        self.shots = []
        self.panel = ".jp-NotebookPanel"  # narrowed to this notebook's own panel by open()
        self.code_cells = self._count_code_cells(server.root / name)

    @staticmethod
    def _count_code_cells(path):
        return sum(cell["cell_type"] == "code" for cell in json.loads(path.read_text())["cells"])

    # -- what the page shows

    def kernel_status(self):
        """The notebook toolbar's kernel status ('idle', 'busy', ...) and the status bar's text."""
        indicator = self.page.locator(f"{self.panel} .jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator")
        status = indicator.first.get_attribute("data-status") if indicator.count() else None
        bar = self.page.locator("#jp-main-statusbar")
        return status, (bar.inner_text() if bar.count() else "")

    def prompts(self):
        """The input prompts ('[ ]:', '[*]:', '[3]:') of every code cell, in order."""
        return self.page.evaluate(
            "(panel) => Array.from(document.querySelectorAll(panel + ' .jp-Notebook .jp-CodeCell'))"
            ".map(cell => ((cell.querySelector('.jp-InputPrompt') || {}).textContent || '').trim())", self.panel)

    def cell(self, contains, timeout=30):
        """Locator of the first cell whose source contains ``contains`` (searched in the editor's text)."""
        def find():
            index = self.page.evaluate(
                """([panel, needle]) => Array.from(document.querySelectorAll(panel + ' .jp-Notebook .jp-Cell'))
                     .findIndex(cell => {
                       const lines = cell.querySelectorAll('.jp-InputArea-editor .cm-line');
                       return Array.from(lines).map(l => l.textContent).join('\\n').includes(needle);
                     })""", [self.panel, contains])
            return index + 1  # 0 (falsy) while not found

        index = _wait(find, timeout, f"a cell containing {contains!r} in {self.name}") - 1
        return self.page.locator(f"{self.panel} .jp-Notebook .jp-Cell").nth(index)

    def cell_after(self, cell):
        """The cell right after ``cell`` (e.g. an exercise's check cell)."""
        return cell.locator("xpath=following-sibling::div[contains(@class, 'jp-Cell')][1]")

    @staticmethod
    def source(cell):
        return "\n".join(cell.locator(".jp-InputArea-editor .cm-line").all_text_contents())

    @staticmethod
    def prompt(cell):
        return cell.locator(".jp-InputPrompt").first.text_content().strip()

    @staticmethod
    def output_text(cell):
        return "\n".join(cell.locator(".jp-OutputArea-output").all_text_contents())

    def shot(self, step, locator=None, clip=None):
        """Save a PNG of the page, of one element, or of a clip of the page as <lesson>-NN-<step>.png.

        Returns the PNG's bytes (the file is written too).
        """
        stem = Path(self.name).stem.split("-")[0]
        path = self.screenshots / f"lesson{stem}-{len(self.shots) + 1:02d}-{step}.png"
        if locator is not None:
            picture = locator.screenshot(path=str(path))
        else:
            picture = self.page.screenshot(path=str(path), clip=clip)
        self.shots.append(path)
        return picture

    # -- what a learner does

    def open(self):
        """Open the notebook by its URL, answer a kernel dialog if JupyterLab shows one, wait for an idle kernel.

        Each notebook gets a JupyterLab workspace of its own, so no tab from an earlier lesson is restored.
        """
        workspace = re.sub(r"[^A-Za-z0-9_-]", "-", Path(self.name).stem)
        self.page.goto(self.server.url(f"lab/workspaces/{workspace}/tree/{self.name}"),
                       wait_until="domcontentloaded", timeout=60_000)
        self.wait_until_ready()

    def open_from_file_browser(self):
        """Open the notebook in the page already showing JupyterLab, as a learner opens the next lesson: a double
        click on its name in the file browser (no new page load). Then wait as ``open`` does."""
        listing = self.page.locator("#filebrowser .jp-DirListing-item", has=self.page.locator(
            ".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(Path(self.name).name)}$")))
        listing.first.dblclick()
        self.wait_until_ready()

    def wait_until_ready(self):
        """The page shows JupyterLab with this notebook (``name`` may be a path; its tab shows the file name):
        wait for its tab, its cells and an idle kernel, answering a kernel dialog if JupyterLab shows one."""
        def panel_id():
            return self.page.evaluate(
                """(name) => {
                     const tab = Array.from(document.querySelectorAll('#jp-main-dock-panel .lm-TabBar-tab'))
                       .find(tab => (tab.querySelector('.lm-TabBar-tabLabel') || {}).textContent === name);
                     const panel = tab && document.getElementById(tab.dataset.id);
                     return panel && panel.classList.contains('jp-NotebookPanel') ? tab.dataset.id : null;
                   }""", Path(self.name).name)

        self.panel = f".jp-NotebookPanel[id='{_wait(panel_id, 60, f'a notebook tab for {self.name}')}']"
        self.page.locator(f"{self.panel} .jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)

        def ready():
            dialog = self.page.locator(".jp-Dialog")
            if dialog.count() and "Select Kernel" in dialog.first.inner_text():
                dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click()  # keep the suggested Python 3
                return False
            status, bar = self.kernel_status()
            return status == "idle" and "| Idle" in bar

        _wait(ready, KERNEL_TIMEOUT, f"the kernel of {self.name} to be idle",
              describe=lambda: f"{self.kernel_status()}; server log:\n{self.server.log_tail(15)}")
        # Every code cell is in the page (JupyterLab attaches cells far down a little later).
        _wait(lambda: len(self.prompts()) == self.code_cells, 60, f"all {self.code_cells} code cells to show",
              describe=lambda: len(self.prompts()))

    def run_all(self):
        """Menu Run > Run All Cells, then wait until every code cell has run and the kernel is idle."""
        self.page.locator(".lm-MenuBar-item", has=self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(
            r"^Run$"))).click()
        self.page.locator("#jp-mainmenu-run .lm-Menu-item", has=self.page.locator(
            ".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))).click()
        started = time.monotonic()

        def finished():
            prompts = self.prompts()
            status, bar = self.kernel_status()
            return (len(prompts) == self.code_cells and all(PROMPT_DONE.match(p) for p in prompts)
                    and status == "idle" and "| Idle" in bar)

        _wait(finished, RUN_ALL_TIMEOUT, f"Run All Cells to finish in {self.name}", poll=0.5,
              describe=lambda: (self.prompts(), self.kernel_status()))
        return time.monotonic() - started

    def tracebacks(self):
        """Text of every output showing a Python traceback (JupyterLab renders errors as stderr text)."""
        stderr = self.page.locator(
            f"{self.panel} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        return [text for text in stderr.all_text_contents() if "Traceback" in text]

    def type_source(self, cell, lines):
        """Make the cell's source ``lines`` in the editor, as a learner would: keys to move, select and delete,
        Enter between lines, and each line's text entered at once, as a paste or an input method enters it.

        The lines the cell already starts with are kept (the learner fills in a stub below its ``def`` line, or
        fixes the last line of an answer): a click on the first line that differs, End then Home to the end of
        its indentation, Shift+Ctrl+End to select the rest, and the new lines are entered over it. With no line in
        common, everything is selected and entered afresh. Each line goes in without its leading spaces: the
        editor indents after ``def ...:`` and keeps the indentation on Enter, so a function whose body is at one
        level comes out as written. (Typing each character as a key press cost Chromium's renderer about 10 ms a
        key, 4 CPU-s a lesson, and tested nothing more.)
        """
        current = self.source(cell).split("\n")
        keep = 0
        while keep < min(len(current), len(lines)) - 1 and current[keep] == lines[keep]:
            keep += 1
        editor = cell.locator(".jp-InputArea-editor .cm-content")
        editor.scroll_into_view_if_needed()
        if keep:
            editor.locator(".cm-line").nth(keep).click()
            self.page.keyboard.press("End")
            self.page.keyboard.press("Home")  # from the end of a line, Home stops at its indentation
            self.page.keyboard.press("ControlOrMeta+Shift+End")
        else:
            editor.click()
            self.page.keyboard.press("ControlOrMeta+a")
        self.page.keyboard.press("Backspace")
        for number, line in enumerate(lines[keep:]):
            if number:
                self.page.keyboard.press("Enter")
            self.page.keyboard.insert_text(line.lstrip())

    def run_cell_then_next(self, cell, check_cell, expect, timeout=CELL_TIMEOUT):
        """Shift+Enter in ``cell`` (runs it, moves to the check cell), Shift+Enter again; wait for ``expect``.

        Waits until the check cell has a new execution count, the kernel is idle, and its output contains
        ``expect``; returns that output text.
        """
        before = self.prompt(check_cell)
        self.page.keyboard.press("Shift+Enter")  # runs the edited cell; the check cell becomes the active one
        _wait(lambda: "jp-mod-active" in (check_cell.get_attribute("class") or ""), 10,
              "the check cell to become the active cell")
        self.page.keyboard.press("Shift+Enter")

        def done():
            prompt = self.prompt(check_cell)
            return (PROMPT_DONE.match(prompt) and prompt != before and self.kernel_status()[0] == "idle"
                    and expect in self.output_text(check_cell))

        _wait(done, timeout, f"{expect!r} in the check cell's output",
              describe=lambda: (self.prompt(check_cell), self.output_text(check_cell)[:500]))
        check_cell.scroll_into_view_if_needed()
        return self.output_text(check_cell)


def clip_of(locator, region):
    """Page clip (viewport coordinates) of a part of an element: ``region`` = (left, top, right, bottom) fractions."""
    box = locator.bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0, "the element is not visible"
    left, top, right, bottom = region
    return {"x": box["x"] + left * box["width"], "y": box["y"] + top * box["height"],
            "width": (right - left) * box["width"], "height": (bottom - top) * box["height"]}


def move_slider(page, handle, image, key="ArrowRight", timeout=WIDGET_TIMEOUT):
    """Focus a slider handle, press ``key`` once; wait until the widget image shows a new picture.

    Returns the seconds from the key press (the handle's keydown event) to the first animation frame after the
    new image was decoded, measured with the page's own clock, and the image's src before and after. In
    between: the slider's value goes to the kernel, Python redraws the figure, the PNG comes back.
    """
    handle.focus()
    before = image.get_attribute("src")
    page.evaluate(
        """([handle, image]) => {
             const t = window.__sliderTiming = {};
             handle.addEventListener('keydown', () => { if (t.key === undefined) t.key = performance.now(); },
                                     {capture: true, once: true});
             const observer = new MutationObserver(() => {
               if (t.changed !== undefined) return;
               t.changed = performance.now();
               observer.disconnect();
               // decoded, then shown: the first animation frame after decoding paints the new picture
               const shown = () => requestAnimationFrame(() => { t.shown = performance.now(); });
               image.decode().then(shown, () => { t.decodeFailed = true; shown(); });
             });
             observer.observe(image, {attributes: true, attributeFilter: ['src']});
           }""", [handle.element_handle(), image.element_handle()])
    page.keyboard.press(key)
    page.wait_for_function("() => window.__sliderTiming && window.__sliderTiming.shown !== undefined",
                           timeout=timeout * 1000, polling=10)
    timing = page.evaluate("() => window.__sliderTiming")
    assert not timing.get("decodeFailed"), "the widget's new image could not be decoded"
    assert timing.get("key") is not None, f"the slider handle did not receive the {key} key press"
    return (timing["shown"] - timing["key"]) / 1000.0, before, image.get_attribute("src")
