"""The warm worker's program, run by the system's `python3 -I -S -c` as PID 1 of a long-lived bubblewrap sandbox.

Standard library only (it runs outside the project's venv). Per request from the host it writes the program's files
into the empty writable folder (its working directory) and spawns the interpreter, which inherits the rlimits the
zygote itself runs under, with the pipes the host sent as stdout and stderr; once the program ends it kills and reaps every other process of the namespace, wipes
the writable folders and answers with the exit code, the CPU time and what, if anything, it could not reset (the host
then replaces the worker). Host gone (its end of the channel closed): it exits, and the namespace dies with it.
"""

import ctypes
import json
import os
import resource
import select
import signal
import socket
import sys
import time

WORK, SHARED_MEMORY = "/tmp/work", "/dev/shm"
STRAGGLER_GRACE_S = 2.0


def receive(channel):
    """One request (8-byte length, JSON) and the two pipe ends that came with it; None when the host is gone."""
    head, fds, _, _ = socket.recv_fds(channel, 8, 2)
    for fd in fds:
        os.set_inheritable(fd, False)  # the program gets them as its stdout and stderr only
    body = bytearray(head)
    size = None
    while size is None or len(body) < 8 + size:
        if size is None and len(body) >= 8:
            size = int.from_bytes(body[:8], "big")
            continue
        chunk = channel.recv(1 << 20)
        if not chunk:
            return None, fds
        body += chunk
    return json.loads(body[8:]), fds


def spawn(request, stdout, stderr):
    """posix_spawn (a vfork: a fork of even this small interpreter costs a few ms more on a VM), in our folder (our
    working directory), with our rlimits (set by `prlimit` when the worker started)."""
    actions = [(os.POSIX_SPAWN_OPEN, 0, ".stdin", os.O_RDONLY, 0), (os.POSIX_SPAWN_DUP2, stdout, 1),
               (os.POSIX_SPAWN_DUP2, stderr, 2)]
    return os.posix_spawnp(request["argv"][0], request["argv"], request["env"], file_actions=actions,
                           setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))


def write_files(files):
    for name, text in files.items():
        path = os.path.join(WORK, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)


def end_stragglers():
    """Kill every process of the namespace but us (PID 1) and reap them all; what is left, in words."""
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        return ""
    deadline = time.monotonic() + STRAGGLER_GRACE_S
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                if time.monotonic() > deadline:
                    return "a process of the program would not end"
                time.sleep(0.001)
        except ChildProcessError:
            return ""


def empty(folder):
    """Remove everything under `folder`, including what the program made unreadable or unwritable."""
    os.chmod(folder, 0o755)
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            empty(entry.path)
            os.rmdir(entry.path)
        else:
            os.unlink(entry.path)


def reset():
    """Make the worker as it was before the program; '' when it is, else why not."""
    left = end_stragglers()
    if left:
        return left
    try:
        for folder in (WORK, SHARED_MEMORY):
            empty(folder)
        for kind in ("shm", "msg", "sem"):
            with open(f"/proc/sysvipc/{kind}") as table:
                if len(table.readlines()) > 1:
                    return f"the program left System V IPC objects ({kind})"
    except (OSError, RecursionError) as error:
        return f"its files could not be removed ({error})"
    return ""


def serve(channel):
    while True:
        request, fds = receive(channel)
        if request is None:
            return
        stdout, stderr = fds
        try:
            write_files(request["files"])
            pid = spawn(request, stdout, stderr)
        except (OSError, ValueError) as error:
            channel.sendall(json.dumps({"error": f"could not start the program: {error}",
                                        "dirty": reset()}).encode() + b"\n")
            continue
        finally:
            os.close(stdout), os.close(stderr)
        ended = os.pidfd_open(pid)
        if ended not in select.select([channel, ended], [], [])[0]:
            return  # the host closed the channel while the program ran
        os.close(ended)
        _, status, usage = os.wait4(pid, 0)
        answer = {"code": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime}
        channel.sendall(json.dumps({**answer, "dirty": reset(), "retire": tired()}).encode() + b"\n")


def tired():
    """Whether we used half our own CPU limit (the programs' limit, which we set ourselves under): time to retire."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime > resource.getrlimit(resource.RLIMIT_CPU)[0] / 2


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # PID 1 gets only signals it handles: the program can send none
    ctypes.CDLL(None).prctl(4, 0)  # PR_SET_DUMPABLE 0: a program (the same uid) can neither trace nor read us
    channel = socket.socket(fileno=int(sys.argv[1]))
    channel.set_inheritable(False)  # bwrap passed it open across exec: the programs must not get it
    channel.sendall(b"ready\n")
    serve(channel)
