"""Reliability figures, from the reliability suite itself: it runs tests/reliability and adds up what each test
recorded (crashes survived, faults injected, bad inputs refused, rows lost, requests paid twice, and for the kill mid
fan-out the requests in flight at the kill and those asked again).

Run: `PYTHONPATH=. python bench/reliability.py` (several minutes: real flows, some in their own processes).
"""

from __future__ import annotations

import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections import Counter
from pathlib import Path

import pytest


def main() -> int:
    report = Path(tempfile.mkdtemp()) / "reliability.xml"
    started = time.monotonic()
    code = pytest.main(["tests/reliability", "-q", "-p", "no:randomly", f"--junitxml={report}",
                        "-o", "junit_family=legacy"])
    seconds = time.monotonic() - started
    figures: Counter[str] = Counter()
    cases = ElementTree.parse(report).getroot().iter("testcase")
    failed = 0
    for case in cases:
        failed += any(child.tag in ("failure", "error") for child in case)
        for prop in case.iter("property"):
            figures[prop.get("name")] += int(prop.get("value"))
    print(f"\nreliability suite: {'passed' if code == 0 else f'{failed} test(s) FAILED'} in {seconds:.0f} s")
    for name in ("crashes_survived", "faults_injected", "requests_under_faults", "bad_inputs_refused", "rows_lost",
                 "requests_paid_twice", "requests_answered_before_kill", "requests_in_flight_at_kill",
                 "requests_asked_again"):
        print(f"  {name.replace('_', ' '):29} {figures[name]}")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
