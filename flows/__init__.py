"""Prefect flows: wiring only, reading top to bottom like the pipeline diagram."""
