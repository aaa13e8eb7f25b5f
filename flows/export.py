"""Export a published version as training files; the shipped automation runs it on every published version."""

from __future__ import annotations

from prefect import flow, get_run_logger

from synthfoundry.records import to_chat_messages
from synthfoundry.store import DatasetStore


@flow(name="export-dataset", flow_run_name="export-{dataset}-v{version}")
def export_dataset(dataset: str, version: int, root: str = "synthfoundry-data") -> str:
    """Write version `version` of `dataset` as SFT chat messages (JSONL) in its folder; returns the file."""
    store = DatasetStore(root, dataset)
    path = f"{store.exports}/v{version}/messages.jsonl"
    to_chat_messages(store.read(version)).write_ndjson(path)
    get_run_logger().info("exported %s v%d to %s", dataset, version, path)
    return path
