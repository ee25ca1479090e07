"""Helpers for tests/test_hub.py: a real JupyterHub classroom on this machine, and everything it leaves cleaned up.

- ``SharedPython``: a Python the learners' Unix accounts can run. Where the test's own Python sits in a folder they
  cannot enter (pyenv under /root, mode 0700), its prefix is bind-mounted into the classroom's folder in a mount
  namespace of the hub's own (hard-linked where mounting is not allowed): no permission of the machine changes.
- ``Accounts``: one Unix account per learner (useradd, home mode 0700 as The Littlest JupyterHub makes it), removed
  with their homes and processes afterwards; accounts a killed run left behind are removed at the next start.
- ``CourseRepository``: the course as the instructor publishes it, a bare git repository of this checkout's
  tracked files, and an instructor's clone that pushes changes to it.
- ``Hub``: ``python -m jupyterhub`` with configurable-http-proxy, the dummy authenticator and the local-process
  spawner, on 127.0.0.1 only (free ports), an admin service with a random token; ``stop()`` ends it and every
  single-user server and kernel it started.
"""

import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from browser_helpers import ManagedServer, free_port, kill_all, processes_mentioning

PREFIX = "vaecls"  # every account, folder and service of this test starts with it
ACCOUNT_COMMENT = "vae-course hub test, pid "  # + the pid of the pytest process that made the account
CHP_VERSION = "5.3.0"  # keep in step with .ci/run
CHP_ADVICE = f"install configurable-http-proxy: `npm install -g configurable-http-proxy@{CHP_VERSION}`"
HUB_START_TIMEOUT = 60  # seconds until the hub answers through its proxy
SPAWN_TIMEOUT = 180  # seconds for every single-user server to be ready (all start at once)
PULL_TIMEOUT = 120  # seconds for one nbgitpuller pull
HTTP_TIMEOUT = 30  # seconds for one request
STOP_TIMEOUT = 60  # seconds for the hub to stop its servers and its proxy


def _run(command, **kwargs):
    """Run a command, raise with its output when it fails."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def tool(name):
    """Path of a command, also looked for in /usr/sbin and /sbin (useradd lives there; not every PATH has them)."""
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def reachable_by_everyone(path):
    """True when every folder above ``path`` lets other users through (the x bit for others)."""
    path = Path(path).resolve()
    return all(os.stat(folder).st_mode & 0o001 for folder in [*reversed(path.parents), path])


# ---- a Python the learners can run ----------------------------------------------------------------------


class SharedPython:
    """This interpreter where other users can run it: its own prefix when they can enter it; otherwise the prefix
    bind-mounted on ``<folder>/python`` inside a private mount namespace that only the hub and its children see
    (it vanishes with them, even after a kill), or, where mounting is not allowed, hard-linked there (no data is
    copied; deleting the folder removes only the links). ``how`` says which: "direct", "bind mount", "hard links"."""

    def __init__(self, folder):
        self.source = Path(sys.prefix)
        if reachable_by_everyone(self.source):
            self.prefix, self.how = self.source, "direct"
            return
        if sys.prefix != sys.base_prefix:
            raise RuntimeError(f"the hub test runs learners' servers with this Python, but it is a venv in a folder "
                               f"other users cannot enter ({sys.prefix}); run the tests with a Python they can run")
        self.prefix, self.how = Path(folder) / "python", "bind mount"
        self.prefix.mkdir()
        probe = subprocess.run(self.wrap(["true"]), capture_output=True, timeout=30)
        if probe.returncode == 0:
            return
        self.prefix.rmdir()
        self.how = "hard links"
        try:
            _run(["cp", "-al", str(self.source), str(self.prefix)])
        except RuntimeError as error:
            raise RuntimeError(f"other users cannot enter {self.source}, and it could neither be bind-mounted "
                               f"({probe.stderr.decode().strip()}) nor hard-linked into {folder} (that needs "
                               f"the same file system): {error}") from error

    def wrap(self, command):
        """``command`` as it must run to see this Python at ``self.prefix`` (in its own mount namespace if bound)."""
        if self.how != "bind mount":
            return list(command)
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                'mount --bind "$1" "$2" && shift 2 && exec "$@"', "sh", str(self.source), str(self.prefix),
                *command]

    @property
    def executable(self):
        return str(self.prefix / "bin" / Path(sys.executable).name)

    def environment(self):
        """Variables a learner's server needs to run this Python (its shared library is found by RPATH otherwise)."""
        return {"PATH": f"{self.prefix / 'bin'}:/usr/local/bin:/usr/bin:/bin",
                "LD_LIBRARY_PATH": str(self.prefix / "lib")}


# ---- Unix accounts --------------------------------------------------------------------------------------


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def processes_of(uids):
    """{pid: command line} of the live processes owned by any of ``uids``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid in uids:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError):
            continue
    return found


class Accounts:
    """Unix accounts ``vaecls<run>-<n>`` with private homes; ``remove()`` ends their processes and deletes them."""

    def __init__(self, count):
        self.run = secrets.token_hex(2)
        self.names = [f"{PREFIX}{self.run}-{n}" for n in range(1, count + 1)]
        self.made = []


    def create(self):
        for name in self.names:
            _run([tool("useradd"), "--create-home", "--shell", "/bin/bash",
                  "--comment", f"{ACCOUNT_COMMENT}{os.getpid()}", name])
            self.made.append(name)
            home = Path(pwd.getpwnam(name).pw_dir)
            home.chmod(0o700)  # as The Littlest JupyterHub does: learners cannot read each other's homes
        return self

    def uids(self):
        uids = set()
        for name in self.made:
            try:
                uids.add(pwd.getpwnam(name).pw_uid)
            except KeyError:
                pass
        return uids

    def home(self, name):
        return Path(pwd.getpwnam(name).pw_dir)

    def remove(self):
        """Kill what still runs under the accounts, delete them and their homes; returns {pid: command} killed."""
        killed = kill_all(lambda: processes_of(self.uids()))
        for name in list(self.made):
            _delete_account(name)
            self.made.remove(name)
        return killed


def make_folder():
    """A new folder for one classroom, /tmp/vaecls-*, that the learners can enter, marked with this process's id."""
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-"))
    folder.chmod(0o755)
    (folder / "owner.pid").write_text(str(os.getpid()))
    return folder


def remove_stale():
    """Clean up after runs that were killed (their pytest process is gone): end the processes that mention their
    folders, delete the folders and the accounts. Returns what was removed, as words (empty when nothing)."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(owner):
            kill_all(lambda path=str(folder): processes_mentioning(path))
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    for user in pwd.getpwall():
        comment = user.pw_gecos
        ours = user.pw_name.startswith(PREFIX) and comment.startswith(ACCOUNT_COMMENT)
        if ours and not _pid_alive(int(comment[len(ACCOUNT_COMMENT):] or 0)):
            _delete_account(user.pw_name)
            removed.append(f"account {user.pw_name}")
    return removed


def _delete_account(name):
    try:
        home = Path(pwd.getpwnam(name).pw_dir)
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    kill_all(lambda: processes_of({uid}))
    done = subprocess.run([tool("userdel"), "--remove", name], capture_output=True, text=True, timeout=60)
    if done.returncode not in (0, 12):  # 12: the home was removed but there was no mail spool to remove
        raise RuntimeError(f"userdel {name} failed ({done.returncode}): {done.stderr}")
    if home.name == name and home.exists():
        shutil.rmtree(home, ignore_errors=True)


# ---- the course's git repository --------------------------------------------------------------------------


class CourseRepository:
    """A bare repository ``<folder>/vae-course`` holding this checkout's tracked files (as they are on disk), and
    the instructor's clone of it. Learners' git reads it through a config file that marks it safe (git refuses a
    repository owned by another user otherwise; over https, as in a real class, that question does not arise)."""

    BRANCH = "main"

    def __init__(self, folder, source):
        self.folder = Path(folder)
        self.bare = self.folder / "vae-course"
        self.instructor = self.folder / "instructor"
        self.git_config = self.folder / "gitconfig"
        self.source = Path(source)

    def _git(self, *args, cwd=None):
        return _run(["git", "-c", "user.name=Instructor", "-c", "user.email=instructor@vae-course.invalid",
                     "-c", "commit.gpgsign=false", *args], cwd=cwd or self.instructor)

    def publish(self):
        tracked = _run(["git", "-C", str(self.source), "ls-files", "-z"]).split("\0")
        self.instructor.mkdir()
        for name in filter(None, tracked):
            origin = self.source / name
            if origin.is_file():
                (self.instructor / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, self.instructor / name)
        self._git("init", "-q", "-b", self.BRANCH)
        self._git("add", "-A")
        self._git("commit", "-q", "-m", "The course")
        _run(["git", "init", "-q", "--bare", "-b", self.BRANCH, str(self.bare)])
        self._push()
        self.git_config.write_text(f"[safe]\n\tdirectory = {self.bare}\n")
        self.git_config.chmod(0o644)
        return self

    def push_change(self, relative, old, new, message):
        """Replace ``old`` (it must occur once) by ``new`` in one file, commit and push."""
        path = self.instructor / relative
        text = path.read_text()
        assert text.count(old) == 1, f"{relative} should contain {old!r} exactly once"
        path.write_text(text.replace(old, new))
        self._git("commit", "-q", "-am", message)
        self._push()

    def _push(self):
        self._git("push", "-q", str(self.bare), self.BRANCH)
        _run(["chmod", "-R", "a+rX", str(self.bare)])  # learners read it, whatever this process's umask


def nbgitpuller_link(base_url, repo, branch, urlpath):
    """The link a teacher hands out: log in if needed, pull ``repo`` into the home, then open ``urlpath``."""
    query = urllib.parse.urlencode({"repo": repo, "branch": branch, "urlpath": urlpath})
    return f"{base_url}/hub/user-redirect/git-pull?{query}"


# ---- the hub --------------------------------------------------------------------------------------------

CONFIG = """\
# Written by tests/hub_helpers.py for one test run.
import os
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = {bind_url!r}
c.JupyterHub.hub_bind_url = {hub_bind_url!r}
c.ConfigurableHTTPProxy.api_url = {proxy_api_url!r}
c.ConfigurableHTTPProxy.pid_file = {proxy_pid_file!r}
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {cookie_secret_file!r}
c.JupyterHub.pid_file = {pid_file!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}  # the API answers at once; the test polls readiness
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.spawner_class = "localprocess"
c.JupyterHub.services = [{{"name": {service!r}, "api_token": os.environ["VAECLS_ADMIN_TOKEN"]}}]
c.JupyterHub.load_roles = [{{
    "name": {service!r},
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:users"],
    "services": [{service!r}],
}}]
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = {spawn_timeout}
c.Spawner.http_timeout = {spawn_timeout}
_environment = {environment!r}
c.Spawner.environment = dict(
    _environment,
    # the course's package from the learner's pulled copy, which the nbgitpuller link keeps up to date
    PYTHONPATH=lambda spawner: os.path.join(os.path.expanduser("~" + spawner.user.name), {course!r}),
)
"""


class Hub(ManagedServer):
    """A JupyterHub for ``Accounts`` on 127.0.0.1; ``api()`` talks to its REST API with the admin token.

    ``stop()`` sends SIGTERM to the hub alone: it stops every server it spawned and its proxy. It returns {pid:
    command} of what had to be killed afterwards (its own process group, then anything that mentions the
    classroom's folder).
    """

    name = "JupyterHub"
    start_timeout = HUB_START_TIMEOUT
    stop_timeout = STOP_TIMEOUT
    signal_group = False

    def __init__(self, folder, python, repository):
        self.folder = Path(folder) / "hub"
        self.folder.mkdir(mode=0o700)
        self.stray_folder = self.folder.parent
        self.log_path = self.folder / "jupyterhub.log"
        self.token = secrets.token_hex(32)
        self.python = python
        self.repository = repository

    def _write_config(self):
        ports = set()
        while len(ports) < 3:
            ports.add(free_port())
        self.port, hub_port, api_port = ports
        environment = dict(self.python.environment(), GIT_CONFIG_GLOBAL=str(self.repository.git_config),
                           TF_CPP_MIN_LOG_LEVEL="3")
        config = self.folder / "jupyterhub_config.py"
        config.write_text(CONFIG.format(
            bind_url=self.base_url, hub_bind_url=f"http://127.0.0.1:{hub_port}",
            proxy_api_url=f"http://127.0.0.1:{api_port}", proxy_pid_file=str(self.folder / "proxy.pid"),
            db_url=f"sqlite:///{self.folder / 'jupyterhub.sqlite'}",
            cookie_secret_file=str(self.folder / "cookie_secret"), pid_file=str(self.folder / "jupyterhub.pid"),
            service=f"{PREFIX}-admin", python=self.python.executable, spawn_timeout=SPAWN_TIMEOUT,
            environment=environment, course=self.repository.bare.name))
        return config

    def start(self):
        if shutil.which("configurable-http-proxy") is None:
            raise RuntimeError(f"configurable-http-proxy is not on the PATH: {CHP_ADVICE}")
        return super().start()

    def _launch(self):
        config = self._write_config()  # new ports for every attempt
        env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
        env["VAECLS_ADMIN_TOKEN"] = self.token
        return self.python.wrap([sys.executable, "-m", "jupyterhub", "-f", str(config)]), env, self.folder

    def _answers(self):
        return self.api("GET", "/")[0] == 200

    def request(self, method, path, token=None, body=None, timeout=HTTP_TIMEOUT):
        """(status, body bytes) of a request through the proxy; ``token`` defaults to the admin token."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method,
                                         headers={"Authorization": f"token {token or self.token}"})
        try:
            with _NO_REDIRECTS.open(request, timeout=timeout) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def api(self, method, path, body=None, token=None):
        """(status, decoded JSON or None) of a call to /hub/api``path``."""
        status, content = self.request(method, f"/hub/api{path}", token=token, body=body)
        try:
            return status, json.loads(content) if content else None
        except ValueError:
            return status, None

    # -- the classroom

    def create_users(self, names):
        status, answer = self.api("POST", "/users", {"usernames": list(names)})
        assert status == 201, f"creating users answered {status}: {answer}"

    def start_servers(self, names):
        """Ask for every server at once; wait until all are ready. Returns {name: seconds from request to ready}."""
        started = {}
        for name in names:
            started[name] = time.monotonic()
            status, answer = self.api("POST", f"/users/{name}/server")
            assert status in (201, 202), f"starting {name}'s server answered {status}: {answer}"
        ready = {}
        deadline = time.monotonic() + SPAWN_TIMEOUT
        while len(ready) < len(names):
            for name in names:
                if name not in ready and self.server_ready(name):
                    ready[name] = time.monotonic() - started[name]
            if time.monotonic() > deadline:
                missing = sorted(set(names) - set(ready))
                raise AssertionError(f"servers not ready after {SPAWN_TIMEOUT} s: {missing}; "
                                     f"hub log:\n{self.log_tail()}")
            time.sleep(0.25)
        return ready

    def server_ready(self, name):
        status, user = self.api("GET", f"/users/{name}")
        assert status == 200, f"reading user {name} answered {status}: {user}"
        server = (user.get("servers") or {}).get("")
        return bool(server and server.get("ready"))

    def user_token(self, name):
        status, answer = self.api("POST", f"/users/{name}/tokens", {"expires_in": 3600, "note": "hub test"})
        assert status == 201, f"a token for {name} answered {status}: {answer}"
        return answer["token"]

    def pull_course(self, name, token):
        """What the nbgitpuller link does for a learner once at their server: its page (the hub's
        /hub/user-redirect part of the link needs a browser login, not a token), then the pull that the page starts
        (server-sent events). Returns the events; raises when the pull reports an error."""
        repo = str(self.repository.bare)
        link = nbgitpuller_link("", repo, self.repository.BRANCH, "lab")
        status, page = self.request("GET", f"/user/{name}/git-pull?{link.split('?', 1)[1]}", token=token)
        assert status == 200 and b"nbgitpuller" in page, f"{name}'s nbgitpuller page answered {status}"
        query = urllib.parse.urlencode({"repo": repo, "branch": self.repository.BRANCH})
        status, stream = self.request("GET", f"/user/{name}/git-pull/api?{query}", token=token, timeout=PULL_TIMEOUT)
        events = [json.loads(line[len("data: "):]) for line in stream.decode().splitlines()
                  if line.startswith("data: ")]
        phases = [event.get("phase") for event in events]
        assert status == 200 and phases and phases[-1] == "finished", \
            f"{name}'s pull answered {status} with {events[-3:]}"
        return events


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the caller sees the 302 itself


_NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)


# ---- measurements ---------------------------------------------------------------------------------------


def _status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def memory_mb(pid):
    """{"rss", "pss", "peak"} of one process in MB: resident now, proportional share, and peak resident."""
    pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            pss = int(line.split()[1])
    return {"rss": _status_kb(pid, "VmRSS") / 1024, "pss": pss / 1024, "peak": _status_kb(pid, "VmHWM") / 1024}


def cpu_seconds(pid):
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_and_kernels(uid):
    """(pid of the user's single-user server, [pids of its kernels]) among the processes of ``uid``."""
    server, kernels = None, []
    for pid, command in processes_of({uid}).items():
        if "jupyterhub.singleuser" in command:
            server = pid
        elif "ipykernel" in command:
            kernels.append(pid)
    return server, kernels


def module_file_seen_by(pid, module):
    """Where ``import module`` finds the module for process ``pid`` (a kernel): asked of a fresh interpreter with
    the process's executable, user, group, mount namespace, working folder and environment."""
    status = Path(f"/proc/{pid}/status").read_text()
    uid, gid = (re.search(rf"^{field}:\s+(\d+)", status, re.M).group(1) for field in ("Uid", "Gid"))
    environment = [item.decode() for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if item]
    executable = os.readlink(f"/proc/{pid}/exe")
    return _run(["nsenter", f"--target={pid}", "--mount", "--wd", f"--setuid={uid}", f"--setgid={gid}", "--",
                 "env", "-i", *environment, executable, "-c", f"import {module}; print({module}.__file__)"]).strip()


def run_threads(function, arguments):
    """``function(argument)`` for each argument, in parallel threads; returns {argument: result}, re-raises."""
    results, errors = {}, []

    def work(argument):
        try:
            results[argument] = function(argument)
        except BaseException as error:  # noqa: BLE001 -- re-raised below in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=PULL_TIMEOUT + HTTP_TIMEOUT)
    if errors:
        raise errors[0]
    assert len(results) == len(arguments), "a thread did not finish in time"
    return results


CLASS_SIZES = (30, 200)
CLASS_START_SECONDS = 60  # a class that opens lesson 00 together should be running within a minute


def class_sizing(per_learner_mb, hub_mb, cpu_per_learner, sizes=CLASS_SIZES):
    """Lines saying the memory and cores a class needs, from measured figures: every learner's server and
    lesson kernel at once, plus the hub and proxy; cores for everyone to start and run lesson 00 in a minute."""
    lines = []
    for size in sizes:
        memory_gb = (hub_mb + size * per_learner_mb) / 1024
        cores = size * cpu_per_learner / CLASS_START_SECONDS
        lines.append(f"a class of {size}: {memory_gb:.1f} GB for {size} x {per_learner_mb:.0f} MB + "
                     f"{hub_mb:.0f} MB (hub, proxy); {cores:.1f} cores to start everyone and run lesson 00 "
                     f"within {CLASS_START_SECONDS} s ({cpu_per_learner:.1f} CPU-seconds per learner)")
    return lines
