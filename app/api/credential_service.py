"""The store admin's password, read from the store's Secret (the API route and the dashboard's
reveal both call this; the only code in the web layer's reach that reads the cluster for a store).

The password is generated inside the cluster (Helm `lookup`), so it is never in our database.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.api.problems import Problem
from app.db.models import Store
from app.engines import ENGINES
from app.errors import PermanentError, RetryableError
from app.lifecycle import StoreStatus
from app.settings import Settings

_INSTALLED = {StoreStatus.READY, StoreStatus.FAILED, StoreStatus.UPGRADING}


class AdminPassword(BaseModel):
    password: str = Field(description="The store admin's password. Do not log or store it.")
    secret: str = Field(description="The Kubernetes Secret it was read from (namespace/name).")
    login: str = Field(default="", description="How the admin signs in (which user name or e-mail).")


def secret_name(release: str, suffix: str) -> str:
    """The chart's store.componentName: release truncated to 42 (no trailing '-'), '-', suffix; ≤ 63."""
    return f"{release[:42].rstrip('-')}-{suffix}"[:63].rstrip("-")


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
