"""The promotion gate: a tag (e.g. `stable`) moves to a candidate version only when a recorded evaluation shows it
significantly better than the version the gate compares with (a paired interval above zero for accuracy, or below
zero for held-out loss, on some set) and worse beyond the margin on no set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from synthfoundry.errors import UserError
from synthfoundry.evaluation.config import PromoteConfig
from synthfoundry.evaluation.results import comparison

if TYPE_CHECKING:
    from synthfoundry.dataset import DatasetStore

DEFAULT_MARGINS = PromoteConfig()


class PromotionRefused(UserError, ValueError):
    """The candidate is not shown better: the message says on which set, by how much, or what evaluation to run."""


@dataclass(frozen=True)
class Decision:
    evaluation: str  # the record's id
    differences: list[dict]  # per set: candidate - current, accuracy and loss with intervals and verdicts


def _arm_for(record: dict, dataset: str, version: int) -> str | None:
    return next((arm["name"] for arm in record["arms"]
                 if arm["dataset"] == dataset and arm["version"] == version), None)


def gate(records: list[dict], dataset: str, candidate: int, current: int, current_name: str,
         margins: PromoteConfig = DEFAULT_MARGINS) -> Decision:
    """The newest record that trained on both versions decides; PromotionRefused when it does not show the
    candidate better."""
    for record in sorted(records, key=lambda r: r["created_at"], reverse=True):
        names = _arm_for(record, dataset, candidate), _arm_for(record, dataset, current)
        if None not in names:
            break
    else:
        raise PromotionRefused(
            f"no recorded evaluation of {dataset} compares v{candidate} with {current_name} (v{current}): run "
            f"`synthfoundry evaluate CONFIG` with `arms: [v{current}, v{candidate}]` first")
    rows = comparison(record, *names)
    worse = [f"{row['set']}: accuracy {row['accuracy']['mean']:+.3f} (margin -{margins.margin})"
             for row in rows if row["accuracy"]["mean"] < -margins.margin]
    worse += [f"{row['set']}: held-out loss {row['loss']['mean']:+.3f} (margin +{margins.loss_margin})"
              for row in rows if row["loss"]["mean"] > margins.loss_margin]
    where = f"{dataset} v{candidate} against {current_name} (v{current}), evaluation {record['id']}"
    if worse:
        raise PromotionRefused(f"{where}: worse beyond the margin on {'; '.join(worse)}")
    if not any(row[metric]["verdict"] == "better" for row in rows for metric in ("accuracy", "loss")):
        shown = "; ".join(
            f"{row['set']}: accuracy {_delta(row['accuracy'])}, held-out loss {_delta(row['loss'])}" for row in rows)
        raise PromotionRefused(f"{where}: not significantly better (every interval holds zero): {shown}")
    return Decision(record["id"], rows)


def _delta(value: dict) -> str:
    return f"{value['mean']:+.3f} [{value['low']:+.3f}, {value['high']:+.3f}]"


def promote(store: DatasetStore, version: int, tag: str, if_better_than: str | None,
            margins: PromoteConfig = DEFAULT_MARGINS) -> str:
    """Point `tag` at `version` in `store`; with `if_better_than`, only when the gate passes against that tag's
    version (a tag not yet set has nothing to beat). Returns what was done."""
    dataset = store.dataset
    candidate = store.version(version)
    reason = "no gate"
    if if_better_than:
        current = store.tags().get(if_better_than)
        if current is None:
            reason = f"{if_better_than} is not set yet: nothing to compare with"
        elif current == candidate.number:
            return f"{tag} -> {candidate.tag}: it already is {if_better_than}"
        else:
            decision = gate(store.evaluations(), dataset, candidate.number, current, if_better_than, margins)
            better = [f"{row['set']} {metric} {_delta(row[metric])}" for row in decision.differences
                      for metric in ("accuracy", "loss") if row[metric]["verdict"] == "better"]
            reason = f"better than {if_better_than} (v{current}) on {'; '.join(better)} (evaluation {decision.evaluation})"
    store.tag(tag, candidate.number)
    return f"{tag} -> {candidate.tag}: {reason}"
