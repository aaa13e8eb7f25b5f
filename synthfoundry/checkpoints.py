"""Crash points for the reliability suite: with SYNTHFOUNDRY_KILL_AT=<name> set, the process group is SIGKILLed
when the run reaches <name> (a stage's end, or a step of publish), so a real run dies at a known moment and nothing
is mocked. Unset, a checkpoint does nothing."""

from __future__ import annotations

import os
import signal

KILL_AT = "SYNTHFOUNDRY_KILL_AT"


def checkpoint(name: str) -> None:
    if os.environ.get(KILL_AT) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)
