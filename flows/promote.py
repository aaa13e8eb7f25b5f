"""Move a tag (e.g. `stable`) to a version only when a recorded evaluation shows it better than the tag's current
version; an automation can call it after each evaluation. `synthfoundry promote` runs the same gate."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.states import State

from synthfoundry.dataset import DatasetStore
from synthfoundry.errors import SynthfoundryError
from synthfoundry.evaluation.config import PromoteConfig
from synthfoundry.evaluation.promotion import DEFAULT_MARGINS, promote
from tasks.failures import failed


@flow(name="promote-version", flow_run_name="promote-{dataset}-v{version}-to-{tag}")
def promote_version(dataset: str, version: int, tag: str = "stable", if_better_than: str | None = "stable",
                    root: str = "synthfoundry-data", margins: PromoteConfig = DEFAULT_MARGINS) -> str | State:
    """Point `tag` at `version`, gated on the recorded evaluation against `if_better_than` (None: no gate)."""
    try:
        message = promote(DatasetStore(root, dataset), version, tag, if_better_than, margins)
    except SynthfoundryError as error:
        return failed(error)
    get_run_logger().info(message)
    return message
