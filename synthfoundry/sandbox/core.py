"""The sandbox: one program per call in an empty folder, behind bubblewrap (or `unshare`), rlimits and a wall clock.

Layers, each one a separate line of defence:
- bubblewrap: no network, no IPC, its own PID namespace, `/` read-only, empty read-only tmpfs over /tmp, /root,
  /home, the project's folder and any configured path; the program's folder (and /dev/shm) the only writable place.
  Programs run in warm workers (worker.py): a bwrap sandbox per concurrency slot, forking per program and reset
  after each. Without bwrap, `unshare -Urnpm` (a fresh one per program) gives the network, PID and mount namespaces
  but no file hiding.
- as root, the program runs as an unprivileged uid (root ignores RLIMIT_NPROC and can read every file);
- a scrubbed environment (no API keys or tokens);
- rlimits on CPU time, address space, processes, file size and open files;
- a wall timeout that kills the whole process group, and output read with a cap.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cache, partial
from pathlib import Path
from typing import Literal

from pydantic import Field

from synthfoundry.errors import UserError
from synthfoundry.sandbox.processes import children, exited, kill_group, read_capped, wait_until_ended
from synthfoundry.sandbox.worker import Worker, WorkerUnavailable
from synthfoundry.strict import Strict

# A language is an interpreter command and the file name the program is written to. The interpreter is found on the
# sandbox's PATH (the system's, e.g. /usr/bin/python3 and its standard library): a root parent runs programs as an
# unprivileged user, who cannot reach an interpreter under /root (pyenv) or a project's venv hidden by a tmpfs.
LANGUAGES: dict[str, tuple[tuple[str, ...], str]] = {"python": (("python3",), "main.py")}
INSIDE = "/tmp/work"  # where the program's folder appears under bubblewrap
WORKER_START_S = 30.0  # a loaded machine may take seconds to start bwrap and the zygote's interpreter
UNPRIVILEGED_UID = 65534  # nobody: what a root parent drops to
INSTALL_HINT = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install -y bubblewrap`; Fedora: `dnf install bubblewrap`; "
    "Arch: `pacman -S bubblewrap`) or enable unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1`"
    " for `unshare -Urn`); or, knowingly, set `sandbox: {isolation: none}` to run model-written code unsandboxed"
)

Status = Literal["passed", "failed", "timeout", "memory", "error", "killed"]


class SandboxUnavailable(UserError):
    """Neither bubblewrap nor user namespaces work here, and the config did not allow running unsandboxed."""


class SandboxConfig(Strict):
    """How programs are isolated and limited; `isolation: auto` takes bwrap, else unshare, else refuses."""

    isolation: Literal["auto", "bwrap", "unshare", "none"] = "auto"
    timeout_s: float = Field(10.0, gt=0, description="wall clock per program; CPU time is limited to it too")
    memory_mb: int = Field(1024, gt=0, description="address space (RLIMIT_AS)")
    max_processes: int = Field(128, gt=0, description="RLIMIT_NPROC, counted per (unprivileged) user")
    max_output_bytes: int = Field(1_000_000, gt=0, description="stdout and stderr each; more kills the program")
    max_file_mb: int = Field(64, gt=0, description="largest file the program may write (under bwrap: all its files)")
    max_open_files: int = Field(256, gt=0)
    concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, gt=0)
    hide: list[str] = Field(default_factory=list, description="more host folders replaced by an empty tmpfs")


@dataclass(frozen=True)
class ExecResult:
    status: Status
    exit_code: int | None  # None when killed by a signal; -N in `signal`
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float  # the program's, and its children's that it waited for
    signal: int | None = None
    reason: str = ""  # why it did not pass, in words (`timeout after 5 s`, `output over 1000000 bytes`)
    recycled: bool = False  # its warm worker could not be reset (timeout, signal, leftovers): replaced by a fresh one

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@cache
def _works(command: tuple[str, ...]) -> bool:
    if not shutil.which(command[0]):
        return False
    try:
        return subprocess.run(command, capture_output=True, timeout=30, **_unprivileged()).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _bwrap_works() -> bool:
    return _works(("bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--dev", "/dev", "true"))


def _unshare_works() -> bool:
    return _works(("unshare", "-Urnpm", "--fork", "--kill-child", "--mount-proc", "true"))


def resolve_isolation(wanted: str) -> str:
    """The isolation to use; SandboxUnavailable when the one asked for (or any, for auto) does not work here."""
    if wanted == "none":
        return "none"
    if wanted in ("auto", "bwrap") and _bwrap_works():
        return "bwrap"
    if wanted in ("auto", "unshare") and _unshare_works():
        return "unshare"
    missing = "bubblewrap (bwrap) does not work here" if wanted == "bwrap" else "no sandbox works here"
    raise SandboxUnavailable(f"sandbox: {missing} (isolation: {wanted}); {INSTALL_HINT}")


def _unprivileged() -> dict:
    """Popen arguments that run the child as the unprivileged uid when the parent is root (no Python in the child:
    a `preexec_fn` is unsafe while other threads run, as they do in the pool)."""
    if os.geteuid() != 0:
        return {}
    return {"user": UNPRIVILEGED_UID, "group": UNPRIVILEGED_UID, "extra_groups": []}


class Sandbox:
    """Runs programs under one config; at most `concurrency` at a time, from threads or from an event loop."""

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        self.isolation = resolve_isolation(self.config.isolation)
        self._slots = threading.BoundedSemaphore(self.config.concurrency)
        self._executor: ThreadPoolExecutor | None = None
        self._hidden = self._hidden_folders()
        self._idle: list[Worker] = []  # warm workers (bwrap) waiting for a program; at most `concurrency` exist
        self._lock = threading.Lock()
        self._pid = os.getpid()
        weakref.finalize(self, _kill_all, self._idle)  # when the sandbox is dropped, or the process exits

    def __reduce__(self):
        """A sandbox travels as its config: a process that receives one (a Dask worker) uses its own pool for that
        config, the same for every task it runs."""
        return (shared_sandbox, (self.config,))

    def describe(self) -> dict:
        """What the manifest records: the isolation in use (`auto` resolved) and the limits."""
        limits = self.config.model_dump(include={"timeout_s", "memory_mb", "max_processes", "concurrency"})
        return {"isolation": self.isolation, **limits}

    def _hidden_folders(self) -> list[str]:
        folders = ["/tmp", "/root", "/home", "/var/tmp", "/run", str(Path.cwd()), *self.config.hide]
        if cache_home := os.environ.get("XDG_CACHE_HOME"):
            folders.append(cache_home)
        # Shallowest first, so a deeper tmpfs is not covered again by a shallower one.
        return sorted({str(Path(f).resolve()) for f in folders if Path(f).is_dir() and Path(f).resolve() != Path("/")},
                      key=lambda f: f.count("/"))

    # -- one program -------------------------------------------------------------------------------------------

    def run(self, program: str, language: str = "python", stdin: str = "",
            files: Mapping[str, str] | None = None) -> ExecResult:
        """Run `program` to completion (or its limits) and say how it ended; never raises for what the program does."""
        if language not in LANGUAGES:
            raise UserError(f"sandbox: unknown language {language!r} (known: {', '.join(LANGUAGES)})")
        interpreter, file_name = LANGUAGES[language]
        for name in files or {}:
            if posixpath.isabs(name) or posixpath.normpath(name).split("/")[0] == "..":
                raise UserError(f"sandbox: file name {name!r} leaves the program's folder")
        files = {**(files or {}), file_name: program, ".stdin": stdin}
        with self._slots:
            if self.isolation == "bwrap":
                return self._run_warm(files, [*interpreter, file_name])
            return self._run_cold(files, [*interpreter, file_name])

    def _run_warm(self, files: dict[str, str], argv: list[str]) -> ExecResult:
        with self._lock:
            if self._pid != os.getpid():  # a forked copy: the idle workers' channels are the parent's
                self._idle.clear()
                self._pid = os.getpid()
            worker = self._idle.pop() if self._idle else None
        try:
            worker = worker or Worker(self._bwrap(), self._environment(INSIDE), _unprivileged(), WORKER_START_S)
        except WorkerUnavailable as error:
            return ExecResult("error", None, "", "", 0.0, 0.0, reason=str(error))
        request = {"files": files, "argv": argv, "env": self._environment(INSIDE)}
        ended = worker.run(request, self.config.timeout_s, self.config.max_output_bytes)
        result = self._result(ended.code, ended.stdout.decode(errors="replace"), ended.stderr.decode(errors="replace"),
                              ended.wall_s, ended.cpu_s, ended.ended_by)
        normal = ended.clean and result.status in ("passed", "failed")
        if normal and not ended.retire:
            with self._lock:
                self._idle.append(worker)
            return result
        worker.kill()
        return result if normal else replace(result, recycled=True)

    def _bwrap(self) -> list[str]:
        """A worker's sandbox: --as-pid-1 makes the zygote its namespace's init (which a program cannot signal, and
        whose end ends every process in it); the hidden folders and /dev are read-only, so the program's folder and
        /dev/shm (both size-capped tmpfs, emptied after each program) are all it can write. The zygote starts under
        the rlimits, which every program it spawns inherits (no exec of `prlimit` per program)."""
        size = str(self.config.max_file_mb << 20)
        command = ["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--new-session", "--as-pid-1",
                   "--dev", "/dev", "--size", size, "--tmpfs", "/dev/shm", "--proc", "/proc"]
        for hidden in self._hidden:
            command += ["--tmpfs", hidden]
        command += ["--size", size, "--tmpfs", INSIDE]
        for folder in ["/dev", *self._hidden]:
            command += ["--remount-ro", folder]
        return [*command, "--chdir", INSIDE, "--", *self._limits()]

    def _run_cold(self, files: dict[str, str], argv: list[str]) -> ExecResult:
        """unshare or none: a fresh process (and namespaces) per program, in a throwaway folder of the host."""
        with tempfile.TemporaryDirectory(prefix="sandbox-") as folder:
            for name, text in files.items():
                path = Path(folder, name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
            if os.geteuid() == 0 and self.isolation != "none":
                for path in [Path(folder), *Path(folder).rglob("*")]:
                    os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            with open(Path(folder, ".stdin"), "rb") as stdin_file:
                return self._execute([*self._wrapper(), *argv], stdin_file, folder, self._environment(folder))

    def _wrapper(self) -> list[str]:
        if self.isolation == "unshare":
            return ["unshare", "-Urnpm", "--fork", "--kill-child", "--mount-proc"]
        return []

    @staticmethod
    def _environment(home: str) -> dict[str, str]:
        """Only what a program needs: nothing from the parent's environment (keys, tokens) gets through."""
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": home, "TMPDIR": home,
                "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYTHONHASHSEED": "0"}

    def _limits(self) -> list[str]:
        """util-linux `prlimit` sets the rlimits, then execs the rest of the command (which inherits them). The CPU
        soft limit sends SIGXCPU (reported as a timeout), the hard one SIGKILL."""
        config = self.config
        cpu = int(config.timeout_s) + 1
        return ["prlimit", f"--cpu={cpu}:{cpu + 1}", f"--as={config.memory_mb << 20}", f"--nproc={config.max_processes}",
                f"--fsize={config.max_file_mb << 20}", f"--nofile={config.max_open_files}", "--core=0", "--"]

    def _execute(self, command: list[str], stdin, cwd: str, env: dict[str, str]) -> ExecResult:
        config = self.config
        started = time.monotonic()
        try:
            process = subprocess.Popen([*self._limits(), *command], stdin=stdin, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, cwd=cwd, env=env, start_new_session=True,
                                       **(_unprivileged() if self.isolation != "none" else {}))
        except OSError as error:
            return ExecResult("error", None, "", "", 0.0, 0.0, reason=f"could not start: {error}")
        streams = [process.stdout.fileno(), process.stderr.fileno()]
        (stdout, stderr), ended_by = read_capped(streams, started, config.timeout_s, config.max_output_bytes)
        while not ended_by and not exited(process.pid):  # the streams closed: the exit is near (or a daemon holds on)
            if time.monotonic() > started + config.timeout_s:
                ended_by = f"timeout after {config.timeout_s:g} s"
            time.sleep(0.001)
        namespace_init = children(process.pid)  # unshare's PID-namespace init, whose exit empties it
        kill_group(process.pid)  # before reaping, so the group's id cannot have been reused
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wait_until_ended(namespace_init)
        process.stdout.close()
        process.stderr.close()
        return self._result(process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"),
                            time.monotonic() - started, usage.ru_utime + usage.ru_stime, ended_by)

    def _result(self, code: int | None, stdout: str, stderr: str, wall: float, cpu: float,
                ended_by: str) -> ExecResult:
        """`code`: -N for signal N, None when the host ended the program (`ended_by` says why)."""
        signal_number = -code if code is not None and code < 0 else None
        exit_code = None if signal_number else code

        def result(status: Status, reason: str = "") -> ExecResult:
            return ExecResult(status, exit_code, stdout, stderr, wall, cpu, signal_number, reason)

        if ended_by.startswith("timeout"):
            return result("timeout", ended_by)
        if ended_by.startswith("output over"):
            return result("killed", ended_by)
        if ended_by:
            return result("error", ended_by)
        if signal_number == signal.SIGXCPU:
            return result("timeout", f"CPU time over {int(self.config.timeout_s) + 1} s")
        if code == 0:
            return result("passed")
        if "MemoryError" in stderr[-2000:] or "Cannot allocate memory" in stderr[-2000:]:
            return result("memory", f"memory over {self.config.memory_mb} MB")
        if signal_number:
            return result("killed", f"killed by {signal.Signals(signal_number).name}")
        return result("failed", f"exit code {code}")

    # -- many programs -----------------------------------------------------------------------------------------

    async def run_async(self, program: str, language: str = "python", stdin: str = "",
                        files: Mapping[str, str] | None = None) -> ExecResult:
        """`run` on the sandbox's own threads: the event loop keeps running while the program does."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="sandbox")
        call = partial(self.run, program, language=language, stdin=stdin, files=files)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def run_many(self, programs: Iterable[str], language: str = "python") -> list[ExecResult]:
        """Results in the order of `programs`, at most `concurrency` running at once."""
        return list(await asyncio.gather(*(self.run_async(program, language) for program in programs)))

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        """Stop the threads and the idle warm workers (a later `run` starts new ones)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        _kill_all(self._idle)


_SHARED: dict[str, Sandbox] = {}
_SHARED_LOCK = threading.Lock()


def shared_sandbox(config: SandboxConfig | None = None) -> Sandbox:
    """This process's sandbox for `config`, for callers handed none (`verify` without a run, verl's reward function):
    its warm workers serve every call instead of one starting and ending with each."""
    config = config or SandboxConfig()
    key = config.model_dump_json()
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = Sandbox(config)
        return _SHARED[key]


def _kill_all(workers: list[Worker]) -> None:
    while workers:
        workers.pop().kill()
