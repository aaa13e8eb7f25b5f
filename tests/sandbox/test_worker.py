import time

import pytest

from synthfoundry.sandbox.core import Sandbox, SandboxConfig, _unprivileged
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
