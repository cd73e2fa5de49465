"""Twenty clients retrying one create at the same moment get one store and one namespace."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.cluster.e2e.platform import Platform


def test_twenty_parallel_posts_with_one_idempotency_key_make_one_store_and_one_namespace(
    platform: Platform,
) -> None:
    def post(_: int):
        return platform.post(
            "/stores", {"name": "burst", "engine": "woocommerce"}, **{"Idempotency-Key": "k-1"}
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(post, range(20)))
    assert {r.status_code for r in answers} == {202}
    ids = {r.json()["id"] for r in answers}
    assert len(ids) == 1
    (sid,) = ids
    assert platform.wait_for(sid, "ready", "failed")["status"] == "ready", platform.events(sid)
    # This test's database is fresh: every store in it was made by these twenty requests.
    assert [s["id"] for s in platform.stores("include_deleted=true")] == [sid]
    namespaces = platform.cluster.kubectl(
        "get", "namespace", "-l", f"storeplane.io/store-id={sid}", "-o", "name"
    )
    assert namespaces.split() == [f"namespace/store-{sid}"]
    # A retry after the store exists still answers with it, not with a second one.
    again = platform.post("/stores", {"name": "burst", "engine": "woocommerce"}, **{"Idempotency-Key": "k-1"})
    assert again.json()["id"] == sid
