"""When a failed task is worth running again: only when the failure could be transient.

Bad input (seed, config, document, contract errors) and refusals by the provider (401, 403, 404, a missing rate
limit or batch API, an open circuit) are user errors: they fail the same way every time, so retrying them only pays
for the same requests again and delays the message the user needs.
"""

from __future__ import annotations

from typing import Any

from synthfoundry.errors import is_retryable


def transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's `retry_condition_fn`: retry unless the task failed with an error a retry cannot fix."""
    return is_retryable(state.data)
