"""Process plumbing shared by the warm workers and the per-program path: capped output, ending a namespace."""

from __future__ import annotations

import os
import selectors
import signal
import time
from pathlib import Path


def read_capped(fds: list[int], started: float, timeout_s: float, cap: int) -> tuple[list[bytearray], str]:
    """Read each stream until every writer has closed it; stop early at the wall timeout or when one passes `cap`
    bytes. Returns what was read (each cut to `cap`) and why it stopped early ('' when the streams ended)."""
    output = {fd: bytearray() for fd in fds}
    ended_by = ""
    with selectors.DefaultSelector() as selector:
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map() and not ended_by:
            remaining = started + timeout_s - time.monotonic()
            if remaining <= 0:
                ended_by = f"timeout after {timeout_s:g} s"
                break
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                output[key.fd] += chunk
                if len(output[key.fd]) > cap:
                    ended_by = f"output over {cap} bytes"
                    break
    return [buffer[:cap] for buffer in output.values()], ended_by


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def exited(pid: int) -> bool:
    """Whether the child has ended, leaving it unreaped (its rusage and group id still ours)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_until_ended(pids: list[int], limit_s: float = 10.0) -> None:
    """Return once each process is gone or a zombie: a namespace's init ends only after every process in it, so
    nothing a program started outlives the call (nor holds a process slot the next program needs)."""
    deadline = time.monotonic() + limit_s
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.005)
