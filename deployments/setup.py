"""Create the provider rate limits and the automations of deployments/automations.yaml on the Prefect server
(`PREFECT_API_URL`); re-running replaces them, so it is safe after every edit.

    python -m deployments.setup [--alert-block slack-webhook/synthfoundry-alerts]

Run it after `prefect deploy` (the export automation names the export deployment).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.events.schemas.automations import AutomationCore
from prefect.exceptions import ObjectNotFound

SPEC = Path(__file__).with_name("automations.yaml")


class Missing(LookupError):
    """Something an automation names is not on the server yet."""


def apply(spec: dict, alert_block: str | None = None) -> list[str]:
    """Create or replace every rate limit and automation; returns what was done, one line each."""
    done = []
    with get_client(sync_client=True) as client:
        for limit in spec.get("rate_limits", []):
            try:
                client.read_global_concurrency_limit_by_name(limit["name"])
                client.update_global_concurrency_limit(limit["name"], GlobalConcurrencyLimitUpdate(**limit))
            except ObjectNotFound:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(**limit))
            done.append(f"rate limit {limit['name']}: {limit['limit']} slots, {limit['slot_decay_per_second']}/s")
        for automation in spec.get("automations", []):
            try:
                actions = [_resolve(client, action, alert_block) for action in automation["actions"]]
            except Missing as missing:
                done.append(f"automation {automation['name']}: skipped, {missing}")
                continue
            for old in client.read_automations_by_name(automation["name"]):
                client.delete_automation(old.id)
            client.create_automation(AutomationCore.model_validate({**automation, "actions": actions}))
            done.append(f"automation {automation['name']}: created")
    return done


def _resolve(client, action: dict, alert_block: str | None) -> dict:
    action = dict(action)
    if "deployment" in action:
        name = action.pop("deployment")
        try:
            action["deployment_id"] = client.read_deployment_by_name(name).id
        except ObjectNotFound:
            raise Missing(f"no deployment {name!r}: run `prefect deploy` first") from None
    if "block" in action:
        block_type, name = (alert_block or action.pop("block")).split("/", 1)
        action.pop("block", None)
        try:
            action["block_document_id"] = client.read_block_document_by_name(name, block_type).id
        except ObjectNotFound:
            raise Missing(
                f"no {block_type} block {name!r}: create it (`prefect block create {block_type}`) or pass "
                "--alert-block TYPE/NAME"
            ) from None
    return action


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alert-block", help="notification block for alerts, as BLOCK-TYPE/NAME")
    args = parser.parse_args()
    for line in apply(yaml.safe_load(SPEC.read_text()), args.alert_block):
        print(line)


if __name__ == "__main__":
    main()
