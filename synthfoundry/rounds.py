"""Runs that aim at a number of accepted rows (`target: {accepted: N}`) instead of a number of prompts.

A run works in rounds (synthesis -> distillation -> filters) until N rows are accepted, the budget or the round cap
stops it, or the recipe has nothing new to give. Round one is the recipe config as written (so a run without a
target is a run of one round); each later round asks the recipe for as many new candidates as the acceptance
measured so far says the missing rows need, with a seed of its own, and forecasts what they will cost before
sending anything. A prompt made in an earlier round is dropped before it is answered, so no request is paid twice.

A recipe that can make more rows on demand has `resized(config, rows)`: its config for about `rows` new candidates.
One that cannot (its rows come from a fixed set of seeds) supplies one round: a target above what that round can
make is refused before anything is sent.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from types import ModuleType

import polars as pl
from pydantic import BaseModel, Field

from synthfoundry.errors import UserError
from synthfoundry.recipes import code_tools
from synthfoundry.sandbox import Sandbox
from synthfoundry.spend import Spend
from synthfoundry.stages import Log, StageResult, combine, split
from synthfoundry.strict import Strict

# Later rounds ask for this much more than the measured acceptance says, so one round usually suffices.
MARGIN = 1.2
TARGET_STAGE = "target"


class TargetConfig(Strict):
    accepted: int = Field(ge=1, description="publish exactly this many rows that pass every filter")
    max_rounds: int = Field(default=10, ge=1, description="stop after this many rounds, whatever is accepted")


class TargetUnreachable(UserError, ValueError):
    """The recipe cannot make as many rows as the target asks, whatever the filters keep."""


@dataclass(frozen=True)
class Round:
    number: int  # 1-based
    seed: int
    recipe: BaseModel  # the recipe config of this round


@dataclass(frozen=True)
class Progress:
    """What the rounds so far made: candidates (prompts synthesis kept), rows accepted, what they cost."""

    rounds: int = 0
    candidates: int = 0
    accepted: int = 0
    spend: Spend = Spend()


def round_seed(seed: int, number: int) -> int:
    """Round one keeps the run's seed (a one-round run is the run without a target); later rounds draw their own."""
    if number == 1:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}:round:{number}".encode()).digest()[:4], "big") >> 1


def first_round(recipe: ModuleType, config: BaseModel, seed: int, target: TargetConfig | None,
                sandbox: Sandbox | None = None) -> Round:
    """Round one; refuses up front a target that a recipe without more seeds cannot reach. `sandbox`: the run's."""
    if target is not None and not hasattr(recipe, "resized"):
        most = recipe.estimate(config, **code_tools(recipe, sandbox)).rows
        if target.accepted > most:
            raise TargetUnreachable(
                f"target.accepted is {target.accepted}, but the {recipe.NAME} recipe makes at most {most} rows from "
                f"its seeds (before any filter): add seeds, or lower target.accepted to {most} or less"
            )
    return Round(1, seed, config)


def next_round(
    recipe: ModuleType, config: BaseModel, seed: int, target: TargetConfig | None, done: Progress,
    budget_usd: float | None, over_forecast: bool, log: Log,
) -> Round | str | None:
    """The next round; None once the target is met (or there is none); else why the run stops short of it."""
    if target is None or done.accepted >= target.accepted:
        return None
    missing = target.accepted - done.accepted
    if done.spend.exhausted:
        return f"the budget of ${budget_usd} is used up"
    if done.rounds >= target.max_rounds:
        return f"target.max_rounds ({target.max_rounds}) reached"
    if not hasattr(recipe, "resized"):
        return f"the {recipe.NAME} recipe has no more seeds to make rows from"
    if done.accepted == 0:
        return f"no row of the {done.candidates} candidates of {done.rounds} round(s) was accepted"
    acceptance = done.accepted / done.candidates
    asked = math.ceil(missing / acceptance * MARGIN)
    per_candidate = done.spend.spent_usd / done.candidates
    forecast = asked * per_candidate
    left = None if budget_usd is None else budget_usd - done.spend.spent_usd
    log(
        f"round {done.rounds + 1}: {done.accepted} of {target.accepted} accepted, {acceptance:.0%} of "
        f"{done.candidates} candidates; asking for {asked} more, forecast ${forecast:.4f} for the rest "
        f"(${done.spend.spent_usd:.4f} spent" + (f", ${left:.4f} of the budget left)" if left is not None else ")")
    )
    if left is not None and forecast > left and not over_forecast:
        return (
            f"the next round's forecast (${forecast:.4f} for {asked} candidates at {acceptance:.0%} acceptance) "
            f"exceeds the ${left:.4f} left of the budget (teacher.allow_over_forecast: true spends up to the cap)"
        )
    number = done.rounds + 1
    return Round(number, round_seed(seed, number), recipe.resized(config, asked))


def without_repeats(result: StageResult, made: set[str]) -> StageResult:
    """A round's synthesis with prompts made in earlier rounds dropped (so never answered or paid again); adds
    the round's own to `made`."""
    repeated = result.kept["id"].is_in(list(made))
    made.update(result.kept["id"].to_list())
    fresh = split(result.kept, "synthesis", pl.Series(
        [("prompt already made in an earlier round" if r else None) for r in repeated], dtype=pl.String))
    return combine([StageResult(result.stage, result.kept.head(0), result.dropped, result.spend), fresh])


def trimmed(result: StageResult, target: TargetConfig | None) -> StageResult | None:
    """The accepted rows cut to exactly the target (the rest to the ledger as stage `target`); None without one."""
    if target is None:
        return None
    over = pl.Series([i >= target.accepted for i in range(result.kept.height)])
    reasons = pl.Series([f"beyond the target of {target.accepted} accepted rows" if o else None for o in over],
                        dtype=pl.String)
    return split(result.kept, TARGET_STAGE, reasons)


def outcome(target: TargetConfig | None, rounds: int, rows: int, stopped: str | None) -> dict | None:
    """What the manifest and card record of a target: asked, published, rounds, and why fewer (None: met)."""
    if target is None:
        return None
    return {"accepted": target.accepted, "published": rows, "rounds": rounds,
            "short_because": None if rows >= target.accepted else stopped}


def describe(outcome: dict) -> str:
    """One line for the card and the run's final state message."""
    line = f"target {outcome['accepted']} accepted rows: {outcome['published']} published after {outcome['rounds']} round(s)"
    return line + (f"; fewer because {outcome['short_because']}" if outcome["short_because"] else "")
