"""Similarity measures and the near-duplicate algorithms the filter steps are built on (no Prefect, no I/O)."""
