import pytest

from deployments.setup import save_alert_block
from tests.fakes.webhook import Webhook

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_a_slack_url_gets_the_slack_block_with_the_url_secret():
    from prefect.blocks.notifications import SlackWebhook

    url = "https://hooks.slack.com/services/T000/B000/XXXX"
    assert save_alert_block(url) == "slack-webhook/synthfoundry-alerts"
    assert SlackWebhook.load("synthfoundry-alerts").url.get_secret_value() == url


def test_any_other_url_gets_a_json_webhook_saved_again_in_place():
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    with Webhook() as hook:
        url = f"{hook.url}?token=s3cret"
        for _ in range(2):
            assert save_alert_block(url) == "custom-webhook/synthfoundry-alerts"
        block = CustomWebhookNotificationBlock.load("synthfoundry-alerts")
        assert "s3cret" not in block.url and "s3cret" not in str(block.secrets)  # shown masked in the UI
        block.notify("2 rows dropped", subject="run failed")
    assert hook.posts == [{"subject": "run failed", "body": "2 rows dropped", "text": "run failed\n2 rows dropped"}]
