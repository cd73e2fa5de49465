"""The store activity log: every step a job takes appends one row."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import StoreEvent


def append_event(
    session: Session,
    *,
    store_id: str,
    step: str,
    message: str,
    job_id: int | None = None,
    duration_ms: int | None = None,
) -> StoreEvent:
    event = StoreEvent(
        store_id=store_id, job_id=job_id, step=step[:64], message=message, duration_ms=duration_ms
    )
    session.add(event)
    return event


def list_events(session: Session, store_id: str, *, limit: int = 200) -> list[StoreEvent]:
    query = (
        select(StoreEvent)
        .where(StoreEvent.store_id == store_id)
        .order_by(StoreEvent.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return list(reversed(session.execute(query).scalars().all()))
