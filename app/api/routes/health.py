"""Liveness and readiness.

Readiness is what this pod needs to serve requests: the database. The Kubernetes API is reported in
the body (and as storeplane_kubernetes_api_up in /metrics) but never makes the pod unready: when
the API server restarts, the dashboard keeps serving and store actions wait and retry.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from app.cluster_status import ClusterStatus

router = APIRouter(tags=["health"])

# What readiness depends on; everything else in `checks` is information.
REQUIRED = ("database",)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers (503 otherwise); the cluster's state is reported alongside."""
    checks: dict[str, str] = {}
    try:
        await run_in_threadpool(_ping_database, request.app.state.engine)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; its type tells the operator which
        checks["database"] = f"unavailable: {type(exc).__name__}"
    cluster: ClusterStatus = request.app.state.cluster_status
    checks["cluster"] = cluster.summary()
    ready = all(checks[name] == "ok" for name in REQUIRED)
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": checks,
        "required": list(REQUIRED),
        "cluster": cluster.details(),
    }
    return JSONResponse(body, 200 if ready else 503)


def _ping_database(engine: Engine) -> None:
    # A pooled DBAPI connection, outside SQLAlchemy's transaction events: on SQLite those begin with
    # BEGIN IMMEDIATE, and a probe must not queue for the writer lock behind a long job claim.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
