"""GET /api/v1/stores/{id}/admin-password: the store admin's password, read from the store's Secret.

The password is generated inside the cluster (Helm `lookup`), so it is never in our database; this
read is the only way it leaves the cluster, it is audited (as store.password_reveal, without the
value) and the response must not be cached.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from app.api import store_service
from app.api.deps import CurrentUser, FactoryDep, SettingsDep
from app.api.problems import Problem
from app.db.models import Store
from app.engines import ENGINES
from app.errors import PermanentError, RetryableError
from app.lifecycle import StoreStatus
from app.settings import Settings

router = APIRouter(prefix="/stores", tags=["stores"])

_INSTALLED = {StoreStatus.READY, StoreStatus.FAILED, StoreStatus.UPGRADING}


class AdminPassword(BaseModel):
    password: str = Field(description="The store admin's password. Do not log or store it.")
    secret: str = Field(description="The Kubernetes Secret it was read from (namespace/name).")
    login: str = Field(default="", description="How the admin signs in (which user name or e-mail).")


def secret_name(release: str, suffix: str) -> str:
    """The chart's store.componentName: release truncated to 42 (no trailing '-'), '-', suffix; ≤ 63."""
    return f"{release[:42].rstrip('-')}-{suffix}"[:63].rstrip("-")


@router.get("/{store_id}/admin-password", response_model=AdminPassword)
async def admin_password(
    store_id: str, user: CurrentUser, factory: FactoryDep, settings: SettingsDep, response: Response
) -> AdminPassword:
    store = await run_in_threadpool(store_service.read_visible, factory, user, store_id)
    revealed = await reveal_admin_password(store, settings)
    response.headers["Cache-Control"] = "no-store"
    return revealed


async def reveal_admin_password(store: Store, settings: Settings) -> AdminPassword:
    """Read the password from the store's Secret (the API and the dashboard both call this)."""
    from app.kube import get_kube  # only this read needs the Kubernetes client

    engine = ENGINES.get(store.engine)
    if engine is None:
        raise Problem(
            501, "not-supported", f"Revealing the admin password is not supported for {store.engine}."
        )
    where = (engine.credentials.suffix, engine.credentials.key)
    if store.status not in _INSTALLED:
        raise Problem(409, "not-installed", f"The store is {store.status}; it has no admin password now.")
    name = secret_name(store.name, where[0])
    try:
        secret = await get_kube(settings).read_secret(store.namespace, name)
    except RetryableError as exc:
        raise Problem(503, "cluster-unavailable", f"Cannot read the password now: {exc.message}") from exc
    except PermanentError as exc:
        raise Problem(502, "secret-unreadable", f"Cannot read the password: {exc.message}") from exc
    if secret is None or where[1] not in secret.data:
        raise Problem(404, "password-not-found", f"Secret {store.namespace}/{name} has no {where[1]!r}.")
    return AdminPassword(
        password=secret.data[where[1]].decode(), secret=f"{store.namespace}/{name}", login=engine.admin_login
    )
