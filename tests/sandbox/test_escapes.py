"""Hostile programs, each one contained and reported; the host unharmed and the next program runs normally."""

import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

from synthfoundry.sandbox import Sandbox, SandboxConfig, SandboxUnavailable, core
from synthfoundry.sandbox.processes import children

LIMITS = SandboxConfig(isolation="bwrap", timeout_s=2, memory_mb=256, max_processes=32, max_output_bytes=100_000)


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox(LIMITS)
    yield box
    box.close()


@pytest.fixture(autouse=True)
def next_program_runs(sandbox):
    yield
    after = sandbox.run("print(6 * 7)")
    assert (after.status, after.stdout) == ("passed", "42\n")


def test_no_network_to_the_hosts_loopback_nor_names(sandbox):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        port = server.getsockname()[1]
        result = sandbox.run(f"""
import socket
for attempt in (lambda: socket.create_connection(("127.0.0.1", {port}), timeout=1),
                lambda: socket.getaddrinfo("pypi.org", 443)):
    try:
        attempt()
        print("LEAK")
    except OSError as error:
        print("blocked", type(error).__name__)
""")
        with pytest.raises(TimeoutError):
            server.accept()
    assert result.status == "passed"
    assert result.stdout.count("blocked") == 2 and "LEAK" not in result.stdout


def test_secrets_out_of_reach(sandbox, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-parent-env")
    cache = Path.cwd() / f".sandbox-canary-{uuid.uuid4().hex}.sqlite"  # the project's folder, where caches live
    cache.write_text("cached-answer-secret")
    try:
        result = sandbox.run(f"""
import os
from pathlib import Path
print(dict(os.environ))
for path in ({str(Path.home() / ".ssh")!r}, {str(Path.home())!r}):
    try:
        print("LISTED", path, os.listdir(path))
    except OSError as error:
        print("blocked", error)
for path in ({str(cache)!r}, "/proc/1/environ", "/proc/{os.getpid()}/environ"):
    try:
        print("READ", path, Path(path).read_bytes())
    except OSError as error:
        print("blocked", error)
""")
    finally:
        cache.unlink()
    assert result.status == "passed", result.stderr
    assert "cached-answer-secret" not in result.stdout and "sk-canary" not in result.stdout
    assert result.stdout.count("blocked") >= 3
    assert "LISTED" not in result.stdout or all(line.endswith("[]") for line in result.stdout.splitlines()
                                                if line.startswith("LISTED"))


def test_writes_stay_in_its_folder(sandbox, tmp_path):
    outside = [Path.cwd() / f".sandbox-written-{uuid.uuid4().hex}", tmp_path / "written", Path("/etc/sandbox-written")]
    result = sandbox.run(f"""
from pathlib import Path
Path("mine.txt").write_text("ok")
print(Path("mine.txt").read_text())
for path in {[str(path) for path in outside]!r}:
    try:
        Path(path).write_text("escaped")
        print("wrote", path)
    except OSError as error:
        print("blocked", error)
""")
    assert result.status == "passed" and result.stdout.startswith("ok\n")
    assert not any(path.exists() for path in outside)


def test_fork_bomb(sandbox):
    result = sandbox.run("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")
    assert result.status == "timeout"
    assert not _processes_of(core.UNPRIVILEGED_UID if os.geteuid() == 0 else os.geteuid())


def test_memory_bomb(sandbox):
    result = sandbox.run("hoard = []\nwhile True:\n    hoard.append(bytearray(10 << 20))\n")
    assert (result.status, result.reason) == ("memory", "memory over 256 MB")


@pytest.mark.parametrize("program", ["while True:\n    pass\n", "import time\ntime.sleep(60)\n"])
def test_cpu_loop_and_sleep_end_at_the_timeout(sandbox, program):
    result = sandbox.run(program)
    assert (result.status, result.reason) == ("timeout", "timeout after 2 s")
    assert 2 <= result.wall_s < 3.5


def test_a_gigabyte_of_stdout_is_cut(sandbox):
    started = time.monotonic()
    result = sandbox.run("import sys\nfor _ in range(1024):\n    sys.stdout.write('x' * (1 << 20))\n")
    assert (result.status, result.reason) == ("killed", "output over 100000 bytes")
    assert len(result.stdout) == 100_000 and time.monotonic() - started < 2


def test_killing_its_parent_harms_no_one(sandbox):
    result = sandbox.run(f"""
import os, signal
for pid in (os.getppid(), 1, {os.getpid()}):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as error:
        print("blocked", error)
""")
    assert result.status in ("passed", "killed", "failed")  # reported, whatever became of its own namespace


def test_no_process_left_behind(sandbox):
    canary = f"canary-{uuid.uuid4().hex}"
    result = sandbox.run(f"""
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("python3", ["python3", "-c", "import time; time.sleep(30)", "{canary}"])
    os._exit(0)
print("parent leaves")
""")
    assert result.status in ("passed", "timeout")
    time.sleep(0.2)
    assert not [pid for pid in _pids() if canary.encode() in _read(f"/proc/{pid}/cmdline")]


def test_nothing_one_program_leaves_reaches_the_next_in_the_same_worker():
    """A warm worker runs its programs one after another: files (even unreadable ones), shared memory and a
    detached background process of the first are gone when the second starts, and no timeout was needed."""
    with Sandbox(LIMITS.model_copy(update={"concurrency": 1})) as sandbox:
        first = sandbox.run("""
import os
os.makedirs("locked/deeper")
open("locked/deeper/secret.txt", "w").write("left")
open("/dev/shm/shared", "w").write("left")
os.chmod("locked", 0)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        import time
        while True:
            time.sleep(0.01)
    os._exit(0)
print(os.getpid())
""")
        second = sandbox.run("""
import os
print(os.getpid())
print(sorted(os.listdir(".")), os.listdir("/dev/shm"))
print(sorted(int(pid) for pid in os.listdir("/proc") if pid.isdigit()))
""")
    assert (first.status, first.recycled, second.status, second.recycled) == ("passed", False, "passed", False)
    assert first.wall_s < 1
    first_pid, second_pid = int(first.stdout), int(second.stdout.split()[0])
    assert second_pid > first_pid  # the same worker: its PID namespace went on counting
    assert second.stdout.splitlines()[1:] == ["['.stdin', 'main.py'] []", f"[1, {second_pid}]"]


def test_a_program_cannot_kill_its_worker_and_a_worker_that_dies_is_replaced():
    with Sandbox(LIMITS.model_copy(update={"concurrency": 1})) as sandbox:
        attack = sandbox.run("""
import ctypes, os, signal
for sent in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
    os.kill(os.getppid(), sent)
libc = ctypes.CDLL(None, use_errno=True)
print("traced" if libc.ptrace(16, os.getppid(), 0, 0) == 0 else "not traced")  # PTRACE_ATTACH
try:
    print(os.listdir(f"/proc/{os.getppid()}/fd"))
except PermissionError:
    print("its files are out of reach")
""")
        assert (attack.status, attack.recycled) == ("passed", False)
        assert attack.stdout == "not traced\nits files are out of reach\n"
        [worker] = sandbox._idle
        zygote = children(worker.process.pid)[0]
        threading.Timer(0.3, os.kill, (zygote, signal.SIGKILL)).start()  # the worker dies mid-program
        died = sandbox.run("import time\ntime.sleep(5)\n")
        assert (died.status, died.reason, died.recycled) == (
            "error", "the sandbox's worker died during the program", True)
        assert sandbox.run("print(6 * 7)").stdout == "42\n"


def test_deep_recursion(sandbox):
    result = sandbox.run("import sys\nsys.setrecursionlimit(10**7)\ndef down(n):\n    return down(n + 1)\ndown(0)\n")
    assert result.status in ("failed", "killed", "memory", "timeout")


def test_unshare_cuts_the_network_and_the_environment(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-canary-unshare")
    result = Sandbox(LIMITS.model_copy(update={"isolation": "unshare"})).run(
        "import os, socket\nprint(dict(os.environ))\nsocket.getaddrinfo('pypi.org', 443)\n")
    assert result.status == "failed" and "gaierror" in result.stderr and "canary" not in result.stdout


def test_refuses_without_a_sandbox_and_says_how_to_get_one(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    core._works.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="apt-get install -y bubblewrap"):
            Sandbox(SandboxConfig())
        assert Sandbox(SandboxConfig(isolation="none")).isolation == "none"
    finally:
        core._works.cache_clear()


def _pids() -> list[str]:
    return [name for name in os.listdir("/proc") if name.isdigit()]


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def _processes_of(uid: int) -> list[str]:
    """Sandboxed programs (`python3 main.py`) of `uid` still alive."""
    return [pid for pid in _pids() if f"\t{uid}\t".encode() in _read(f"/proc/{pid}/status")
            and _read(f"/proc/{pid}/cmdline") == b"python3\0main.py\0"]
