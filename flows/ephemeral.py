"""Runs started without `PREFECT_API_URL` (`python -m flows.generate`, `synthfoundry run`) each start Prefect's
ephemeral API server on the one SQLite database of `PREFECT_HOME`. Two started together contend for it (one waits on
the other's migrations and writes), and Prefect's default 20 s start-up wait ends the later one with a traceback
before anything ran. `ephemeral_api` waits longer and, if the server still does not come up, says what to do."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from synthfoundry.errors import TransientError

STARTUP_SECONDS = 120
SETTING = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"


@contextmanager
def ephemeral_api() -> Iterator[None]:
    """Wait up to STARTUP_SECONDS for an ephemeral server (unless the environment sets SETTING), and end a start that
    still times out with one message instead of Prefect's traceback; with `PREFECT_API_URL` set, nothing changes."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    updates = {} if SETTING in os.environ else {PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: STARTUP_SECONDS}
    with temporary_settings(updates=updates):
        waited = PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()
        try:
            yield
        except RuntimeError as error:
            if "ephemeral Prefect API server" not in str(error):
                raise
            raise TransientError(
                f"Prefect's temporary API server did not start within {waited} s (nothing ran; another run starting "
                f"at the same time may hold its database): run again, set {SETTING} higher, or start one server for "
                "all runs with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
            ) from None
