"""What a run shows in the Prefect UI while it works: a progress artifact per fanned-out stage, an INFO line per
batch (rows answered and dropped, spend so far, share of the budget used), one WARNING and one event when the
budget runs out, and at the end a table of kept/dropped rows per stage and reason."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
from prefect import Task, get_run_logger
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.futures import PrefectFutureList, as_completed
from prefect.task_runners import TaskRunner

from synthfoundry.ledger import kinds
from synthfoundry.spend import Spend
from synthfoundry.stages import StageResult, combine
from synthfoundry.teachers.base import Ask
from tasks.events import emit_dataset_event


def artifact_key(dataset: str, what: str) -> str:
    """Artifact keys are per dataset (lowercase letters, digits and dashes), so datasets never share one."""
    return f"{dataset}-{what}".lower().replace("_", "-")


@dataclass(frozen=True)
class Step:
    """A stage a streamed batch goes through: its task, the parameter that takes the batch, the others."""

    stage: str
    task: Task
    frame: str
    parameters: dict


@dataclass
class RunMonitor:
    dataset: str
    budget_usd: float | None
    spend: Spend = field(default_factory=Spend)

    def record(self, result: StageResult) -> StageResult:
        """Count a stage that ran as one task (synthesis)."""
        self._add(result.spend, result.stage)
        return result

    def gather(self, futures: PrefectFutureList, stage: str) -> StageResult:
        """Wait for a stage's batches as they finish, reporting each; then the stage's merged result.

        The batches keep their submission order in the result, so a run is reproducible whichever ends first.
        """
        progress = create_progress_artifact(
            0.0, key=artifact_key(self.dataset, f"{stage}-progress"), description=f"{self.dataset}: {stage}"
        )
        order = {future: index for index, future in enumerate(futures)}
        results: dict[int, StageResult] = {}
        started, rows = time.monotonic(), 0
        for future in as_completed(list(futures)):
            result = future.result()
            results[order[future]] = result
            rows += result.kept.height + result.dropped.height
            self._batch_done(progress, stage, result, len(results), len(futures), rows, started)
        return combine([results[index] for index in range(len(futures))])

    def stream(
        self, runner: TaskRunner, parts: list[pl.DataFrame], steps: list[Step], ahead: int
    ) -> list[StageResult]:
        """Each batch through `steps` in order, a step as soon as that batch's previous one is done, so later
        stages work on early batches while later batches are still being distilled; then each stage's merged
        result, its batches in submission order (the rows, decisions and ids of running the stages one by one).

        At most `ahead` batches are in the first step at once (enough to keep the teacher's in-flight limit
        full): the batches behind them wait in the flow, not in the runner's queue ahead of later stages."""
        finished: queue.Queue = queue.Queue()
        results: list[list[StageResult | None]] = [[None] * len(parts) for _ in steps]
        progress = [create_progress_artifact(
            0.0, key=artifact_key(self.dataset, f"{step.stage}-progress"), description=f"{self.dataset}: {step.stage}"
        ) for step in steps]

        def submit(at: int, batch: int, frame: pl.DataFrame) -> None:
            future = runner.submit(steps[at].task, {steps[at].frame: frame, **steps[at].parameters})
            future.add_done_callback(lambda done: finished.put((at, batch, done)))

        rows, started = [0] * len(steps), time.monotonic()
        waiting = list(enumerate(parts))[::-1]
        for _ in range(min(ahead, len(parts))):
            submit(0, *waiting.pop())
        for _ in range(len(parts) * len(steps)):
            at, batch, future = finished.get()
            result = results[at][batch] = future.result()
            rows[at] += result.kept.height + result.dropped.height
            count = sum(r is not None for r in results[at])
            self._batch_done(progress[at], steps[at].stage, result, count, len(parts), rows[at], started)
            if at + 1 < len(steps):
                submit(at + 1, batch, result.kept)
            if at == 0 and waiting:
                submit(0, *waiting.pop())
        return [combine(stage) for stage in results]

    def _batch_done(self, progress, stage: str, result: StageResult, done: int, total: int, rows: int,
                    started: float) -> None:
        """Count a finished batch of `stage` and report it: the progress artifact (rows done, rows/s, spend) and a
        log line."""
        self._add(result.spend, stage)
        update_progress_artifact(progress, 100 * done / total, description=(
            f"{self.dataset}: {stage}: {rows} rows done in {done} of {total} batches, "
            f"{rows / max(time.monotonic() - started, 1e-3):.1f} rows/s; ${self.spend.spent_usd:.4f} spent"
        ))
        get_run_logger().info("%s: batch %d/%d: %d kept, %d dropped; %s",
                              stage, done, total, result.kept.height, result.dropped.height, self.spent())

    def spent(self) -> str:
        line = f"${self.spend.spent_usd:.4f} spent so far ({self.spend.sent} requests sent, {self.spend.cached} cached)"
        if self.budget_usd:
            line += f", {100 * self.spend.spent_usd / self.budget_usd:.0f}% of the ${self.budget_usd} budget"
        return line

    def _add(self, spend: Spend, stage: str) -> None:
        warned = self.spend.exhausted
        self.spend = self.spend + spend
        if self.spend.exhausted and not warned:
            get_run_logger().warning(
                "%s: the budget of $%s is used up (%s): requests not sent leave their rows in the ledger as "
                "'budget exhausted'; raise teacher.budget_usd to make more",
                stage, self.budget_usd, self.spent(),
            )
            emit_dataset_event("budget-exhausted", self.dataset, {
                "stage": stage, "budget_usd": self.budget_usd, "spent_usd": round(self.spend.spent_usd, 6),
            })


class AskProgress:
    """Progress of a stage that runs as one task and asks in rounds (synthesis): requests answered against the
    forecast's upper bound `expected` (a recipe that stops early, at its target, jumps to 100 % at the end)."""

    def __init__(self, dataset: str, stage: str, expected: int, spent: Callable[[], Spend]) -> None:
        self.dataset, self.stage, self.expected, self.spent = dataset, stage, expected, spent
        self.answered, self.started = 0, time.monotonic()
        self.artifact = create_progress_artifact(
            0.0, key=artifact_key(dataset, f"{stage}-progress"), description=self._describe()
        )

    def counting(self, ask: Ask) -> Ask:
        """`ask`, updating the progress after each round of requests."""

        def counted(requests: list) -> list:
            answers = ask(requests)
            self.answered += len(requests)
            update_progress_artifact(self.artifact, min(99.0, 100 * self.answered / max(self.expected, 1)),
                                     description=self._describe())
            return answers

        return counted

    def done(self) -> None:
        update_progress_artifact(self.artifact, 100.0, description=self._describe())

    def _describe(self) -> str:
        rate = self.answered / max(time.monotonic() - self.started, 1e-3)
        return (f"{self.dataset}: {self.stage}: {self.answered} of at most {self.expected} requests answered, "
                f"{rate:.1f}/s; ${self.spent().spent_usd:.4f} spent")


def report_stages(dataset: str, stages: list[StageResult]) -> None:
    """Table artifacts of rows in/kept/dropped per stage, and of dropped rows per stage and reason."""
    create_table_artifact(
        [{"stage": s.stage, **s.counts} for s in stages],
        key=artifact_key(dataset, "stages"),
        description=f"{dataset}: rows in, kept and dropped per stage",
    )
    reasons = kinds(pl.concat([s.dropped for s in stages]), examples=1).select(
        "stage", pl.col("kind").alias("reason"), "rows",
        pl.col("examples").list.first().struct.field("reason").alias("example"),
    )
    create_table_artifact(
        reasons.to_dicts() or [{"stage": "", "reason": "(nothing dropped)", "rows": 0, "example": ""}],
        key=artifact_key(dataset, "drop-reasons"),
        description=f"{dataset}: the ledger, summed up: dropped rows per stage and reason (numbers as #), an example",
    )

