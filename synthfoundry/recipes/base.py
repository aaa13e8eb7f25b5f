"""What a recipe module provides. A recipe says what to ask and how to parse; the engine does the rest.

A recipe is a module with:
  NAME, VERSION     recorded on every row (bump VERSION when templates or parsing change)
  KIND              "sft" | "chat" | "rlvr" | "pretrain" | "tool_use": picks the default data contract (a Config
                    whose output kind depends on its settings overrides it with a `kind` property)
  DISTILL           True when the teacher must answer rows whose `response` is still null
  ANSWERS           True when every row carries a ground truth (`answer` + `verifier`) that filters can verify
  UNSCORED          (optional, with ANSWERS False) why and what to do instead, when its rows have a ground truth that
                    those filters cannot score: preflight's refusal ends with it
  EMBED_COLUMN      the column the diversity filter embeds ("instruction", or "response" for generated text)
  FILTERS           the filter steps a run config that names none gets, in order (e.g. ({"name": "diversity"},))
  Config            its pydantic config model, with `name: Literal[NAME]`
  synthesize(config, ask, rng, log) -> StageResult
                    rows built with `records.rows_frame`; every input it could not use in the ledger
  estimate(config) -> Estimate
                    at most what synthesis will ask (requests, tokens) and the rows it passes on, from the config
                    and seeds alone, so the run's forecast and guards come before anything is sent; reading the
                    seeds here also finds unreadable ones before the teacher is paid
  RUNS_CODE         (optional) True when it runs programs (the ones it makes, or a Python toolset): its synthesize
                    and estimate then get the run's sandbox as `sandbox=` (`code_tools`), so its limits and isolation
                    hold from the forecast on
  resized(config, rows) -> Config
                    (optional) its config for about `rows` new candidates: what lets a run with
                    `target: {accepted: N}` ask for more in later rounds (synthfoundry/rounds.py); a recipe
                    without it makes one round from its seeds, and `estimate(config).rows` is the most it makes
"""

from __future__ import annotations

import random
from typing import Protocol

from pydantic import BaseModel

from synthfoundry.spend import Estimate
from synthfoundry.stages import Log, StageResult
from synthfoundry.teachers.base import Ask


class Recipe(Protocol):
    NAME: str
    VERSION: str
    KIND: str
    DISTILL: bool
    ANSWERS: bool
    EMBED_COLUMN: str
    FILTERS: tuple[dict, ...]
    Config: type[BaseModel]

    def synthesize(self, config: BaseModel, ask: Ask, rng: random.Random, log: Log) -> StageResult: ...

    def estimate(self, config: BaseModel) -> Estimate: ...
