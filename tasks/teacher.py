"""Build the configured teacher with its run-wide policy: keys from Prefect Secret blocks, the run's one budget cap
(shared by every process of the flow run), and a Prefect global concurrency limit that keeps every worker together
under the provider's quota.

Each stage gets a fresh `Budget`: it counts that stage's spend, returned with the stage's result, while the cap
it reserves against is the run's.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from synthfoundry.filters.base import Ask
from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.base import TeacherError, complete_all
from synthfoundry.teachers.config import TeacherConfig
from synthfoundry.teachers.limits import Budget, Cap, LocalCap, ProviderLimits, SharedCap
from synthfoundry.teachers.managed import ManagedTeacher
from tasks.runs import redact_logs

# The provider quotas of this process: every stage's and every step's teacher in one worker process (the flow's
# threads, or one Dask worker) stays together under teacher.max_in_flight and the rate limits.
WORKER_LIMITS = ProviderLimits()


def _secret(name: str | None) -> str | None:
    if not name:
        return None
    from prefect.blocks.system import Secret

    return Secret.load(name).get()


def secret_exists(name: str) -> bool:
    """Whether a Prefect Secret block of this name exists: for preflight, before any teacher is built."""
    from prefect.blocks.system import Secret

    try:
        Secret.load(name)
    except ValueError:  # "Unable to find block document named ..."
        return False
    return True


def run_cap(config: TeacherConfig) -> Cap:
    """The flow run's cap: kept beside the request cache, so every process of the run reserves against one total.

    Outside a flow run (or with no cap to enforce) it is this process's own.
    """
    from prefect.runtime import flow_run

    run_id = flow_run.id
    if run_id and config.budget_usd is not None and config.cache_path is not None:
        return SharedCap(config.cache_path.parent / "budgets.sqlite", str(run_id), config.budget_usd)
    return LocalCap(config.budget_usd)


def stage_budget(config: TeacherConfig) -> Budget:
    """A fresh account of one stage's spend, against the run's cap."""
    return Budget(config.budget_usd, run_cap(config))


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


def teacher_from_config(config: TeacherConfig, budget: Budget | None = None) -> ManagedTeacher:
    """The managed teacher; from here on, every log handler masks its keys."""
    fallback_secret = config.fallback.api_key_secret if config.fallback else None
    teacher = make_managed_teacher(
        config,
        budget=budget or stage_budget(config),
        throttle=_global_rate_limit(config.global_rate_limit) if config.global_rate_limit else None,
        api_keys=(_secret(config.api_key_secret), _secret(fallback_secret)),
        limits=WORKER_LIMITS,
    )
    redact_logs(teacher.secrets)
    return teacher


def asker(run_teacher: TeacherConfig, budget: Budget) -> Callable[[TeacherConfig | None], Ask]:
    """`ask(config)` for steps that talk to a teacher (None: the run's), each built once, on first use, and all
    counted in `budget`; a step's own teacher (a judge) keeps its request cache beside the run's."""
    built: dict[str, ManagedTeacher] = {}
    cache_path = run_teacher.cache_path

    def ask_for(config: TeacherConfig | None) -> Ask:
        chosen = config or run_teacher
        if chosen.cache_path is None and cache_path is not None:
            chosen = chosen.model_copy(update={"cache_path": cache_path})
        key = json.dumps(chosen.model_dump(mode="json"), sort_keys=True)

        def ask(requests):
            if key not in built:
                built[key] = teacher_from_config(chosen, budget)
            return complete_all(built[key], requests, chosen.max_in_flight).results

        return ask

    return ask_for
