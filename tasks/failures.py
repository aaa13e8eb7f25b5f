"""Expected failures (`SynthfoundryError`, see synthfoundry/errors.py) end a run Failed with one message and no
traceback: a config or input the user must fix, a run preflight refused, a contract the rows broke, a publish that
could not complete, a teacher refusing or a dead endpoint. Anything else is a bug and keeps Prefect's traceback.

Prefect logs a traceback for an exception a flow raises, and for one a task raises when it has no retry left
(prefect/task_engine.py `handle_retry`); a flow that returns a `Failed` state ends Failed without one
(prefect/states.py `return_value_to_state`). So the tasks that decide a run's fate return their verdict, tasks
with retries decline to retry these errors (tasks/retries.py), and the flow turns them into its Failed state. The
error travels as the state's data: a caller of the flow in-process still gets it raised, a caller with
`return_state=True` reads the message.

Prefect's engine then reports the end twice more: `Finished in state Failed('…')`, the message as a Python repr
(literal `\n`s), and, in a worker's process (which asks the engine for the result), "Engine execution exited with
unexpected exception" with a 40-50-line traceback of the very error. `RunEndLogs` rewrites the first and drops the
second, so a failed run's logs end on its one message.
"""

from __future__ import annotations

import ast
import logging
import re

from prefect import get_run_logger
from prefect.states import Failed, State

from synthfoundry.errors import SynthfoundryError, UserError


class RunStopped(UserError, RuntimeError):
    """The run was stopped on purpose (preflight refused it, its contract failed); nothing was published."""


class PreflightFailed(RunStopped):
    """The run config cannot work as it stands; nothing was sent or published. Retrying cannot fix it."""


class ContractFailed(RunStopped):
    """The candidate version broke its data contract; nothing was published."""


class BackfillIncomplete(RunStopped):
    """Some shards of a backfill did not complete; running the backfill again finishes only those."""


def failed(error: BaseException) -> State:
    """The Failed state of a flow run stopped by an expected error, its message logged as the run's last word."""
    get_run_logger().error(str(error))
    return Failed(message=str(error), data=error)


class RunEndLogs(logging.Filter):
    """On the flow-run logger the engine writes to: drops a record carrying an expected error (its message was
    logged by `failed`), and turns `Finished in state Completed('…')` into `Finished in state Completed: …` with real
    newlines, or into plain `Finished in state Failed` when that message was just logged as the run's error."""

    FINISHED = re.compile(r"Finished in state ([\w ]+)\((.+)\)", re.DOTALL)

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[str] = []  # the last few error messages logged, to leave out of the final line

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], SynthfoundryError):
            return False
        text = record.getMessage()
        if record.levelno >= logging.ERROR and not record.exc_info:
            self.errors = [*self.errors[-4:], text]
        found = self.FINISHED.fullmatch(text)
        if found:
            state, message = found[1], _first_argument(found[2])
            record.msg, record.args = f"Finished in state {state}", ()
            if message not in self.errors:
                record.msg += f": {message}"
        return True


def _first_argument(arguments: str) -> str:
    """The message in `State.__str__`'s `'message', type=COMPLETED` (as it was, should it not parse)."""
    try:
        return str(ast.parse(f"f({arguments})", mode="eval").body.args[0].value)
    except (SyntaxError, AttributeError, IndexError):
        return arguments


def quiet_run_end() -> None:
    """Install `RunEndLogs` on the flow-run logger of this process (once)."""
    logger = logging.getLogger("prefect.flow_runs")
    if not any(isinstance(f, RunEndLogs) for f in logger.filters):
        logger.addFilter(RunEndLogs())
