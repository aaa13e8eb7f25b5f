"""Extrinsic evaluation (issue #21): train a student on published versions and compare them on held-out,
verifiable tasks; the result is recorded beside the versions, shown on their cards and gates promotion
(flows/evaluate.py, flows/promote.py, `synthfoundry evaluate` and `synthfoundry promote`)."""
