"""The stores dashboard: a page of the list (filters and cursors as in the API), create, the detail
page and its actions, and the one poll that keeps unsettled rows current.

Thin routes over `app.api.store_service` (the JSON API's own functions), so visibility, filters,
limits, lifecycle checks, the job in the same transaction and audit are the API's.

Polling (docs/design.md, "Dashboard"): a page makes at most one request at a time, whatever the
number of unsettled rows. Each unsettled row carries a hidden `watch` input, "<id>.<version>"; one
poller element sends all of them to /stores/changes, which answers with the rows whose version
moved (swapped out of band) and the poller again, waiting 2 s after a change and longer (3 s, then
4 s) while nothing changes. With nothing left to watch the poller carries no trigger: polling
stops. The store page's block works the same way with a single version.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from app.api import domain_service, store_service
from app.api.credential_service import reveal_admin_password
from app.api.deps import MAX_ROW_ID
from app.api.history import store_history
from app.api.problems import Problem, validation_detail
from app.api.schemas import PAGE_MAX, DomainPublic, RevisionPublic, StoreCreate, StoreListQuery, StorePublic
from app.api.store_service import StoreListing
from app.audit import Outcome
from app.db.engine import read_transaction, transaction
from app.db.models import Store, StoreEvent, User
from app.db.stores import NameReserved, NameTaken
from app.domains.errors import DomainError
from app.engines import ENGINES, Engine
from app.errors import StoreplaneError
from app.fleet.rollouts import StoreInRollout
from app.fleet.target import behind, current_target
from app.jobs.queue import ActiveJobExists
from app.lifecycle import Action, IllegalTransition, StoreStatus
from app.limits import LimitExceeded
from app.pages.render import is_htmx, render_off_loop
from app.pages.session import PageSession, actor, viewer
from app.settings import Settings

router = APIRouter(include_in_schema=False)

# A store in one of these, with no job queued or running, will not change by itself: stop polling.
SETTLED = frozenset({StoreStatus.READY, StoreStatus.FAILED, StoreStatus.DELETED})
DETAIL_TARGET = "store-detail"  # the id of the detail fragment; HTMX sends it as HX-Target
# Seconds the poller waits before its next request: the first after a change (or a fresh page),
# then each next one while nothing changed. A row shows a change at most the last one (plus one
# request) after it happens: 4 s keeps that under the 5 s the dashboard promises (docs/design.md,
# "Dashboard": a 10 s cap measured rows up to 6.7 s late in a burst).
POLL_WAITS = (2, 3, 4)
_WATCH = re.compile(r"(?P<id>[a-z0-9-]{1,16})\.(?P<version>[0-9a-f]{12})")
_VERSION = re.compile(r"[0-9a-f]{12}")
_FILTERS = ("status", "engine", "owner", "name_prefix")


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
    def version(self) -> str:
        """Changes whenever anything a row shows can change (name, engine and links cannot)."""
        st = self.store
        shown = f"{st.status}|{st.status_reason}|{st.helm_revision}|{st.ready_at}|{self.busy}"
        return hashlib.sha256(shown.encode()).hexdigest()[:12]

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


def _views(session: Session, viewer_user: User, stores: list[Store], settings: Settings) -> list[StoreView]:
    busy = store_service.busy_ids(session, [s.id for s in stores])
    owners = store_service.owner_names(session, stores) if viewer_user.is_admin else {}
    return [
        StoreView(
            store=StorePublic.of(s, settings),
            engine_title=ENGINES[s.engine].title if s.engine in ENGINES else s.engine,
            owner=owners.get(s.owner_id),
            busy=s.id in busy,
        )
        for s in stores
    ]


def _list(
    factory: sessionmaker[Session], user: User, settings: Settings, query: StoreListQuery
) -> tuple[list[StoreView], StoreListing]:
    with read_transaction(factory) as session:
        listing = store_service.list_visible(session, user, query, count_start=True)
        return _views(session, user, listing.page.stores, settings), listing


def _changes(
    factory: sessionmaker[Session], user: User, settings: Settings, watched: dict[str, str]
) -> tuple[list[StoreView], list[str], bool]:
    """(rows whose version moved, ids to remove from the page, whether anything is left to watch)."""
    with read_transaction(factory) as session:
        views = _views(session, user, store_service.visible_among(session, user, list(watched)), settings)
    live = [v for v in views if v.store.status != StoreStatus.DELETED]
    gone = sorted(set(watched) - {v.store.id for v in live})  # Deleted, or not this user's to see
    changed = [v for v in live if v.version != watched[v.store.id]]
    return changed, gone, any(not v.settled for v in live)


def _detail_version(session: Session, view: StoreView) -> str:
    """The row's version, the newest activity entry and the domains' states: the block shows them
    all (the sweep verifies a domain in the background, so its state changes on its own)."""
    last, domains = store_service.activity_marks(session, view.store.id)
    return hashlib.sha256(f"{view.version}|{last}|{domains}".encode()).hexdigest()[:12]


def _detail_now(
    factory: sessionmaker[Session], user: User, store_id: str, settings: Settings
) -> tuple[StoreView, str]:
    with read_transaction(factory) as session:
        store = store_service.found(session, user, store_id)
        view = _views(session, user, [store], settings)[0]
        return view, _detail_version(session, view)


def _one(factory: sessionmaker[Session], user: User, store_id: str, settings: Settings) -> StoreView:
    with read_transaction(factory) as session:
        store = store_service.found(session, user, store_id)
        return _views(session, user, [store], settings)[0]


def _detail_data(
    factory: sessionmaker[Session], user: User, store_id: str, settings: Settings
) -> tuple[StoreView, Store, list[StoreEvent], list[DomainPublic], str]:
    """The view, the row (for the live Helm history), the activity log, the store's addresses and
    the block's version, in one transaction."""
    with read_transaction(factory) as session:
        store = store_service.found(session, user, store_id)
        view = _views(session, user, [store], settings)[0]
        addresses = domain_service.listing(session, store, settings)
        events = store_service.events(session, user, store_id)
        return view, store, events, addresses, _detail_version(session, view)


def _engine_choices(settings: Settings) -> list[Engine]:
    """The engines the create form offers: registered and built by the deployed store chart. If the
    chart cannot be read right now, every registered engine (the create itself will say why not)."""
    try:
        return store_service.offered_engines(settings)
    except Problem:
        return list(ENGINES.values())


def _base(request: Request, page: PageSession, **extra: Any) -> dict[str, Any]:
    return {"user": page.user, "csrf_token": page.csrf, **extra}


def _list_query(params: list[tuple[str, str]]) -> StoreListQuery:
    """The list's query from URL parameters; a form's empty choice ("any") is no filter at all."""
    values: dict[str, Any] = {}
    for key, value in params:
        if value == "":
            continue
        if key in ("status", "engine"):
            values.setdefault(key, []).append(value)
        else:
            values[key] = value
    return StoreListQuery.model_validate(values)


def _list_url(query: StoreListQuery, cursor: str | None = None) -> str:
    """The dashboard URL of `query` (only what differs from the defaults), at `cursor`."""
    params: list[tuple[str, str]] = [("status", s.value) for s in query.status]
    params += [("engine", e) for e in query.engine]
    params += [(k, v) for k, v in (("owner", query.owner), ("name_prefix", query.name_prefix)) if v]
    if query.include_deleted:
        params.append(("include_deleted", "true"))
    if query.limit != StoreListQuery().limit:
        params.append(("limit", str(query.limit)))
    if cursor:
        params.append(("cursor", cursor))
    return "/?" + urlencode(params) if params else "/"


async def _dashboard(
    request: Request,
    page: PageSession,
    params: list[tuple[str, str]],
    *,
    navigated: bool = False,
    **extra: Any,
) -> HTMLResponse:
    """The list page (or its block, for HTMX). A bad filter or cursor shows the first unfiltered page
    with the reason: 422 (403 for another user's stores) on a full page; inline in a fragment, which
    HTMX swaps only with a 2xx. `navigated`: a filter or page link, whose URL the browser keeps."""
    state = request.app.state
    status_code, list_error = 200, ""

    async def listed(query: StoreListQuery) -> tuple[list[StoreView], StoreListing]:
        return await run_in_threadpool(_list, state.session_factory, page.user, state.settings, query)

    try:
        query = _list_query(params)
        stores, listing = await listed(query)
    except (ValidationError, Problem) as exc:
        if isinstance(exc, ValidationError):
            status_code, list_error = 422, validation_detail(exc.errors())
        else:
            status_code, list_error = exc.status, exc.detail
        query = StoreListQuery()
        stores, listing = await listed(query)
    shown = listing.page
    start = shown.start or 0
    context = _base(
        request,
        page,
        stores=stores,
        engines=_engine_choices(state.settings),  # only the list with its create form needs them
        filter_engines=list(ENGINES.values()),
        statuses=list(StoreStatus),
        filters={k: v for k, v in params if v and k in _FILTERS},  # what the filter form shows
        list_error=list_error,
        total=shown.total,
        shown_from=start + 1 if stores else 0,
        shown_to=start + len(stores),
        first_url=_list_url(query) if shown.more_before else None,
        newer_url=_list_url(query, listing.prev_cursor) if listing.prev_cursor else None,
        older_url=_list_url(query, listing.next_cursor) if listing.next_cursor else None,
        poll_wait=POLL_WAITS[0] if any(not s.settled for s in stores) else None,
        **extra,
    )
    htmx = is_htmx(request)
    headers: dict[str, str] = {}
    if htmx and navigated:
        # The address bar keeps the filters and page, without the empty "any" choices of the form.
        headers["HX-Push-Url"] = "false" if list_error else _list_url(query, _cursor_of(params))
    return await render_off_loop(
        request,
        "pages/stores.html",
        context,
        fragment="partials/stores.html",
        status_code=200 if htmx else status_code,
        headers=headers,
    )


def _cursor_of(params: list[tuple[str, str]]) -> str | None:
    return next((v for k, v in params if k == "cursor" and v), None)


def _current_list_params(request: Request) -> list[tuple[str, str]]:
    """The filters of the page an HTMX form was sent from (HTMX sends its URL), without its cursor:
    after a create the list starts again at the newest store."""
    current = request.headers.get("hx-current-url")
    if not current:
        return []
    return [(k, v) for k, v in parse_qsl(urlsplit(current).query) if k != "cursor"]


@router.get("/", response_class=HTMLResponse)
@router.get("/stores", response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    params = list(request.query_params.multi_items())
    return await _dashboard(request, await viewer(request), params, navigated=True)


def _watched(request: Request) -> tuple[dict[str, str], int]:
    """The rows a poll asks about, "<id>.<version>" each, and the wait that preceded it."""
    watched: dict[str, str] = {}
    values = request.query_params.getlist("watch")
    if len(values) > PAGE_MAX:
        raise Problem(422, "invalid-poll", f"A poll asks about at most {PAGE_MAX} stores (a page).")
    for value in values:
        match = _WATCH.fullmatch(value)
        if match is None:
            raise Problem(422, "invalid-poll", f"'watch' must be '<store id>.<version>', not {value[:40]!r}.")
        watched[match["id"]] = match["version"]
    return watched, _wait_of(request)


def _wait_of(request: Request) -> int:
    wait = request.query_params.get("wait", str(POLL_WAITS[0]))
    if not wait.isdigit() or int(wait) not in POLL_WAITS:
        waits = ", ".join(map(str, POLL_WAITS))
        raise Problem(422, "invalid-poll", f"'wait' must be one of {waits} seconds.")
    return int(wait)


def _next_wait(wait: int, changed: bool) -> int:
    """2 s after a change; otherwise the next step of POLL_WAITS, up to its last."""
    if changed:
        return POLL_WAITS[0]
    return POLL_WAITS[min(POLL_WAITS.index(wait) + 1, len(POLL_WAITS) - 1)]


@router.get("/stores/changes", response_class=HTMLResponse)
async def changes(request: Request) -> HTMLResponse:
    """The page's one poll: rows that changed (out of band), Deleted rows removed, and the poller."""
    page = await viewer(request)
    watched, wait = _watched(request)
    state = request.app.state
    changed, gone, watching = await run_in_threadpool(
        _changes, state.session_factory, page.user, state.settings, watched
    )
    context = _base(
        request,
        page,
        changed=changed,
        gone=gone,
        poll_wait=_next_wait(wait, bool(changed or gone)) if watching else None,
    )
    return await render_off_loop(request, "partials/store_changes.html", context)


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
        return await _created(request, page)
    return await _dashboard(
        request, page, _current_list_params(request), error=error, form_name=name, form_engine=engine
    )


async def _created(request: Request, page: PageSession) -> HTMLResponse:
    """The list again, from its newest store (the new one, if the filters show it)."""
    params = _current_list_params(request)
    response = await _dashboard(request, page, params)
    with suppress(ValidationError):  # the page's own filters were bad: the block says so, the URL stays
        response.headers["HX-Replace-Url"] = _list_url(_list_query(params))
    return response


async def _row(request: Request, page: PageSession, store_id: str, error: str = "") -> Response:
    """A list row after an action on it. If it is unsettled now, the page's poller restarts (out of
    band) at its shortest wait: it may have stopped when every row had settled."""
    state = request.app.state
    view = await run_in_threadpool(_one, state.session_factory, page.user, store_id, state.settings)
    if view.store.status == StoreStatus.DELETED:
        return Response(status_code=200, headers={"HX-Reswap": "delete"})  # the row leaves the table
    context = _base(
        request, page, s=view, row_error=error, restart_poller=not view.settled, poll_wait=POLL_WAITS[0]
    )
    return await render_off_loop(request, "partials/store_row.html", context)


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
        view, store, events, addresses, version = await run_in_threadpool(
            _detail_data, state.session_factory, page.user, store_id, state.settings
        )
    except Problem as exc:
        if exc.status != 404:
            raise
        context = _base(request, page, message=exc.detail)
        return await render_off_loop(request, "pages/store_missing.html", context, status_code=404)
    behind = await run_in_threadpool(_behind, store, state.settings)
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
        behind=behind,
        error=error,
        domains=addresses,
        domains_enabled=state.settings.domains_enabled,
        max_domains=state.settings.max_domains_per_store,
        domain_error=domain_error,
        version=version,
        poll_wait=POLL_WAITS[0],
    )
    return await render_off_loop(
        request,
        "pages/store.html",
        context,
        fragment="partials/store_detail.html",
        status_code=status_code,
    )


def _behind(store: Store, settings: Settings) -> str | None:
    """Why the store is not on the platform's current chart and defaults (None: it is, or unknown)."""
    try:
        return behind(store, settings, current_target(settings))
    except StoreplaneError:  # the chart cannot be read now: the page says nothing about it
        return None


@router.get("/stores/{store_id}", response_class=HTMLResponse)
async def detail(request: Request, store_id: str) -> HTMLResponse:
    return await _detail(request, await viewer(request), store_id)


@router.get("/stores/{store_id}/changes", response_class=HTMLResponse)
async def detail_changes(request: Request, store_id: str) -> HTMLResponse:
    """The store page's one poll: the whole block if its version moved (Helm history is read only
    then), else the poller again with a longer wait."""
    page = await viewer(request)
    seen = request.query_params.get("version", "")
    if not _VERSION.fullmatch(seen):
        raise Problem(422, "invalid-poll", "'version' must be the 12 hex digits the page was given.")
    wait = _wait_of(request)
    state = request.app.state
    view, version = await run_in_threadpool(
        _detail_now, state.session_factory, page.user, store_id, state.settings
    )
    if version != seen:
        response = await _detail(request, page, store_id)
        response.headers.update({"HX-Retarget": f"#{DETAIL_TARGET}", "HX-Reswap": "outerHTML"})
        return response
    context = _base(request, page, s=view, version=version, poll_wait=_next_wait(wait, False))
    return await render_off_loop(request, "partials/detail_poller.html", context)


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
    except (ActiveJobExists, IllegalTransition, DomainError, StoreInRollout) as exc:
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


@router.post("/stores/{store_id}/repair", response_class=HTMLResponse)
async def repair(request: Request, store_id: str) -> Response:
    return await _act(request, await actor(request, f"/stores/{store_id}"), store_id, Action.REPAIR)


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
    return await render_off_loop(
        request, "partials/admin_password.html", context, headers={"Cache-Control": "no-store"}
    )
