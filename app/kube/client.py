"""The lightkube AsyncClient for the configured cluster, and the error mapping every call goes through.

Why lightkube (over kubernetes-asyncio): typed models generated per Kubernetes minor version
(lightkube-models 1.37 matches our cluster), a small async API (get/list/patch/delete/log) on
httpx, and no code generator's swagger client to wrap. Our needs are a dozen calls; lightkube keeps
them readable and the dependency small.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.core.exceptions import ConfigError

from app import errors
from app.settings import Settings

FIELD_MANAGER = "storeplane"
REQUEST_TIMEOUT = httpx2.Timeout(15.0)


def load_config(settings: Settings) -> KubeConfig:
    """settings.kubeconfig, else $KUBECONFIG, else the in-cluster service account."""
    path = settings.kubeconfig or os.environ.get("KUBECONFIG", "")
    try:
        if path:
            if not Path(path).is_file():
                raise errors.PermanentError(f"kubeconfig {path} does not exist; set STOREPLANE_KUBECONFIG")
            config = KubeConfig.from_file(path)
        else:
            config = KubeConfig.from_service_account()
        if settings.kube_context:
            config.get(context_name=settings.kube_context)  # fail now, not on the first call
    except ConfigError as exc:
        raise errors.PermanentError(f"cannot load the Kubernetes configuration: {exc}") from exc
    return config


class ClientPool:
    """One AsyncClient per event loop: httpx connections belong to the loop that opened them."""

    def __init__(self, settings: Settings) -> None:
        self._config = load_config(settings)
        self._context = settings.kube_context or None
        self._clients: dict[asyncio.AbstractEventLoop, AsyncClient] = {}

    def get(self) -> AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for stale in [other for other in self._clients if other.is_closed()]:
                del self._clients[stale]
            config = self._config.get(context_name=self._context) if self._context else self._config
            client = AsyncClient(config, timeout=REQUEST_TIMEOUT, field_manager=FIELD_MANAGER)
            self._clients[loop] = client
        return client

    async def close(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()


def poll_pause(waited: float) -> float:
    """The pause between polls of something being deleted: a fifth of the time already waited,
    0.5 to 5 s. Quick when the deletion is; and a thousand stores deleted at once poll a few hundred
    times a second, not 2,000 (a fixed 0.5 s kept `serve`'s event loop busy decoding answers)."""
    return min(max(waited * 0.2, 0.5), 5.0)


@contextlib.contextmanager
def api_call(action: str) -> Iterator[None]:
    """Turn whatever lightkube/httpx raise into app.errors (retryable vs permanent)."""
    try:
        yield
    except errors.StoreplaneError:
        raise
    except (httpx2.HTTPError, OSError) as exc:
        raise errors.kube_failure(action, exc) from exc


def status_code(exc: BaseException) -> int | None:
    """HTTP status of an API error (lightkube.ApiError is an httpx2.HTTPStatusError), else None."""
    if isinstance(exc, httpx2.HTTPStatusError):
        return exc.response.status_code
    return None
