"""The watch index's event handling, as the API server sends events (metadata-only watch):
what it keeps, what it forgets, what makes it list again."""

from __future__ import annotations

import pytest

from app.kube.object_index import _apply, _Expired


def event(kind: str, namespace: str, name: str, version: str, **metadata: object) -> dict:
    meta = {"namespace": namespace, "name": name, "resourceVersion": version, **metadata}
    return {"type": kind, "object": {"kind": "PartialObjectMetadata", "metadata": meta}}


def test_objects_of_store_namespaces_are_kept_with_their_versions_and_owners_only():
    objects: dict = {}
    owner = [{"kind": "CronJob", "name": "wp-cron", "uid": "u1"}]
    assert _apply(objects, event("ADDED", "store-s-1", "wp", "5", labels={"a": "b"}, generation=2)) == "5"
    assert _apply(objects, event("ADDED", "store-s-1", "wp-cron-1", "6", ownerReferences=owner)) == "6"
    assert _apply(objects, event("ADDED", "kube-system", "coredns", "7")) == "7"  # not a store's
    assert objects == {
        "store-s-1": {
            "wp": {"metadata": {"resourceVersion": "5", "generation": 2}},
            "wp-cron-1": {"metadata": {"resourceVersion": "6", "ownerReferences": owner}},
        }
    }
    _apply(objects, event("MODIFIED", "store-s-1", "wp", "9", generation=3))
    assert objects["store-s-1"]["wp"] == {"metadata": {"resourceVersion": "9", "generation": 3}}


def test_of_a_kind_watched_in_full_the_spec_is_kept_and_the_status_is_not():
    objects: dict = {}
    quota = event("MODIFIED", "store-s-1", "shop-quota", "12")
    quota["object"] |= {"spec": {"hard": {"pods": "8"}}, "status": {"used": {"pods": "3"}}}
    _apply(objects, quota)
    assert objects["store-s-1"]["shop-quota"] == {
        "metadata": {"resourceVersion": "12"},
        "spec": {"hard": {"pods": "8"}},
    }


def test_a_deletion_forgets_the_object_and_its_emptied_namespace_a_bookmark_moves_the_version_only():
    objects: dict = {}
    _apply(objects, event("ADDED", "store-s-1", "wp", "5"))
    bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "40"}}}
    assert _apply(objects, bookmark) == "40" and "store-s-1" in objects
    assert _apply(objects, event("DELETED", "store-s-1", "wp", "41")) == "41"
    assert objects == {}
    assert _apply(objects, event("DELETED", "store-s-2", "never-seen", "42")) == "42"


def test_an_expired_version_lists_again_and_other_errors_are_raised():
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "message": "too old resource version"}}
    with pytest.raises(_Expired):
        _apply({}, gone)
    broken = {"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "etcd unavailable"}}
    with pytest.raises(ValueError, match="watch error 500: etcd unavailable"):
        _apply({}, broken)
