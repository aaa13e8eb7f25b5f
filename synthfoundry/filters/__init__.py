"""Filters: functions of a batch whose drops go to the ledger with a reason and a score."""
