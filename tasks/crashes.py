"""The crash point a test injects into a run: `SYNTHFOUNDRY_KILL_AT=<step>` in the run's environment, read here at
the edge and handed to the library as a value (synthfoundry/checkpoints.py)."""

from __future__ import annotations

import os

from synthfoundry.checkpoints import CrashPoint

KILL_AT = "SYNTHFOUNDRY_KILL_AT"


def injected() -> CrashPoint:
    return CrashPoint(os.environ.get(KILL_AT))


def checkpoint(name: str) -> None:
    """The end of a task's step: where the injected crash point, if it names this step, kills the run."""
    injected()(name)
