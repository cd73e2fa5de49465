"""Helm's stored release record round-trips, and only a pending revision can be unlocked."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from app.helm import storage


def helm_encoded(record: dict) -> bytes:
    """What helm's secret driver writes into data.release (before the API's own base64)."""
    return base64.b64encode(gzip.compress(json.dumps(record).encode()))


RECORD = {
    "name": "shop",
    "namespace": "store-s-1",
    "version": 1,
    "info": {"status": "pending-install", "description": "Initial install underway"},
    "manifest": "---\nkind: ConfigMap\n",
}


def test_a_record_written_by_helm_decodes_and_encodes_back_to_the_same_record() -> None:
    decoded = storage.decode_release(helm_encoded(RECORD))
    assert decoded == RECORD
    assert storage.decode_release(storage.encode_release(decoded)) == RECORD


def test_an_uncompressed_record_from_an_old_helm_still_decodes() -> None:
    assert storage.decode_release(base64.b64encode(json.dumps(RECORD).encode())) == RECORD


def test_marking_a_pending_revision_failed_changes_status_label_and_description_only() -> None:
    labels = {"name": "shop", "owner": "helm", "status": "pending-install", "version": "1"}
    record, new_labels = storage.mark_failed(RECORD, labels, "unlocked: stale")
    assert record["info"] == {"status": "failed", "description": "unlocked: stale"}
    assert record["manifest"] == RECORD["manifest"]
    assert new_labels["status"] == "failed"
    assert new_labels["modifiedAt"].isdigit()
    assert {k: v for k, v in new_labels.items() if k not in {"status", "modifiedAt"}} == {
        "name": "shop",
        "owner": "helm",
        "version": "1",
    }
    assert RECORD["info"]["status"] == "pending-install", "the input is not modified"


def test_a_revision_that_is_not_pending_is_not_unlocked() -> None:
    deployed = {**RECORD, "info": {"status": "deployed"}}
    with pytest.raises(ValueError, match="release revision is deployed, not pending"):
        storage.mark_failed(deployed, {}, "x")


def test_secret_names_follow_helms_scheme() -> None:
    assert storage.secret_name("shop", 12) == "sh.helm.release.v1.shop.v12"


def test_stored_records_become_the_rows_helm_history_prints() -> None:
    chart = {"metadata": {"name": "store", "version": "0.1.0", "appVersion": "6.8.3"}}
    second = {
        "version": 2,
        "chart": chart,
        "info": {
            "status": "deployed",
            "description": "Upgrade complete",
            "last_deployed": "2026-11-25T20:01:02.123456789Z",
        },
    }
    first = {**second, "version": 1, "info": {"status": "superseded", "description": "Install complete"}}
    rows = storage.revisions([second, first])
    assert [(r.revision, r.status, r.chart, r.app_version) for r in rows] == [
        (1, "superseded", "store-0.1.0", "6.8.3"),
        (2, "deployed", "store-0.1.0", "6.8.3"),
    ]
    assert rows[1].updated is not None and rows[1].updated.isoformat() == "2026-11-25T20:01:02.123456+00:00"
    assert rows[0].updated is None
    assert rows[1].description == "Upgrade complete"
