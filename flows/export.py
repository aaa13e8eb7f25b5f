"""Export a published version in a trainer's layout; the shipped automation runs it on every published version."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from synthfoundry.exporters import EXPORTERS, ExportOptions
from synthfoundry.store import DatasetStore


@flow(name="export-dataset", flow_run_name="export-{dataset}-v{version}-{export_format}")
def export_dataset(dataset: str, version: int, root: str = "synthfoundry-data", export_format: str = "trl") -> list[str]:
    """Write version `version` of `dataset` as `export_format` (hf, trl, dpo, verl, jsonl) under
    `<root>/exports/<dataset>/vN/<format>/`; returns the files written."""
    store = DatasetStore(root, dataset)
    chosen = store.version(int(version))
    out = Path(str(store.exports)) / f"v{chosen.number}" / export_format
    written = EXPORTERS[export_format](store.read(chosen.number), chosen.manifest(), out, ExportOptions())
    get_run_logger().info("exported %s %s as %s: %s", dataset, chosen.tag, export_format, ", ".join(map(str, written)))
    return [str(path) for path in written]
