"""A crash point for the reliability suite: with SYNTHFOUNDRY_KILL_AT=<name> set, the run's process group is
SIGKILLed when a task reaches <name>, so a real run dies at a known moment (nothing is mocked). Unset, it does
nothing."""

from __future__ import annotations

import os
import signal

KILL_AT = "SYNTHFOUNDRY_KILL_AT"


def checkpoint(name: str) -> None:
    if os.environ.get(KILL_AT) == name:
        os.killpg(os.getpgrp(), signal.SIGKILL)
