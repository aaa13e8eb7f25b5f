import os
import time

import pytest

from synthfoundry.sandbox.core import Sandbox, SandboxConfig, _unprivileged, shared_sandbox
from synthfoundry.sandbox.worker import Worker, WorkerUnavailable


def test_a_sandbox_that_does_not_start_says_why():
    environment = Sandbox._environment("/tmp")
    with pytest.raises(WorkerUnavailable, match="could not start the sandbox: bwrap: Unknown option --no-such"):
        Worker(["bwrap", "--no-such-option", "--"], environment, _unprivileged(), 10)
    started = time.monotonic()
    with pytest.raises(WorkerUnavailable, match="could not start the sandbox: its worker did not start"):
        Worker(["python3", "-c", "import time; time.sleep(30)", "--"], environment, _unprivileged(), 0.5)
    assert time.monotonic() - started < 5


def test_workers_end_with_the_sandbox():
    sandbox = Sandbox(SandboxConfig(isolation="bwrap", concurrency=2))
    assert sandbox.run("print(1)").stdout == "1\n"
    [worker] = sandbox._idle
    sandbox.close()
    assert worker.process.poll() is not None and not sandbox._idle
    assert sandbox.run("print(2)").stdout == "2\n"  # a closed sandbox starts new workers when used again
    [worker] = sandbox._idle
    del sandbox
    assert worker.process.poll() is not None


def test_a_forked_process_starts_its_own_workers():
    with Sandbox(SandboxConfig(isolation="bwrap", concurrency=1)) as sandbox:
        assert sandbox.run("print(1)").stdout == "1\n"
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child inherits the idle worker's channel: it must not use it
            os.write(write, sandbox.run("print(2)").stdout.encode())
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 100) == b"2\n"
        assert sandbox.run("print(3)").stdout == "3\n"  # the parent's worker still serves the parent


def test_callers_without_a_sandbox_share_one_per_config():
    first = shared_sandbox(SandboxConfig(timeout_s=3))
    assert shared_sandbox(SandboxConfig(timeout_s=3)) is first and shared_sandbox(SandboxConfig(timeout_s=4)) is not first
