"""GET /api/v1/stores/{id}/admin-password: the store admin's password, read from the store's Secret.

The password is generated inside the cluster (Helm `lookup`), so it is never in our database; this
read is the only way it leaves the cluster, it is audited (as store.password_reveal, without the
value) and the response must not be cached.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from app.api import store_service
from app.api.credential_service import AdminPassword, reveal_admin_password
from app.api.deps import CurrentUser, FactoryDep, SettingsDep

router = APIRouter(prefix="/stores", tags=["stores"])


@router.get("/{store_id}/admin-password", response_model=AdminPassword)
async def admin_password(
    store_id: str, user: CurrentUser, factory: FactoryDep, settings: SettingsDep, response: Response
) -> AdminPassword:
    store = await run_in_threadpool(store_service.read_visible, factory, user, store_id)
    revealed = await reveal_admin_password(store, settings)
    response.headers["Cache-Control"] = "no-store"
    return revealed
