"""GET /api/v1/audit: the audit log, newest first. Admins see everything, users their own actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, AwareDatetime

from app import audit
from app.api.deps import MAX_ROW_ID, CurrentUser, SessionDep
from app.auth.schemas import AuditPublic

router = APIRouter(prefix="/audit", tags=["audit"])


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC; a date that leaves the calendar once moved to UTC (0001-01-01T00:00+14:00)
    is bad input, not an OverflowError deep in the database layer."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            "the time is outside the dates this API can represent (years 1 to 9999 in UTC)"
        ) from None


UtcInstant = Annotated[AwareDatetime, AfterValidator(_in_utc)]


@router.get("", response_model=list[AuditPublic])
def list_(
    user: CurrentUser,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=64, description="User name (admins only).")] = None,
    action: Annotated[
        str | None, Query(max_length=40, description="'store.create', or a family ending in '.': 'store.'")
    ] = None,
    target: Annotated[str | None, Query(max_length=200, description="e.g. 'store:s-1a2b3c4d5e6f'")] = None,
    outcome: Annotated[str | None, Query(pattern="^(success|failure|denied)$")] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[UtcInstant | None, Query(description="ISO 8601 with a zone, e.g. ...Z")] = None,
    until: Annotated[UtcInstant | None, Query(description="ISO 8601 with a zone; exclusive")] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="Page back: entries older than this id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    entries = audit.query(
        session,
        audit.AuditFilter(
            actor_id=None if user.is_admin else user.id,
            actor=actor,
            action=action,
            target=target,
            outcome=outcome,
            request_id=request_id,
            since=since,
            until=until,
            before_id=before_id,
            limit=limit,
        ),
    )
    return [AuditPublic.of(entry) for entry in entries]
