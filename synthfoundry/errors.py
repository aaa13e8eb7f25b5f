"""One error root for the whole library, and one classifier the tasks, the retries and the CLI share.

- `UserError`: something the user must fix (a config, seed, benchmark, place, contract); retrying cannot help. The
  message says what, where and how to fix it, and is shown as one line with no traceback.
- `TransientError`: something that may work on a later attempt (a lock held too long, an object store hiccup).
Anything that is neither is a bug and keeps its traceback.

Who reads what: the flow and the CLI end on any `SynthfoundryError` with its message (flows/generate.py,
synthfoundry/cli/common.py `command`); the tasks' retry condition asks `is_retryable` (tasks/retries.py).

Errors subclass `ValueError`/`RuntimeError` as well where callers (pydantic validators, older code) expect those.
"""

from __future__ import annotations


class SynthfoundryError(Exception):
    """The root of every error the library raises on purpose."""


class UserError(SynthfoundryError):
    """A problem the user can fix; shown as one line, never retried."""


class TransientError(SynthfoundryError):
    """A failure a later attempt may not meet; retried by the tasks' policy."""


def is_user_error(error: BaseException) -> bool:
    """An expected failure that ends a run (or a CLI command) with its message and no traceback."""
    return isinstance(error, UserError)


def is_retryable(error: BaseException) -> bool:
    """Whether a task retry may help: never for user errors; yes for transient ones and for unknown failures."""
    return not is_user_error(error)
