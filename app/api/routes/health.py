"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.api.deps import FactoryDep
from app.db.engine import read_transaction

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, factory: FactoryDep) -> JSONResponse:
    """Ready when both the database and the Kubernetes API answer; 503 names whichever does not."""
    checks: dict[str, str] = {}
    try:
        await run_in_threadpool(_ping_database, factory)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; its type tells the operator which
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        await request.app.state.cluster_ping()
        checks["cluster"] = "ok"
    except Exception as exc:
        checks["cluster"] = f"unavailable: {getattr(exc, 'message', None) or type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)


def _ping_database(factory: FactoryDep) -> None:
    with read_transaction(factory) as session:
        session.execute(text("SELECT 1"))
