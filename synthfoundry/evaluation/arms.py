"""The arms of an evaluation: which published version each names, its training rows, and the trainer its kind needs."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from synthfoundry.errors import UserError
from synthfoundry.evaluation.config import EvaluationConfig, split_arm

BASE = "base"
TRAINERS = {"sft": "SFTTrainer", "chat": "SFTTrainer", "preference": "DPOTrainer", "rlvr": "GRPOTrainer"}


class ArmError(UserError, LookupError):
    """An arm that names no published version (or a version no trainer can use)."""


@dataclass(frozen=True)
class Arm:
    name: str  # as the config wrote it: v3, stable, other@v2 (or `base`)
    dataset: str | None = None
    version: int | None = None
    kind: str | None = None  # sft, chat, preference, rlvr; None for the base student
    rows: pl.DataFrame = field(default=None, repr=False, compare=False)
    manifest: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def label(self) -> str:
        """What the arm is: `procedural v3` (stable), or `base`."""
        return BASE if self.version is None else f"{self.dataset} v{self.version}"

    @property
    def trainer(self) -> str | None:
        return TRAINERS.get(self.kind)


def kind_of(rows: pl.DataFrame) -> str:
    """The training kind the rows support: pairs -> preference, verifiable prompts without answers -> rlvr,
    conversations -> chat, else sft."""
    def filled(column: str) -> bool:
        return column in rows.columns and rows.height > 0 and rows[column].null_count() == 0

    if filled("rejected"):
        return "preference"
    if filled("answer") and filled("verifier") and rows["response"].null_count() == rows.height:
        return "rlvr"
    if filled("messages"):
        return "chat"
    if filled("response"):
        return "sft"
    raise ArmError("its rows have neither responses, preference pairs nor verifiable answers: nothing to train on")


def resolve_arms(config: EvaluationConfig) -> list[Arm]:
    """The base student (when asked) and every configured arm, each with its rows; errors name the arm and what the
    store holds."""
    from synthfoundry.dataset import DatasetStore

    arms = [Arm(BASE)] if config.base else []
    for name in config.arms:
        dataset, ref = split_arm(name, config.dataset)
        store = DatasetStore(config.publish.root, dataset, storage=config.publish.storage_options)
        tags = store.tags()
        if ref not in tags:
            known = ", ".join(tags) or "no versions"
            raise ArmError(f"arm {name!r}: dataset {dataset!r} under {config.publish.root} has no version or tag "
                           f"{ref!r} (it has {known})")
        version = store.version(tags[ref])
        rows = store.read(version.number)
        try:
            kind = kind_of(rows)
        except ArmError as error:
            raise ArmError(f"arm {name!r} ({dataset} v{tags[ref]}): {error}") from None
        arms.append(Arm(name, dataset, version.number, kind, rows, version.manifest()))
    kinds = {arm.kind for arm in arms if arm.kind}
    if len(kinds) > 1:
        listed = ", ".join(f"{arm.name}: {arm.kind}" for arm in arms if arm.kind)
        raise ArmError(f"the arms need different trainers ({listed}); compare versions of one kind")
    return arms
