"""Create the provider rate limits, the alert's notification block and the automations of
deployments/automations.yaml on the Prefect server (`PREFECT_API_URL`); re-running replaces them, so it is safe
after every edit.

    SYNTHFOUNDRY_ALERT_WEBHOOK_URL=https://hooks.slack.com/services/... python -m deployments.setup
    python -m deployments.setup [--alert-webhook URL | --alert-block BLOCK-TYPE/NAME]

Run it after `prefect deploy` (the export automation names the export deployment).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import urlparse

import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
from prefect.events.schemas.automations import AutomationCore
from prefect.exceptions import ObjectNotFound

SPEC = Path(__file__).with_name("automations.yaml")
ALERT_URL_VARIABLE = "SYNTHFOUNDRY_ALERT_WEBHOOK_URL"
ALERT_BLOCK = "synthfoundry-alerts"


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
                f"no {block_type} block {name!r}: set {ALERT_URL_VARIABLE} (or pass --alert-webhook URL) to have it "
                "made, or pass --alert-block TYPE/NAME of a notification block you made"
            ) from None
    return action


def save_alert_block(url: str) -> str:
    """Save (or replace) the notification block alerts go through; returns it as BLOCK-TYPE/NAME.

    A Slack webhook URL gets Prefect's Slack block; any other URL a webhook that POSTs JSON
    `{"subject", "body", "text"}` (`text` is what Slack-like receivers show). The URL is kept as a secret.
    """
    from prefect.blocks.notifications import CustomWebhookNotificationBlock, SlackWebhook

    if (urlparse(url).hostname or "").endswith(("hooks.slack.com", "hooks.slack-gov.com")):
        block = SlackWebhook(url=url)
    else:
        block = CustomWebhookNotificationBlock(
            name=ALERT_BLOCK,
            url="{{url}}",
            json_data={"subject": "{{subject}}", "body": "{{body}}", "text": "{{subject}}\n{{body}}"},
            secrets={"url": url},
        )
    block.save(ALERT_BLOCK, overwrite=True)
    return f"{block.get_block_type_slug()}/{ALERT_BLOCK}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alert-webhook", default=os.environ.get(ALERT_URL_VARIABLE),
                        help=f"webhook URL alerts are sent to (default: ${ALERT_URL_VARIABLE}); saves the block")
    parser.add_argument("--alert-block", help="an existing notification block for alerts, as BLOCK-TYPE/NAME")
    args = parser.parse_args()
    alert_block = args.alert_block
    if args.alert_webhook and not alert_block:
        alert_block = save_alert_block(args.alert_webhook)
        print(f"notification block {alert_block}: saved")
    for line in apply(yaml.safe_load(SPEC.read_text()), alert_block):
        print(line)


if __name__ == "__main__":
    main()
