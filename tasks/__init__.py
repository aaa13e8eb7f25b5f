"""Prefect tasks: thin wrappers that add retries, logging and artifacts around the synthfoundry library."""
