"""Prefect events about a dataset (published, contract-failed, budget-exhausted) for automations to act on.

The dataset is the event's resource (`synthfoundry.dataset.<name>`), so an automation can match one dataset or all.
"""

from __future__ import annotations

from prefect.events import emit_event


def emit_dataset_event(kind: str, dataset: str, payload: dict) -> None:
    emit_event(
        event=f"synthfoundry.dataset.{kind}",
        resource={"prefect.resource.id": f"synthfoundry.dataset.{dataset}", "prefect.resource.name": dataset},
        payload=payload,
    )
