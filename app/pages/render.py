"""One render helper: the whole page normally, only the fragment for an HTMX request."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.api.cluster_info import simulated_cluster
from app.settings import REPO_ROOT

templates = Jinja2Templates(directory=REPO_ROOT / "app" / "templates")


def is_htmx(request: Request) -> bool:
    """An HTMX request that wants a fragment. Restoring a page from history (the browser's back
    button after HTMX pushed a URL, with the page no longer in HTMX's cache) wants the whole page."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request,
    page: str,
    context: dict[str, Any],
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    name = fragment if fragment is not None and is_htmx(request) else page
    # Every page says so when the platform runs against the simulated cluster (layout.html).
    context = {"simulated_cluster": simulated_cluster(request.app.state), **context}
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)


async def render_off_loop(
    request: Request,
    page: str,
    context: dict[str, Any],
    *,
    fragment: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """`render` in a worker thread. A page of store rows is tens of milliseconds of Jinja: on the
    event loop that would hold back everything else the process runs there, the embedded worker's
    claims and outcome writes among them (docs/design.md, "Dashboard")."""
    call = partial(
        render, request, page, context, fragment=fragment, status_code=status_code, headers=headers
    )
    return await run_in_threadpool(call)
