"""One render helper: the whole page normally, only the fragment for an HTMX request."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

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
    return templates.TemplateResponse(request, name, context, status_code=status_code, headers=headers)
