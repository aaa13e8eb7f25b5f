"""Build the configured teacher with its run-wide policy: keys from Prefect Secret blocks, the run's shared
budget, and a Prefect global concurrency limit that keeps every worker together under the provider's quota."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from synthfoundry.config import TeacherConfig
from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import TeacherError
from synthfoundry.teachers.limits import Budget, shared_budget
from synthfoundry.teachers.managed import ManagedTeacher


def _secret(name: str | None) -> str | None:
    if not name:
        return None
    from prefect.blocks.system import Secret

    return Secret.load(name).get()


def run_budget(config: TeacherConfig) -> Budget:
    """The flow run's one budget, shared by all its tasks (threads of this process).

    Each worker process keeps its own: a run split over several processes can spend up to the cap in each.
    Outside a flow run every call gets a fresh budget.
    """
    from prefect.runtime import flow_run

    run_id = flow_run.id
    return shared_budget(str(run_id), config.budget_usd) if run_id else Budget(config.budget_usd)


def _global_rate_limit(name: str) -> Callable[[], Awaitable[None]]:
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.asyncio import rate_limit

    async def throttle() -> None:
        try:
            await rate_limit(name, strict=True)  # a misspelt limit must not silently mean "no limit"
        except ConcurrencySlotAcquisitionError:
            raise TeacherError(
                f"teacher.global_rate_limit {name!r} is not a Prefect global concurrency limit: create it, e.g. "
                f"`prefect gcl create {name} --limit 10 --slot-decay-per-second 10` for 600 requests/min"
            ) from None

    return throttle


def teacher_from_config(config: TeacherConfig) -> ManagedTeacher:
    fallback_secret = config.fallback.api_key_secret if config.fallback else None
    return make_managed_teacher(
        config,
        budget=run_budget(config),
        throttle=_global_rate_limit(config.global_rate_limit) if config.global_rate_limit else None,
        api_keys=(_secret(config.api_key_secret), _secret(fallback_secret)),
    )
