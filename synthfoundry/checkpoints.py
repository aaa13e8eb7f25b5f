"""Crash points for the reliability suite, as values. A step calls its `CrashPoint` with its name when it ends (a
stage, or a step of publish); the default one does nothing, `CrashPoint("publish-tag")` SIGKILLs the process group
there, so a real run dies at a known moment and nothing is mocked. What runs the steps is handed one (the store's
publish, the tasks); the library reads no environment for it."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class CrashPoint:
    at: str | None = None  # the step to die at; None: never

    def __call__(self, name: str) -> None:
        if name == self.at:
            os.killpg(os.getpgrp(), signal.SIGKILL)


NEVER = CrashPoint()
