"""Expected failures (`SynthfoundryError`, see synthfoundry/errors.py) end a run Failed with one message and no
traceback: a config or input the user must fix, a run preflight refused, a contract the rows broke, a publish that
could not complete, a teacher refusing or a dead endpoint. Anything else is a bug and keeps Prefect's traceback.

Prefect logs a traceback for an exception a flow raises, and for one a task raises when it has no retry left
(prefect/task_engine.py `handle_retry`); a flow that returns a `Failed` state ends Failed without one
(prefect/states.py `return_value_to_state`). So the tasks that decide a run's fate return their verdict, tasks
with retries decline to retry these errors (tasks/retries.py), and the flow turns them into its Failed state. The
error travels as the state's data: a caller of the flow in-process still gets it raised, a caller with
`return_state=True` reads the message.
"""

from __future__ import annotations

from prefect import get_run_logger
from prefect.states import Failed, State

from synthfoundry.errors import UserError


class RunStopped(UserError, RuntimeError):
    """The run was stopped on purpose (preflight refused it, its contract failed); nothing was published."""


class PreflightFailed(RunStopped):
    """The run config cannot work as it stands; nothing was sent or published. Retrying cannot fix it."""


class ContractFailed(RunStopped):
    """The candidate version broke its data contract; nothing was published."""


def failed(error: BaseException) -> State:
    """The Failed state of a flow run stopped by an expected error, its message logged as the run's last word."""
    get_run_logger().error(str(error))
    return Failed(message=str(error), data=error)
