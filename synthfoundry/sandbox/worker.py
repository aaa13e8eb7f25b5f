"""A warm worker: one long-lived bubblewrap sandbox whose PID 1 is the zygote (zygote.py), one program at a time.

Starting bwrap and an interpreter costs about as much as a short program; a worker pays it once and forks per
program. The host keeps the wall clock and the output caps. The worker serves the next program only after the last
one exited by itself and the zygote reset the sandbox (no process left, writable folders empty); after anything
else (timeout, output cap, a signal, the zygote gone, a reset that failed) it is killed with its namespace and the
pool starts a fresh one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from synthfoundry.errors import TransientError
from synthfoundry.sandbox.processes import children, read_capped, wait_until_ended

ZYGOTE = Path(__file__).with_name("zygote.py").read_text()


class WorkerUnavailable(TransientError):
    """The sandbox did not start (bwrap refused, or the zygote did not answer)."""


@dataclass(frozen=True)
class Ended:
    code: int | None  # the exit code, -N for signal N; None when the program did not end by itself
    wall_s: float
    cpu_s: float
    stdout: bytes
    stderr: bytes
    ended_by: str  # why the host stopped it (`timeout after 2 s`, `output over N bytes`) or why the worker failed
    clean: bool  # the program exited by itself and the zygote reset the sandbox
    retire: bool = False  # clean, but the zygote used half its own CPU limit: a fresh worker takes over


class Worker:
    def __init__(self, command: list[str], env: dict[str, str], popen_options: dict, start_timeout_s: float):
        """`command`: the bwrap invocation up to `--`; the zygote follows it."""
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [*command, "python3", "-I", "-S", "-c", ZYGOTE, str(theirs.fileno())], pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd="/",
                start_new_session=True, **popen_options)
        except OSError as error:
            ours.close()
            raise WorkerUnavailable(f"could not start the sandbox: {error}") from None
        finally:
            theirs.close()
        self.channel = ours
        self._received = b""
        self._owner = os.getpid()  # a forked copy of the host must not end the host's workers
        if self._line(time.monotonic() + start_timeout_s) != b"ready":
            why = self.kill() or "its worker did not start"
            raise WorkerUnavailable(f"could not start the sandbox: {why.splitlines()[0]}")

    def run(self, request: dict, timeout_s: float, cap: int) -> Ended:
        """Send one program (its files, argv, environment, rlimits) and collect how it ended."""
        started = time.monotonic()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        body = json.dumps(request).encode()
        try:
            socket.send_fds(self.channel, [len(body).to_bytes(8, "big")], [out_write, err_write])
            self.channel.sendall(body)
        except OSError as error:
            os.close(out_read), os.close(err_read)
            return Ended(None, 0.0, 0.0, b"", b"", f"the sandbox's worker was gone ({error})", False)
        finally:
            os.close(out_write), os.close(err_write)
        try:
            (stdout, stderr), ended_by = read_capped([out_read, err_read], started, timeout_s, cap)
        finally:
            os.close(out_read), os.close(err_read)
        answer = None if ended_by else self._line(started + timeout_s)
        wall = time.monotonic() - started
        if answer is None:
            ended_by = ended_by or (f"timeout after {timeout_s:g} s" if wall >= timeout_s
                                    else "the sandbox's worker died during the program")
            return Ended(None, wall, 0.0, bytes(stdout), bytes(stderr), ended_by, False)
        reply = json.loads(answer)
        if "error" in reply:
            return Ended(None, wall, 0.0, b"", b"", reply["error"], not reply["dirty"])
        return Ended(reply["code"], wall, reply["cpu"], bytes(stdout), bytes(stderr), "", not reply["dirty"],
                     reply["retire"])

    def _line(self, deadline: float) -> bytes | None:
        """The zygote's next line; None when it closed the channel or did not answer before `deadline`."""
        while b"\n" not in self._received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.channel.settimeout(remaining)
            try:
                chunk = self.channel.recv(65536)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None
            self._received += chunk
        line, _, self._received = self._received.partition(b"\n")
        return line

    def kill(self) -> str:
        """End the worker and everything in its namespace; return once they are gone, with what bwrap or the zygote
        wrote to stderr (why it did not start)."""
        if os.getpid() != self._owner:
            return ""
        namespace_init = children(self.process.pid)
        for pid in namespace_init:
            try:
                os.kill(pid, signal.SIGKILL)  # PID 1 of the namespace: the kernel kills every process in it
            except ProcessLookupError:
                pass
        if not namespace_init:  # bwrap itself is stuck, or never made the namespace
            self.process.kill()
        self.channel.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        wait_until_ended(namespace_init)
        os.set_blocking(self.process.stderr.fileno(), False)
        with self.process.stderr as stderr:
            return (stderr.read() or b"").decode(errors="replace").strip()
