"""Extrinsic evaluation (issue #21): train a student on published versions and compare them on held-out,
verifiable tasks. Work in progress: config, arms, student, trainers, eval sets, scoring and statistics exist; the
flow, CLI, promotion gate and card section do not yet."""
