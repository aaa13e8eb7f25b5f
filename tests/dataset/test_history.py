from pathlib import Path

import pytest

from synthfoundry.dataset import DatasetStore
from tests.dataset.published import LEDGER, manifest, rows, table_ids


def test_check_and_repair_report_and_undo_leftovers(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a"]), LEDGER, manifest("r1"))
    (Path(store.exports) / ".staging-v2-old").mkdir()  # left by the previous store layout
    (Path(store.exports) / "v2" / "data").mkdir(parents=True)
    table = store.table.open()
    table.add(rows(["b"], seed=1).to_arrow())
    table.tags.create("v2", table.version)
    found = store.check()
    assert len(found) == 4 and any("+1 rows" in line for line in found)
    assert store.repair() == found
    assert store.check() == [] and table_ids(tmp_path) == ["a"] and store.tags() == {"v1": 1, "latest": 1}


def test_tags_rollback_and_diff(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a", "b"]), LEDGER, {"run_id": "r1", "stages": {}, "cost": {"spent_usd": 0.5}})
    store.publish(rows(["c"], seed=1), LEDGER, {"run_id": "r2", "stages": {}, "cost": {"spent_usd": 0.75}})
    store.tag("nightly-2026-12-01", 1)
    store.tag("best", 2)
    assert store.tags() == {"v1": 1, "v2": 2, "nightly-2026-12-01": 1, "best": 2, "latest": 2}
    for reserved in ("v3", "latest", "no spaces"):
        with pytest.raises(ValueError, match="not allowed"):
            store.tag(reserved, 1)
    store.tag("best", 1)  # moves
    store.untag("nightly-2026-12-01")
    assert store.tags() == {"v1": 1, "v2": 2, "best": 1, "latest": 2}

    v3 = store.rollback(1, run_id="rollback-1")
    assert v3.tag == "v3" and store.tags()["latest"] == 3
    assert store.read(3).equals(store.read(1)) and store.data_files(3) == store.data_files(1)
    assert v3.manifest()["rows"] == {"added": 0, "removed": 1, "total": 2} and v3.manifest()["rollback_of"] == "v1"
    assert sorted(table_ids(tmp_path, version="v3")) == ["a", "b"] and store.published().ids(["c"]) == set()
    assert store.rollback(1, run_id="rollback-1") == v3  # idempotent
    changes = store.diff(2, 3)
    assert changes["added"]["count"] == 0 and changes["removed"] == {"count": 1, "sample": ["c"]}
    assert changes["rows"] == {"a": 3, "b": 2}
    assert store.diff(1, 2)["cost_usd"] == {"a": 0.5, "b": 0.75, "delta": 0.25}
    # the next publish builds on the rolled-back rows
    v4 = store.publish(rows(["c", "d"], seed=1), LEDGER, manifest("r4"))
    assert sorted(store.read(4)["id"].to_list()) == ["a", "b", "c", "d"] and v4.manifest()["rows"]["total"] == 4
    assert store.check() == []


def test_a_rollback_killed_after_its_restore_is_undone_even_when_row_counts_match(tmp_path):
    store = DatasetStore(tmp_path, "ds")
    store.publish(rows(["a", "b"]), LEDGER, manifest("r1"))
    store.publish(rows(["c"], seed=1), LEDGER, manifest("r2"))
    store.rollback(1, "undo")
    store.publish(rows(["d"], seed=2), LEDGER, manifest("r4"))  # v4 = a, b, d: as many rows as v2
    store.table.open().restore(store.versions()[1].lance_version)  # what a rollback to v2 killed before its tag leaves
    assert store.check() and store.repair()
    assert sorted(table_ids(tmp_path)) == ["a", "b", "d"] and store.check() == []
    assert sorted(store.publish(rows(["e"], seed=3), LEDGER, manifest("r5")).data_files) == sorted(store.data_files(5))
    assert sorted(table_ids(tmp_path, version="v5")) == sorted(store.read(5)["id"].to_list()) == ["a", "b", "d", "e"]
