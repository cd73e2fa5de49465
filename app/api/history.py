"""A store's Helm history for the API (a live read from the cluster, not from our database)."""

from __future__ import annotations

from typing import Any

from app.api.problems import Problem
from app.api.schemas import RevisionPublic
from app.db.models import Store
from app.errors import NotFound, PermanentError, RetryableError
from app.jobs.actions import reconcile_actions
from app.jobs.outcome import StoreSnapshot
from app.lifecycle import StoreStatus
from app.settings import Settings


async def store_history(store: Store, settings: Settings) -> list[RevisionPublic]:
    if store.status in (StoreStatus.PENDING, StoreStatus.DELETED):
        return []  # nothing installed yet, or nothing left
    actions, make_target = reconcile_actions(settings)
    # History reads the release only; the owner label is not needed.
    snapshot = StoreSnapshot.of(store, owner="")
    try:
        revisions = await actions.history(make_target(snapshot))  # type: ignore[attr-defined]
    except NotFound:
        return []
    except RetryableError as exc:
        raise Problem(
            503, "cluster-unavailable", f"Cannot read the store's history now: {exc.message}"
        ) from exc
    except PermanentError as exc:
        raise Problem(502, "history-unavailable", f"Cannot read the store's history: {exc.message}") from exc
    return [
        RevisionPublic(
            revision=r.revision,
            status=r.status,
            chart=r.chart,
            app_version=r.app_version,
            updated=r.updated,
            description=r.description,
        )
        for r in revisions
    ]


async def revision_values(store: Store, settings: Settings, revision: int) -> dict[str, Any] | None:
    """The values of one stored revision (a live read of Helm's storage), e.g. the domains it serves."""
    actions, make_target = reconcile_actions(settings)
    try:
        return await actions.revision_values(make_target(StoreSnapshot.of(store, owner="")), revision)  # type: ignore[attr-defined]
    except RetryableError as exc:
        raise Problem(
            503, "cluster-unavailable", f"Cannot read revision {revision} now: {exc.message}"
        ) from exc
    except PermanentError as exc:
        raise Problem(502, "history-unavailable", f"Cannot read revision {revision}: {exc.message}") from exc
