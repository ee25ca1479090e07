"""The course in a JupyterHub classroom, for real: a hub, learners with Unix accounts, a browser, a git pull.

A JupyterHub (with configurable-http-proxy, the dummy authenticator and the local-process spawner) runs on
127.0.0.1 with a random admin token. Through its REST API the test makes three learners (VAE_COURSE_HUB_LEARNERS
sets another number, at least 3), each with a Unix account of their own, starts one server alone and then the
others at once, and has every learner open the course through
an nbgitpuller link that pulls it from a local bare git repository into their home. In headless Chromium one
learner logs in, follows the link, runs lesson 00 and answers its exercise; the instructor then pushes a change,
the learner follows the link again, and both their answer and the instructor's change are there. Learners can
reach neither each other's servers through the hub nor each other's files. At the end the hub stops, and no
process of the classroom may be left; the accounts, their homes and every file of the run are removed.

It prints the spawn time per learner, the memory of a learner (server plus a lesson-00 kernel) and what a class
of 30 and of 200 needs (see docs/teaching.md). Needs root (Unix accounts), configurable-http-proxy
(`npm install -g configurable-http-proxy`), Chromium and Playwright as tests/test_browser.py does; without them it
is skipped, except under CI, where it fails. A plain `pytest` skips it (a classroom test; it makes Unix accounts):
run it with `pytest -m hub`, `pytest -m classroom` or `pytest tests/test_hub.py` (about 50 s on 2 idle cores);
`.ci/run` does, after `pytest`.
Screenshots and the hub's log go to test-output/hub/ (gitignored).
"""

import contextlib
import json
import os
import pwd
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import pytest

from browser_helpers import (
    INSTALL_ADVICE,
    Notebook,
    browser_context,
    find_chromium,
    headless_chromium,
    running_in_ci,
    wait_until_gone,
)
from hub_helpers import (
    CHP_ADVICE,
    PULL_TIMEOUT,
    Accounts,
    CourseRepository,
    Hub,
    SharedPython,
    class_sizing,
    cpu_seconds,
    make_folder,
    memory_mb,
    module_file_seen_by,
    nbgitpuller_link,
    processes_mentioning,
    processes_of,
    remove_stale,
    run_threads,
    server_and_kernels,
)
from hub_helpers import (
    tool as find_tool,
)

pytestmark = [pytest.mark.hub, pytest.mark.classroom]  # skipped unless asked for (conftest.py)

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "test-output" / "hub"

def _learners():
    """How many learners: $VAE_COURSE_HUB_LEARNERS (at least 3; say 10 to size a class), else 3: one server starts
    alone, then two at once, and those two must be kept out of each other's server and files."""
    text = os.environ.get("VAE_COURSE_HUB_LEARNERS", "3")
    if not text.isdigit() or int(text) < 3:
        raise ValueError(f"VAE_COURSE_HUB_LEARNERS must be a whole number of at least 3, got {text!r}")
    return int(text)


LEARNERS = _learners()
LESSON = "vae-course/lessons/00-welcome.ipynb"  # in a learner's home, where the link pulls the course
ANSWER = "sigma = np.exp(log_var / 2)  # my answer"


def _missing():
    """What this machine lacks to run the classroom, in words (empty when nothing)."""
    problems = []
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        problems.append("it must run as root to create Unix accounts (as CI and The Littlest JupyterHub do)")
    for tool, package in (("useradd", "passwd"), ("git", "git"), ("nsenter", "util-linux")):
        if find_tool(tool) is None:
            problems.append(f"{tool} is missing (Debian: `apt-get install -y {package}`)")
    for module in ("jupyterhub", "nbgitpuller", "playwright"):
        try:
            __import__(module)
        except ImportError:
            problems.append(f"the Python package {module} is not installed (`pip install -r requirements.txt`)")
    if shutil.which("configurable-http-proxy") is None:
        problems.append(f"configurable-http-proxy is missing: {CHP_ADVICE}")
    if find_chromium() is None:
        problems.append(f"no Chromium executable was found: {INSTALL_ADVICE}")
    return problems


class Classroom:
    """What the fixture set up: the hub, the accounts, the course repository, and the spawn measurements."""

    def __init__(self, hub, accounts, repository, spawn_seconds, server_cpu, phases):
        self.hub = hub
        self.accounts = accounts
        self.repository = repository
        self.names = accounts.names
        self.spawn_seconds = spawn_seconds
        self.server_cpu = server_cpu
        self.phases = phases
        self.tokens = {}

    def token(self, name):
        if name not in self.tokens:
            self.tokens[name] = self.hub.user_token(name)
        return self.tokens[name]

    def uid(self, name):
        return pwd.getpwnam(name).pw_uid

    def link(self):
        return nbgitpuller_link(self.hub.base_url, str(self.repository.bare), self.repository.BRANCH,
                                f"lab/tree/{LESSON}")


class _Phases(dict):
    """Seconds per step of setting up and tearing down the classroom: ``with phases("name"): ...``."""

    @contextlib.contextmanager
    def __call__(self, name):
        started = time.monotonic()
        try:
            yield
        finally:
            self[name] = round(time.monotonic() - started, 1)

    def save(self, path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self, indent=1) + "\n")

    def line(self):
        return "set-up: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.items())


@pytest.fixture(scope="module")
def classroom():
    problems = _missing()
    if problems:
        if running_in_ci():
            pytest.fail(f"CI must run the hub test, but {'; '.join(problems)}", pytrace=False)
        pytest.skip("; ".join(problems))
    stale = remove_stale()
    if stale:
        print(f"removed what a killed run left behind: {stale}")
    folder = make_folder()  # the course repository (and the learners' Python, if it has to move) are in it
    accounts, hub, survivors, leftover = Accounts(LEARNERS), None, {}, {}
    phases = _Phases()
    try:
        with phases("a Python the learners can run"):
            python = SharedPython(folder)
        with phases("the course repository and the accounts"):
            repository = CourseRepository(folder, REPO).publish()
            accounts.create()
        with phases("the hub"):
            hub = Hub(folder, python, repository).start()
        with phases(f"{LEARNERS} servers"):
            hub.create_users(accounts.names)
            first, others = accounts.names[0], accounts.names[1:]
            spawn_seconds = {"alone": hub.start_servers([first])[first],  # one alone, then the rest at once
                             "together": hub.start_servers(others)}
        servers = {name: server_and_kernels(pwd.getpwnam(name).pw_uid)[0] for name in accounts.names}
        assert None not in servers.values(), f"a ready server has no process running as its learner: {servers}"
        server_cpu = {name: cpu_seconds(pid) for name, pid in servers.items()}
        yield Classroom(hub, accounts, repository, spawn_seconds, server_cpu, phases)
    finally:
        with phases("stopping the hub"):
            if hub is not None:
                survivors = hub.stop()
                OUTPUT.mkdir(parents=True, exist_ok=True)
                if hub.log_path.exists():
                    shutil.copyfile(hub.log_path, OUTPUT / "jupyterhub.log")
            leftover = wait_until_gone(lambda: processes_of(accounts.uids()) | processes_mentioning(str(folder)))
        with phases("removing the accounts and files"):
            accounts.remove()
            shutil.rmtree(folder, ignore_errors=True)
        phases.save(OUTPUT / "phases.json")
    assert not survivors, f"still running after the hub stopped (killed now): {survivors}"
    assert not leftover, f"learners' processes still running after the hub stopped (killed now): {leftover}"
    assert not folder.exists(), f"{folder} could not be removed"


@pytest.fixture(scope="module")
def browser(classroom):
    with headless_chromium(find_chromium()) as chromium:
        yield chromium


@pytest.fixture
def context(browser):
    with browser_context(browser) as context:
        yield context


def _report(request, lines):
    request.node.user_properties.append(("summary", ("JupyterHub classroom", list(lines))))


# ---- the classroom --------------------------------------------------------------------------------------


def test_every_learner_gets_a_server_and_pulls_the_course(classroom, request):
    alone, seconds = classroom.spawn_seconds["alone"], sorted(classroom.spawn_seconds["together"].values())
    assert len(seconds) == LEARNERS - 1
    memory = {}
    for name in classroom.names:
        server, kernels = server_and_kernels(classroom.uid(name))
        assert server is not None, f"{name} has no single-user server process running as {name}"
        assert kernels == [], f"{name}'s server started kernels before anyone opened a notebook"
        memory[name] = memory_mb(server)

    others = classroom.names[1:]  # the first learner follows the link in the browser (next test)
    run_threads(lambda name: classroom.hub.pull_course(name, classroom.token(name)), others)
    for name in others:
        lesson = classroom.accounts.home(name) / LESSON
        assert lesson.is_file(), f"{name}'s pull did not bring {LESSON}"
        assert lesson.stat().st_uid == classroom.uid(name), f"{name}'s copy of the course is not theirs"
        assert lesson.read_bytes() == (REPO / "lessons" / lesson.name).read_bytes()

    rss = [memory[name]["rss"] for name in classroom.names]
    cpu = [classroom.server_cpu[name] for name in classroom.names]
    _report(request, [
        f"spawn time: one server alone {alone:.1f} s; {len(seconds)} more requested at once: all ready after "
        f"{seconds[-1]:.1f} s, median {statistics.median(seconds):.1f} s (CPU per server start: median "
        f"{statistics.median(cpu):.1f} s)",
        classroom.phases.line(),
        f"an idle single-user server: median {statistics.median(rss):.0f} MB resident "
        f"(PSS {statistics.median(m['pss'] for m in memory.values()):.0f} MB)",
    ])


def _login(page, name):
    page.locator("#username_input").fill(name)
    page.locator("#password_input").fill("any password works with the dummy authenticator")
    page.locator("#login_submit").click()


def _follow_link(page, classroom, name, login):
    """Open the nbgitpuller link (logging in first if asked); returns the lesson once JupyterLab shows it."""
    page.goto(classroom.link(), wait_until="domcontentloaded", timeout=60_000)
    if login:
        _login(page, name)
    page.wait_for_url(f"**/user/{name}/lab/tree/{LESSON}", timeout=PULL_TIMEOUT * 1000)
    notebook = Notebook(page, _LearnerServer(classroom, name), LESSON, OUTPUT)
    notebook.wait_until_ready()
    return notebook


class _LearnerServer:
    """A learner's server, seen through the hub, as ``browser_helpers.Notebook`` expects a server."""

    def __init__(self, classroom, name):
        self.root = classroom.accounts.home(name)
        self.hub = classroom.hub
        self.name = name

    def url(self, path):
        return f"{self.hub.base_url}/user/{self.name}/{path}"

    def log_tail(self, lines=15):
        return self.hub.log_tail(lines)


def _first_heading(path):
    """The first line of the lesson's first cell (a Markdown heading)."""
    return json.loads(path.read_text())["cells"][0]["source"][0]


def test_learner_runs_lesson_00_and_keeps_an_answer_across_an_update(classroom, context, request):
    name = classroom.names[0]
    lesson = classroom.accounts.home(name) / LESSON
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT.glob("lesson00-*.png"):
        old.unlink()
    page = context.new_page()
    notebook = _follow_link(page, classroom, name, login=True)
    assert lesson.stat().st_uid == classroom.uid(name)
    notebook.shot("opened-through-the-link")
    run_all = notebook.run_all()
    assert notebook.tracebacks() == [], f"lesson 00 raised in the browser:\n{notebook.tracebacks()}"
    exercise = notebook.cell("sigma = ____")
    check_cell = notebook.cell_after(exercise)
    assert "Not attempted yet" in notebook.output_text(check_cell)
    notebook.type_source(exercise, [ANSWER])
    notebook.run_cell_then_next(exercise, check_cell, "Correct:")
    notebook.shot("answered")
    page.keyboard.press("ControlOrMeta+s")
    _wait_for_text(lesson, ANSWER)

    server, kernels = server_and_kernels(classroom.uid(name))
    assert len(kernels) == 1, f"expected one kernel for {name}, found {kernels}"
    package = module_file_seen_by(kernels[0], "vae_course")
    assert package == str(classroom.accounts.home(name) / "vae-course" / "vae_course" / "__init__.py"), \
        f"{name}'s kernel imports vae_course from {package}, not from the course the link pulled"
    server_mb, kernel_mb = memory_mb(server), memory_mb(kernels[0])
    kernel_cpu = cpu_seconds(kernels[0])
    hub_mb = _hub_and_proxy_mb(classroom)
    page.close()

    heading = _first_heading(lesson)
    update = heading.rstrip("\n") + " (updated by your instructor)"
    classroom.repository.push_change("lessons/00-welcome.ipynb", json.dumps(heading, ensure_ascii=False),
                                      json.dumps(update + "\n", ensure_ascii=False), "Lesson 00: a new title")
    page = context.new_page()
    shots, notebook = notebook.shots, _follow_link(page, classroom, name, login=False)
    notebook.shots = shots  # one numbering for both visits
    notebook.shot("after-the-update")
    kept = notebook.cell("sigma = np.exp")
    notebook.shot("answer-kept", kept)
    assert ANSWER in notebook.source(kept), "the learner's answer was lost"
    assert update.lstrip("# ") in page.locator(notebook.panel).inner_text(), "the instructor's change is missing"
    assert ANSWER in lesson.read_text() and _first_heading(lesson).startswith(update)

    per_user = server_mb["rss"] + kernel_mb["peak"]
    server_start_cpu = statistics.median(classroom.server_cpu.values())
    _report(request, [
        f"lesson 00 through the hub: Run All Cells took {run_all:.1f} s (kernel CPU {kernel_cpu:.1f} s)",
        f"memory per learner: server {server_mb['rss']:.0f} MB + lesson-00 kernel {kernel_mb['rss']:.0f} MB "
        f"resident (peak {kernel_mb['peak']:.0f} MB; PSS {server_mb['pss'] + kernel_mb['pss']:.0f} MB in all) "
        f"= {per_user:.0f} MB with the kernel's peak",
        f"hub + proxy: {hub_mb:.0f} MB resident",
        *class_sizing(per_user, hub_mb, server_start_cpu + kernel_cpu),
    ])


def _wait_for_text(path, text, timeout=30):
    left = wait_until_gone(lambda: text not in path.read_text(), timeout=timeout)
    assert not left, f"{path.name} on disk still lacks {text!r} {timeout} s after saving"


def _hub_and_proxy_mb(classroom):
    pids = [classroom.hub.process.pid]
    proxy_pid = classroom.hub.folder / "proxy.pid"
    if proxy_pid.exists():
        pids.append(int(proxy_pid.read_text()))
    return sum(memory_mb(pid)["rss"] for pid in pids)


def test_learners_cannot_reach_each_other(classroom, context):
    owner, other = classroom.names[1], classroom.names[2]
    contents = f"/user/{owner}/api/contents/vae-course/lessons"
    assert classroom.hub.request("GET", contents, token=classroom.token(owner))[0] == 200
    status, _ = classroom.hub.request("GET", contents, token=classroom.token(other))
    assert status == 403, f"{other}'s token reached {owner}'s server: {status}"

    page = context.new_page()  # in the browser too: logged in as the other learner, open the owner's JupyterLab
    page.goto(f"{classroom.hub.base_url}/hub/login", wait_until="domcontentloaded")
    _login(page, other)
    page.wait_for_url(f"**/user/{other}/**", timeout=60_000)
    answer = page.goto(f"{classroom.hub.base_url}/user/{owner}/lab", wait_until="domcontentloaded")
    assert answer.status == 403, f"{other} opened {owner}'s JupyterLab in the browser: {answer.status} {page.url}"

    lesson = classroom.accounts.home(owner) / LESSON
    assert _read_as(owner, lesson).returncode == 0, f"{owner} cannot read their own {lesson.name}"
    denied = _read_as(other, lesson)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr, \
        f"{other} could read {owner}'s notebook: {denied}"


def _read_as(name, path):
    """``cat path`` as the Unix user ``name`` (no supplementary groups)."""
    user = pwd.getpwnam(name)
    return subprocess.run(["cat", str(path)], user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd="/",
                          capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
