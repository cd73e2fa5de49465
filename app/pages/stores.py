"""The stores dashboard: list, create, a self-polling row per store, the detail page and its actions.

Thin routes over `app.api.store_service` (the JSON API's own functions), so limits, lifecycle
checks, the job in the same transaction and audit are the API's. A row or detail fragment that is
not settled polls itself every 2 s; the settled fragment carries no trigger, so polling stops
(the Hypermedia Systems job-widget pattern).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.api import domain_service, store_service
from app.api.deps import MAX_ROW_ID
from app.api.history import store_history
from app.api.problems import Problem, validation_detail
from app.api.routes.credentials import reveal_admin_password
from app.api.schemas import DomainPublic, RevisionPublic, StoreCreate, StorePublic
from app.audit import Outcome
from app.db.engine import read_transaction, transaction
from app.db.events import list_events
from app.db.models import ACTIVE_JOB_STATES, Job, Store, StoreEvent, User
from app.db.stores import NameReserved, NameTaken, list_stores
from app.domains.errors import DomainError
from app.engines import ENGINES, Engine
from app.jobs.queue import ActiveJobExists
from app.lifecycle import Action, IllegalTransition, StoreStatus
from app.limits import LimitExceeded
from app.pages.render import is_htmx, render
from app.pages.session import PageSession, actor, viewer
from app.settings import Settings

router = APIRouter(include_in_schema=False)

# A store in one of these, with no job queued or running, will not change by itself: stop polling.
SETTLED = frozenset({StoreStatus.READY, StoreStatus.FAILED, StoreStatus.DELETED})
DETAIL_TARGET = "store-detail"  # the id of the detail fragment; HTMX sends it as HX-Target


@dataclass(frozen=True)
class StoreView:
    """What the templates show of a store: its public fields plus what the page needs."""

    store: StorePublic
    engine_title: str
    owner: str | None  # shown to admins only
    busy: bool  # a job is queued or running

    @property
    def settled(self) -> bool:
        return self.store.status in SETTLED and not self.busy

    @property
    def took(self) -> str:
        """ready_at - created_at, e.g. '1m 05s'; empty while it was never ready."""
        if self.store.ready_at is None:
            return ""
        return _duration(self.store.ready_at - self.store.created_at)


def _duration(delta: timedelta) -> str:
    seconds = max(0, round(delta.total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


def _busy_ids(session: Session, store_ids: list[str]) -> set[str]:
    if not store_ids:
        return set()
    query = select(Job.store_id).where(
        Job.store_id.in_(store_ids),  # type: ignore[attr-defined]
        Job.status.in_(ACTIVE_JOB_STATES),  # type: ignore[attr-defined]
    )
    return set(session.execute(query).scalars())


def _views(session: Session, viewer_user: User, stores: list[Store], settings: Settings) -> list[StoreView]:
    busy = _busy_ids(session, [s.id for s in stores])
    owners: dict[int, str] = {}
    if viewer_user.is_admin and stores:
        ids = {s.owner_id for s in stores}
        owners = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())  # type: ignore[union-attr,arg-type]
    return [
        StoreView(
            store=StorePublic.of(s, settings),
            engine_title=ENGINES[s.engine].title if s.engine in ENGINES else s.engine,
            owner=owners.get(s.owner_id),
            busy=s.id in busy,
        )
        for s in stores
    ]


def _list(factory: sessionmaker[Session], user: User, settings: Settings) -> list[StoreView]:
    with read_transaction(factory) as session:
        return _views(session, user, list_stores(session, user), settings)


def _one(factory: sessionmaker[Session], user: User, store_id: str, settings: Settings) -> StoreView:
    return _detail_data(factory, user, store_id, settings, events=False)[0]


def _detail_data(
    factory: sessionmaker[Session], user: User, store_id: str, settings: Settings, *, events: bool = True
) -> tuple[StoreView, Store, list[StoreEvent], list[DomainPublic]]:
    """The view, the row (for the live Helm history), the activity log and the store's addresses,
    in one transaction."""
    with read_transaction(factory) as session:
        store = store_service.found(session, user, store_id)
        view = _views(session, user, [store], settings)[0]
        if not events:
            return view, store, [], []
        addresses = domain_service.listing(session, store, settings)
        return view, store, list_events(session, store_id, limit=200), addresses


def _engine_choices(settings: Settings) -> list[Engine]:
    """The engines the create form offers: registered and built by the deployed store chart. If the
    chart cannot be read right now, every registered engine (the create itself will say why not)."""
    try:
        return store_service.offered_engines(settings)
    except Problem:
        return list(ENGINES.values())


def _base(request: Request, page: PageSession, **extra: Any) -> dict[str, Any]:
    return {"user": page.user, "csrf_token": page.csrf, **extra}


async def _dashboard(request: Request, page: PageSession, **extra: Any) -> HTMLResponse:
    state = request.app.state
    stores = await run_in_threadpool(_list, state.session_factory, page.user, state.settings)
    engines = _engine_choices(state.settings)  # only the list with its create form needs them
    return render(
        request,
        "pages/stores.html",
        _base(request, page, stores=stores, engines=engines, **extra),
        fragment="partials/stores.html",
    )


@router.get("/", response_class=HTMLResponse)
@router.get("/stores", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    return await _dashboard(request, await viewer(request))


@router.post("/stores", response_class=HTMLResponse)
async def create(
    request: Request, name: Annotated[str, Form()] = "", engine: Annotated[str, Form()] = ""
) -> Response:
    page = await actor(request, "/")
    state = request.app.state
    try:
        body = StoreCreate(name=name, engine=engine)
        store, _ = await run_in_threadpool(
            lambda: store_service.create(
                state.session_factory, page.user, name=body.name, engine=body.engine, settings=state.settings
            )
        )
    except ValidationError as exc:
        error = validation_detail(exc.errors())
        request.state.audit_outcome = Outcome.FAILURE
    except (NameTaken, NameReserved) as exc:
        error = str(exc)
        request.state.audit_outcome = Outcome.FAILURE
    except Problem as exc:  # the engine is not built by the deployed chart, or the chart is unreadable
        error = exc.detail
        request.state.audit_outcome = Outcome.FAILURE
    except LimitExceeded as exc:
        error = str(exc)
        request.state.audit_outcome = Outcome.DENIED
        request.state.audit_detail = {"limit": exc.limit, "value": exc.value, "usage": exc.usage}
    else:
        request.state.audit_target = f"store:{store.id}"
        if not is_htmx(request):
            return RedirectResponse("/", status_code=303)  # post/redirect/get for a plain form
        return await _dashboard(request, page)
    return await _dashboard(request, page, error=error, form_name=name, form_engine=engine)


@router.get("/stores/{store_id}/row", response_class=HTMLResponse)
async def row(request: Request, store_id: str) -> Response:
    page = await viewer(request)
    return await _row(request, page, store_id)


async def _row(request: Request, page: PageSession, store_id: str, error: str = "") -> Response:
    state = request.app.state
    view = await run_in_threadpool(_one, state.session_factory, page.user, store_id, state.settings)
    if view.store.status == StoreStatus.DELETED:
        return Response(status_code=200, headers={"HX-Reswap": "delete"})  # the row leaves the table
    context = _base(request, page, s=view, row_error=error)
    return render(request, "partials/store_row.html", context)


async def _detail(
    request: Request,
    page: PageSession,
    store_id: str,
    *,
    error: str = "",
    domain_error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    state = request.app.state
    try:
        view, store, events, addresses = await run_in_threadpool(
            _detail_data, state.session_factory, page.user, store_id, state.settings
        )
    except Problem as exc:
        if exc.status != 404:
            raise
        context = _base(request, page, message=exc.detail)
        return render(request, "pages/store_missing.html", context, status_code=404)
    history: list[RevisionPublic] = []
    history_error = ""
    try:
        history = await store_history(store, state.settings)
    except Problem as exc:  # the cluster cannot be read now: the rest of the page still helps
        history_error = exc.detail
    context = _base(
        request,
        page,
        s=view,
        events=list(reversed(events)),
        history=list(reversed(history)),
        history_error=history_error,
        error=error,
        domains=addresses,
        domains_enabled=state.settings.domains_enabled,
        max_domains=state.settings.max_domains_per_store,
        domain_error=domain_error,
    )
    return render(
        request,
        "pages/store.html",
        context,
        fragment="partials/store_detail.html",
        status_code=status_code,
    )


@router.get("/stores/{store_id}", response_class=HTMLResponse)
async def detail(request: Request, store_id: str) -> HTMLResponse:
    return await _detail(request, await viewer(request), store_id)


async def _act(
    request: Request, page: PageSession, store_id: str, action: Action, args: dict[str, Any] | None = None
) -> Response:
    state = request.app.state

    def act() -> None:
        with transaction(state.session_factory) as session:
            store_service.act(session, page.user, state.settings, store_id, action, args)

    error = ""
    try:
        await run_in_threadpool(act)
    except (ActiveJobExists, IllegalTransition, DomainError) as exc:
        error = str(exc)
        request.state.audit_outcome = Outcome.FAILURE
    return await _after_action(request, page, store_id, error)


async def _after_action(
    request: Request,
    page: PageSession,
    store_id: str,
    error: str,
    *,
    status_code: int = 409,
    domain: bool = False,
) -> Response:
    """The fragment the form came from: the detail block or the list row; a plain form goes back
    (an error then is the store page with `status_code`: 409 for a refused action, 422 for bad input).
    `domain`: the error belongs next to the Domains section's form rather than above the store."""
    errors = {"domain_error": error} if domain else {"error": error}
    if request.headers.get("hx-target") == DETAIL_TARGET:
        return await _detail(request, page, store_id, **errors)
    if is_htmx(request):
        return await _row(request, page, store_id, error)
    if error:
        return await _detail(request, page, store_id, status_code=status_code, **errors)
    return RedirectResponse(f"/stores/{store_id}", status_code=303)


after_action = _after_action  # the domain routes (app/pages/domains.py) answer the same way


# A revision as a person types it: ASCII digits only ("²".isdigit() is True, int("²") fails), and
# few enough that int() neither refuses nor builds a number no release can have.
_REVISION = re.compile(r"[0-9]{1,10}")


@router.post("/stores/{store_id}/delete", response_class=HTMLResponse)
async def delete(request: Request, store_id: str) -> Response:
    return await _act(request, await actor(request, f"/stores/{store_id}"), store_id, Action.DELETE)


@router.post("/stores/{store_id}/verify", response_class=HTMLResponse)
async def verify(request: Request, store_id: str) -> Response:
    return await _act(request, await actor(request, f"/stores/{store_id}"), store_id, Action.VERIFY)


@router.post("/stores/{store_id}/upgrade", response_class=HTMLResponse)
async def upgrade(request: Request, store_id: str) -> Response:
    return await _act(request, await actor(request, f"/stores/{store_id}"), store_id, Action.UPGRADE)


@router.post("/stores/{store_id}/rollback", response_class=HTMLResponse)
async def rollback(request: Request, store_id: str, revision: Annotated[str, Form()] = "") -> Response:
    page = await actor(request, f"/stores/{store_id}")
    state = request.app.state
    typed = revision.strip()
    if not _REVISION.fullmatch(typed) or not 1 <= int(typed) <= MAX_ROW_ID:
        request.state.audit_outcome = Outcome.FAILURE
        return await _after_action(
            request, page, store_id, "Choose a revision number (1 or more) to roll back to.", status_code=422
        )
    number = int(typed)
    store = await run_in_threadpool(store_service.read_visible, state.session_factory, page.user, store_id)
    try:
        args = await store_service.rollback_args(store, state.settings, number)
    except Problem as exc:
        request.state.audit_outcome = Outcome.FAILURE
        return await _after_action(request, page, store_id, exc.detail, status_code=exc.status)
    return await _act(request, page, store_id, Action.ROLLBACK, args)


@router.get("/stores/{store_id}/admin-password", response_class=HTMLResponse)
async def admin_password(request: Request, store_id: str) -> HTMLResponse:
    """The audited reveal (the API's own function); never cached, never in a full page."""
    page = await viewer(request)
    state = request.app.state
    store = await run_in_threadpool(store_service.read_visible, state.session_factory, page.user, store_id)
    context = _base(request, page, s=store)
    try:
        revealed = await reveal_admin_password(store, state.settings)
        context["password"] = revealed.password
    except Problem as exc:
        request.state.audit_outcome = Outcome.FAILURE
        context["password_error"] = exc.detail
    return render(request, "partials/admin_password.html", context, headers={"Cache-Control": "no-store"})
